"""SentenceEncoder: the on-disk cache, lazy model loading, and one real embedding."""

import numpy as np
import pytest

from nudge.estimators.encoders import EmbeddingCache, SentenceEncoder, default_model_path, model_identity


class CountingModel:
    """Stands in for a SentenceTransformer: 4 numbers per text, and a count of what it embedded."""

    def __init__(self):
        self.embedded = []

    def encode(self, texts, **options):
        self.embedded.extend(texts)
        return np.array([[len(t), t.count("a"), 1.0, -1.0] for t in texts], np.float32)

    def get_embedding_dimension(self):
        return 4


@pytest.fixture
def model_folder(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"layers": 1}')
    return folder


@pytest.fixture
def counting(monkeypatch):
    """Every SentenceEncoder loads one shared CountingModel; ``loads`` counts the loads."""
    model = CountingModel()
    model.loads = 0

    def load(self):
        model.loads += 1
        return model

    monkeypatch.setattr(SentenceEncoder, "_load_model", load)
    return model


def test_second_encode_embeds_nothing_and_returns_the_same(model_folder, tmp_path, counting):
    encoder = SentenceEncoder(model_folder, cache_dir=tmp_path / "cache", batch_size=2)
    texts = ["a cat", "banana", "a cat", "dog"]
    first = encoder.encode(texts)
    assert first.dtype == np.float32 and first.shape == (4, 4)
    np.testing.assert_array_equal(first[1], [6, 3, 1, -1])
    assert counting.embedded == ["a cat", "banana", "dog"]  # each distinct text once
    second = encoder.encode(texts[::-1])
    assert counting.embedded == ["a cat", "banana", "dog"]
    np.testing.assert_array_equal(second, first[::-1])
    encoder.encode(["dog", "a new one"])
    assert counting.embedded[3:] == ["a new one"]


def test_a_new_encoder_reads_the_cache_without_loading_the_model(model_folder, tmp_path, counting):
    SentenceEncoder(model_folder, cache_dir=tmp_path).encode(["x", "yy"])
    fresh = SentenceEncoder(model_folder, cache_dir=tmp_path)
    np.testing.assert_array_equal(fresh.encode(["yy"]), [[2, 0, 1, -1]])
    assert fresh.dimension == 4 and fresh.encode([]).shape == (0, 4)
    assert counting.loads == 1 and counting.embedded == ["x", "yy"]


def test_changing_the_model_files_changes_its_identity(model_folder, tmp_path, counting):
    before = model_identity(model_folder)
    SentenceEncoder(model_folder, cache_dir=tmp_path).encode(["x"])
    (model_folder / ".cache").mkdir()
    (model_folder / ".cache" / "lock").write_text("tools write here")
    assert model_identity(model_folder) == before
    (model_folder / "config.json").write_text('{"layers": 2}')
    assert model_identity(model_folder) != before
    SentenceEncoder(model_folder, cache_dir=tmp_path).encode(["x"])
    assert counting.embedded == ["x", "x"]


def test_transient_encoding_reads_the_cache_and_stores_nothing(model_folder, tmp_path, counting):
    encoder = SentenceEncoder(model_folder, cache_dir=tmp_path)
    encoder.encode(["kept"])
    vectors = encoder.encode_transient(["kept", "a draft"])
    np.testing.assert_array_equal(vectors, [[4, 0, 1, -1], [7, 2, 1, -1]])
    assert counting.embedded == ["kept", "a draft"]
    encoder.encode_transient(["a draft"])
    assert counting.embedded == ["kept", "a draft", "a draft"]  # not stored: embedded again
    assert encoder.sentence_model() is counting


def test_progress_bar_appears_only_for_more_than_a_batch(model_folder, tmp_path, counting, capsys):
    SentenceEncoder(model_folder, cache_dir=tmp_path, batch_size=4).encode(["a", "b"])
    assert "Embedding texts" not in capsys.readouterr().err
    SentenceEncoder(model_folder, cache_dir=tmp_path, batch_size=4).encode(list("abcdefghi"))
    assert "Embedding texts: 100%" in capsys.readouterr().err


def test_bad_arguments_are_refused(model_folder, tmp_path):
    with pytest.raises(ValueError, match="'all-MiniLM-L6-v2' is not an existing folder; .*local"):
        SentenceEncoder("all-MiniLM-L6-v2", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        SentenceEncoder(model_folder, cache_dir=tmp_path, batch_size=0)
    encoder = SentenceEncoder(model_folder, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="text 1 is a int, not a string"):
        encoder.encode(["fine", 3])
    with pytest.raises(ValueError, match="a sequence of texts, not a single string"):
        encoder.encode("one text")
    with pytest.raises(ValueError, match="could not be loaded as a sentence-transformers model"):
        encoder.encode(["needs the model"])


def test_a_cache_with_vectors_of_the_wrong_length_says_how_to_fix_it(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("model", {b"key": np.ones(3)})
    np.testing.assert_array_equal(cache.get([b"key", b"other"], 3)[b"key"], [1, 1, 1])
    with pytest.raises(ValueError, match="delete the file to rebuild it"):
        cache.get([b"key"], 4)


def test_the_shipped_model_embeds_similar_sentences_close_together(tmp_path):
    encoder = SentenceEncoder(cache_dir=tmp_path)
    assert encoder.model_path == default_model_path()
    texts = ["The film was wonderful.", "I loved this movie.", "Stocks fell sharply today."]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.5 > 0.1 > vectors[0] @ vectors[2]
    again = SentenceEncoder(cache_dir=tmp_path).encode([texts[1]])
    np.testing.assert_array_equal(again[0], vectors[1])
