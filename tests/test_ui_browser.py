"""The annotation page in a real browser (Debian's chromium, headless, driven by Playwright) against
a real server: input is never lost, names count at once and survive a reload, refusals leave every
control usable, arrows with three classes say where they lead, two tabs of one name get two points,
and names from the data are shown as text; for text (real MiniLM), word highlights are drawn over the
query and its examples without holding anything up, and the rewrite is read as it is typed.

Screenshots go to ``artifacts/`` at the repository root.
"""

import logging
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BAD_WORDS, GOOD_WORDS, SMALL_NET, opposite
from page_driver import (  # noqa: F401
    BROWSER_TESTS,
    answers,
    browser,
    context,
    next_point,
    no_error_badges,
    open_page,
    pixel,
    press_label,
    reading_shown,
    shown_point,
    shown_query,
    type_rewrite,
    unfocus,
)

from nudge.loop.config.settings import SessionConfig
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.loop.training.trainer import BackgroundTrainer

pytestmark = BROWSER_TESTS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SESSION = "ui-test"
HOSTILE = "<img src=x onerror=alert(1)>"


def csv_session(tmp_path, name: str, rows: list[str]):
    path = tmp_path / f"{name}.csv"
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    # the picture in the file's own units: the blobs' geometry below is written in them
    config = SessionConfig(dataset=f"csv:{path}", dataset_options={"label_column": "label"}, scaling="none",
                           estimator=SMALL_NET)
    return Session.create(Store(tmp_path / f"{name}.db"), config, session_id=name,
                          trainer=BackgroundTrainer())


def blobs(names: list[str], per_class: int = 30) -> list[str]:
    rng = np.random.default_rng(0)
    centres = [(0, 0), (3, 0), (1.5, 2.6)]
    return [f"{cx + rng.normal(0, 0.5):.4f},{cy + rng.normal(0, 0.5):.4f},{name}"
            for name, (cx, cy) in zip(names, centres) for _ in range(per_class)]


# --------------------------------------------------------------------------- input is kept


def test_a_click_right_after_a_label_key_is_kept_as_the_arrow_aimed_at(running_app, context):
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(context, running_app.url)
    session = running_app.session
    name = page.locator("#annotator-name input").input_value()
    assert name.startswith("guest-")
    page.wait_for_function("() => document.querySelector('#status-line').innerText.includes('Answers 0')")
    expected = []
    for round_ in range(4):
        point = shown_point(page)
        projection = shown_query(page)["projection"]
        a = projection["a_range"][0] + (0.2 + 0.15 * round_) * (projection["a_range"][1] - projection["a_range"][0])
        b = projection["b_range"][0] + 0.7 * (projection["b_range"][1] - projection["b_range"][0])
        x, y = pixel(page, a, b)
        press_label(page, 1)
        page.mouse.click(x, y)  # 0 ms after the key
        if round_ == 0:
            page.screenshot(path=str(ARTIFACTS / "ui_arrow.png"), full_page=True)
        page.keyboard.press("Enter")
        expected.append((point, a, b))
        next_point(page, point)
    page.screenshot(path=str(ARTIFACTS / "ui_submitted.png"), full_page=True)
    stored = answers(session)
    assert [(s.point_id, s.label, s.sources, s.annotator) for s in stored] == [
        (point, 1, ["arrow"], name) for point, _, _ in expected]
    a_pixel = (projection["a_range"][1] - projection["a_range"][0]) / page.evaluate(
        "() => { const g = window.nudgePage.box(); return g.right - g.left; }")
    for answer, (_, a, b) in zip(stored, expected):  # on the data plane the arrow is (a, b) itself
        np.testing.assert_allclose(answer.directions[0], [a, b], atol=1.5 * a_pixel)
    # the status line follows on its own: the answers, then a retrained model
    page.wait_for_function("() => document.querySelector('#status-line').innerText.includes('Answers 4 (yours 4)')")
    page.wait_for_function("() => /model v[1-9]/.test(document.querySelector('#status-line').innerText)",
                           timeout=60_000)


