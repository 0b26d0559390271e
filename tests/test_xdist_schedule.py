"""`make test`'s scheduler (tests/xdist_schedule.py) overrides a private method of pytest-xdist: this fails
when pytest-xdist changes under it. Then see first whether xdist_group marks group tests again (pytest-xdist
issue 1386): ``--dist loadgroup`` would do without the override."""

from types import SimpleNamespace

import pytest
from xdist_schedule import slow_unit_scheduling

pytest.importorskip("xdist")

# what both workers collected, the slow tests first (see pytest_collection_modifyitems)
COLLECTION = ["test_a.py::slow_1", "test_b.py::slow_2", "test_b.py::slow_3",
              "test_a.py::quick_1", "test_b.py::quick_2", "test_c.py::quick_3"]


class Worker:
    """What the scheduler uses of pytest-xdist's WorkerController."""

    shutting_down = False

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[str] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += [COLLECTION[i] for i in indices]

    def shutdown(self) -> None:
        self.shutting_down = True


def test_the_slow_tests_of_every_file_are_one_unit_of_work_for_one_worker(tmp_path):
    listing = tmp_path / "slow"
    listing.write_text("".join(f"{nodeid}\n" for nodeid in COLLECTION[:3]))
    config = SimpleNamespace(getvalue={"tx": ["2*popen"]}.get, option=SimpleNamespace(loadscopereorder=False))
    scheduler = slow_unit_scheduling(config, None, listing)
    first, second = Worker("gw0"), Worker("gw1")
    for worker in (first, second):
        scheduler.add_node(worker)
    for worker in (first, second):
        scheduler.add_node_collection(worker, COLLECTION)
    scheduler.schedule()
    assert first.sent == COLLECTION[:3]  # the slow unit, whole
    assert second.sent == ["test_a.py::quick_1", "test_b.py::quick_2"]  # the files, one after another
    for index in range(3):
        scheduler.mark_test_complete(first, index)
    assert first.sent[3:] == ["test_c.py::quick_3"]  # then whatever is left
