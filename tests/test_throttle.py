"""Failed logins are throttled per user name and per client address (issue 12, item 5).

The policy is pinned in closed form on a fake clock; then a real ``nudge serve
--auth-file`` process is attacked over HTTP as a password guesser would.
"""

import time

import httpx
import pytest
from conftest import nudge_serve
from gradio_client import Client

from nudge.ui.throttle import Backoff, LoginThrottle

USERS = {"alice": "wonderland", "bob": "builder"}
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def throttle(clock):
    return LoginThrottle(clock=clock)


def fail(throttle, times, user="alice", address="10.0.0.1"):
    for _ in range(times):
        throttle.failed(user, address)


def test_the_delay_doubles_from_one_second_after_the_free_failures_up_to_a_minute():
    backoff = Backoff(free_failures=5)
    assert [backoff.delay(k) for k in range(12)] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60]
    assert backoff.delay(10_000) == 60


def test_five_failures_are_free_then_the_name_waits(throttle, clock):
    fail(throttle, 4)
    assert throttle.retry_after("alice", "10.0.0.1") == 0
    fail(throttle, 1)
    assert throttle.retry_after("alice", "10.0.0.1") == 1.0
    clock.now += 0.4
    assert throttle.retry_after("alice", "10.0.0.1") == pytest.approx(0.6)
    clock.now += 0.6
    assert throttle.retry_after("alice", "10.0.0.1") == 0
    fail(throttle, 1)
    assert throttle.retry_after("alice", "10.0.0.1") == 2.0


def test_however_many_failures_the_right_password_is_checked_again_within_a_minute(throttle, clock):
    for _ in range(100):  # a patient guesser who waits out every block
        clock.now += throttle.retry_after("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.1") == 60.0
    clock.now += 60.0
    assert throttle.retry_after("alice", "10.0.0.1") == 0


def test_a_name_blocked_from_one_address_is_blocked_from_all_but_other_names_are_not(throttle):
    fail(throttle, 5, "alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.9.9.9") == 1.0  # the guesser cannot switch address
    assert throttle.retry_after("bob", "10.0.0.1") == 0  # the address is within its 20 free failures


def test_an_address_spraying_many_names_is_blocked_for_every_name(throttle):
    for i in range(20):
        throttle.failed(f"user{i}", "10.0.0.1")
    assert throttle.retry_after("bob", "10.0.0.1") == 1.0
    assert throttle.retry_after("bob", "10.0.0.2") == 0


def test_the_right_password_clears_the_name_but_not_the_address(throttle):
    fail(throttle, 19, "mallory", "10.0.0.1")
    throttle.succeeded("mallory", "10.0.0.1")  # the attacker's own valid login
    assert throttle.retry_after("mallory", "10.0.0.2") == 0
    throttle.failed("eve", "10.0.0.1")  # the address's 20th failure
    assert throttle.retry_after("bob", "10.0.0.1") == 1.0


def test_failures_are_forgotten_after_a_quiet_quarter_hour(throttle, clock):
    fail(throttle, 30)
    clock.now += 899
    assert throttle.retry_after("alice", "10.0.0.1") == 0  # the 60 s block is long over
    fail(throttle, 1)
    assert throttle.retry_after("alice", "10.0.0.1") == 60.0  # and the count still stands
    clock.now += 900
    fail(throttle, 5)
    assert throttle.retry_after("alice", "10.0.0.1") == 1.0  # counted from zero again


def test_at_most_max_keys_names_and_addresses_are_remembered(clock):
    throttle = LoginThrottle(clock=clock, max_keys=4)
    for i in range(10):
        throttle.failed(f"user{i}", "10.0.0.1")
    assert len(throttle._failures) == 4 and ("address", "10.0.0.1") in throttle._failures


# --------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("throttle")
    logins = folder / "logins.txt"
    logins.write_text("".join(f"{user}:{password}\n" for user, password in USERS.items()))
    with nudge_serve(folder / "throttle.db", "--dataset", "moons", "--n-samples", "200",
                     "--auth-file", str(logins)) as server:
        yield server


def login(server, user, password, address=None):
    headers = {"X-Forwarded-For": address} if address else {}  # trusted from 127.0.0.1, as from a local proxy
    return httpx.post(server.url + "login", data={"username": user, "password": password}, headers=headers,
                      timeout=30)


def test_a_hundred_wrong_passwords_are_refused_and_the_right_one_works_after_the_stated_wait(guarded):
    started = time.monotonic()
    answers = [login(guarded, "alice", f"guess{i}") for i in range(100)]
    seconds = time.monotonic() - started
    checked = [a for a in answers if a.status_code == 400]
    refused = [a for a in answers if a.status_code == 429]
    assert len(checked) + len(refused) == 100
    # 5 free guesses, then one per block of 1, 2, 4 ... s: a burst gets about log2(its length) more
    assert 5 <= len(checked) <= 6 + seconds ** 0.5 * 2 and len(refused) >= 90
    waits = [int(a.headers["Retry-After"]) for a in refused]
    assert all(1 <= wait <= 60 for wait in waits) and "Too many failed logins" in refused[-1].json()["detail"]

    blocked = login(guarded, "alice", USERS["alice"])
    assert blocked.status_code == 429  # during the block not even the right password is checked
    assert login(guarded, "bob", USERS["bob"]).status_code == 200  # same address, another name: within its rule
    time.sleep(int(blocked.headers["Retry-After"]))
    assert login(guarded, "alice", USERS["alice"]).status_code == 200
    Client(guarded.url, auth=("alice", USERS["alice"]), verbose=False)  # and the API client gets in


def test_an_address_spraying_names_is_refused_while_other_addresses_get_in(guarded):
    sprayer, neighbour = "203.0.113.7", "198.51.100.20"
    answers = [login(guarded, f"name{i}", "guess", sprayer).status_code for i in range(25)]
    assert answers[:20] == [400] * 20 and set(answers[20:]) <= {400, 429} and 429 in answers[20:]
    assert login(guarded, "bob", USERS["bob"], sprayer).status_code == 429  # the per-address rule
    assert login(guarded, "bob", USERS["bob"], neighbour).status_code == 200


def test_the_login_form_says_that_logins_pause(guarded):
    """Gradio's form shows nothing for a 429, so its message says what to do."""
    page = httpx.get(guarded.url, timeout=30).text
    assert "logins pause for up to 60 s" in page


@pytest.mark.parametrize("body, headers, status", [
    (b"username=alice&password=" + b"x" * 70_000, {"content-type": "application/x-www-form-urlencoded"}, 413),
    (b"&".join([b"f=1"] * 1001), {"content-type": "application/x-www-form-urlencoded"}, 400),  # > 1000 fields
])
def test_oversized_or_unreadable_login_forms_are_refused_with_a_message(guarded, body, headers, status):
    answer = httpx.post(guarded.url + "login", content=body, headers=headers, timeout=30)
    assert answer.status_code == status and answer.json()["detail"].startswith(("A login form", "The login form"))