def test_keys_and_clicks_made_while_the_next_point_is_on_its_way_apply_to_it(running_app, context, monkeypatch):
    page = open_page(context, running_app.url)
    service = running_app.service
    slow_submit = service.submit

    def submit(*args, **kwargs):  # an answer that takes a while to store
        time.sleep(0.4)
        return slow_submit(*args, **kwargs)

    monkeypatch.setattr(service, "submit", submit)
    first = shown_point(page)
    box = page.locator("#projection canvas").bounding_box()
    press_label(page, 1)
    page.keyboard.press("Enter")
    press_label(page, 0)  # while the answer is on its way
    page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + 0.4 * box["height"])
    second = next_point(page, first)
    assert page.locator("#label-choice input").nth(0).is_checked()
    assert page.locator("#arrow-list li").count() == 1
    page.keyboard.press("c")  # clear, then two arrows, the last one taken back
    assert page.locator("#arrow-list li").count() == 0
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
    page.keyboard.press("Backspace")
    assert page.locator("#arrow-list li").count() == 1
    page.keyboard.press("Enter")
    third = next_point(page, second)
    page.keyboard.press("s")
    next_point(page, third)
    stored = answers(running_app.session)
    assert [(a.point_id, a.label, a.sources) for a in stored] == [
        (first, 1, []), (second, 0, ["arrow"]), (third, None, [])]


def test_a_click_beside_the_plot_draws_nothing(running_app, context):
    page = open_page(context, running_app.url)
    box = page.locator("#projection canvas").bounding_box()
    page.mouse.click(box["x"] + 4, box["y"] + box["height"] - 4)  # in the margin of the axes
    assert "outside the plot" in page.locator("#message").inner_text()
    assert page.locator("#arrow-list li").count() == 0
    point = shown_point(page)
    press_label(page, 0)
    page.keyboard.press("Enter")
    next_point(page, point)
    (stored,) = answers(running_app.session)
    assert (stored.point_id, stored.label, stored.directions) == (point, 0, [])


# --------------------------------------------------------------------------- who is annotating


def test_a_typed_name_counts_at_once_and_survives_a_reload_where_undo_brings_the_answer_back(running_app, context):
    page = open_page(context, running_app.url)
    page.locator("#annotator-name input").fill("alice")  # no Enter
    unfocus(page)
    point = shown_point(page)
    projection = shown_query(page)["projection"]
    a, b = (0.25 * projection["a_range"][1], 0.3 * projection["b_range"][1])
    press_label(page, 1)
    page.mouse.click(*pixel(page, a, b))
    page.keyboard.press("Enter")
    following = next_point(page, point)
    (stored,) = answers(running_app.session)
    assert (stored.point_id, stored.annotator, stored.sources) == (point, "alice", ["arrow"])

    page.reload()
    assert shown_point(page) == following  # the reloaded tab keeps its point
    assert page.locator("#annotator-name input").input_value() == "alice"
    unfocus(page)
    page.keyboard.press("u")
    assert next_point(page, following) == point
    page.wait_for_function("() => document.querySelector('#message').innerText.includes('Undid')")
    assert page.locator("#message").inner_text() == (
        f"Undid your answer to point {point} (label 1, 1 arrow): correct it and submit again")
    assert page.locator("#label-choice input").nth(1).is_checked()
    assert page.locator("#arrow-list li").count() == 1
    restored = page.evaluate("() => window.nudgePage.state.arrows[0]")
    assert (restored["a"], restored["b"]) == pytest.approx((a, b), abs=1e-3 * (1 + abs(a) + abs(b)) + 0.05)
    press_label(page, 0)  # corrected
    page.keyboard.press("Enter")
    next_point(page, point)
    first, again = answers(running_app.session)
    assert first.undone and (again.point_id, again.label, again.annotator, again.sources) == (
        point, 0, "alice", ["arrow"])


def test_one_name_in_two_tabs_gets_two_points(running_app, context):
    one = open_page(context, running_app.url)
    two = open_page(context, running_app.url)  # the same browser: the same remembered name
    name = one.locator("#annotator-name input").input_value()
    assert two.locator("#annotator-name input").input_value() == name
    first, second = shown_point(one), shown_point(two)
    assert first != second
    for page, point in ((one, first), (two, second)):
        press_label(page, 0)
        page.keyboard.press("Enter")
        next_point(page, point)
        no_error_badges(page)
    assert sorted((a.point_id, a.annotator) for a in answers(running_app.session)) == sorted(
        [(first, name), (second, name)])


