"""Data sets: the 2D generators and their true boundaries, CSV files, text files, CAD IMDb."""

import csv
import hashlib
import os
import re
import tracemalloc
import urllib.error
import urllib.request

import numpy as np
import pytest

from nudge.loop.datasets import (
    GENERATED,
    SHARED_CAD_DIR,
    UNKNOWN,
    BlobsGenerator,
    CirclesGenerator,
    GaussiansGenerator,
    MoonsGenerator,
    XorGenerator,
    cad,
    find_cad_dir,
    load_dataset,
    read_cad_pairs,
    resolve_data_path,
    spread,
)


class HashEncoder:
    """A cheap deterministic stand-in for the sentence model: text -> 8 numbers from its hash."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for t in texts]
        return np.array([np.random.default_rng(s).standard_normal(8) for s in seeds], np.float32)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- generators


@pytest.mark.parametrize("kind", GENERATED)
def test_generated_sets_have_seeded_disjoint_splits(kind):
    data = load_dataset(kind, n_samples=200, seed=3)
    assert data.X.shape == (200, 2) and data.X.dtype == np.float32
    assert data.y.dtype == np.int64 and set(data.y) == {0, 1}
    assert (len(data.pool), len(data.test)) == (160, 40)
    np.testing.assert_array_equal(np.sort(np.concatenate([data.pool, data.test])), np.arange(200))
    assert data.class_names == ["0", "1"] and data.n_classes == 2 and data.n_features == 2
    again = load_dataset(kind, n_samples=200, seed=3)
    other = load_dataset(kind, n_samples=200, seed=4)
    np.testing.assert_array_equal(again.X, data.X)
    np.testing.assert_array_equal(again.test, data.test)
    assert not np.array_equal(other.X, data.X)
    assert data.describe().startswith(f"{kind}: 200 points with 2 features, 2 classes (0, 1)")


@pytest.mark.parametrize("kind", GENERATED)
def test_noise_free_points_carry_their_true_class(kind):
    data = load_dataset(kind, n_samples=300, noise=0.0)
    np.testing.assert_array_equal(data.generator.truth(data.X), data.y)


@pytest.mark.parametrize("kind", GENERATED)
def test_direction_ends_on_the_true_boundary(kind):
    """A step of 0.99 stays in the class, 1.01 crosses into the other: for every point."""
    data = load_dataset(kind, n_samples=500, seed=1)
    generator, X = data.generator, data.X.astype(float)
    directions = generator.boundary_direction(X)
    side = generator.truth(X)
    assert np.all(generator.truth(X + 1.01 * directions) != side)
    assert np.all(generator.truth(X + 0.99 * directions) == side)


def test_moons_direction_leads_to_the_nearest_boundary_point():
    generator = MoonsGenerator(noise=0.2)
    points = np.random.default_rng(0).uniform((-1.5, -1), (2.5, 1.5), size=(60, 2))
    grid = np.stack(np.meshgrid(np.arange(-3, 4, 0.01), np.arange(-2.5, 3, 0.01)), -1)
    grid = grid.reshape(-1, 2)
    grid_truth = generator.truth(grid)
    truths = generator.truth(points)
    brute = [np.linalg.norm(grid[grid_truth != t] - p, axis=1).min()
             for p, t in zip(points, truths)]
    lengths = np.linalg.norm(generator.boundary_direction(points), axis=1)
    np.testing.assert_allclose(lengths, brute, atol=0.01)


def test_analytic_directions_on_hand_picked_points():
    np.testing.assert_allclose(
        CirclesGenerator(factor=0.5).boundary_direction([[0.2, 0.0], [0.0, -1.0], [0.0, 0.0]]),
        [[0.55, 0.0], [0.0, 0.25], [0.75, 0.0]],
    )
    np.testing.assert_allclose(
        XorGenerator().boundary_direction([[0.5, -0.1], [-0.2, 0.7]]), [[0.0, 0.1], [0.2, 0.0]]
    )
    np.testing.assert_allclose(BlobsGenerator().boundary_direction([[1.0, 1.0], [0.0, 2.0]]),
                               [[-1.0, -1.0], [-1.0, -1.0]])
    moons_points = [[0.0, 1.0], [1.0, -0.5], [0.5, -0.2], [1.0, 0.2]]
    np.testing.assert_array_equal(MoonsGenerator().truth(moons_points), [0, 1, 1, 0])


def test_points_labelled_against_the_true_side_get_no_direction():
    directions = XorGenerator().boundary_direction([[0.5, 0.5], [0.5, 0.5]], labels=[1, 0])
    np.testing.assert_allclose(directions[0], [-0.5, 0.0])
    assert np.all(np.isnan(directions[1]))
    with pytest.raises(ValueError, match="shape"):
        XorGenerator().boundary_direction(np.zeros((2, 3)))


# --------------------------------------------------------------------------- several classes


def test_gaussians_are_equal_blobs_on_a_circle_with_seeded_splits():
    data = load_dataset("gaussians", n_samples=300, seed=2)
    assert data.class_names == ["0", "1", "2"] and np.bincount(data.y).tolist() == [100, 100, 100]
    assert (len(data.pool), len(data.test)) == (240, 60) and np.bincount(data.y[data.test]).tolist() == [20] * 3
    np.testing.assert_allclose(data.generator.centres, [[3, 0], [-1.5, 1.5 * np.sqrt(3)], [-1.5, -1.5 * np.sqrt(3)]],
                               atol=1e-12)
    np.testing.assert_array_equal(load_dataset("gaussians", n_samples=300, seed=2).X, data.X)
    nine = load_dataset("gaussians", n_classes=9, noise=0.0, n_samples=90)
    assert nine.n_classes == 9 and nine.describe().startswith("gaussians: 90 points with 2 features, 9 classes")
    np.testing.assert_array_equal(nine.generator.truth(nine.X), nine.y)  # noise-free points sit on their centres


def test_gaussians_direction_ends_on_the_boundary_into_the_class_beyond():
    data = load_dataset("gaussians", n_classes=5, n_samples=500, seed=1)
    generator, X = data.generator, data.X.astype(float)
    directions, beyond, side = generator.boundary_direction(X), generator.boundary_target(X), generator.truth(X)
    np.testing.assert_array_equal(generator.truth(X + 0.99 * directions), side)
    np.testing.assert_array_equal(generator.truth(X + 1.01 * directions), beyond)
    assert np.all(beyond != side)


def test_gaussians_direction_leads_to_the_nearest_boundary_point():
    generator = GaussiansGenerator()
    points = np.random.default_rng(0).uniform(-4, 4, size=(60, 2))
    grid = np.stack(np.meshgrid(np.arange(-6, 6, 0.01), np.arange(-6, 6, 0.01)), -1).reshape(-1, 2)
    grid_truth, truths = generator.truth(grid), generator.truth(points)
    brute = [np.linalg.norm(grid[grid_truth != t] - p, axis=1).min() for p, t in zip(points, truths)]
    lengths = np.linalg.norm(generator.boundary_direction(points), axis=1)
    assert np.all(lengths <= np.array(brute) + 1e-9)  # never longer than the way to a grid point beyond
    np.testing.assert_allclose(lengths, brute, atol=0.01 * np.sqrt(2))  # within one grid diagonal


def test_gaussians_direction_on_a_hand_picked_point():
    """(2, 1) is nearest centre 0 (at 0 degrees); the bisector of centres 0 and 1 (at 120 degrees) is the
    line through the origin at 60 degrees, 2 sin 60 - cos 60 away along its normal (-sin 60, cos 60)."""
    generator, point = GaussiansGenerator(), np.array([[2.0, 1.0]])
    distance, (sin60, cos60) = 2 * np.sin(np.pi / 3) - np.cos(np.pi / 3), (np.sin(np.pi / 3), np.cos(np.pi / 3))
    np.testing.assert_allclose(generator.boundary_direction(point), [[-distance * sin60, distance * cos60]])
    assert (generator.truth(point).tolist(), generator.boundary_target(point).tolist()) == ([0], [1])


def test_digits_are_64_scaled_features_in_10_classes():
    data = load_dataset("digits", seed=1)
    assert data.X.shape == (1797, 64) and data.X.dtype == np.float32
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    assert data.class_names == [str(d) for d in range(10)] and data.generator is None
    assert (len(data.pool), len(data.test)) == (1437, 360)
    assert np.bincount(data.y[data.test]).min() >= 35  # stratified: about 36 of each digit
    assert not np.array_equal(load_dataset("digits", seed=2).test, data.test)
    assert data.kind == "image" and data.image_shape == (8, 8) and data.feature_names[9] == "pixel1_1"
    assert data.item_ids[:3] == ["0", "1", "2"]  # named by their index in scikit-learn's order


# --------------------------------------------------------------------------- options and paths


@pytest.mark.parametrize(
    "spec, options, message",
    [
        ("spirals", {}, "unknown data set 'spirals'; choose one of: moons, circles"),
        ("csv:", {}, r"csv needs a path to a file: csv:PATH"),
        ("moons", {"test_fraction": 1.0}, "test_fraction must be at least 0 and below 1"),
        ("text-csv:x.csv", {"test_fraction": 0.2, "test_file": "t.csv"}, "a test file or a test fraction, not both"),
        ("moons", {"classes": ["a"]}, "classes must be two or more distinct names"),
        ("moons", {"image_shape": (8, 0)}, "image_shape is HEIGHTxWIDTH in whole pixels"),
        ("moons", {"noise": -0.1}, "noise must be 0 or more"),
        ("moons", {"n_samples": 2}, "n_samples must be at least 4"),
        ("moons", {"n_classes": 3}, "moons has two classes; n_classes is for gaussians"),
        ("gaussians", {"n_classes": 1}, "n_classes must be at least 2"),
    ],
)
def test_bad_options_are_refused(spec, options, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(spec, **options)


def test_paths_must_be_existing_regular_files_inside_the_root(tmp_path):
    inside = tmp_path / "root"
    inside.mkdir()
    outside = write(tmp_path, "secret.csv", "1,a\n2,b\n")
    (inside / "link.csv").symlink_to(outside)
    assert resolve_data_path(str(outside)) == outside.resolve()
    with pytest.raises(ValueError, match="outside the allowed data folder"):
        resolve_data_path(inside / "link.csv", data_root=inside)
    with pytest.raises(ValueError, match="outside the allowed data folder"):
        resolve_data_path(inside / ".." / "secret.csv", data_root=inside)
    with pytest.raises(ValueError, match="no such file"):
        resolve_data_path(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="not a regular file"):
        resolve_data_path(tmp_path)
    with pytest.raises(ValueError, match="not a regular file"):
        resolve_data_path("/dev/null")
    with pytest.raises(ValueError, match="not a folder"):
        resolve_data_path(outside, want="folder")
    with pytest.raises(ValueError, match="outside the allowed"):
        load_dataset(f"csv:{outside}", data_root=inside)


# --------------------------------------------------------------------------- csv:PATH


def test_csv_with_a_header_a_named_label_column_and_three_features(tmp_path):
    lines = [f"{i},{2 * i},{-i},{['bird', 'cat'][i % 2]}\n" for i in range(10)]
    rows = "x,y,z,kind\n" + "".join(lines)
    data = load_dataset(f"csv:{write(tmp_path, 'a.csv', rows)}", label_column="kind", test_fraction=0.3, seed=1)
    assert data.X.shape == (10, 3) and data.X.dtype == np.float32 and data.X is data.raw
    assert data.class_names == ["bird", "cat"] and data.kind == "table" and data.feature_names == ["x", "y", "z"]
    np.testing.assert_array_equal(data.y, [0, 1] * 5)
    np.testing.assert_array_equal(data.X[3], [3, 6, -3])
    assert (len(data.pool), len(data.test)) == (7, 3)
    assert data.name == f"csv:{(tmp_path / 'a.csv').resolve()}" and data.generator is None


def test_csv_labels_sort_numbers_by_value_and_empty_cells_are_unknown(tmp_path):
    path = write(tmp_path, "b.csv", "a,b,grade\n0.5, 1.5, 10\n\n1, 2, 9\n-1, 0,\n2, 2, 9\n")
    data = load_dataset(f"csv:{path}", label_column="grade")
    assert data.class_names == ["9", "10"]
    np.testing.assert_array_equal(data.y, [1, 0, UNKNOWN, 0])
    np.testing.assert_array_equal(data.X[0], [0.5, 1.5])
    assert len(data.test) == 0 and len(data.pool) == 4  # fewer than 10 labelled rows a class: none held out


def test_a_csv_without_a_label_column_is_an_unlabelled_pool_not_its_last_column(tmp_path):
    path = write(tmp_path, "c.csv", "a,b,c\n1,2,3\n4,5,6\n")
    data = load_dataset(f"csv:{path}", classes=["no", "yes"])
    assert data.n_features == 3 and data.class_names == ["no", "yes"]
    np.testing.assert_array_equal(data.y, [UNKNOWN, UNKNOWN])
    assert len(data.test) == 0 and "no labelled test set" in data.describe()


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("a,b,label\n", "header row but no data rows"),
        ("a,b,label\n1,2,x\n3,oops,y\n", r"line 3: column 'b' holds 'oops', not a number; if it is not a feature"),
        ("a,b,label\n1,2,x\n3,nan,y\n", r"line 3: column 'b' holds 'nan', not a finite number"),
        ("a,b,label\n1,2,x\n3,inf,y\n", "not a finite number"),
        ("a,b,label\n1,2,x\n3,,y\n", r"line 3: column 'b' is empty; every feature cell needs a number"),
        ("a,b,label\n1,2,x\n3,4\n", r"line 3: 2 cells where 3 were expected"),
        ("a,b,label\n1,2,x\n3,4,x\n", r"only one class among its labels \('x'\)"),
        ("a,a,label\n1,2,x\n3,4,y\n", r"the header names the column\(s\) 'a' more than once"),
    ],
)
def test_bad_csv_files_give_clear_errors(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(f"csv:{write(tmp_path, 'bad.csv', content)}", label_column="label")


TWO_ROWS = "a,b,label\n1,2,x\n3,4,y\n"


def test_csv_too_small_to_split(tmp_path):
    with pytest.raises(ValueError, match="has 2 points: too few to hold out a test fraction of"):
        load_dataset(f"csv:{write(tmp_path, 'two.csv', TWO_ROWS)}", label_column="label", test_fraction=0.9)


def test_a_wide_csv_is_read_in_about_the_memory_of_its_numbers(tmp_path):
    """Row by row into float32: not every cell as a Python string first (25x the array here)."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 2000))
    header = ",".join(f"f{j}" for j in range(2000)) + ",label\n"
    lines = [",".join(f"{v:.4f}" for v in row) + f",{i % 2}\n" for i, row in enumerate(values)]
    path = write(tmp_path, "wide.csv", header + "".join(lines))
    tracemalloc.start()
    try:
        data = load_dataset(f"csv:{path}", label_column="label")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.X.shape == (200, 2000) and peak < 3 * data.X.nbytes
    np.testing.assert_allclose(data.X, values, atol=5e-5)


