"""The page's rough edges a new user found (issue 19 item 5), each pinned in a real browser against a real
server: tick labels keep their zeros; more than nine classes are all reachable from the keyboard, keyed by
their own names when they are numbers, in colours that do not repeat, with arrows named apart from the
numbered examples; a skip is confirmed and the picture says what its axes and arrows are; an undone answer
survives a reload; after a rewrite sent with Ctrl+Enter the keys label the next point; and the rewrite's
reading is said against the label the person chose, by the model the screen names."""

from pathlib import Path

import pytest
from conftest import SMALL_NET
from page_driver import (  # noqa: F401
    BROWSER_TESTS,
    answers,
    browser,
    context,
    next_point,
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


def checked(page) -> list[int]:
    return [i for i, radio in enumerate(page.locator("#label-choice input").all()) if radio.is_checked()]


def message(page) -> str:
    return page.locator("#message").inner_text()


def ring_session(tmp_path, names: list[str], per_class: int = 4) -> Session:
    """One small cluster per class, on a ring (the file's own units), untrained: the page as it opens."""
    import math

    rows = [f"{3 * math.cos(2 * math.pi * k / len(names)) + 0.1 * (i % 2):.4f},"
            f"{3 * math.sin(2 * math.pi * k / len(names)) + 0.1 * (i // 2):.4f},{name}"
            for k, name in enumerate(names) for i in range(per_class)]
    path = tmp_path / "ring.csv"
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    config = SessionConfig(dataset=f"csv:{path}", dataset_options={"label_column": "label"}, scaling="none",
                           estimator=SMALL_NET)
    return Session.create(Store(tmp_path / "ring.db"), config, session_id="ring", trainer=BackgroundTrainer())


# ----------------------------------------------------------------------------- the picture


TICKS = [(10, "10"), (20, "20"), (50, "50"), (60, "60"), (-100, "-100"), (-50, "-50"), (100, "100"), (0, "0"),
         (-0.0, "0"), (0.30000000000000004, "0.3"), (-0.2, "-0.2"), (0.05, "0.05"), (2.5, "2.5"), (1500, "1500"),
         (0.0001, "0.0001"), (1e-7, "1e-7")]


def test_ticks_keep_their_zeros_a_skip_is_said_and_the_axes_say_what_they_are(running_app, context):
    page = open_page(context, running_app.url)
    written = page.evaluate("values => values.map((v) => window.nudgePage.tickLabel(v))", [v for v, _ in TICKS])
    assert written == [label for _, label in TICKS]
    axes = shown_query(page)["projection"]["axes"]
    assert all("relative to the query ★ (0 at ★" in axis for axis in axes)
    assert "arrows given to earlier points are not drawn here" in page.locator(".legend").inner_text()
    point = shown_point(page)
    page.keyboard.press("s")
    next_point(page, point)
    page.wait_for_function("() => document.querySelector('#message').innerText.startsWith('Skipped')")
    assert message(page) == f"Skipped point {point}: it goes back to the others (u undoes the skip)"


# ----------------------------------------------------------------------------- many classes


@pytest.mark.parametrize("names, keys", [
    ([str(k) for k in range(10)], [str(k) for k in range(10)]),  # as digits' classes: keyed by their names
    (list("abcdefghij"), [*"123456789", "0"]),  # else 1..9, and 0 for the tenth
])
def test_ten_classes_are_keyed_by_their_number_names_or_in_order_in_colours_of_their_own(tmp_path, launch_ui,
                                                                                         context, names, keys):
    session = ring_session(tmp_path, names)
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            labels = [text.strip() for text in page.locator("#label-choice label").all_inner_texts()]
            assert labels == [f"[{key}] {name}" for key, name in zip(keys, names)]
            for index in (0, 1, 9, 5):
                page.keyboard.press(keys[index])
                assert checked(page) == [index]
            colours = page.evaluate("""() => { const probe = document.createElement('canvas').getContext('2d');
                return Array.from({length: 40}, (_, k) => { probe.fillStyle = window.nudgePage.colour(k);
                                                             return probe.fillStyle; }); }""")  # as #rrggbb
            assert len(set(colours[:20])) == 20 and len(set(colours)) == 40  # 20 set apart, then a rule
            assert page.evaluate("() => window.nudgePage.arrowTag(0, 3)") == f"A → {names[3]}"  # not 1: an example's
            page.mouse.click(*pixel(page, 0.5, 0.5))
            assert "which class arrow A leads to" in message(page)
            assert page.evaluate("""() => getComputedStyle(document.querySelector('#arrow-list'))
                .listStyleType""") == "upper-alpha"
    finally:
        session.close()
        session.store.close()


def test_more_than_ten_classes_are_all_reachable_from_the_keyboard(tmp_path, launch_ui, context):
    names = list("abcdefghijkl")
    session = ring_session(tmp_path, names, per_class=2)
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            labels = [text.strip() for text in page.locator("#label-choice label").all_inner_texts()]
            assert labels == [f"[{k}] {name}" for k, name in enumerate(names, 1)]
            assert "two digits typed quickly for 10 and up" in page.locator("#label-choice legend").inner_text()
            page.keyboard.type("12")  # one key after the other: class 12
            assert checked(page) == [11]
            page.keyboard.press("0")  # no class has it: said, nothing changes
            assert message(page) == "no class has the key 0: the keys are shown beside the labels"
            assert checked(page) == [11]
            page.keyboard.press("3")  # "03" is no key: 3 alone
            assert checked(page) == [2] and message(page) == ""
            page.keyboard.type("10")
            assert checked(page) == [9]
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "ui_twelve_classes.png"), full_page=True)
    finally:
        session.close()
        session.store.close()


