"""Driving the annotation page in Debian's chromium (headless, through Playwright), for the browser
tests: the browser and a fresh profile per test (fixtures: import them into the test module), opening
the page, waiting for the points it shows, clicking at plane coordinates, reading its state, typing a
rewrite and waiting for its reading."""

import re
import shutil

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),  # from gradio's queue, not ours
]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile (its own localStorage); pages fail the test on a script error or a dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    context.set_default_timeout(30_000)
    problems = []
    context.on("page", lambda page: (page.on("pageerror", lambda error: problems.append(str(error))),
                                     page.on("dialog", lambda dialog: problems.append(f"dialog {dialog.message}"))))
    yield context
    context.close()
    assert not problems, problems


def open_page(context, url: str):
    page = context.new_page()
    page.goto(url)
    shown_point(page)
    return page


def shown_point(page) -> int:
    """The point the page shows: its picture's and its header line's, read together (one script run)."""
    page.wait_for_function("() => document.querySelector('#projection')?.dataset.pointId")
    point, line = page.evaluate("""() => [Number(document.querySelector('#projection').dataset.pointId),
                                          document.querySelector('#prediction').innerText]""")
    assert re.search(rf"\bPoint {point}\b", line), f"the picture shows point {point}, the line says {line!r}"
    return point


def watch_points(page) -> None:
    """Record every point the page's picture shows from now on, the one it shows now first
    (see :func:`points_shown`)."""
    page.evaluate("""() => { const picture = document.querySelector('#projection');
        const shown = window.nudgeShown = [Number(picture.dataset.pointId)];
        new MutationObserver(() => {
            const point = Number(picture.dataset.pointId);
            if (point !== shown[shown.length - 1]) shown.push(point);
        }).observe(picture, {attributes: true, attributeFilter: ['data-point-id']}); }""")


def points_shown(page, count: int) -> list[int]:
    """The next ``count`` points the picture showed after the one shown at :func:`watch_points`, in
    order (waiting for them): however quickly they followed each other, none is missed."""
    page.wait_for_function("count => window.nudgeShown.length > count", arg=count)
    return page.evaluate("() => window.nudgeShown")[1:count + 1]


def next_point(page, old: int) -> int:
    page.wait_for_function("old => document.querySelector('#projection').dataset.pointId !== String(old)", arg=old)
    return shown_point(page)


def pixel(page, a: float, b: float) -> tuple[float, float]:
    """Where plane coordinates (a, b) are on the screen."""
    return tuple(page.evaluate("""([a, b]) => {
        const rect = document.querySelector('#projection canvas').getBoundingClientRect();
        const [x, y] = window.nudgePage.toPixel(a, b);
        return [rect.left + x, rect.top + y]; }""", [a, b]))


def shown_query(page) -> dict:
    return page.evaluate("() => window.nudgePage.state.query")


def press_label(page, index: int) -> None:
    """Press the key the page shows beside class ``index`` (its name when the classes are named by numbers)."""
    page.keyboard.press(page.evaluate("k => window.nudgePage.keys[k]", index))


def unfocus(page) -> None:
    page.locator(".nudge .title").click()  # the focus leaves any box, as a person's would


def answers(session) -> list:
    return session.log.annotations()


def no_error_badges(page) -> None:
    assert page.get_by_text("Error", exact=True).count() == 0
    assert page.locator(".toast-body").count() == 0


def type_rewrite(page, text: str, delay: float = 10) -> None:
    """Select the rewrite box's text and type ``text`` over it, key by key."""
    page.locator("#rewrite").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(text, delay=delay)


def reading_shown(page) -> str:
    """Wait until the rewrite's reading is that of the box's latest edit; its text."""
    page.wait_for_function("() => document.querySelector('#rewrite-feedback').dataset.edit"
                           " === String(window.nudgePage.state.edits)")
    return page.locator("#rewrite-feedback .reading").inner_text()
