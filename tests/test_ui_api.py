"""The named API of the annotation UI, driven by gradio_client against a local launch (``running_app``)."""

import json
import re
import threading

import httpx
import numpy as np
import pytest
from conftest import BAD_WORDS, GOOD_WORDS, opposite, write_reviews_csv
from gradio_client import Client
from gradio_client.exceptions import AppError

from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.errors import SessionError
from nudge.loop.export.annotations import export_annotations
from nudge.loop.service import handing
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.answers import MAX_REWRITE_CHARS
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import make_oracle
from nudge.loop.store.store import Store
from nudge.ui.app import AnnotationApp

SESSION = "ui-test"
# gradio's queue calls pandas options that pandas 3 deprecates; nothing of ours
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def client(app) -> Client:
    return Client(app.url, verbose=False)


def submit(api: Client, query_id: str, label, *, direction=None, plane=None, towards=None, rewrite=None,
           annotator: str = "ann") -> dict:
    return api.predict(query_id, label, direction, plane, towards, rewrite, annotator, api_name="/submit")


def raw_submit(app, body: str) -> tuple[str, dict]:
    """POST a hand-written JSON body to /submit (gradio_client cannot send NaN); (event, data)."""
    base = app.url.rstrip("/") + "/gradio_api/call/submit"
    started = httpx.post(base, content=body, headers={"content-type": "application/json"}, timeout=30)
    started.raise_for_status()
    with httpx.stream("GET", f"{base}/{started.json()['event_id']}", timeout=30) as stream:
        text = "".join(stream.iter_text())
    event = text.split("event: ", 1)[1].split("\n", 1)[0].strip()
    return event, json.loads(text.split("data: ", 1)[1].strip())


def stored(app) -> list:
    return app.session.store.log(SESSION).annotations()


# --------------------------------------------------------------------------- the endpoints


