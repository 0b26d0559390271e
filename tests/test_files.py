"""The user's own files: texts in CSV, JSON Lines and Parquet, labelled or not; test files and held-out
shares; item ids; images (files and pixel columns). Bad files: one line each (tests/test_bad_input.py
checks, through ``nudge serve``, that nothing is stored)."""

import csv
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from nudge.loop.datasets import UNKNOWN, content_hash, load_dataset


class HashEncoder:
    """text -> 4 numbers from its hash (a cheap stand-in for the sentence model)."""

    def encode(self, texts):
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for t in texts]
        return np.array([np.random.default_rng(s).standard_normal(4) for s in seeds], np.float32)


def write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def texts(n, label=lambda i: None):
    return [{"text": f"review number {i}", "label": label(i)} for i in range(n)]


def write_all_formats(tmp_path, records):
    """The same records as text-csv, jsonl and parquet files: {kind: path}."""
    columns = list(records[0])
    paths = {"text-csv": write_csv(tmp_path / "t.csv", columns, [[r[c] or "" for c in columns] for r in records])}
    paths["jsonl"] = tmp_path / "t.jsonl"
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    paths["parquet"] = tmp_path / "t.parquet"
    pq.write_table(pa.table({c: [r[c] for r in records] for c in columns}), paths["parquet"])
    return paths


@pytest.mark.parametrize("kind", ["text-csv", "jsonl", "parquet"])
def test_a_file_of_texts_alone_is_an_unlabelled_pool_in_every_format(tmp_path, kind):
    path = write_all_formats(tmp_path, [{"text": f"review number {i}"} for i in range(5)])[kind]
    with pytest.raises(ValueError, match=r"has no labels: name the classes, e\.g\. --classes negative,positive"):
        load_dataset(f"{kind}:{path}", encoder=HashEncoder())
    data = load_dataset(f"{kind}:{path}", encoder=HashEncoder(), classes=["neg", "pos"])
    np.testing.assert_array_equal(data.y, [UNKNOWN] * 5)
    assert data.class_names == ["neg", "pos"] and data.kind == "text" and len(data.test) == 0
    assert data.item_ids == [content_hash(f"review number {i}") for i in range(5)]  # the same in every format
    assert data.item_ids[0] == hashlib.sha256(b"review number 0").hexdigest()[:16]


@pytest.mark.parametrize("kind", ["text-csv", "jsonl", "parquet"])
def test_some_labels_and_an_id_column_in_every_format(tmp_path, kind):
    records = [{"text": f"review number {i}", "label": ["bad", "good", None][i % 3], "key": f"k{i}"}
               for i in range(6)]
    data = load_dataset(f"{kind}:{write_all_formats(tmp_path, records)[kind]}", encoder=HashEncoder(),
                        id_column="key")
    assert data.item_ids == [f"k{i}" for i in range(6)] and data.class_names == ["bad", "good"]
    np.testing.assert_array_equal(data.y, [0, 1, UNKNOWN, 0, 1, UNKNOWN])


def test_a_share_of_the_labelled_rows_is_held_out_only_with_ten_of_each_class(tmp_path):
    labelled = [["a", "b"][i % 2] if i < 20 else "" for i in range(50)]  # 10 of each class, 30 unknown
    path = write_csv(tmp_path / "t.csv", ["text", "label"], [[f"text {i}", labelled[i]] for i in range(50)])
    data = load_dataset(f"text-csv:{path}", encoder=HashEncoder())
    assert len(data.test) == 4 and set(data.test) < set(range(20))  # 0.2 of the 20 labelled rows, stratified
    np.testing.assert_array_equal(np.bincount(data.y[data.test]), [2, 2])
    assert len(data.pool) == 46 and set(range(20, 50)) <= set(data.pool)  # every unlabelled row is in the pool
    fewer = write_csv(tmp_path / "f.csv", ["text", "label"], [[f"text {i}", labelled[i]] for i in range(1, 50)])
    assert len(load_dataset(f"text-csv:{fewer}", encoder=HashEncoder()).test) == 0  # 9 "b": none held out


