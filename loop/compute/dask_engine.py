"""The Dask side of :mod:`nudge.loop.compute.engine`: chunks on a Dask cluster, the held object as a worker plugin.

Imported only when the ``dask`` engine is asked for (it needs the ``cluster``
extra: ``distributed``). :func:`loopback_cluster` starts a real cluster on this
machine for the tests and benchmarks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import Client, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from nudge.loop.compute.engine import Held

IN_FLIGHT_PER_THREAD = 2


class HeldPlugin(WorkerPlugin):
    """A Dask worker plugin that builds its object on first use and keeps it (see :class:`Held`)."""

    def __init__(self, held: Held) -> None:
        self.held = held
        self._value: Any = None
        self._built = False

    def setup(self, worker: Any) -> None:
        """Building (loading a model) waits for the first chunk; a worker's threads share one."""
        self._lock = threading.Lock()

    def teardown(self, worker: Any) -> None:
        self._value, self._built = None, False

    def value(self) -> Any:
        with self._lock:
            if not self._built:
                self._value, self._built = self.held.build(), True
            return self._value


def _run_held(name: str, task: Callable[[Any, Any], Any], chunk: Any) -> Any:
    """On a Dask worker: ``task`` with the worker's held object ``name``."""
    return task(get_worker().plugins[name].value(), chunk)


class DaskEngine:
    """The chunks on a Dask cluster at ``address`` (e.g. ``tcp://10.0.0.5:8786``).

    Raises ValueError when the scheduler cannot be reached, or has no worker,
    within ``timeout`` seconds (each).
    """

    name = "dask"
    distributed = True

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self.address = address
        try:
            self.client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise ValueError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            self.client.close()
            raise ValueError(f"the Dask scheduler at {address} has no worker (waited {timeout:.0f} s)") from None
        self._registered: set[str] = set()

    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def _threads(self) -> int:
        return sum(self.client.nthreads().values()) or 1

    def _plugin_name(self, name: str) -> str:
        """Plugins are named per client: two clients' jobs never drop each other's held objects."""
        return f"{name}@{self.client.id}"

    def _register(self, held: Held) -> str:
        plugin = self._plugin_name(held.name)
        if plugin not in self._registered:
            self.client.register_plugin(HeldPlugin(held), name=plugin)
            self._registered.add(plugin)
        return plugin

    def forget(self, name: str) -> None:
        """Drop the held object ``name`` from every worker (e.g. a model version that is done)."""
        plugin = self._plugin_name(name)
        if plugin in self._registered:
            self.client.unregister_worker_plugin(plugin)
            self._registered.discard(plugin)

    def map(self, task: Callable[[Any, Any], Any], chunks: Iterable[Any], held: Held) -> Iterator[tuple[int, Any]]:
        plugin = self._register(held)
        limit = IN_FLIGHT_PER_THREAD * self._threads()
        pending = iter(enumerate(chunks))
        running: dict[Any, int] = {}

        def submit_next() -> Any | None:
            for index, chunk in pending:
                [data] = self.client.scatter([chunk], hash=False)
                future = self.client.submit(_run_held, plugin, task, data, pure=False)
                running[future] = index
                return future
            return None

        first = [future for future in (submit_next() for _ in range(limit)) if future is not None]
        finished = as_completed(first, loop=self.client.loop)
        try:
            for future in finished:
                index = running.pop(future)
                result = future.result()
                following = submit_next()
                if following is not None:
                    finished.add(following)
                yield index, result
        finally:
            for future in running:
                future.cancel()

    def close(self) -> None:
        for plugin in list(self._registered):
            self.client.unregister_worker_plugin(plugin)
        self._registered.clear()
        self.client.close()


@contextmanager
def loopback_cluster(workers: int = 1, threads: int = 1, log_dir: Path | None = None) -> Iterator[str]:
    """A real Dask cluster on 127.0.0.1 for tests and benchmarks: yields the scheduler's address.

    Starts ``dask scheduler`` and ``workers`` ``dask worker`` processes
    (``threads`` threads each, no nanny, one torch thread per thread), waits
    until they have joined, and on exit stops exactly those processes (by
    their handles: SIGTERM, then SIGKILL after 20 s).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    log_dir = Path(tempfile.mkdtemp(prefix="nudge-cluster-")) if log_dir is None else log_dir
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    commands = [["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--dashboard-address", ":0", "--no-show"]]
    commands += [["distributed.cli.dask_worker", address, "--nthreads", str(threads), "--no-nanny",
                  "--host", "127.0.0.1", "--dashboard-address", ":0"]] * workers
    processes: list[subprocess.Popen] = []
    try:
        for number, command in enumerate(commands):
            with (log_dir / f"process-{number}.log").open("w") as log:
                processes.append(subprocess.Popen([sys.executable, "-m", *command], stdout=log,
                                                  stderr=subprocess.STDOUT, env=env))
        with Client(address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
