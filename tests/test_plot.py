"""The picture as data: the model's boundary lines, the true boundary, the examples offered to move
towards, and a query's picture and prediction coming from one model (nudge.loop.service.picture, nudge.loop.service.service)."""

import numpy as np
import orjson
import pytest

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import CirclesGenerator, Dataset, load_dataset
from nudge.loop.datasets.gaussians import GaussiansGenerator
from nudge.loop.service import handing
from nudge.loop.service.picture import (
    CONFIDENT,
    NOT_BESIDE,
    SAME_WAY,
    boundary_lines,
    towards_candidates,
    true_boundary,
)
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store

SMALL = {"max_epochs": 10, "module__hidden": (8,)}


def grid(n=65, low=-2.0, high=2.0):
    a = np.linspace(low, high, n)
    b = np.linspace(low, high, n)
    return a, b, np.stack(np.meshgrid(a, b), axis=-1)  # (G_b, G_a, 2)


def softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_boundary_of_a_linear_model_is_its_zero_line():
    """p_1 = sigmoid(0.8 a - 0.6 b + 0.3): every vertex of the traced boundary lies on 0.8 a - 0.6 b + 0.3 = 0."""
    a, b, points = grid()
    score = points @ np.array([0.8, -0.6]) + 0.3
    p1 = 1 / (1 + np.exp(-3 * score))
    lines = boundary_lines(a, b, np.stack([1 - p1, p1], axis=-1))
    assert len(lines) == 1
    vertices = lines[0]
    assert len(vertices) > 40 and vertices.shape[1] == 2
    distance = np.abs(vertices @ np.array([0.8, -0.6]) + 0.3)
    assert distance.max() < 1e-2  # linear interpolation of a sigmoid on a 1/16 grid
    # it crosses the whole window: from one edge to another
    assert np.isclose(np.abs(vertices).max(axis=0), 2.0).any()


def test_with_three_classes_each_region_edge_is_where_two_classes_tie():
    a, b, points = grid()
    weights = np.array([[1.0, 0.0], [-0.5, 0.9], [-0.5, -0.9]])  # three sectors around the origin
    probabilities = softmax(4 * points @ weights.T)
    lines = boundary_lines(a, b, probabilities)
    assert len(lines) >= 3
    for line in lines:
        scores = line @ weights.T
        top_two = np.sort(scores, axis=1)[:, -2:]
        assert np.abs(top_two[:, 1] - top_two[:, 0]).max() < 0.1
    assert not boundary_lines(a, b, softmax(np.zeros((65, 65, 3)) + [3.0, 0.0, 0.0]))  # one region: no edge


def test_the_true_boundary_of_a_circle_is_at_its_radius():
    circle = CirclesGenerator(factor=0.4)  # its boundary: the circle of radius 0.7
    lines = true_boundary(circle, np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    vertices = np.concatenate(lines)
    assert np.abs(np.linalg.norm(vertices, axis=1) - 0.7).max() < 0.01


def test_the_true_boundary_of_three_blobs_is_where_the_nearest_centre_changes():
    blobs = GaussiansGenerator(n_classes=3)
    lines = true_boundary(blobs, np.array([-5.0, -5.0]), np.array([5.0, 5.0]))
    vertices = np.concatenate(lines)
    to_centres = np.linalg.norm(vertices[:, None, :] - blobs.centres[None], axis=2)
    nearest = np.sort(to_centres, axis=1)
    assert np.abs(nearest[:, 0] - nearest[:, 1]).max() < 0.1  # every vertex equidistant from two centres
    pairs = {tuple(sorted(pair)) for pair in np.argsort(to_centres, axis=1)[:, :2].tolist()}
    assert pairs == {(0, 1), (0, 2), (1, 2)}  # and all three edges are drawn


def test_examples_are_of_the_class_beyond_the_boundary_spread_out_and_nearest_first():
    x = np.zeros(2)
    points = np.array([
        [0.01, 0.0],   # beside the query: never offered
        [1.0, 0.0],    # class 1, confident: the nearest example
        [1.1, 0.05],   # the same way as the one before: left out
        [0.0, 1.2],    # another way
        [-1.3, 0.0],   # a third way
        [0.9, 0.9],    # class 1 but only 0.6 likely: on the boundary, not beyond it
        [0.5, -0.5],   # class 0
        [2.0, 2.0], [2.5, -2.5], [3.0, 3.0],
    ])
    ids = np.arange(100, 110)
    classes = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1, 1])
    labelled = np.zeros(10, dtype=bool)
    p1 = np.array([0.9, 0.95, 0.95, 0.8, 0.99, 0.6, 0.1, 0.9, 0.9, 0.9])
    probabilities = np.stack([1 - p1, p1], axis=1)
    chosen = towards_candidates(x, ids, points, classes, labelled, probabilities, per_class=4)
    ones = [c.point_id for c in chosen if c.klass == 1]
    assert ones == [101, 103, 104, 107]
    assert [c.point_id for c in chosen if c.klass == 0] == [106]
    for i, c in enumerate(chosen):  # never two the same way
        for d in chosen[:i]:
            if c.klass == d.klass:
                u, v = points[c.point_id - 100], points[d.point_id - 100]
                assert u @ v / np.linalg.norm(u) / np.linalg.norm(v) <= SAME_WAY
    assert 0.6 < CONFIDENT and 0.01 < NOT_BESIDE * np.median(np.linalg.norm(points, axis=1))


