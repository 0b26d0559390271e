"""The page's modules each at its job, in a real browser against a real server: the keys, arrows drawn
locally (with the server out of reach), input made during a call applied in order to what comes back,
and the rewrite box and the name read by the server's rules, sent as data (tests/test_ui_rules.py
pins the server's side of the same cases)."""

import logging
import time

import pytest
from page_driver import (  # noqa: F401
    BROWSER_TESTS,
    answers,
    browser,
    context,
    next_point,
    open_page,
    pixel,
    points_shown,
    press_label,
    reading_shown,
    shown_point,
    shown_query,
    unfocus,
    watch_points,
)
from test_ui_browser import blobs, csv_session
from test_ui_rules import rewrite_edits, text_with_breaks_session

from nudge.loop.service.texts import is_rewrite
from nudge.loop.session.answers import NAME_NEEDED

pytestmark = BROWSER_TESTS


def checked_labels(page) -> list[int]:
    return [i for i, radio in enumerate(page.locator("#label-choice input").all()) if radio.is_checked()]


def spot(page, fa: float, fb: float) -> tuple[float, float]:
    """The screen position of a fraction (fa, fb) of the shown picture's plane ranges."""
    projection = shown_query(page)["projection"]
    (a0, a1), (b0, b1) = projection["a_range"], projection["b_range"]
    return pixel(page, a0 + fa * (a1 - a0), b0 + fb * (b1 - b0))


def slowed_answers(monkeypatch, service, seconds: float) -> None:
    real = service.submit

    def slow(*args, **kwargs):  # an answer that takes a while to store
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "submit", slow)


# --------------------------------------------------------------------------- keys


def test_keys_act_outside_text_boxes_and_only_their_own(running_app, context):
    page = open_page(context, running_app.url)
    first = shown_point(page)
    page.keyboard.press("3")  # moons has two classes, keyed by their names 0 and 1: no key 3
    page.keyboard.press("Alt+1")  # a key with a modifier is the browser's
    assert checked_labels(page) == []
    press_label(page, 1)
    assert checked_labels(page) == [1]
    for fa in (0.2, 0.5, 0.8):
        page.mouse.click(*spot(page, fa, 0.85))
    page.keyboard.press("Delete")  # the last arrow
    assert page.locator("#arrow-list li").count() == 2
    page.keyboard.press("Escape")  # every direction
    assert page.locator("#arrow-list li").count() == 0 and checked_labels(page) == [1]

    name = page.locator("#annotator-name input")
    name.click()
    page.keyboard.press("End")
    page.keyboard.type("-1s")  # typed into the box: no label, no skip
    assert checked_labels(page) == [1] and shown_point(page) == first
    page.keyboard.press("Enter")  # the name counts at once, and the focus leaves the box
    assert page.evaluate("() => document.activeElement !== document.querySelector('#annotator-name input')")
    typed = name.input_value()
    page.keyboard.press("Enter")
    second = next_point(page, first)
    page.keyboard.press("s")
    third = next_point(page, second)
    page.keyboard.press("u")
    assert next_point(page, third) == second
    page.wait_for_function("() => document.querySelector('#message').innerText.includes('Undid your skip')")
    assert [(a.point_id, a.label, a.annotator, a.undone) for a in answers(running_app.session)] == [
        (first, 1, typed, False), (second, None, typed, True)]


# --------------------------------------------------------------------------- drawing


def test_arrows_are_drawn_and_kept_on_the_page_with_the_server_out_of_reach(running_app, context):
    page = open_page(context, running_app.url)
    point = shown_point(page)
    press_label(page, 0)
    page.route("**/*", lambda route: route.abort())  # from here on, no call reaches the server
    tip = (0.75, 0.25)
    before = head_colour(page, *tip)
    page.mouse.click(*spot(page, *tip))
    page.mouse.click(*spot(page, 0.3, 0.8))
    assert page.locator("#arrow-list li").count() == 2
    assert head_colour(page, *tip) != before  # the head of arrow 1 is on the canvas
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#message').innerText.includes('did not answer')")
    assert page.locator("#arrow-list li").count() == 2 and checked_labels(page) == [0]  # the work is kept
    page.unroute("**/*")
    page.keyboard.press("Enter")
    next_point(page, point)
    (stored,) = answers(running_app.session)
    assert (stored.point_id, stored.label, stored.sources) == (point, 0, ["arrow", "arrow"])


