"""The annotation page in a real browser (Debian's chromium, headless, driven by Playwright).

Screenshots go to ``artifacts/`` at the repository root: one with the drawn
arrow, one after the answer was submitted.
"""

import re
import shutil
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),  # from gradio's queue, not ours
]

from ui.plot import PlotGeometry  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SESSION = "ui-test"
POINT = re.compile(r"Point (\d+)")


@pytest.fixture
def page(running_app):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # narrow enough that the 640 px picture is shown scaled down
            page = browser.new_page(viewport={"width": 1000, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(running_app.url)
            yield page
        finally:
            browser.close()


def shown_point(page) -> int:
    return int(POINT.search(page.locator("#prediction").inner_text()).group(1))


def open_query(running_app, annotator: str):
    (record,) = [q for q in running_app.session.store.open_queries(SESSION) if q.annotator == annotator]
    return running_app.session.query(record.id)


def page_position(page, natural_x: float, natural_y: float) -> tuple[float, float, float]:
    """Where a pixel of the projection image (natural size) is on the page, and the scale
    of the image there: it is shown scaled down to fit, centred in its element
    (object-fit: scale-down)."""
    image = page.locator("#projection img")
    box = image.bounding_box()
    natural_width, natural_height = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    scale = min(box["width"] / natural_width, box["height"] / natural_height, 1)
    assert scale < 0.99, "the picture should be scaled in this viewport"
    left = box["x"] + (box["width"] - natural_width * scale) / 2
    top = box["y"] + (box["height"] - natural_height * scale) / 2
    return left + natural_x * scale, top + natural_y * scale, scale


def test_label_draw_submit_and_keyboard_in_a_browser(running_app, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("() => /Point \\d+/.test(document.querySelector('#prediction')?.innerText ?? '')")
    annotator = page.locator("#annotator-name").locator("input, textarea").first.input_value()
    assert annotator.startswith("guest-")
    query = open_query(running_app, annotator)
    assert shown_point(page) == query.point_id
    page.wait_for_function("() => document.querySelector('#status-line')?.innerText.includes('Answers 0')")

    # the label, then an arrow to a click at three quarters right, a third down the axes
    page.locator("#label-choice label").filter(has_text="2 · 1").click()
    geometry = PlotGeometry.of(running_app.service.projection(query))
    natural = (geometry.left + 0.75 * (geometry.right - geometry.left),
               geometry.top + 0.33 * (geometry.bottom - geometry.top))
    expected = geometry.to_plane(*natural)
    before = page.locator("#projection img").get_attribute("src")
    x, y, scale = page_position(page, *natural)
    page.mouse.click(x, y)
    page.wait_for_function(
        "old => { const i = document.querySelector('#projection img'); return i && i.src !== old && i.complete; }",
        arg=before)
    page.screenshot(path=str(ARTIFACTS / "ui_arrow.png"), full_page=True)

    page.locator("#submit-button").click()
    page.wait_for_function(
        "old => { const m = /Point (\\d+)/.exec(document.querySelector('#prediction').innerText);"
        " return m && Number(m[1]) !== old; }", arg=query.point_id)
    page.wait_for_function("() => document.querySelector('#status-line').innerText.includes('Answers 1')")
    page.screenshot(path=str(ARTIFACTS / "ui_submitted.png"), full_page=True)
    (answer,) = running_app.session.store.annotations(SESSION)
    assert (answer.point_id, answer.label, answer.sources) == (query.point_id, 1, ["arrow"])
    assert answer.annotator == annotator
    # the click was read in the image's own pixels: the stored arrow is the aimed one, to about a
    # screen pixel (1 / scale image pixels) plus Gradio's rounding to whole image pixels
    slack = 1 / scale + 1
    a_pixel = (geometry.a_range[1] - geometry.a_range[0]) / (geometry.right - geometry.left)
    b_pixel = (geometry.b_range[1] - geometry.b_range[0]) / (geometry.bottom - geometry.top)
    assert abs(answer.directions[0][0] - expected[0]) <= slack * a_pixel
    assert abs(answer.directions[0][1] - expected[1]) <= slack * b_pixel
    second = open_query(running_app, annotator)
    assert shown_point(page) == second.point_id != query.point_id

    # keyboard: "1" picks the first label, Enter submits
    page.locator("h2").first.click()  # focus on the page, not on a button or a text box
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#status-line').innerText.includes('Answers 2')")
    keyed = running_app.session.store.annotations(SESSION)[-1]
    assert (keyed.point_id, keyed.label, keyed.directions) == (second.point_id, 0, [])
    third = open_query(running_app, annotator)
    page.wait_for_function(f"() => document.querySelector('#prediction').innerText.includes('Point {third.point_id} ')")

    # Enter also submits right after a label was clicked (the radio button has the focus), and "u" undoes it
    page.locator("#label-choice label").filter(has_text="2 · 1").click()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#status-line').innerText.includes('Answers 3')")
    assert running_app.session.store.annotations(SESSION)[-1].point_id == third.point_id
    page.locator("h2").first.click()
    page.keyboard.press("u")
    page.wait_for_function(f"() => document.querySelector('#prediction').innerText.includes('Point {third.point_id} ')")
    assert running_app.session.store.annotations(SESSION)[-1].undone
    page.wait_for_function("() => document.querySelector('#status-line').innerText.includes('Answers 2')")

    # the model retrains in the background and the status line follows
    page.wait_for_function("() => /model v[1-9]/.test(document.querySelector('#status-line').innerText)",
                           timeout=60_000)