def test_before_any_model_only_labelled_points_are_offered():
    x = np.zeros(2)
    points = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    chosen = towards_candidates(x, np.array([5, 6, 7]), points, np.array([1, -1, 0]),
                                np.array([True, False, True]), None)
    assert [(c.point_id, c.klass, c.labelled) for c in chosen] == [(7, 0, True), (5, 1, True)]


# ---------------------------------------------------------------- a query's picture


@pytest.fixture
def moons_session():
    dataset = load_dataset("moons", n_samples=300)
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=SMALL, retrain_every=100), dataset=dataset,
                             session_id="m")
    for point in dataset.pool[:8]:
        session.relabel(int(point), int(dataset.y[point]), annotator="seed")
    session.retrain(full=True)
    yield session
    session.close()


def test_prediction_and_picture_come_from_one_model(moons_session):
    session, service = moons_session, AnnotationService(moons_session)
    model = session.model
    point = int(session.dataset.pool[20])
    picture = service.picture(point, model=model)
    session.retrain(full=True)  # a newer model: the picture keeps the one it was drawn with
    assert session.model.version == model.version + 1
    data = picture.data
    assert picture.model_version == data["model_version"] == model.version
    expected = model.learner.predict_proba(session.dataset.X[[point]])[0]
    np.testing.assert_allclose(picture.probabilities, expected, rtol=1e-5)
    grid_points = picture.plane.to_space(np.stack(np.meshgrid(data["grid"]["a"], data["grid"]["b"]), -1).reshape(-1, 2))
    np.testing.assert_allclose(np.array(data["grid"]["probabilities"]).reshape(-1, 2),
                               model.learner.predict_proba(grid_points.astype(np.float32)), atol=1e-4)
    shown = {p["point_id"]: p["class"] for p in data["points"]}
    labels = session.labelled_points()
    for point_id, klass in shown.items():
        expected_class = labels.get(point_id, int(model.learner.predict(session.dataset.X[[point_id]])[0]))
        assert klass == expected_class
    query = handing.claim(session, "ann", point)
    described = service.describe(query, picture)
    assert described["prediction_model_version"] == model.version and described["model_version"] == model.version + 1
    assert described["prediction"] == session.dataset.class_names[int(np.argmax(expected))]
    assert orjson.loads(orjson.dumps(described)) == described  # JSON as it is


def test_the_true_boundary_is_the_same_line_for_every_query(moons_session):
    service, dataset = AnnotationService(moons_session), moons_session.dataset
    first, second = (service.picture(int(p)) for p in dataset.pool[30:32])
    shifted = [np.array(line) + first.plane.origin for line in first.data["truth"]]
    again = [np.array(line) + second.plane.origin for line in second.data["truth"]]
    assert len(shifted) == len(again) > 0
    for one, other in zip(shifted, again):
        np.testing.assert_allclose(one, other, atol=1e-4)
    vertices = np.concatenate(shifted)
    assert np.abs(dataset.generator.score(vertices)).max() < 0.02
    assert [axis.split(" relative to the query ★ (0 at ★")[0] for axis in first.data["axes"]] == ["x1", "x2"]


def test_examples_of_a_picture_are_shown_points_with_their_plane_coordinates(moons_session):
    service = AnnotationService(moons_session)
    picture = service.picture(int(moons_session.dataset.pool[40]))
    data = picture.data
    shown = {p["point_id"]: p for p in data["points"]}
    assert data["candidates"] and [c["number"] for c in data["candidates"]] == list(range(1, len(data["candidates"]) + 1))
    for candidate in data["candidates"]:
        point = shown[candidate["point_id"]]
        assert (candidate["a"], candidate["b"], candidate["class"]) == (point["a"], point["b"], point["class"])
        assert "text" not in candidate


def test_text_examples_carry_their_whole_readable_text():
    texts = [f"review {i}:<br /><br />{'good fun and great' if i % 2 else 'bad and boring'} " + "word " * 40
             for i in range(40)]
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(40, 6)) + np.arange(40)[:, None] % 2).astype(np.float32)
    dataset = Dataset("reviews", X, np.arange(40) % 2, ["Negative", "Positive"], np.arange(30), np.arange(30, 40),
                      texts=texts)
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=SMALL, retrain_every=100), dataset=dataset,
                             session_id="t")
    for point in range(6):
        session.relabel(point, point % 2, annotator="seed")
    session.retrain(full=True)
    picture = AnnotationService(session).picture(10)
    assert picture.data["truth"] is None and not picture.data["is_data_plane"]
    labelled = [c for c in picture.data["candidates"] if c["labelled"]]
    assert labelled
    for candidate in picture.data["candidates"]:
        assert candidate["text"] == texts[candidate["point_id"]].replace("<br />", "\n")
    session.close()
