import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from xdist_schedule import (  # noqa: F401 (hooks: how `make test` shares the tests between its two workers)
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_unconfigure,
    pytest_xdist_make_scheduler,
)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMALL_NET = {"max_epochs": 20, "module__hidden": (16,)}  # learns moons in a few answers
TINY_NET = {"max_epochs": 5, "module__hidden": (8,)}  # for tests of plumbing, not of learning


@pytest.fixture(scope="session")
def moons():
    """A 200-point moons data set (seed 0), shared by every test that only needs some 2-D points."""
    from nudge.loop.datasets import load_dataset

    return load_dataset("moons", n_samples=200, seed=0)


@dataclass
class RunningApp:
    """A launched annotation UI over a session (see ``launched`` and the ``running_app`` fixture)."""

    url: str
    session: object  # nudge.loop.session.session.Session
    service: object  # nudge.loop.service.service.AnnotationService
    demo: object  # gradio.Blocks
    app: object  # nudge.ui.app.AnnotationApp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def launched(session):
    """Serve the UI of a session on a free local port (as ``nudge serve`` does); closed on exit."""
    from nudge.loop.service.service import AnnotationService
    from nudge.ui.app import AnnotationApp, launch_app

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
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store
    from nudge.loop.training.trainer import BackgroundTrainer

    store = Store(tmp_path / "ui.db")
    config = SessionConfig(dataset="moons", dataset_options={"n_samples": 300}, estimator=SMALL_NET)
    session = Session.create(store, config, session_id="ui-test", trainer=BackgroundTrainer())
    try:
        with launched(session) as app:
            yield app
    finally:
        session.close()
        store.close()


GOOD_WORDS = ("wonderful", "brilliant", "delightful", "superb")
BAD_WORDS = ("terrible", "dreadful", "awful", "horrible")