def test_a_test_file_is_the_test_set_and_must_be_labelled(tmp_path):
    main = write_csv(tmp_path / "pool.csv", ["text"], [[f"pool text {i}"] for i in range(4)])
    test = write_csv(tmp_path / "test.csv", ["text", "label"], [["test a", "neg"], ["test b", "pos"]])
    data = load_dataset(f"text-csv:{main}", encoder=HashEncoder(), test_file=str(test))
    np.testing.assert_array_equal(data.pool, [0, 1, 2, 3])
    np.testing.assert_array_equal(data.test, [4, 5])
    assert data.class_names == ["neg", "pos"] and data.test_from_file and data.texts[4] == "test a"
    np.testing.assert_array_equal(data.y, [UNKNOWN] * 4 + [0, 1])
    unlabelled = write_csv(tmp_path / "bad.csv", ["text", "label"], [["test a", "neg"], ["test c", ""]])
    with pytest.raises(ValueError, match="bad.csv, line 3: every item of the test file needs a label"):
        load_dataset(f"text-csv:{main}", encoder=HashEncoder(), test_file=str(unlabelled))
    overlapping = write_csv(tmp_path / "o.csv", ["text", "label"], [["pool text 2", "neg"], ["x", "pos"]])
    with pytest.raises(ValueError, match=r"pool.csv, line 4 and .*o.csv, line 2 hold the same text"):
        load_dataset(f"text-csv:{main}", encoder=HashEncoder(), test_file=str(overlapping))


def test_bad_json_lines_are_refused_with_their_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b"\n')
    with pytest.raises(ValueError, match=r"t.jsonl, line 3: not JSON"):
        load_dataset(f"jsonl:{path}", encoder=HashEncoder(), classes=["x", "y"])
    path.write_text('{"text": "a"}\n["b"]\n')
    with pytest.raises(ValueError, match=r"line 2: a JSON Lines data file holds one object a line"):
        load_dataset(f"jsonl:{path}", encoder=HashEncoder(), classes=["x", "y"])
    path.write_text('{"text": "a", "label": [1]}\n')
    with pytest.raises(ValueError, match=r"line 1: the label is a list, not text or a number"):
        load_dataset(f"jsonl:{path}", encoder=HashEncoder(), classes=["x", "y"])
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match=r"x.parquet cannot be read as Parquet"):
        load_dataset(f"parquet:{tmp_path / 'x.parquet'}", encoder=HashEncoder(), classes=["x", "y"])


# ------------------------------------------------------------------------------------------- images


def test_a_column_of_image_paths_is_read_with_pillow_as_grayscale_pixels(tmp_path):
    (tmp_path / "img").mkdir()
    white = np.full((4, 4), 255, dtype=np.uint8)  # resized to 2x2: still white
    half = np.array([[0, 255], [0, 255]], dtype=np.uint8)
    Image.fromarray(white).save(tmp_path / "img" / "white.png")
    Image.fromarray(np.stack([half] * 3, axis=-1)).save(tmp_path / "img" / "half.png")  # RGB: made gray
    path = write_csv(tmp_path / "images.csv", ["file", "digit"], [["img/white.png", "1"], ["img/half.png", ""]])
    data = load_dataset(f"csv:{path}", image_column="file", label_column="digit", image_size=(2, 2),
                        classes=["0", "1"])
    assert data.kind == "image" and data.image_shape == (2, 2) and data.n_features == 4
    np.testing.assert_array_equal(data.X, [[1, 1, 1, 1], [0, 1, 0, 1]])
    assert data.image_paths == [str(tmp_path / "img" / "white.png"), str(tmp_path / "img" / "half.png")]
    np.testing.assert_array_equal(data.y, [1, UNKNOWN])
    (tmp_path / "img" / "text.png").write_text("not an image")
    bad = write_csv(tmp_path / "bad.csv", ["file"], [["img/white.png"], ["img/text.png"]])
    with pytest.raises(ValueError, match=r"bad.csv, line 3: 'img/text.png' is not an image Pillow can read"):
        load_dataset(f"csv:{bad}", image_column="file", classes=["0", "1"])
    extra = write_csv(tmp_path / "extra.csv", ["file", "size"], [["img/white.png", "3"]])
    with pytest.raises(ValueError, match=r"with an image column, the pixels are the features; the column\(s\) 'size'"):
        load_dataset(f"csv:{extra}", image_column="file", classes=["0", "1"])


def test_pixel_columns_with_a_declared_shape_are_an_image(tmp_path):
    path = write_csv(tmp_path / "pixels.csv", ["p0", "p1", "p2", "p3", "label"], [[0, 1, 2, 3, "a"], [3, 2, 1, 0, "b"]])
    data = load_dataset(f"csv:{path}", label_column="label", image_shape=(2, 2))
    assert data.kind == "image" and data.image_shape == (2, 2) and data.feature_names == ["p0", "p1", "p2", "p3"]
    assert data.image_paths is None