# --------------------------------------------------------------------------- refusals


def test_a_refused_action_shows_one_message_and_leaves_every_control_usable(running_app, context, caplog):
    page = open_page(context, running_app.url)
    point = shown_point(page)
    page.keyboard.press("Enter")  # no label yet: refused in the page
    assert page.locator("#message").inner_text() == "choose a label first (its key is in [ ])"
    page.locator("#annotator-name input").fill("")  # no name: refused by the server
    unfocus(page)
    with caplog.at_level(logging.WARNING, logger="nudge.ui.failures"):
        press_label(page, 0)
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelector('#message').innerText.includes('enter your name')")
    assert [r.getMessage() for r in caplog.records if r.name == "nudge.ui.failures"] == [
        "refused answer: enter your name (top of the page) before annotating"]
    assert all(r.exc_info is None for r in caplog.records)
    no_error_badges(page)
    assert answers(running_app.session) == [] and shown_point(page) == point
    page.locator("#annotator-name input").fill("bob")
    page.locator("#label-choice label").filter(has_text="[1] 1").click()  # the label radio still answers
    assert page.locator("#label-choice input").nth(1).is_checked()
    page.locator("#submit-button").click()
    next_point(page, point)
    (stored,) = answers(running_app.session)
    assert (stored.point_id, stored.label, stored.annotator) == (point, 1, "bob")


# --------------------------------------------------------------------------- examples and classes


def test_a_numbered_example_clicked_on_the_picture_is_the_direction(running_app, context):
    session = running_app.session
    pool, y = session.dataset.pool, session.dataset.y
    for point in [*pool[y[pool] == 0][:4], *pool[y[pool] == 1][:4]]:
        session.relabel(int(point), int(y[point]), annotator="seed")
    assert session.wait_until_trained(timeout=60) and session.model.is_fitted
    page = open_page(context, running_app.url)
    query = shown_query(page)
    point, predicted = query["point_id"], query["classes"].index(query["prediction"])
    press_label(page, predicted)
    offered = page.evaluate("""() => { const q = window.nudgePage.state.query, own = window.nudgePage.state.label;
        return q.projection.candidates.filter((c) => c.class !== own); }""")
    assert offered and all(c["class"] != predicted for c in offered)
    assert page.locator("#towards-list li").count() == len(offered)
    page.mouse.click(*pixel(page, offered[0]["a"], offered[0]["b"]))
    assert page.locator("#towards-list li.chosen").count() == 1
    page.keyboard.press("Enter")
    next_point(page, point)
    answer = answers(session)[-1]
    assert (answer.point_id, answer.sources) == (point, ["towards-example"])
    np.testing.assert_allclose(answer.directions[0], session.dataset.X[offered[0]["point_id"]] - session.dataset.X[point])


def test_with_three_classes_an_arrow_says_where_it_leads_and_can_be_changed(tmp_path, launch_ui, context):
    session = csv_session(tmp_path, "three", blobs(["a", "b", "c"]))
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            point = shown_point(page)
            box = page.locator("#projection canvas").bounding_box()
            page.keyboard.press("1")
            page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + 0.3 * box["height"])
            chooser = page.locator("#arrow-list li select")
            assert chooser.input_value() == ""  # no model yet: the page asks
            assert "which class arrow A leads to" in page.locator("#message").inner_text()
            page.keyboard.press("Enter")
            assert "say which class arrow A leads to" in page.locator("#message").inner_text()
            assert answers(session) == []
            assert [o.strip() for o in chooser.locator("option").all_inner_texts()] == ["which class?", "b", "c"]
            chooser.select_option(label="c")
            page.keyboard.press("Enter")
            next_point(page, point)
            (first,) = answers(session)
            assert (first.label, first.sources, first.targets) == (0, ["arrow"], [2])

            y, pool = session.dataset.y, session.dataset.pool
            for k in range(3):
                for p in pool[y[pool] == k][:3]:
                    session.relabel(int(p), k, annotator="seed")
            assert session.wait_until_trained(timeout=60)
            shown = shown_point(page)
            page.keyboard.press("s")  # the next point is drawn by the model
            point = next_point(page, shown)
            query = shown_query(page)
            assert query["probabilities"] is not None
            label = query["classes"].index(query["prediction"])
            tip = confident_spot(page, query, other_than=label)
            press_label(page, label)
            page.mouse.click(*pixel(page, tip["a"], tip["b"]))
            assert chooser.input_value() == str(tip["class"])  # by default: the region the tip lands in
            third = ({0, 1, 2} - {label, tip["class"]}).pop()
            chooser.select_option(value=str(third))  # changed by the person
            page.keyboard.press("Enter")
            next_point(page, point)
            answer = answers(session)[-1]
            assert (answer.point_id, answer.label, answer.targets) == (point, label, [third])
            no_error_badges(page)
    finally:
        session.close()
        session.store.close()