# ----------------------------------------------------------------------------- undo


def test_an_undone_answer_comes_back_with_the_point_after_a_reload(running_app, context):
    page = open_page(context, running_app.url)
    point = shown_point(page)
    projection = shown_query(page)["projection"]
    a, b = 0.25 * projection["a_range"][1], 0.3 * projection["b_range"][1]
    press_label(page, 1)
    page.mouse.click(*pixel(page, a, b))
    page.keyboard.press("Enter")
    following = next_point(page, point)
    page.keyboard.press("u")
    assert next_point(page, following) == point
    page.wait_for_function("() => document.querySelector('#message').innerText.startsWith('Undid')")

    page.reload()
    assert shown_point(page) == point
    page.wait_for_function("() => document.querySelector('#message').innerText.includes('is back')")
    assert message(page) == (f"Your undone answer to point {point} is back (label 1, 1 arrow): correct it and "
                             "submit again")
    assert checked(page) == [1] and page.locator("#arrow-list li").count() == 1
    restored = page.evaluate("() => window.nudgePage.state.arrows[0]")
    assert (restored["a"], restored["b"]) == pytest.approx((a, b), abs=1e-3 * (1 + abs(a) + abs(b)) + 0.05)
    unfocus(page)
    page.keyboard.press("Enter")  # sent again as it was
    next_point(page, point)
    first, again = answers(running_app.session)
    assert first.undone and (again.point_id, again.label, again.sources) == (point, 1, ["arrow"])


# ----------------------------------------------------------------------------- the rewrite


def test_the_reading_is_said_against_the_chosen_label_and_ctrl_enter_leaves_the_box(review_session, launch_ui,
                                                                                     context):
    session = review_session
    with launch_ui(session) as running:
        page = open_page(context, running.url)
        query = shown_query(page)
        version, predicted = query["prediction_model_version"], query["prediction"]
        other = query["classes"][1 - query["classes"].index(predicted)]
        # the person reads the text as the model does not, and writes a rewrite the model reads as the text
        type_rewrite(page, query["readable_text"] + " I mean it.")
        reading = reading_shown(page)
        assert reading.startswith(f"Model v{version} reads the rewrite as {predicted}")  # the header's model
        assert "newer than" not in reading and f"model v{version} says" in page.locator("#prediction").inner_text()
        assert f"still {predicted}, the model's reading of the text (choose your label)" in reading
        unfocus(page)
        press_label(page, query["classes"].index(other))  # the label: the reading is said again against it at once
        reading = page.locator("#rewrite-feedback .reading").inner_text()
        assert f"another class than your label for the text, {other}" in reading
        assert page.locator("#rewrite-feedback").get_attribute("data-flips") == "true"

        page.locator("#rewrite").focus()
        page.keyboard.press("Control+Enter")
        following = next_point(page, query["point_id"])
        assert page.evaluate("() => document.activeElement !== document.querySelector('#rewrite')")
        press_label(page, 0)  # a label, not a digit typed into the next text
        assert checked(page) == [0]
        assert page.locator("#rewrite").input_value() == shown_query(page)["readable_text"]
        page.keyboard.press("Enter")  # submits, no new line
        next_point(page, following)
        first, second = answers(session)[-2:]
        assert (first.point_id, first.label, first.sources) == (query["point_id"], query["classes"].index(other),
                                                                ["rewrite"])
        assert (second.point_id, second.label, second.rewrite) == (following, 0, None)
