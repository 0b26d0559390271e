"""How `make test` shares the tests between its two pytest-xdist workers (``-n 2 --dist loadfile
--no-loadscope-reorder``: units of work in the order collected); tests/conftest.py takes these hooks in.

- The slow tests that are not browser tests (real ``nudge serve`` processes, their trainers, PostgreSQL,
  kill -9, minutes of load) are one unit of work, run one after another by one worker as in a run without
  -n: two of them at once would slow each other down and hold their time bounds with less to spare. That
  unit is about half of the run, so it goes first.
- Every other test stays with its file (its module's fixtures are made once); the files go to whichever
  worker is free.
- Each worker computes with one thread, and so do the processes it starts: two workers of two threads each
  would fight over the two cores.

pytest-xdist's ``xdist_group`` marks would say the first, but they group nothing with pytest 9.2 (its
loadgroup rewrites a node id field that pytest no longer reads: pytest-xdist issue 1386). Hence a
LoadFileScheduling whose private ``_split_scope`` puts the slow tests in a unit of their own;
tests/test_xdist_schedule.py fails when pytest-xdist changes under it. The scheduler runs in the
controller, which collects nothing: the workers write the slow tests' node ids to a file as they collect.
"""

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

SLOW_TESTS = "NUDGE_XDIST_SLOW_TESTS"  # the environment variable that names that file
SLOW_UNIT = "slow tests of real processes"


def in_slow_unit(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None and item.get_closest_marker("browser") is None


def worker() -> str | None:
    """This process's pytest-xdist worker id (gw0, gw1, ...); None in the controller or without -n."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def pytest_configure(config: pytest.Config) -> None:
    """In the controller of a run with workers: their one thread each, and a file to name the slow tests in
    (the workers inherit the environment)."""
    if worker() or config.getoption("dist", "no") == "no":
        return
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    os.environ[SLOW_TESTS] = str(Path(tempfile.mkdtemp(prefix="nudge-xdist-")) / "slow")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not worker() and SLOW_TESTS in os.environ:
        shutil.rmtree(Path(os.environ.pop(SLOW_TESTS)).parent, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a worker: the slow unit's tests first, the others in their order; the slow ones' node ids written
    whole before the worker reports its collection (every worker writes the same list)."""
    listing = os.environ.get(SLOW_TESTS)
    if not (worker() and listing):
        return
    items.sort(key=lambda item: not in_slow_unit(item))
    writing = Path(f"{listing}.{worker()}")
    writing.write_text("".join(f"{item.nodeid}\n" for item in items if in_slow_unit(item)))
    writing.replace(listing)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadfile" or SLOW_TESTS not in os.environ:
        return None
    return slow_unit_scheduling(config, log, Path(os.environ[SLOW_TESTS]))


def slow_unit_scheduling(config: pytest.Config, log, listing: Path):
    """pytest-xdist's LoadFileScheduling, but the tests named in ``listing`` are one unit of work."""
    from xdist.scheduler import LoadFileScheduling

    class SlowUnitScheduling(LoadFileScheduling):
        @functools.cached_property
        def slow(self) -> set[str]:
            """Read at the first call of ``_split_scope``: every worker has collected by then."""
            return set(listing.read_text().splitlines())

        def _split_scope(self, nodeid: str) -> str:
            return SLOW_UNIT if nodeid in self.slow else super()._split_scope(nodeid)

    return SlowUnitScheduling(config, log)
