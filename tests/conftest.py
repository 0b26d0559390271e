import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def launched(session):
    """Serve the UI of a session on a free local port (as ``nudge serve`` does); closed on exit."""
    from loop.service import AnnotationService
    from ui.app import build_app, launch_app

    service = AnnotationService(session)
    demo = build_app(service)
    try:
        launch_app(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
        yield RunningApp(demo.local_url, session, service, demo)
    finally:
        demo.close()


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
