"""The int8 ONNX encoder: exported once from the shipped model (offline), close to torch's vectors,
and keyed apart from them in the cache."""

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from nudge.estimators.encoders import SentenceEncoder, default_model_path  # noqa: E402
from nudge.estimators.onnx_encoder import ONNX_FILE, OnnxSentenceEncoder, export_int8_onnx  # noqa: E402

SENTENCES = ["The film was wonderful.", "I loved this movie.", "Stocks fell sharply today."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def test_int8_vectors_are_close_to_torch_and_never_mix_with_them(models, tmp_path):
    cache = tmp_path / "cache"
    int8 = OnnxSentenceEncoder(cache_dir=cache, models_dir=models, threads=1)
    torch_encoder = SentenceEncoder(cache_dir=cache)
    quantised, exact = int8.encode(SENTENCES), torch_encoder.encode(SENTENCES)
    assert quantised.shape == (3, 384) and quantised.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    assert np.all(np.einsum("ij,ij->i", quantised, exact) > 0.97)
    assert not np.array_equal(quantised, exact)
    assert int8.model_id != torch_encoder.model_id and int8.dimension == 384
    again = OnnxSentenceEncoder(cache_dir=cache, models_dir=models)  # one cache, two models' vectors
    np.testing.assert_array_equal(again.encode(SENTENCES), quantised)
    np.testing.assert_array_equal(SentenceEncoder(cache_dir=cache).encode(SENTENCES), exact)
    assert again._model is None  # served from the cache


def test_the_export_happens_once_into_its_folder(models):
    folder = OnnxSentenceEncoder(models_dir=models).export_folder
    before = (folder / ONNX_FILE).stat().st_mtime_ns
    assert export_int8_onnx(default_model_path(), folder) == folder
    assert (folder / ONNX_FILE).stat().st_mtime_ns == before
    recipe = json.loads((folder / "nudge_onnx.json").read_text())
    assert "quantize_dynamic" in recipe["recipe"] and not (folder / "model.safetensors").exists()
    assert [p.name for p in models.iterdir()] == [folder.name]  # no half-built folder left


def test_a_model_of_another_layout_is_refused(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    (tmp_path / "modules.json").write_text(json.dumps([
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    with pytest.raises(ValueError, match="mean pooling and normalisation"):
        export_int8_onnx(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="is not a sentence-transformers model folder"):
        export_int8_onnx(tmp_path / "1_Pooling", tmp_path / "out")
