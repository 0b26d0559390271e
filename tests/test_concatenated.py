"""Sentence encoders side by side: the vectors, the identity and cache, the worker's copy, the
registered e5+mpnet, and highlights that read a text as the classifier over the whole vector does."""

import numpy as np
import pytest
import torch

from nudge.estimators.attribution import HiddenStateAttributor, OcclusionAttributor, log_odds
from nudge.estimators.concatenated import ConcatenatedEncoder
from nudge.estimators.encoder_registry import (
    TEXT_ENCODERS,
    ConcatenationSpec,
    encoder_spec,
    make_text_encoder,
    sentence_models,
)
from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.compute.embedding import EmbeddingJob, EncoderSpec

SENTENCES = ["The film was wonderful.", "I hated every minute of it.", "Stocks fell sharply today."]


@pytest.fixture
def parts(tmp_path):
    """MiniLM in float32 and in bfloat16: two encoders whose vectors differ, on the shipped model."""
    return (SentenceEncoder(cache_dir=tmp_path / "parts", name="minilm"),
            SentenceEncoder(cache_dir=tmp_path / "parts", name="minilm", dtype="bfloat16"))


@pytest.fixture
def pair(parts, tmp_path):
    return ConcatenatedEncoder(parts, name="minilm-twice", cache_dir=tmp_path / "pair")


def test_a_texts_vector_is_the_parts_side_by_side(pair, parts):
    vectors = pair.encode(SENTENCES)
    assert vectors.shape == (3, 768) and pair.dimension == 768
    np.testing.assert_array_equal(vectors, np.hstack([parts[0].encode(SENTENCES), parts[1].encode(SENTENCES)]))
    assert not np.allclose(vectors[:, :384], vectors[:, 384:])  # two encoders, not one twice


def test_the_pair_has_its_own_identity_and_cache_keys(pair, parts, tmp_path):
    assert pair.model_id not in {part.model_id for part in parts}
    swapped = ConcatenatedEncoder(parts[::-1], cache_dir=tmp_path / "pair")
    assert swapped.model_id != pair.model_id and swapped.keys(["x"]) != pair.keys(["x"])
    pair.encode(SENTENCES)
    assert pair.cache.dimension(pair.model_id) == 768
    assert swapped.missing(SENTENCES) == dict(zip(swapped.keys(SENTENCES), SENTENCES))  # nothing shared


def test_a_draft_is_read_without_filling_any_cache(pair, parts):
    pair.encode_transient(["a draft, typed once"])
    assert pair.missing(["a draft, typed once"]) and all(part.missing(["a draft, typed once"]) for part in parts)


def test_it_needs_two_parts(parts):
    with pytest.raises(ValueError, match="a concatenation needs at least two encoders, got 1"):
        ConcatenatedEncoder(parts[:1])


def test_a_worker_builds_the_same_pair_by_name(pair, parts, monkeypatch, tmp_path):
    monkeypatch.setitem(TEXT_ENCODERS, "minilm-twice", ConcatenationSpec("minilm-twice", "", ("minilm", "minilm")))
    spec = EncoderSpec.of(pair)
    assert spec.name == "minilm-twice" and spec.model is None
    # both parts in the spec's precision: the worker's pair differs from this one (float32 + bfloat16)
    with pytest.raises(ValueError, match="its torch model differs from the client's"):
        spec()
    same = ConcatenatedEncoder([parts[1], parts[1]], name="minilm-twice", cache_dir=tmp_path / "pair")
    assert EncoderSpec.of(same)().model_id == same.model_id
    EmbeddingJob(SENTENCES, same).run()
    assert not same.missing(SENTENCES)


def test_e5_and_mpnet_are_registered_side_by_side():
    spec = encoder_spec("e5+mpnet")
    assert spec.parts == ("e5-small", "mpnet") and set(spec.parts) <= set(sentence_models())
    assert "e5+mpnet" not in sentence_models()
    with pytest.raises(ValueError, match="the encoder e5\\+mpnet runs on the torch backend only"):
        make_text_encoder("e5+mpnet", backend="onnx-int8")


@pytest.fixture
def classifier():
    torch.manual_seed(0)
    return torch.nn.Linear(768, 2).eval()


def whole_reading(pair, classifier, text):
    with torch.no_grad():
        return log_odds(classifier(torch.from_numpy(pair.encode_transient([text])))).numpy()[0]


@pytest.mark.parametrize("text", ["A dull film, saved by one great scene.", "Not bad at all"])
def test_hidden_state_shares_go_through_the_first_part_with_the_others_held(pair, classifier, text):
    attributor = HiddenStateAttributor(pair.sentence_model(), head=pair.logits_through_model)
    result = attributor.attribute(text, classifier)
    np.testing.assert_allclose(result.scores, whole_reading(pair, classifier, text), atol=1e-4)
    np.testing.assert_allclose(result.delta, 0.0, atol=1e-4)  # the shares add up to the first part's part
    assert np.abs(result.weights).max() > 0


def test_occlusion_reads_the_whole_vector(pair, classifier):
    text = "A dull film, saved by one great scene."
    attributor = OcclusionAttributor(pair.sentence_model(), pair.embed_uncached, shortlist=3,
                                     head=pair.logits_through_model)
    result = attributor.attribute(text, classifier)
    np.testing.assert_allclose(result.scores, whole_reading(pair, classifier, text), atol=1e-5)
    assert np.count_nonzero(result.weights[:, 1]) == 3  # the shortlist, chosen through the head
