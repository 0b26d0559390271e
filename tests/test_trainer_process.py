"""``nudge serve`` trains in a child ``nudge train`` process by default: the child publishes every
model, ends with its server (even one killed with kill -9), and is started again when it dies."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import child_processes, nudge_serve
from gradio_client import Client
from sqlalchemy import select

from nudge.loop.store.schema import models
from nudge.loop.store.store import Store

pytestmark = pytest.mark.slow
ARGUMENTS = ("--n-samples", "300", "--set", "max_epochs=5", "--warm-epochs", "2")


def trainer_of(server) -> int:
    """The pid of the server's one child trainer (waits for it to be started)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = child_processes(server.process.pid)
        if children:
            (child,) = children
            return child
        time.sleep(0.05)
    raise AssertionError("nudge serve started no trainer")


def command_of(pid: int) -> list[str]:
    return open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")[:-1]


def publishers(db) -> set[int]:
    """The pids of the processes that published the session's models."""
    with Store(db).engine.connect() as connection:
        return {int(trainer.split(":")[1]) for trainer in connection.execute(select(models.c.trainer)).scalars()}


def answer(url: str, count: int) -> None:
    api = Client(url, verbose=False)
    query = api.predict("ann", api_name="/next")
    for _ in range(count):
        query = api.predict(query["query_id"], "0", None, None, None, None, "ann", api_name="/submit")


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.1)


def test_the_child_trains_and_publishes_and_the_database_url_stays_off_its_command_line(tmp_path):
    db = tmp_path / "child.db"
    with nudge_serve(db, *ARGUMENTS) as server:
        child = trainer_of(server)
        command = command_of(child)
        assert command[command.index("train"):] == ["train", "--session", "moons", "--parent", str(server.process.pid)]
        assert str(db) not in " ".join(command)  # the database is in the child's environment
        answer(server.url, 3)
        wait_for(lambda: publishers(db))
        assert publishers(db) == {child}  # the server itself never trained
        # the server answers from the child's models
        wait_for(lambda: Client(server.url, verbose=False).predict(api_name="/status")["n_labeled"] == 3)


def test_the_child_ends_with_its_server_even_after_kill_9(tmp_path):
    with nudge_serve(tmp_path / "orphan.db", *ARGUMENTS) as server:
        child = trainer_of(server)
        server.kill()
    wait_for(lambda: not os.path.exists(f"/proc/{child}"), seconds=30)


def test_a_child_that_dies_is_started_again_and_that_is_said(tmp_path):
    with nudge_serve(tmp_path / "again.db", *ARGUMENTS) as server:
        first = trainer_of(server)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: child_processes(server.process.pid) not in ([], [first]))
        second = trainer_of(server)
        assert second != first
        answer(server.url, 2)
        wait_for(lambda: second in publishers(tmp_path / "again.db"))
        assert "the trainer of session moons ended (exit code -9); starting it again" in server.output()


def test_train_here_keeps_the_trainer_in_the_server(tmp_path):
    with nudge_serve(tmp_path / "here.db", *ARGUMENTS, "--train-here") as server:
        answer(server.url, 2)
        wait_for(lambda: publishers(tmp_path / "here.db"))
        assert publishers(tmp_path / "here.db") == {server.process.pid}
        assert child_processes(server.process.pid) == []
    refused = subprocess.run([sys.executable, "-m", "nudge.loop.cli", "serve", "--no-train", "--train-here"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "not allowed with argument" in refused.stderr
