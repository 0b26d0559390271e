"""Reading clicks on the projection: pixel -> plane (a, b) -> direction in R^n, and where the drawing really is."""

from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import numpy as np
import pytest

from loop.datasets import Dataset
from loop.projection import Plane, Projection
from loop.service import AnnotationService
from loop.session import Session, SessionConfig
from loop.store import Store
from ui.app import AnnotationApp, TabState
from ui.plot import AXES_BOX, FIGURE_PIXELS, ClickOutsidePlot, PlotGeometry, render_projection

# a box from pixel (100, 50) to (500, 450) showing a in [-2, 2] (right) and b in [-1, 3] (up)
GEOMETRY = PlotGeometry(left=100, top=50, right=500, bottom=450, a_range=(-2, 2), b_range=(-1, 3))


def empty_projection(a_range=(-2.0, 2.0), b_range=(-1.0, 3.0), probabilities=None) -> Projection:
    """A data-plane projection with no shown points (only the query star at (0, 0))."""
    plane = Plane(np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    return Projection(
        plane, np.linspace(*a_range, 64), np.linspace(*b_range, 64), probabilities,
        np.zeros(0, dtype=int), np.zeros((0, 2)), np.zeros(0, dtype=int), np.zeros(0, dtype=bool), True,
    )


@pytest.mark.parametrize(
    "pixel, plane",
    [
        ((100, 450), (-2, -1)),  # bottom-left corner
        ((500, 50), (2, 3)),  # top-right corner
        ((100, 50), (-2, 3)),  # top-left corner
        ((500, 450), (2, -1)),  # bottom-right corner
        ((300, 250), (0, 1)),  # centre
        ((200, 150), (-1, 2)),
        ((400, 350), (1, 0)),
        ((350, 430), (0.5, -0.8)),
    ],
)
def test_pixels_map_to_hand_computed_plane_coordinates(pixel, plane):
    assert GEOMETRY.to_plane(*pixel) == pytest.approx(plane, abs=1e-12)
    assert GEOMETRY.to_pixel(*plane) == pytest.approx(pixel, abs=1e-9)


@pytest.mark.parametrize("pixel", [(99.5, 250), (500.5, 250), (300, 49.5), (300, 450.5), (0, 0), (-5, 600)])
def test_clicks_outside_the_axes_are_refused(pixel):
    with pytest.raises(ClickOutsidePlot, match="outside the plot"):
        GEOMETRY.to_plane(*pixel)
    assert issubclass(ClickOutsidePlot, ValueError)  # the UI shows it as a user error


def test_pixel_and_plane_round_trip():
    rng = np.random.default_rng(0)
    for x, y in rng.uniform((100, 50), (500, 450), size=(50, 2)):
        assert GEOMETRY.to_pixel(*GEOMETRY.to_plane(x, y)) == pytest.approx((x, y), abs=1e-9)
    for a, b in rng.uniform((-2, -1), (2, 3), size=(50, 2)):
        assert GEOMETRY.to_plane(*GEOMETRY.to_pixel(a, b)) == pytest.approx((a, b), abs=1e-12)


def test_geometry_of_a_projection_is_the_axes_box_and_its_grid():
    geometry = PlotGeometry.of(empty_projection(a_range=(-3.0, 1.0), b_range=(-0.5, 0.5)))
    width, height = FIGURE_PIXELS
    left, bottom, box_width, box_height = AXES_BOX
    assert (geometry.left, geometry.right) == pytest.approx((left * width, (left + box_width) * width))
    assert (geometry.top, geometry.bottom) == pytest.approx(((1 - bottom - box_height) * height, (1 - bottom) * height))
    assert geometry.a_range == (-3.0, 1.0) and geometry.b_range == (-0.5, 0.5)


# ---------------------------------------------------------------- the drawing itself


def dark(image: np.ndarray) -> np.ndarray:
    return np.all(image < 90, axis=-1)


def test_the_axes_frame_is_drawn_where_the_geometry_says():
    image = render_projection(empty_projection(), ["0", "1"])
    assert image.shape == (FIGURE_PIXELS[1], FIGURE_PIXELS[0], 3) and image.dtype == np.uint8
    g = PlotGeometry.of(empty_projection())
    rows = slice(int(g.top) + 5, int(g.bottom) - 5)
    columns = slice(int(g.left) + 5, int(g.right) - 5)
    for column in (g.left, g.right):  # a dark spine within one pixel of each edge, over its whole length
        near = dark(image[rows, round(column) - 1 : round(column) + 1]).any(axis=1)
        assert near.mean() > 0.98, column
    for row in (g.top, g.bottom):
        near = dark(image[round(row) - 1 : round(row) + 1, columns]).any(axis=0)
        assert near.mean() > 0.98, row
    # and not a pixel further in
    assert dark(image[rows, round(g.left) + 3]).mean() < 0.05
    assert dark(image[round(g.bottom) - 3, columns]).mean() < 0.05


def test_the_query_star_and_the_arrow_are_drawn_at_their_plane_coordinates():
    projection = empty_projection()
    geometry = PlotGeometry.of(projection)
    plain = render_projection(projection, ["0", "1"])
    with_arrow = render_projection(projection, ["0", "1"], arrow=(1.5, 2.0))

    star_x, star_y = geometry.to_pixel(0, 0)
    window = (slice(round(star_y) - 40, round(star_y) + 40), slice(round(star_x) - 40, round(star_x) + 40))
    red, green, blue = (plain[window][..., i].astype(int) for i in range(3))
    gold = (red > 200) & (green > 170) & (blue < 90)
    ys, xs = np.nonzero(gold)
    assert len(xs) > 100
    assert (xs.mean() + window[1].start, ys.mean() + window[0].start) == pytest.approx((star_x, star_y), abs=1.5)

    changed_y, changed_x = np.nonzero(np.any(plain != with_arrow, axis=-1))
    tip = np.argmax(np.hypot(changed_x - star_x, changed_y - star_y))
    tip_x, tip_y = geometry.to_pixel(1.5, 2.0)
    assert (changed_x[tip], changed_y[tip]) == pytest.approx((tip_x, tip_y), abs=5)
    # the arrow runs along the line from the star to the click
    offsets = np.stack([changed_x - star_x, changed_y - star_y], axis=1)
    along = np.array([tip_x - star_x, tip_y - star_y]) / np.hypot(tip_x - star_x, tip_y - star_y)
    across = np.abs(offsets @ np.array([-along[1], along[0]]))
    assert np.percentile(across, 90) < 12


def test_the_drawn_contour_of_a_linear_model_is_its_true_boundary():
    """Every black pixel inside the axes (the star's outline aside) lies on 0.8 a - 0.6 b + 0.9 = 0."""
    w, c = np.array([0.8, -0.6]), 0.9
    projection = empty_projection()
    grid = np.stack(np.meshgrid(projection.a, projection.b), axis=-1)
    p1 = 1 / (1 + np.exp(-4 * (grid @ w + c)))
    image = render_projection(empty_projection(probabilities=np.stack([1 - p1, p1], axis=-1)), ["0", "1"])
    g = PlotGeometry.of(projection)
    ys, xs = np.nonzero(dark(image))
    inside = (xs > g.left + 4) & (xs < g.right - 4) & (ys > g.top + 4) & (ys < g.bottom - 4)
    star_x, star_y = g.to_pixel(0, 0)
    star = np.hypot(xs - star_x, ys - star_y) < 20
    keep = inside & ~star
    assert keep.sum() > 200  # the contour crosses the picture
    a, b = np.array([g.to_plane(x, y) for x, y in zip(xs[keep], ys[keep])]).T
    distance = np.abs(w[0] * a + w[1] * b + c) / np.linalg.norm(w)
    pixel_size = (g.a_range[1] - g.a_range[0]) / (g.right - g.left)
    assert distance.max() < 3 * pixel_size


def test_pictures_drawn_at_once_in_several_threads_are_the_same_as_one_by_one():
    projection = empty_projection()
    arrows = [(0.2 * i - 1.5, 0.3 * i - 0.5) for i in range(8)]
    one_by_one = [render_projection(projection, ["0", "1"], arrow=arrow) for arrow in arrows]
    with ThreadPoolExecutor(4) as pool:
        at_once = list(pool.map(lambda arrow: render_projection(projection, ["0", "1"], arrow=arrow), arrows))
    for expected, drawn in zip(one_by_one, at_once):
        np.testing.assert_array_equal(drawn, expected)


# ---------------------------------------------------------------- through the UI handlers


@pytest.fixture
def app_in_five_dimensions():
    """The UI handlers over an untrained session on 5-feature data (no server)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    dataset = Dataset("gauss5", X, y, ["neg", "pos"], np.arange(50), np.arange(50, 60))
    session = Session.create(Store("sqlite://"), SessionConfig(estimator={"max_epochs": 5, "module__hidden": (8,)}),
                             dataset=dataset, session_id="five")
    yield AnnotationApp(AnnotationService(session)), session
    session.close()


def select(x: float, y: float | None = None) -> gr.SelectData:
    return gr.SelectData(None, {"index": None if y is None else [x, y], "value": None})


def test_a_click_on_the_picture_becomes_the_stored_direction(app_in_five_dimensions):
    app, session = app_in_five_dimensions
    *_, state, name = app.start("", TabState(), None)
    assert name.startswith("guest-") and state.annotator == name and state.query_id is not None
    g = state.geometry
    half = g.a_range[1]
    assert g.a_range == (-half, half) and g.b_range == (-half, half)

    # three quarters across and a quarter down: (a, b) = (half / 2, half / 2)
    _, drawn = app.click(None, state, select(g.left + 0.75 * (g.right - g.left), g.top + 0.25 * (g.bottom - g.top)))
    assert drawn.arrow == pytest.approx((half / 2, half / 2))
    for outside in (select(g.left - 2, g.top + 10), select(0)):  # beside the axes; beside the image
        with pytest.warns(UserWarning, match="outside the plot"):
            image, unchanged = app.click(None, drawn, outside)
        assert unchanged.arrow == drawn.arrow

    plane = app.service.plane(state.query_id, state.point_id)
    app.submit("pos", None, "", drawn)
    (stored,) = session.store.annotations("five")
    assert stored.point_id == state.point_id and stored.label == 1 and stored.sources == ["arrow"]
    np.testing.assert_allclose(stored.directions[0], half / 2 * (plane.u1 + plane.u2), rtol=1e-6)
    assert stored.directions[0].shape == (5,)


def test_a_new_query_starts_without_arrow_or_example(app_in_five_dimensions):
    app, session = app_in_five_dimensions
    *_, state, _ = app.start("ann", TabState(), None)
    g = state.geometry
    _, drawn = app.click(None, state, select((g.left + g.right) / 2 + 40, (g.top + g.bottom) / 2))
    assert drawn.arrow is not None
    image, _, _, towards, _, after, _label = app.submit("neg", None, "", drawn)
    assert after.arrow is None and after.query_id != state.query_id
    assert towards["value"] is None  # the previous "towards" choice is gone
    image_again, _, cleared = app.clear_direction(after)
    assert cleared.arrow is None and image_again.shape == image.shape