def test_csv_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b,caf\xe9\n3,4,x\n")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        load_dataset(f"csv:{path}")


# --------------------------------------------------------------------------- text-csv:PATH


def text_rows(count, counterfactual=True):
    lines = [["Text", "Label", "counterfactual", "source"] if counterfactual else ["text", "label"]]
    for i in range(count):
        label = "good" if i % 2 else "bad"
        revision = "" if i == 0 else f"the opposite of text {i}"
        lines.append([f"text {i}, with a comma", label, revision, "web"][: len(lines[0])])
    return lines


def write_csv(tmp_path, rows, name="texts.csv"):
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_text_csv_embeds_texts_and_revisions_in_one_call(tmp_path):
    encoder = HashEncoder()
    data = load_dataset(f"text-csv:{write_csv(tmp_path, text_rows(10))}", encoder=encoder, test_fraction=0.2)
    assert encoder.calls == 1
    assert data.texts[3] == "text 3, with a comma" and data.class_names == ["bad", "good"]
    assert data.counterfactual_texts[:2] == [None, "the opposite of text 1"]
    np.testing.assert_array_equal(data.X, HashEncoder().encode(data.texts))
    assert np.all(np.isnan(data.counterfactual_X[0]))
    revision = HashEncoder().encode(["the opposite of text 3"])[0]
    np.testing.assert_array_equal(data.counterfactual_X[3], revision)
    assert (len(data.pool), len(data.test)) == (8, 2)
    assert "9 with a counterfactual revision" in data.describe()


