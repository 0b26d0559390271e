"""Where the heavy jobs (embedding texts, scoring a pool) run: in this process, or on a Dask cluster.

An :class:`Engine` maps a task over chunks, ``task(held, chunk) -> result``,
and yields ``(chunk index, result)`` as chunks finish. ``held`` is an object
each worker builds once and keeps between chunks (the sentence encoder, a
fitted estimator): a :class:`Held` names it and says how to build it.

- :class:`LocalEngine` runs the chunks one after another in this process.
- :class:`~nudge.loop.compute.dask_engine.DaskEngine` runs them on a Dask cluster (``dask scheduler`` and
  ``dask worker`` processes, on this machine or others) through
  ``distributed.Client``. The held object travels as a Dask worker plugin, so
  each worker builds it once; at most two chunks per worker thread are in
  flight, so a pool of millions never sits in the scheduler's memory at once.

Why Dask and not Ray: see docs/big-pools.md. In short, on this 2-core,
24 GiB machine a Dask scheduler and worker are two plain Python processes that
come up in about 4 s even under load, and add 24 MB of packages, while a Ray
head starts a GCS, a raylet, a dashboard and an object store (a share of the
RAM reserved) and Ray's wheel alone is 79 MB; both address a real cluster by
one address (``tcp://host:8786`` for Dask).

:func:`nudge.loop.compute.engines.make_engine` gives the engine a command line names.

Workers need nudge installed (the same version, with the ``cluster`` extra)
and, for embedding, the model package; they never open nudge's cache: results
come back to this process, which stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Held:
    """An object each worker builds once: ``build()`` makes it; ``name`` tells it apart.

    Two jobs with the same name share the built object on a worker, so the name
    must change whenever ``build`` would build something else (e.g. carry the
    model identity). For :class:`DaskEngine`, ``build`` must pickle.
    """

    name: str
    build: Callable[[], Any]

    @classmethod
    def of(cls, name: str, value: Any) -> Held:
        """A held object that is ``value`` itself (for a cluster, pickled to each worker once)."""
        return cls(name, _Given(value))


class _Given:
    """``build`` for :meth:`Held.of`: returns its value (picklable when the value is)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> Any:
        return self.value


class Engine(Protocol):
    """Runs ``task(held object, chunk)`` over chunks; see the module docstring."""

    name: str
    distributed: bool  # True: tasks run in other processes, so ``Held.build`` must pickle

    def workers(self) -> int:
        """How many workers take chunks (1 for the local engine)."""

    def map(self, task: Callable[[Any, Any], Any], chunks: Iterable[Any], held: Held) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, task(held object, chunks[i]))`` for every chunk, in the order they finish."""

    def close(self) -> None:
        """Let go of the engine's connections (the cluster itself keeps running)."""


class LocalEngine:
    """The chunks one after another in this process; the held object is built once per name."""

    name = "local"
    distributed = False

    def __init__(self) -> None:
        self._held: dict[str, Any] = {}

    def workers(self) -> int:
        return 1

    def map(self, task: Callable[[Any, Any], Any], chunks: Iterable[Any], held: Held) -> Iterator[tuple[int, Any]]:
        if held.name not in self._held:
            self._held = {held.name: held.build()}  # keep one: the previous model version is done
        value = self._held[held.name]
        for index, chunk in enumerate(chunks):
            yield index, task(value, chunk)

    def close(self) -> None:
        self._held.clear()