def head_colour(page, fa: float, fb: float) -> list[int]:
    """The canvas's colour just behind the tip of an arrow to (fa, fb) of the plane ranges (inside its head)."""
    return page.evaluate("""([fa, fb]) => {
        const nudge = window.nudgePage, p = nudge.state.query.projection, canvas = document.querySelector('#projection canvas');
        const [x, y] = nudge.toPixel(p.a_range[0] + fa * (p.a_range[1] - p.a_range[0]),
                                     p.b_range[0] + fb * (p.b_range[1] - p.b_range[0]));
        const [x0, y0] = nudge.toPixel(0, 0), length = Math.hypot(x - x0, y - y0);
        const ratio = canvas.width / canvas.clientWidth;
        const hx = x - 6 * (x - x0) / length, hy = y - 6 * (y - y0) / length;
        return Array.from(canvas.getContext('2d').getImageData(Math.round(hx * ratio), Math.round(hy * ratio), 1, 1).data);
    }""", [fa, fb])


# --------------------------------------------------------------------------- the server round


def test_input_made_during_calls_is_applied_in_order_to_what_comes_back(running_app, context, monkeypatch):
    """A queued answer sends its own call; what was queued behind it waits for that one too."""
    page = open_page(context, running_app.url)
    slowed_answers(monkeypatch, running_app.service, 1.5)
    first = shown_point(page)
    watch_points(page)  # the skip comes back moments after the second answer: see every point shown
    press_label(page, 1)
    page.keyboard.press("Enter")
    page.locator("#annotator-name input").fill("carol")  # a new name, while the answer is on its way
    page.keyboard.press("Enter")
    press_label(page, 0)
    page.keyboard.press("Enter")  # the second point's answer, sent once the first is back
    page.keyboard.press("s")  # the third point's skip, once the second answer is back
    assert page.evaluate("() => window.nudgePage.state.pending.map((action) => action.type)") == [
        "rename", "label", "submit", "skip"]
    second, third, _ = points_shown(page, 3)
    page.wait_for_function("() => window.nudgePage.state.pending.length === 0 && !window.nudgePage.state.busy")
    stored = [(a.point_id, a.label, a.annotator) for a in answers(running_app.session)]
    assert stored[0][:2] == (first, 1) and stored[0][2].startswith("guest-")
    assert stored[1:] == [(second, 0, "carol"), (third, None, "carol")]


# --------------------------------------------------------------------------- the server's rules, as data


def test_the_page_reads_a_rewrite_and_a_name_as_the_server_does(tmp_path, launch_ui, context, caplog):
    session = text_with_breaks_session(tmp_path)
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            query = shown_query(page)
            edits = rewrite_edits(query["readable_text"])
            read = []
            for edit in edits:
                page.evaluate("""(text) => { const box = document.querySelector('#rewrite');
                    box.value = text; box.dispatchEvent(new Event('input')); }""", edit)
                read.append("Edit the text" not in reading_shown(page))
            assert read == [is_rewrite(edit, query["text"]) for edit in edits]
            page.evaluate("""(text) => { const box = document.querySelector('#rewrite');
                box.value = text; box.dispatchEvent(new Event('input')); }""", query["readable_text"])

            name = page.locator("#annotator-name input")
            with caplog.at_level(logging.WARNING, logger="nudge.ui.failures"):
                # no name to the server either (white space, zero-width, blank letters): refused here, not sent
                for blank in ("\x85", " \x1c\u3000", "\ufeff", "\u200b\u3164"):
                    name.fill(blank)
                    page.keyboard.press("Enter")
                    assert page.locator("#message").inner_text() == NAME_NEEDED
                name.fill("\ufeffx")  # a name to the server (str.strip keeps U+FEFF): sent as typed
                page.keyboard.press("Enter")
                unfocus(page)
                page.keyboard.press("1")
                page.keyboard.press("Enter")
                next_point(page, query["point_id"])
            assert not [r for r in caplog.records if NAME_NEEDED in r.getMessage()]
            (stored,) = answers(session)
            assert (stored.point_id, stored.annotator, stored.rewrite) == (query["point_id"], "\ufeffx", None)
    finally:
        session.close()
        session.store.close()


@pytest.mark.parametrize("classes", [["a", "b"], ["a", "b", "c"]])
def test_the_page_asks_where_directions_lead_and_how_many_by_the_servers_rules(tmp_path, launch_ui, context,
                                                                                 classes):
    session = csv_session(tmp_path, f"classes{len(classes)}", blobs(classes))
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            rules = running.app.page_config()["rules"]
            assert page.locator(".max-directions").inner_text() == str(rules["max_directions"])
            assert page.locator("#rewrite-target").is_hidden()  # no texts: no rewrite
            page.keyboard.press("1")
            for i in range(rules["max_directions"] + 1):
                page.mouse.click(*spot(page, 0.1 + 0.15 * i, 0.9))
            chosen = page.locator("#towards-list li.chosen").count()  # a click on an example picks it
            assert page.locator("#arrow-list li").count() + chosen == rules["max_directions"]
            assert f"at most {rules['max_directions']} directions" in page.locator("#message").inner_text()
            assert (page.locator("#arrow-list li select").count() > 0) == rules["asks_targets"] == (len(classes) > 2)
    finally:
        session.close()
        session.store.close()