def test_text_csv_without_counterfactuals_and_with_a_limit(tmp_path):
    path = write_csv(tmp_path, text_rows(10, counterfactual=False))
    data = load_dataset(f"text-csv:{path}", encoder=HashEncoder(), limit=4)
    assert data.texts == [f"text {i}, with a comma" for i in (0, 2, 5, 7)]
    assert data.counterfactual_texts is None and data.counterfactual_X is None


@pytest.mark.parametrize(
    "rows, options, message",
    [
        ([["sentence", "label"], ["a", "b"]], {}, "has no text column 'text' (--text-column NAME names it)"),
        ([["text", "label"]], {}, "header row but no data rows"),
        ([["text", "label"], ["a", "x"], ["b", "x"]], {}, "only one class"),
        ([["text", "label"], ["a", "x"], ["", "y"]], {}, "line 3: the text is empty"),
        ([["text", "label"], ["a", "x"], ["b", "z"]], {"classes": ["x", "y"]},
         "line 3: the label 'z' is not one of the classes x, y"),
        ([["text", "id"], ["a", "1"], ["b", ""]], {"id_column": "id", "classes": ["x", "y"]},
         "line 3: the id is empty"),
        ([["text", "label"], ["a", "x", "extra"]], {}, "line 2: 3 cells where 2 were expected"),
    ],
)
def test_bad_text_csv_files_give_clear_errors(tmp_path, rows, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset(f"text-csv:{write_csv(tmp_path, rows)}", encoder=HashEncoder(), **options)


# --------------------------------------------------------------------------- cad-imdb


needs_cad = pytest.mark.skipif(not SHARED_CAD_DIR.is_dir(), reason="no shared CAD data")


def raw_cad_rows(split):
    with (SHARED_CAD_DIR / f"{split}_paired.tsv").open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter="\t"))[1:]


