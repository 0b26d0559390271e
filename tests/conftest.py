import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMALL_NET = {"max_epochs": 20, "module__hidden": (16,)}


@dataclass
class RunningApp:
    """A launched annotation UI over a session (see ``launched`` and the ``running_app`` fixture)."""

    url: str
    session: object  # loop.session.Session
    service: object  # loop.service.AnnotationService
    demo: object  # gradio.Blocks
    app: object  # ui.app.AnnotationApp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def launched(session):
    """Serve the UI of a session on a free local port (as ``nudge serve`` does); closed on exit."""
    from loop.service import AnnotationService
    from ui.app import AnnotationApp, launch_app

    service = AnnotationService(session)
    app = AnnotationApp(service)
    demo = app.build()
    try:
        launch_app(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
        yield RunningApp(demo.local_url, session, service, demo, app)
    finally:
        demo.close()
        app.close()


@pytest.fixture
def launch_ui():
    """``with launch_ui(session) as app:`` serves a session's UI on a free port while inside."""
    return launched


@pytest.fixture
def running_app(tmp_path):
    """The UI over a moons session (300 points, small net, background training) in a
    temporary SQLite file, launched on a free local port; closed afterwards."""
    from loop.session import Session, SessionConfig
    from loop.store import Store

    store = Store(tmp_path / "ui.db")
    config = SessionConfig(dataset="moons", dataset_options={"n_samples": 300}, estimator=SMALL_NET)
    session = Session.create(store, config, session_id="ui-test", background=True)
    try:
        with launched(session) as app:
            yield app
    finally:
        session.close()
        store.close()


@dataclass
class ServerProcess:
    """A ``nudge serve`` process of its own (see :func:`nudge_serve`)."""

    process: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no clean-up of any kind runs in the server."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def nudge_serve(db, *arguments: str, log: Path | None = None, timeout: float = 120.0):
    """Run ``nudge serve --db DB ARGUMENTS`` on a free loopback port until it serves; kill -9 it on exit.

    One torch thread in the server, so tests that start several stay within two cores.
    """
    port = free_port()
    log = log or Path(str(db)).with_name(f"serve-{port}.log")
    script = Path(sys.executable).with_name("nudge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "loop.cli"]
    command += ["serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port), *arguments]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with log.open("w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = ServerProcess(process, f"http://127.0.0.1:{port}/", log)
    try:
        deadline = time.monotonic() + timeout
        while "annotate at" not in server.output():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nudge serve did not start: {server.output()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        server.kill()