def confident_spot(page, query: dict, other_than: int) -> dict:
    """A grid cell the model puts, surely, in another class than ``other_than``, away from the numbered examples."""
    grid = query["projection"]["grid"]
    examples = [pixel(page, c["a"], c["b"]) for c in query["projection"]["candidates"]]
    for j in range(6, len(grid["b"]) - 6, 3):
        for i in range(6, len(grid["a"]) - 6, 3):
            p, a, b = grid["probabilities"][j][i], grid["a"][i], grid["b"][j]
            klass = int(np.argmax(p))
            x, y = pixel(page, a, b)
            if klass != other_than and max(p) > 0.7 and all(np.hypot(x - cx, y - cy) > 25 for cx, cy in examples):
                return {"a": a, "b": b, "class": klass}
    pytest.fail("no grid cell where the model is sure of another class")


def test_names_from_the_data_are_shown_as_text(tmp_path, launch_ui, context):
    session = csv_session(tmp_path, "hostile", blobs([HOSTILE, "plain"], per_class=20))
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url + "?__theme=dark")
            assert page.locator(".nudge img").count() == 0
            labels = page.locator("#label-choice label").all_inner_texts()
            assert [text.strip() for text in labels] == [f"[1] {HOSTILE}", "[2] plain"]
            assert HOSTILE in page.locator(".nudge .legend").inner_text()
            page.locator("#annotator-name input").fill("<b>eve</b>")
            unfocus(page)
            point = shown_point(page)
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            next_point(page, point)
            assert page.locator(".nudge img, .nudge b:not(.keys b)").count() == 0
            assert answers(session)[0].annotator == "<b>eve</b>"
            # dark mode: the picture is drawn on the dark background
            corner = page.evaluate("""() => { const c = document.querySelector('#projection canvas');
                return Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data); }""")
            assert sum(corner[:3]) / 3 < 80
    finally:
        session.close()
        session.store.close()


def test_under_auth_the_login_names_the_annotator(tmp_path, context):
    from conftest import nudge_serve

    db = tmp_path / "auth.db"
    with nudge_serve(db, "--dataset", "moons", "--n-samples", "200", "--session", "auth",
                     "--auth", "alice:wonderland", "--set", "max_epochs=10") as server:
        page = context.new_page()
        page.goto(server.url)
        page.get_by_label("username").fill("alice")
        page.get_by_label("password").fill("wonderland")
        page.get_by_role("button", name="Login").click()
        point = shown_point(page)
        name = page.locator("#annotator-name input")
        assert name.input_value() == "alice" and not name.is_editable()
        press_label(page, 0)
        page.keyboard.press("Enter")
        next_point(page, point)
    store = Store(db, create=False)
    try:
        (answer,) = store.log("auth").annotations()
        assert (answer.point_id, answer.annotator) == (point, "alice")
    finally:
        store.close()


# --------------------------------------------------------------------------- text: highlights and the rewrite's reading


def highlights_drawn(page, newer_than: int = -1) -> int:
    """Wait until the shown text's highlights (by a model newer than ``newer_than``) are drawn; their version."""
    page.wait_for_function("v => Number(document.querySelector('#query-text').dataset.highlights ?? -1) > v",
                           arg=newer_than)
    return int(page.locator("#query-text").get_attribute("data-highlights"))


def slowed(monkeypatch, owner, name: str, seconds: float) -> None:
    """Make ``owner.name`` take ``seconds`` longer (a busy explainer)."""
    real = getattr(owner, name)

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, slow)