def short_review(i: int) -> str:
    """Review i of a small text set: odd ones praise, even ones pan; every third has a second
    paragraph after IMDb's ``<br /><br />`` line breaks."""
    subject = ("film", "movie", "story", "cast")[(i // 2 + i // 8) % 4]
    verdict = (GOOD_WORDS if i % 2 else BAD_WORDS)[i // 2 % 4]
    review = f"The {subject} was {verdict}."
    return review + "<br /><br />I saw it on a Sunday." if i % 3 == 0 else review


def opposite(text: str) -> str:
    """A review of :func:`short_review`'s with its verdict, the one word that carries the label, turned round."""
    for good, bad in zip(GOOD_WORDS, BAD_WORDS):
        if good in text:
            return text.replace(good, bad)
        if bad in text:
            return text.replace(bad, good)
    raise AssertionError(f"no verdict in {text!r}")


def write_reviews_csv(path: Path, n: int = 24) -> Path:
    """A ``text-csv`` file of ``n`` short reviews (columns text, label)."""
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([short_review(i), "Positive" if i % 2 else "Negative"] for i in range(n))
    return path


@pytest.fixture(scope="session")
def sentence_encoder(tmp_path_factory):
    """The shipped sentence model (real MiniLM), loaded once per run; its embeddings cached in the run's folder."""
    from nudge.estimators.encoders import SentenceEncoder

    return SentenceEncoder(cache_dir=tmp_path_factory.mktemp("embeddings"))


@pytest.fixture
def review_session(tmp_path, sentence_encoder):
    """A session over 24 short reviews (a text-csv written here, real MiniLM), in a temporary SQLite
    file, trained in the background on 10 labelled one-line reviews (5 of each class), then refitted
    from scratch on them, so the reviews with line breaks are left to ask; closed afterwards."""
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.datasets import load_dataset
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store
    from nudge.loop.training.trainer import BackgroundTrainer

    spec = f"text-csv:{write_reviews_csv(tmp_path / 'reviews.csv')}"
    dataset = load_dataset(spec, encoder=sentence_encoder)
    config = SessionConfig(dataset=spec, estimator={"max_epochs": 60})
    session = Session.create(Store(tmp_path / "text.db"), config, dataset=dataset, session_id="text",
                             trainer=BackgroundTrainer())
    one_line = np.array([p for p in dataset.pool if "<br />" not in dataset.texts[p]])
    for point in [*one_line[dataset.y[one_line] == 0][:5], *one_line[dataset.y[one_line] == 1][:5]]:
        session.relabel(int(point), int(dataset.y[point]), annotator="seed")
    assert session.wait_until_trained(timeout=120) and session.model.is_fitted
    # fitted from scratch on all ten: the background trainer may have warm-started its last model from one
    # of the first answers alone (one class), which 20 warm epochs need not undo (MiniLM, features / one spread)
    session.retrain(full=True)
    yield session
    session.close()
    session.store.close()


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


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat from the third (the state) on; FileNotFoundError once it is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """The processor time (user + system) process ``pid`` has used so far."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc), e.g. the trainer ``nudge serve`` started."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_fields(int(stat.parent.name))
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def wait_until(condition, timeout: float = 60.0):
    """Ask ``condition()`` every 50 ms until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.05)
    return value


@contextmanager
def nudge_serve(db, *arguments: str, log: Path | None = None, timeout: float = 120.0):
    """Run ``nudge serve --db DB ARGUMENTS`` on a free loopback port until it serves; kill -9 it on exit.

    One torch thread in the server, so tests that start several stay within two cores.
    """
    port = free_port()
    log = log or Path(str(db)).with_name(f"serve-{port}.log")
    script = Path(sys.executable).with_name("nudge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "nudge.loop.cli"]
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


def wait_for(api, condition, timeout: float = 60.0) -> dict:
    """A served session's /status (through ``api``, a gradio_client Client) once ``condition(status)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.predict(api_name="/status")
        if condition(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"the server never reached the expected state; last status {status}")


class PostgresServer:
    """A throwaway cluster in a temporary folder, on a free loopback port, trusting local logins."""

    def __init__(self) -> None:
        tools = [shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)]
        pg_ctl = next((tool for tool in tools if tool), None)
        if pg_ctl is None:
            pytest.skip("no PostgreSQL server here (pg_ctl not found): apt-get install postgresql")
        self.bin = Path(pg_ctl).resolve().parent
        self.as_owner: list[str] = []
        owner = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
            if shutil.which("runuser") is None:
                pytest.skip("running as root and runuser is missing: cannot start PostgreSQL")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="nudge-pg-"))
        if owner is not None:
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://nudge@127.0.0.1:{self.port}/postgres"  # no driver named: psycopg is used
        self._run("initdb", "-D", str(self.data), "-U", "nudge", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, tool: str, *arguments: str) -> None:
        done = subprocess.run([*self.as_owner, str(self.bin / tool), *arguments], capture_output=True, text=True,
                              timeout=120, cwd=self.folder)
        if done.returncode != 0:
            log = self.folder / "server.log"
            details = done.stderr + (log.read_text() if log.exists() else "")
            self.remove()
            pytest.skip(f"PostgreSQL could not {tool.removeprefix('pg_')}: {details.strip()[-800:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "-t", "60", "start")

    def restart(self) -> None:
        """``pg_ctl restart`` (a fast shutdown: open connections are cut, transactions in flight rolled back)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "-t", "60", "restart")

    def crash(self) -> None:
        """Stop at once, as a power cut would: no checkpoint; the next start replays the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def execute(self, *statements: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=nudge dbname={database}",
                             autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def remove(self) -> None:
        subprocess.run([*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the whole run (skipped, with the reason, where none can start)."""
    server = PostgresServer()
    yield server
    server.remove()


@pytest.fixture
def database(postgres, request):
    """The URL of a new, empty database on the server (one per test)."""
    name = "t_" + request.node.name.lower().replace("-", "_")[:50]
    postgres.execute(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"