@needs_cad
def test_cad_pairs_every_original_with_its_revision():
    data = load_dataset("cad-imdb", encoder=HashEncoder())
    assert (len(data.pool), len(data.dev), len(data.test)) == (1707, 245, 488)
    assert data.class_names == ["Negative", "Positive"] and len(data.X) == 2440
    rows = [row for split in ("train", "dev", "test") for row in raw_cad_rows(split)]
    originals, revisions = rows[0::2], rows[1::2]
    assert [r[2] for r in originals] == [r[2] for r in revisions]  # same batch_id
    assert data.texts == [r[1].strip() for r in originals]
    assert data.counterfactual_texts == [r[1].strip() for r in revisions]
    np.testing.assert_array_equal(data.y, [r[0] == "Positive" for r in originals])
    assert all(o[0] != r[0] for o, r in zip(originals, revisions))
    np.testing.assert_array_equal(data.X, HashEncoder().encode(data.texts))
    revisions = HashEncoder().encode(data.counterfactual_texts)
    np.testing.assert_array_equal(data.counterfactual_X, revisions)
    revised_X, revised_y = data.extra_tests["revised"]
    np.testing.assert_array_equal(revised_X, data.counterfactual_X[data.test])
    np.testing.assert_array_equal(revised_y, 1 - data.y[data.test])