def test_highlights_are_drawn_over_a_text_query_and_a_newer_models_replace_them(review_session, launch_ui, context):
    session = review_session
    with launch_ui(session) as running:
        page = open_page(context, running.url)
        version = highlights_drawn(page)
        query = shown_query(page)
        label = query["classes"].index(query["prediction"])
        assert page.locator("#query-text").inner_text() == query["readable_text"]
        words = page.locator("#query-text .word")
        assert words.all_inner_texts() == re.findall(r"\w+", query["readable_text"])
        verdict = next(w for w in GOOD_WORDS + BAD_WORDS if w in query["text"])
        assert words.filter(has_text=re.compile(f"^{verdict}$")).get_attribute("data-towards") == str(label)
        assert page.locator("#query-text .word.unread").count() == 0
        assert f"Highlights by model v{version}" in page.locator("#highlight-note").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui_highlights.png"), full_page=True)

        labelled = {a.point_id for a in answers(session)}
        more = next(int(p) for p in session.dataset.pool if int(p) not in labelled and int(p) != query["point_id"])
        session.relabel(more, int(session.dataset.y[more]), annotator="seed")  # a newer model is published
        assert session.wait_until_trained(timeout=60) and session.model.version > version
        assert highlights_drawn(page, newer_than=version) == session.model.version
        assert shown_point(page) == query["point_id"]
        # one screen: each model that is not the picture's is said
        assert (f"Highlights by model v{session.model.version} (newer than the picture's "
                f"v{query['prediction_model_version']})") in page.locator("#highlight-note").inner_text()

        press_label(page, label)  # the examples to move towards are of the other class
        example = page.locator("#towards-list details.example").first
        example.locator("summary").click()
        body = example.locator(".candidate-text")
        body.locator(".word").first.wait_for()
        point = int(example.get_attribute("data-point-id"))
        assert body.inner_text() == session.dataset.texts[point].replace("<br />", "\n")  # whole and readable
        page.keyboard.press("c")  # the list is drawn again: the example stays open, with its highlights
        assert page.locator(f"#towards-list details.example[data-point-id='{point}']").get_attribute("open") == ""
        assert page.locator(f"#towards-list details[data-point-id='{point}'] .candidate-text .word").count() > 0


def test_the_rewrite_is_read_as_it_is_typed_and_a_trivial_one_is_flagged(review_session, launch_ui, context,
                                                                          monkeypatch):
    session = review_session
    with launch_ui(session) as running:
        slowed(monkeypatch, running.app.explainer, "predict_text", 0.8)  # readings come while typing goes on
        page = open_page(context, running.url)
        query = shown_query(page)
        original, readable = query["text"], query["readable_text"]
        assert "Edit the text" in reading_shown(page)
        rewrite = opposite(readable)
        first, rest = rewrite[:8], rewrite[8:]
        type_rewrite(page, first)
        time.sleep(0.5)  # a pause: the reading of the first keys is asked for, and takes 0.8 s
        page.keyboard.type(rest, delay=10)  # typed meanwhile
        assert page.locator("#rewrite").input_value() == rewrite  # no key was lost
        reading = reading_shown(page)
        other = query["classes"][1 - query["classes"].index(query["prediction"])]
        assert f"reads the rewrite as {other}" in reading and f"it flips from {query['prediction']}" in reading
        assert "1 word changed" in reading and page.locator("#rewrite-feedback").get_attribute("data-flips") == "true"
        old = next(w for w in GOOD_WORDS + BAD_WORDS if w in readable)
        assert page.locator("#rewrite-feedback .diff li").all_inner_texts() == [f"{old} → {opposite(old)}"]
        assert page.locator("#rewrite-feedback .warning").is_hidden()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui_rewrite_reading.png"), full_page=True)

        type_rewrite(page, readable.upper())  # only the case changed: flagged before any submit
        assert "still" in reading_shown(page)
        assert "same words" in page.locator("#rewrite-feedback .warning").inner_text()
        assert "flagged" in page.locator("#rewrite").get_attribute("class")
        assert page.locator("#rewrite-feedback .diff li").count() == 0
        type_rewrite(page, readable)  # the text as it is: no rewrite, nothing to read
        assert "Edit the text" in reading_shown(page)
        assert "flagged" not in (page.locator("#rewrite").get_attribute("class") or "")
        type_rewrite(page, readable + "  ")  # spaces after it: the server reads no rewrite there either
        assert "Edit the text" in reading_shown(page)

        type_rewrite(page, rewrite)
        page.locator("#label-choice label").nth(query["classes"].index(other)).click()
        page.locator("#rewrite").focus()
        page.keyboard.press("Control+Enter")
        next_point(page, query["point_id"])
        stored = answers(session)[-1]
        assert (stored.point_id, stored.sources, stored.rewrite) == (query["point_id"], ["rewrite"], opposite(original))
        no_error_badges(page)