def test_next_describes_the_query_with_its_projection(running_app):
    api = client(running_app)
    assert set(api.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/next", "/submit", "/skip", "/undo", "/status", "/explain", "/predict_text", "/standing", "/team", "/resolve"}
    query = api.predict("ann", api_name="/next")
    dataset = running_app.session.dataset
    assert query["annotator"] == "ann" and query["classes"] == ["0", "1"]
    assert query["point_id"] in set(dataset.pool.tolist())
    np.testing.assert_allclose(query["x"], dataset.X[query["point_id"]], rtol=1e-6)
    assert query["prediction"] is None and query["probabilities"] is None  # no model yet
    projection = query["projection"]
    assert projection["is_data_plane"] and projection["u1"] == [1.0, 0.0] and projection["u2"] == [0.0, 1.0]
    np.testing.assert_allclose(projection["origin"], query["x"])
    points = {p["point_id"]: p for p in projection["points"]}
    assert query["point_id"] not in points and len(points) == len(dataset.pool) - 1
    some = next(iter(points.values()))  # plane coordinates are offsets from the query
    np.testing.assert_allclose([some["a"], some["b"]], dataset.X[some["point_id"]] - dataset.X[query["point_id"]],
                               atol=1e-6)
    assert api.predict("ann", api_name="/next")["query_id"] == query["query_id"]  # the open query again


def test_status_reports_the_session(running_app):
    status = client(running_app).predict(api_name="/status")
    assert status["session"] == SESSION and status["dataset"] == "moons"
    assert status["strategy"] == "boundary" and status["loss"] == "direction"
    assert (status["model_version"], status["n_answers"], status["n_labeled"], status["accuracy"]) == (0, 0, 0, None)
    assert status["pool_size"] == 240 and status["retraining"] is False


def test_a_scripted_annotator_completes_30_rounds_with_every_kind_of_direction(running_app, tmp_path):
    """Rounds cycle through a full vector, plane coordinates, "towards this point" and a label only;
    the export then holds exactly the acknowledged answers, and the model has learnt from them."""
    api = client(running_app)
    dataset = running_app.session.dataset
    oracle = make_oracle("exact", dataset)
    acknowledged = []
    query = api.predict("ann", api_name="/next")
    for round_ in range(30):
        point = query["point_id"]
        answer = oracle.answer(point)
        truth = answer.directions[0] if answer.directions else None
        form = ("vector", "plane", "towards", "label")[round_ % 4]
        if form in ("vector", "plane") and truth is None:
            form = "towards"  # noise put this point across the true boundary: no arrow from here
        if form == "vector":
            expected, source, options = truth, "api", {"direction": truth.tolist()}
        elif form == "plane":  # on the data plane (u1, u2) are the axes, so (a, b) is the vector itself
            expected, source, options = truth, "arrow", {"plane": truth.tolist()}
        elif form == "towards":  # the nearest shown point whose true class is the other one
            others = [p for p in query["projection"]["points"] if dataset.y[p["point_id"]] != answer.label]
            target = min(others, key=lambda p: np.hypot(p["a"], p["b"]))["point_id"]
            expected, source, options = dataset.X[target] - dataset.X[point], "towards-example", {"towards": target}
        else:
            expected, source, options = None, None, {}
        following = submit(api, query["query_id"], str(answer.label), **options)
        acknowledged.append((query["query_id"], point, answer.label, expected, source))
        assert following["query_id"] != query["query_id"] and following["point_id"] != point
        query = following

    assert running_app.session.wait_until_trained(timeout=60)
    status = api.predict(api_name="/status")
    n_directions = sum(source is not None for *_, source in acknowledged)
    assert (status["n_answers"], status["n_labeled"], status["n_directions"]) == (30, 30, n_directions)
    assert n_directions >= 20 and status["model_version"] >= 1 and status["accuracy"] is not None
    assert {source for *_, source in acknowledged} == {"api", "arrow", "towards-example", None}
    assert len({point for _, point, *_ in acknowledged}) == 30  # no point asked twice

    count = export_annotations(running_app.session.store, tmp_path / "log.jsonl", session_id=SESSION)
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert count == len(records) == 30
    for record, (query_id, point, label, expected, source) in zip(records, acknowledged):
        names = running_app.session.dataset.class_names
        assert (record["query_id"], record["point_id"], record["label"]) == (query_id, point, names[label])
        assert record["annotator"] == "ann" and record["answer"] == "label"
        if source is None:
            assert record["directions"] == [] and record["direction_sources"] == []
        else:
            assert record["direction_sources"] == [source] and record["direction_targets"] == [names[1 - label]]
            np.testing.assert_allclose(record["directions"][0], expected, rtol=1e-6, atol=1e-9)


def test_two_concurrent_clients_never_get_the_same_query(running_app):
    rounds = 8
    barrier = threading.Barrier(2, timeout=60)
    handed: dict[str, list[int]] = {"ann-a": [], "ann-b": []}
    failures = []

    def annotate(name: str) -> None:
        try:
            api = client(running_app)
            for _ in range(rounds):
                barrier.wait()  # both ask at the same moment
                query = api.predict(name, api_name="/next")
                handed[name].append(query["point_id"])
                barrier.wait()  # both hold their query before either answers
                label = int(running_app.session.dataset.y[query["point_id"]])
                submit(api, query["query_id"], str(label), annotator=name)
        except Exception as error:  # reported below, with the thread's name
            failures.append((name, error))
            barrier.abort()

    threads = [threading.Thread(target=annotate, args=(name,)) for name in handed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    a, b = handed["ann-a"], handed["ann-b"]
    assert len(a) == len(b) == rounds
    assert len(set(a) | set(b)) == 2 * rounds  # never the same point, to either of them or twice
    assert sorted(x.point_id for x in stored(running_app)) == sorted(a + b)


def test_the_page_offers_examples_of_each_class_to_move_towards(running_app):
    """The picture's "towards this example" candidates: per class, shown points of that class
    (labelled, or confidently predicted), nearest first, never two the same way; choosing one
    stores k = x_example - x_query, its class as the target."""
    session, app = running_app.session, running_app.app
    pool, y = session.dataset.pool, session.dataset.y
    for point in [*pool[y[pool] == 0][:3], *pool[y[pool] == 1][:3]]:  # three labels of each class
        session.relabel(point, int(y[point]), annotator="seed")
    assert session.wait_until_trained(timeout=60) and session.model.is_fitted
    token = app.open_tab()["token"]
    query = app.page_begin({"token": token, "name": "ann"})["query"]
    assert query["prediction"] is not None and query["prediction_model_version"] >= 1
    X, x = session.dataset.X, session.dataset.X[query["point_id"]]
    shown = {p["point_id"]: p for p in query["projection"]["points"]}
    candidates = query["projection"]["candidates"]
    assert candidates and {c["class"] for c in candidates} <= {0, 1}
    for klass in (0, 1):
        mine = [c for c in candidates if c["class"] == klass]
        distances = [np.linalg.norm(X[c["point_id"]] - x) for c in mine]
        assert distances == sorted(distances) and len(mine) <= 5
        assert all(shown[c["point_id"]]["class"] == klass for c in mine)
    target = next(c for c in candidates if c["class"] != session.dataset.class_names.index(query["prediction"]))
    label = session.dataset.class_names[1 - target["class"]]
    app.page_answer({"token": token, "name": "ann", "point_id": query["point_id"], "label": label,
                     "towards": {"point_id": target["point_id"], "target": None}})
    answer = session.store.log(SESSION).annotations()[-1]
    assert (answer.point_id, answer.sources, answer.targets) == (query["point_id"], ["towards-example"], [target["class"]])
    np.testing.assert_allclose(answer.directions[0], X[target["point_id"]] - x)


# --------------------------------------------------------------------------- refusals


def test_bad_answers_are_refused_and_nothing_is_stored(running_app):
    api = client(running_app)
    dataset = running_app.session.dataset
    query = api.predict("ann", api_name="/next")
    qid, point = query["query_id"], query["point_id"]
    test_point = int(dataset.test[0])
    refusals = [
        (("nope", "1"), {}, "unknown query id"),
        ((qid, "7"), {}, "not one of the classes"),
        ((qid, "cat"), {}, "not one of the classes"),
        ((qid, "1"), {"direction": [1.0, 2.0, 3.0]}, "needs 2 numbers"),
        ((qid, "1"), {"direction": [0.0, 0.0]}, "zero length"),
        ((qid, "1"), {"direction": "up"}, "not a list of numbers"),
        ((qid, "1"), {"plane": [1.0]}, "two numbers"),
        ((qid, "1"), {"plane": "12"}, "two numbers"),
        ((qid, "1"), {"towards": test_point}, "not a pool point"),
        ((qid, "1"), {"towards": True}, "must be a point id"),
        ((qid, "1"), {"towards": point}, "zero length"),
        ((qid, "1"), {"rewrite": "a new text"}, "text data sets"),
        ((qid, "1"), {"annotator": "someone-else"}, "belongs to 'ann'"),
        ((qid, "1"), {"annotator": ""}, "enter your name"),
    ]
    for args, options, message in refusals:
        with pytest.raises(AppError, match=message):
            submit(api, *args, **{"annotator": "ann", **options})
    # NaN and infinity are not JSON for gradio_client: send them by hand
    for form, message in (('[NaN, 0.0], null', "NaN or infinite"), ('null, [Infinity, 0.0]', "must be finite")):
        event, data = raw_submit(running_app, f'{{"data": ["{qid}", "1", {form}, null, null, "ann"]}}')
        assert event == "error" and message in data["error"]
    assert stored(running_app) == []
    assert api.predict(api_name="/status")["n_answers"] == 0

    # the query is still open, and can be answered once
    submit(api, qid, "1", direction=[0.0, 1.0])
    with pytest.raises(AppError, match="already answered"):
        submit(api, qid, "0")
    (only,) = stored(running_app)
    assert (only.query_id, only.label, only.sources) == (qid, 1, ["api"])


def test_undo_and_skip(running_app, tmp_path):
    api = client(running_app)
    with pytest.raises(AppError, match="enter your name"):
        api.predict("", api_name="/undo")
    assert api.predict("ann", api_name="/undo") == {}  # nothing to undo yet
    first = api.predict("ann", api_name="/next")
    second = submit(api, first["query_id"], "0", plane=[0.5, -0.25])
    reopened = api.predict("ann", api_name="/undo")
    assert reopened["point_id"] == first["point_id"] and reopened["query_id"] not in (
        first["query_id"], second["query_id"])
    with pytest.raises(AppError, match="already"):  # undo released the query shown after the answer
        submit(api, second["query_id"], "0")
    third = submit(api, reopened["query_id"], "1")  # answered again, differently
    after_skip = api.predict(third["query_id"], "ann", api_name="/skip")
    assert after_skip["point_id"] != third["point_id"]

    status = api.predict(api_name="/status")
    assert (status["n_answers"], status["n_undone"], status["n_skips"]) == (1, 1, 1)
    export_annotations(running_app.session.store, tmp_path / "log.csv", session_id=SESSION)
    answers = stored(running_app)
    assert [(a.point_id, a.label, a.undone) for a in answers] == [
        (first["point_id"], 0, True), (first["point_id"], 1, False), (third["point_id"], None, False)]
    assert answers[0].sources == ["arrow"]
    np.testing.assert_allclose(answers[0].directions[0], [0.5, -0.25])
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 1 + 3


# --------------------------------------------------------------------------- text data


class WordCountEncoder:
    """A stand-in sentence encoder: counts of a few words, and the length (R^7)."""

    WORDS = ("good", "great", "fun", "bad", "awful", "boring")

    def encode(self, texts):
        return np.array([[t.lower().split().count(w) for w in self.WORDS] + [len(t) / 50] for t in texts],
                        dtype=np.float32)


@pytest.fixture
def text_session(tmp_path):
    good, bad = ("good", "great", "fun"), ("bad", "awful", "boring")
    texts = [f"review {i}: the film was {words[i % 3]} and {words[(i + 1) % 3]}" + " really" * (i % 4)
             for i in range(40) for words in [(good if i % 2 else bad)]]
    encoder = WordCountEncoder()
    dataset = Dataset("reviews", encoder.encode(texts), np.arange(40) % 2, ["Negative", "Positive"],
                      np.arange(30), np.arange(30, 40), texts=texts)
    store = Store(tmp_path / "text.db")
    config = SessionConfig(dataset="reviews", estimator={"max_epochs": 20, "module__hidden": (16,)})
    session = Session.create(store, config, session_id=SESSION, dataset=dataset, encoder=encoder)
    yield session
    session.close()
    store.close()


def test_text_queries_show_the_review_and_take_a_rewrite(text_session, launch_ui, tmp_path):
    session, encoder = text_session, WordCountEncoder()
    for _ in range(2):  # a first model, so the prediction and its confidence are shown
        query = session.next_query("ann")
        session.submit(query.query_id, int(session.dataset.y[query.point_id]), annotator="ann")
    app = AnnotationApp(AnnotationService(session))
    token = app.open_tab()["token"]
    shown = app.page_begin({"token": token, "name": "ann"})["query"]
    point = shown["point_id"]
    review = session.dataset.texts[point]
    assert shown["text"] == shown["readable_text"] == review  # the review, which the page copies to rewrite
    assert shown["prediction"] in ("Negative", "Positive") and len(shown["probabilities"]) == 2
    label = session.dataset.class_names[session.dataset.y[point]]
    # the copy left as it was is not sent by the page; sent, it is refused as over the API
    with pytest.raises(SessionError, match="the same as the text"):
        app.page_answer({"token": token, "name": "ann", "point_id": point, "label": label, "rewrite": review})
    rewritten = review + " and great fun"
    app.page_answer({"token": token, "name": "ann", "point_id": point, "label": "Negative", "rewrite": rewritten})
    edited = session.store.log(SESSION).annotations()[-1]
    assert (edited.point_id, edited.sources, edited.rewrite) == (point, ["rewrite"], rewritten)
    np.testing.assert_allclose(edited.directions[0], encoder.encode([rewritten])[0] - session.dataset.X[point],
                               atol=1e-6)
    app.close()

    with launch_ui(session) as running:
        api = Client(running.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        assert query["text"] == session.dataset.texts[query["point_id"]]
        assert query["prediction"] in ("Negative", "Positive") and sum(query["probabilities"]) == pytest.approx(1)
        assert len(query["projection"]["u1"]) == 7 and not query["projection"]["is_data_plane"]
        rewritten = query["text"] + " but awful and boring"
        submit(api, query["query_id"], "Positive", rewrite=rewritten)
    answer = session.store.log(SESSION).annotations()[-1]
    assert (answer.point_id, answer.sources, answer.rewrite) == (query["point_id"], ["rewrite"], rewritten)
    expected = encoder.encode([rewritten])[0] - encoder.encode([query["text"]])[0]
    np.testing.assert_allclose(answer.directions[0], expected, atol=1e-6)


def test_a_rewrite_the_encoder_cannot_tell_apart_is_refused_with_the_reason(text_session):
    session = text_session
    query = session.next_query("ann")
    text = session.dataset.texts[query.point_id]
    same_embedding = text.replace("review", "rEview", 1)  # the word counts and length stay the same
    with pytest.raises(SessionError, match="first ~200 words"):
        session.submit(query.query_id, 0, annotator="ann", rewrite=same_embedding)
    assert session.store.log(SESSION).annotations() == []


def test_html_line_breaks_are_shown_as_lines_and_kept_in_a_rewrite(tmp_path):
    """The page shows IMDb's <br /> as line breaks; an edit typed with line breaks, from the page or
    over the API, is stored with <br /> again (one rule, in the service)."""
    texts = [f"review {i}:<br /><br />the film was {'great fun' if i % 2 else 'awful and boring'}" for i in range(20)]
    encoder = WordCountEncoder()
    dataset = Dataset("reviews", encoder.encode(texts), np.arange(20) % 2, ["Negative", "Positive"],
                      np.arange(16), np.arange(16, 20), texts=texts)
    session = Session.create(Store(tmp_path / "breaks.db"),
                             SessionConfig(dataset="reviews", estimator={"max_epochs": 5}, retrain_every=100),
                             session_id=SESSION, dataset=dataset, encoder=encoder)
    app = AnnotationApp(AnnotationService(session))
    token = app.open_tab()["token"]
    shown = app.page_begin({"token": token, "name": "ann"})["query"]
    original = texts[shown["point_id"]]
    assert "<br />" not in shown["readable_text"] and shown["readable_text"] == original.replace("<br />", "\n")
    edited = shown["readable_text"] + " and great fun"  # as typed in the box
    reply = app.page_answer({"token": token, "name": "ann", "point_id": shown["point_id"], "label": "Negative",
                             "rewrite": edited})
    stored = session.store.log(SESSION).annotations()[-1]
    assert stored.rewrite == edited.replace("\n", "<br />") and "<br /><br />" in stored.rewrite
    following = session.query(next(q.id for q in session.leases.queries.open_queries()))
    api_edit = texts[following.point_id].replace("<br />", "\n") + " and great fun"
    app.service.submit(following.query_id, "Negative", annotator="ann", rewrite=api_edit)
    assert session.store.log(SESSION).annotations()[-1].rewrite == api_edit.replace("\n", "<br />")
    assert reply["ok"] and reply["query"]["point_id"] == following.point_id
    app.close()
    session.close()


# --------------------------------------------------------------------------- help with rewrites (real MiniLM)


def broken_line_query(session):
    """A query, leased to "ann", for a pool review with IMDb line breaks (none of them is labelled)."""
    point = next(int(p) for p in session.dataset.pool if "<br />" in session.dataset.texts[p])
    return handing.claim(session, "ann", point)


def test_explain_gives_a_querys_words_with_a_weight_per_class(review_session, launch_ui):
    session = review_session
    query = broken_line_query(session)
    text, label = query.text, int(session.dataset.y[query.point_id])
    with launch_ui(session) as running:
        result = client(running).predict(query.query_id, api_name="/explain")
    assert (result["query_id"], result["point_id"], result["text"]) == (query.query_id, query.point_id, text)
    assert result["classes"] == ["Negative", "Positive"] and result["model_version"] == session.model.version
    assert result["readable_text"] == text.replace("<br />", "\n")
    assert [w["word"] for w in result["words"]] == re.findall(r"\w+", text.replace("<br />", " "))
    for word in result["words"]:
        assert text[word["start"]:word["end"]] == word["word"] == result["readable_text"][slice(*word["readable_span"])]
        assert word["read"] and word["weights"][0] == pytest.approx(-word["weights"][1])
    # the model's sentiment words are among the three words that push hardest towards its class (the
    # model comes from a background trainer: its version, and so the exact order, may vary with the load)
    leaders = sorted(result["words"], key=lambda w: w["weights"][label], reverse=True)[:3]
    assert {w["word"] for w in leaders} & set(GOOD_WORDS + BAD_WORDS)
    assert result["unread_words"] == 0 and result["prediction"] == session.dataset.class_names[label]


def test_predict_text_reads_a_rewrite_as_the_page_types_it(review_session, launch_ui):
    session = review_session
    query = broken_line_query(session)
    typed = opposite(query.text).replace("<br />", "\n")  # as edited in the page's box
    with launch_ui(session) as running:
        api = client(running)
        stored_form = typed.replace("\n", "<br />")
        alone = api.predict(stored_form, None, api_name="/predict_text")
        reading = api.predict(typed, query.query_id, api_name="/predict_text")
        blank_id = api.predict(stored_form, "  ", api_name="/predict_text")  # no query id given
    assert set(alone) == {"model_version", "classes", "probabilities", "prediction"} and alone == blank_id
    assert reading["probabilities"] == pytest.approx(alone["probabilities"])  # read with the original's <br />
    label = session.dataset.class_names[session.dataset.y[query.point_id]]
    assert reading["original_prediction"] == label and reading["prediction"] != label and reading["flips"]
    (change,) = reading["changes"]
    assert change["op"] == "replace" and change["removed"] in query.text and change["added"] in typed
    assert query.text[slice(*change["original"])] == change["removed"]
    assert reading["changed_words"] == 1 and reading["warning"] is None
    assert sum(reading["probabilities"]) == pytest.approx(1)


def test_the_text_help_refuses_bad_input_plainly(review_session, launch_ui):
    session = review_session
    query = broken_line_query(session)
    with launch_ui(session) as running:
        api = client(running)
        for text, query_id, message in [
            ("", None, "the text is empty"), (" \n ", query.query_id, "the text is empty"),
            ("x" * (MAX_REWRITE_CHARS + 1), None, f"longer than {MAX_REWRITE_CHARS} characters"),
            ("a\x00b", None, "NUL character"), ("A fine film.", "no-such-query", "unknown query"),
        ]:
            with pytest.raises(AppError, match=message):
                api.predict(text, query_id, api_name="/predict_text")
        for query_id, message in [("no-such-query", "unknown query"), ("", "a query id is required")]:
            with pytest.raises(AppError, match=message):
                api.predict(query_id, api_name="/explain")
        app = running.app
        test_point = int(session.dataset.test[0])
        for data, message in [({"point_id": test_point}, f"point {test_point} is not a pool point"),
                              ({"point_id": -1}, "point -1 is not a pool point"),
                              ({"point_id": 10**30}, f"point {10**30} is not a pool point"),
                              ({"point_id": "3"}, "no point id")]:
            with pytest.raises(SessionError, match=message):
                app.page_explain(data)
        with pytest.raises(SessionError, match="malformed query id"):
            app.page_predict({"text": "A fine film.", "query_id": 7})
        # the same typed rewrite as an answer: stored as the reading read it
        typed = opposite(query.text).replace("<br />", "\n")
        submit(api, query.query_id, session.dataset.class_names[1 - session.dataset.y[query.point_id]],
               rewrite=typed)
    stored = session.store.log("text").annotations()[-1]
    assert (stored.point_id, stored.sources, stored.rewrite) == (query.point_id, ["rewrite"], opposite(query.text))


def test_the_text_help_before_a_model_and_without_texts(running_app, tmp_path, sentence_encoder, launch_ui):
    api = client(running_app)  # moons
    query = api.predict("ann", api_name="/next")
    # said, not refused: a script runs the same on any data set
    no_texts = "highlights and text predictions are for text data sets; this one has no texts"
    assert api.predict(query["query_id"], api_name="/explain") == {
        "query_id": query["query_id"], "words": None, "message": no_texts}
    assert api.predict("A fine film.", None, api_name="/predict_text") == {
        "query_id": None, "prediction": None, "message": no_texts}
    spec = f"text-csv:{write_reviews_csv(tmp_path / 'reviews.csv', n=8)}"
    untrained = Session.create(Store("sqlite://"), SessionConfig(dataset=spec),
                               dataset=load_dataset(spec, encoder=sentence_encoder))
    with launch_ui(untrained) as running:
        text_api = client(running)
        query = text_api.predict("ann", api_name="/next")
        untrained_note = "the model is not trained yet; it reads texts after the first answers"
        assert text_api.predict(query["query_id"], api_name="/explain")["message"] == untrained_note
        assert text_api.predict("A fine film.", query["query_id"], api_name="/predict_text") == {
            "query_id": query["query_id"], "prediction": None, "message": untrained_note}
        # the page asks for highlights with every text it shows: before a model, none, and no refusal to log
        reply = running.app.page_explain({"point_id": query["point_id"]})
        assert reply == {"ok": True, "highlights": None,
                         "message": "no highlights before the first answers train a model"}


def test_the_session_and_its_explainer_load_the_sentence_model_once(tmp_path, monkeypatch):
    """As ``nudge serve`` opens a text session (no encoder given): the data set's encoder embeds the
    texts, the rewrites and the drafts, and carries the highlights."""
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached: the texts need the model
    loads, load = [], SentenceEncoder._load_model
    monkeypatch.setattr(SentenceEncoder, "_load_model", lambda self: loads.append(self) or load(self))
    spec = f"text-csv:{write_reviews_csv(tmp_path / 'reviews.csv', n=10)}"
    session = Session.create(Store("sqlite://"), SessionConfig(dataset=spec, estimator={"max_epochs": 10}))
    app = AnnotationApp(AnnotationService(session))
    dataset = session.dataset
    for label in (0, 1):  # one one-line review of each class
        point = next(int(p) for p in dataset.pool if dataset.y[p] == label and "<br />" not in dataset.texts[p])
        session.relabel(point, label, annotator="seed")
    query = broken_line_query(session)
    app.explainer.explain(query.query_id)
    app.explainer.predict_text(opposite(query.text), query.query_id)
    session.submit(query.query_id, 1 - int(session.dataset.y[query.point_id]), annotator="ann",
                   rewrite=opposite(query.text))
    assert len(loads) == 1
    assert app.explainer.encoder is session.text_encoder() is session.dataset.encoder is loads[0]
    app.close()
