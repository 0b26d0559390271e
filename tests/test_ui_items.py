"""The page shows each item as what it is (issue 17, item 2), in a real browser against a real server:
a digit as its 8x8 image (a PNG made on the server, sent as a data URL), a numeric row as a table of
its feature names and values, each with where it sits in the pool's range."""

import base64
import io

import numpy as np
from page_driver import BROWSER_TESTS, browser, context, open_page, shown_query  # noqa: F401
from PIL import Image

from nudge.loop.config.settings import SessionConfig
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.loop.training.trainer import BackgroundTrainer

pytestmark = BROWSER_TESTS
SMALL = {"max_epochs": 5, "module__hidden": (8,)}


def served(tmp_path, config: SessionConfig) -> Session:
    return Session.create(Store(tmp_path / "items.db"), config, session_id="items", trainer=BackgroundTrainer())


def test_a_digit_is_shown_as_its_image(tmp_path, launch_ui, context):  # noqa: F811
    session = served(tmp_path, SessionConfig(dataset="digits", estimator=SMALL))
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            image = page.locator("#item-view img")
            image.wait_for()
            point = shown_query(page)["point_id"]
            src = image.get_attribute("src")
            assert src.startswith("data:image/png;base64,")
            assert page.evaluate("() => document.querySelector('#item-view img').naturalWidth") >= 160  # drawn
            shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
            zoom = shown.shape[0] // 8
            pixels = session.dataset.raw[point].reshape(8, 8)
            expected = np.round(255 * pixels / session.dataset.raw[session.dataset.pool].max())
            np.testing.assert_array_equal(shown[::zoom, ::zoom], expected)  # the digit's pixels, each a square
            assert page.locator("#item-view table").count() == 0
    finally:
        session.close()
        session.store.close()


def test_a_numeric_row_is_shown_as_its_features_with_their_ranges(tmp_path, launch_ui, context):  # noqa: F811
    path = tmp_path / "flats.csv"
    rows = [(f"f{i}", 30 + 4 * i, 1 + i % 4, 500 + 37 * i) for i in range(30)]
    path.write_text("flat,area,rooms,rent\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    config = SessionConfig(dataset=f"csv:{path}", estimator=SMALL,
                           dataset_options={"id_column": "flat", "classes": ["cheap", "dear"]})
    session = served(tmp_path, config)
    try:
        with launch_ui(session) as running:
            page = open_page(context, running.url)
            page.locator("#item-view table").wait_for()
            query = shown_query(page)
            row = rows[[r[0] for r in rows].index(query["item_id"])]
            assert page.locator("#item-view th").all_inner_texts() == ["area", "rooms", "rent"]
            assert [float(v) for v in page.locator("#item-view td.value").all_inner_texts()] == list(row[1:])
            assert page.locator("#item-view td.range .low").all_inner_texts() == ["30", "1", "500"]
            assert page.locator("#item-view td.range .high").all_inner_texts() == ["146", "4", "1573"]
            marks = page.evaluate("""() => Array.from(document.querySelectorAll('#item-view .mark'),
                                     (mark) => parseFloat(mark.style.left))""")
            lows, highs = np.array([30, 1, 500]), np.array([146, 4, 1573])
            np.testing.assert_allclose(marks, 100 * (np.array(row[1:]) - lows) / (highs - lows), atol=0.06)
            assert page.locator("#item-view img").count() == 0
    finally:
        session.close()
        session.store.close()
