"""The help calls (/explain, /predict_text and the page's highlights and readings) have a worker of their
own and a per-client limit: a client past it is refused at once, in plain words, other clients are
not, and annotators are served while every help call waits. (The latency under a flood of help calls
is measured by bench/bench_flood.py.)"""

import contextlib
import threading
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from nudge.loop.errors import SessionError
from nudge.loop.service.help_limits import TOO_MANY, AnnotationsFirst, PerClientLimit
from nudge.ui.app import HELP_PER_CLIENT

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def test_a_client_past_its_limit_is_refused_and_the_others_are_not():
    limit = PerClientLimit(2)
    with limit.admitted("10.0.0.1"), limit.admitted("10.0.0.1"):
        with pytest.raises(SessionError, match=f"^{TOO_MANY}$"):
            with limit.admitted("10.0.0.1"):
                pass
        with limit.admitted("10.0.0.2"):
            assert (limit.calls("10.0.0.1"), limit.calls("10.0.0.2")) == (2, 1)
    assert limit.calls("10.0.0.1") == 0
    with limit.admitted("10.0.0.1"):  # free again
        pass


def test_a_help_job_waits_while_an_annotation_is_served_and_not_longer_than_its_patience():
    first, order = AnnotationsFirst(patience=60.0), []
    with first.serving():
        helper = threading.Thread(target=lambda: (first.wait_turn(), order.append("help")))
        helper.start()
        helper.join(timeout=0.2)
        assert helper.is_alive()  # waiting for the annotation
        order.append("annotation")
    helper.join(timeout=60)
    assert order == ["annotation", "help"]
    impatient = AnnotationsFirst(patience=0.05)
    with impatient.serving():
        impatient.wait_turn()  # returns after its patience: a busy team slows help, never stops it


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_help_calls_wait_on_their_own_worker_and_annotators_do_not_wait_for_them(review_session, launch_ui):
    with launch_ui(review_session) as running:
        app, busy = running.app, threading.Event()
        app.explainer._worker.submit(busy.wait)  # the help worker is busy until the test lets it go
        flooder = Client(running.url, verbose=False, headers={"X-Forwarded-For": "10.0.0.66"})
        other = Client(running.url, verbose=False, headers={"X-Forwarded-For": "10.0.0.7"})
        annotator = Client(running.url, verbose=False)
        query = annotator.predict("ann", api_name="/next")
        text = query["text"] + " It was a wonderful film."
        waiting = [flooder.submit(text, query["query_id"], api_name="/predict_text") for _ in range(HELP_PER_CLIENT)]
        wait_for(lambda: app.help.calls("10.0.0.66") == HELP_PER_CLIENT)  # admitted, waiting for the worker
        with pytest.raises(AppError, match=f"^{TOO_MANY}$"):
            flooder.predict(query["query_id"], api_name="/explain")
        others = other.submit(query["query_id"], api_name="/explain")
        wait_for(lambda: app.help.calls("10.0.0.7") == 1)
        # meanwhile an annotator answers and gets the next query: nothing of theirs waits for help
        following = annotator.predict(query["query_id"], review_session.dataset.class_names[0], None, None, None,
                                      None, "ann", api_name="/submit")
        assert following["query_id"] != query["query_id"]
        assert not any(job.done() for job in waiting + [others])
        busy.set()
        assert all(job.result(timeout=120)["query_id"] == query["query_id"] for job in waiting)
        assert others.result(timeout=120)["point_id"] == query["point_id"]
    assert app.help.calls("10.0.0.66") == app.help.calls("10.0.0.7") == 0


def test_the_pages_help_counts_against_the_tabs_client(review_session, launch_ui):
    with launch_ui(review_session) as running:
        app = running.app
        token = app.tabs.open(None, "10.0.0.9")
        point = int(review_session.dataset.pool[0])
        with contextlib.ExitStack() as held:
            for _ in range(HELP_PER_CLIENT):
                held.enter_context(app.help.admitted("10.0.0.9"))
            with pytest.raises(SessionError, match=TOO_MANY):
                app.page_explain({"token": token, "point_id": point})
        assert app.page_explain({"token": token, "point_id": point})["highlights"]["point_id"] == point
        with pytest.raises(SessionError, match="lost its place"):
            app.page_explain({"token": "forged", "point_id": point})