def test_highlights_never_hold_up_the_answer(review_session, launch_ui, context, monkeypatch):
    session = review_session
    with launch_ui(session) as running:
        slowed(monkeypatch, running.app.explainer, "explain_point", 2.5)
        page = open_page(context, running.url)
        first = shown_point(page)
        page.keyboard.press("1")
        page.keyboard.press("Enter")  # at once, long before the highlights
        second = next_point(page, first)
        assert page.locator("#query-text").get_attribute("data-highlights") is None
        assert answers(session)[-1].point_id == first
        highlights_drawn(page)
        state = page.evaluate("() => window.nudgePage.state.highlights")
        assert state["point_id"] == second  # the first point's, late, were not drawn over the second's text
        assert page.locator("#query-text").inner_text() == session.dataset.texts[second].replace("<br />", "\n")


# Every vertical position the picture takes while one point is shown: recorded on each change anywhere on the page.
PICTURE_TOPS = """() => {
  const canvas = document.querySelector('#projection canvas'), picture = document.querySelector('#projection');
  const tops = window.pictureTops = [];
  const record = () => tops.push([picture.dataset.pointId, canvas.getBoundingClientRect().top]);
  new MutationObserver(record).observe(document.querySelector('.nudge'),
    {attributes: true, childList: true, subtree: true, characterData: true});
  record();
}"""


def test_the_picture_stays_where_it_is_while_highlights_and_the_status_come(review_session, launch_ui, context,
                                                                            monkeypatch):
    """A person aims at the picture as soon as a point is shown; what comes later (its highlights, the
    status line of a retrained model) must not move it under the pointer."""
    session = review_session
    with launch_ui(session) as running:
        slowed(monkeypatch, running.app.explainer, "explain_point", 1.0)
        page = open_page(context, running.url)
        page.set_viewport_size({"width": 760, "height": 1400})  # narrow: the long lines wrap
        first = shown_point(page)
        page.evaluate(PICTURE_TOPS)
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        second = next_point(page, first)
        highlights_drawn(page)
        assert session.wait_until_trained(timeout=60)
        page.wait_for_function("v => document.querySelector('#status-line').textContent.includes('model v' + v)",
                               arg=session.model.version)
        tops = page.evaluate("() => window.pictureTops")
        while_second = {top for point, top in tops if point == str(second)}
        assert len(while_second) == 1, f"the picture moved while point {second} was shown: {sorted(while_second)}"


def test_a_refusal_above_the_picture_does_not_move_it(review_session, launch_ui, context):
    """On a phone-narrow page a refusal wraps to two lines in the message line above the picture; the
    picture stays where the person aims (the line keeps two lines' room)."""
    with launch_ui(review_session) as running:
        page = open_page(context, running.url)
        page.set_viewport_size({"width": 360, "height": 1400})
        shown = shown_point(page)
        page.evaluate(PICTURE_TOPS)
        page.keyboard.press("9")  # no class has it
        page.wait_for_function("() => document.querySelector('#message').textContent.startsWith('no class has the key 9')")
        message = page.evaluate("""() => { const m = document.querySelector('#message'), style = getComputedStyle(m);
          return {height: m.scrollHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom),
                  line: parseFloat(style.lineHeight)}; }""")
        assert message["height"] >= 1.9 * message["line"]  # it did wrap
        tops = {top for point, top in page.evaluate("() => window.pictureTops") if point == str(shown)}
        assert len(tops) == 1, f"the picture moved while point {shown} was shown: {sorted(tops)}"