@needs_cad
def test_cad_limit_spreads_its_pairs_over_each_sorted_split():
    data = load_dataset("cad-imdb", encoder=HashEncoder(), limit=6, data_dir=SHARED_CAD_DIR)
    np.testing.assert_array_equal(data.pool, np.arange(6))
    np.testing.assert_array_equal(data.dev, np.arange(6, 12))
    np.testing.assert_array_equal(data.test, np.arange(12, 18))
    dev_originals = raw_cad_rows("dev")[0::2]
    assert data.texts[6:12] == [dev_originals[i * 245 // 6][1].strip() for i in range(6)]
    assert [set(data.y[split]) for split in (data.pool, data.dev, data.test)] == [{0, 1}] * 3
    assert data.extra_tests["revised"][0].shape == (6, 8)


def test_spread_keeps_order_and_reaches_the_end():
    assert spread(list(range(10)), 4) == [0, 2, 5, 7]
    assert spread(list(range(3)), 5) == [0, 1, 2] and spread([1, 2], None) == [1, 2]


@pytest.mark.parametrize(
    "body, message",
    [
        ("Negative\ta\t1\nPositive\tb\t1\nNegative\tc\t1\n", "batch_id 1 has 3 rows"),
        ("Negative\ta\t1\nNegative\tb\t1\n", "both rows of batch_id 1 .* are Negative"),
        ("Negative\ta\t1\n", "batch_id 1 has 1 rows"),
        ("Neutral\ta\t1\nPositive\tb\t1\n", "line 2: sentiment 'Neutral' is not one of"),
    ],
)
def test_bad_cad_files_give_clear_errors(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        read_cad_pairs(write(tmp_path, "train_paired.tsv", "Sentiment\tText\tbatch_id\n" + body))
    with pytest.raises(ValueError, match="needs the header columns Sentiment, Text, batch_id"):
        read_cad_pairs(write(tmp_path, "x.tsv", "Label\tText\tbatch_id\n"))


def test_cad_data_dir_must_hold_the_three_files(tmp_path):
    write(tmp_path, "train_paired.tsv", "")
    with pytest.raises(ValueError, match="does not hold the CAD file.*dev_paired.tsv, test_paired"):
        find_cad_dir(tmp_path)


def test_missing_cad_data_offline_says_what_to_do(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(cad, "SHARED_CAD_DIR", tmp_path / "absent")
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ValueError, match="downloading .*train_paired.tsv failed.*--data-dir"):
        load_dataset("cad-imdb", encoder=HashEncoder())
    assert not os.listdir(tmp_path / "cache" / "cad_sentiment")
