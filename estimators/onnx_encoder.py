"""The sentence model as int8 ONNX: exported once, offline, into nudge's cache, run by ONNX Runtime.

:func:`export_int8_onnx` turns a local sentence-transformers model folder (a
BERT-style transformer, mean pooling, normalisation: all-MiniLM-L6-v2's
layout) into ``model_int8.onnx``: the transformer exported by
``torch.onnx.export``, its MatMul weights quantised to int8 per channel by
ONNX Runtime's dynamic quantisation (activations are quantised on the fly),
beside the tokenizer files. Nothing is downloaded: the source is a folder on
this machine.

:class:`OnnxSentenceEncoder` is a :class:`~nudge.estimators.encoders.SentenceEncoder`
whose model is that file. Its cache identity is the digest of the exported
folder (which holds the int8 weights, not the float ones), so its vectors are
keyed apart from the torch model's and the two never mix in the cache.

Why not sentence-transformers' own ``backend="onnx"``: it needs
``optimum-onnx``, whose releases pin ``transformers<4.58`` while
sentence-transformers 6 needs ``transformers>=5``, so the two cannot be
installed together; the steps here are the ones that backend runs
(export, then ``onnxruntime.quantization.quantize_dynamic``), on the same
libraries.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nudge.estimators.encoders import SentenceEncoder, model_identity, nudge_cache_dir

ONNX_FILE = "model_int8.onnx"
RECIPE_FILE = "nudge_onnx.json"
RECIPE = "torch.onnx.export opset 17; quantize_dynamic MatMul QInt8 per-channel"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
POOLING_MODULE = "sentence_transformers.models.Pooling"
NORMALIZE_MODULE = "sentence_transformers.models.Normalize"


def onnx_folder(source: Path, models_dir: Path | None = None) -> Path:
    """Where the int8 export of the model folder ``source`` lives: one folder per source identity."""
    models_dir = nudge_cache_dir("models") if models_dir is None else Path(models_dir)
    return models_dir / f"{model_identity(source)[:24]}-onnx-int8"


def export_int8_onnx(source: Path, target: Path) -> Path:
    """Export the sentence model folder ``source`` to ``target`` as int8 ONNX; return ``target``.

    ``target`` appears whole or not at all (built beside it, then renamed), so
    an interrupted export leaves nothing half-written; when another process
    finished first, its export is kept. Takes about 10 s for MiniLM.
    """
    source, target = Path(source), Path(target)
    if (target / ONNX_FILE).is_file():
        return target
    _check_pipeline(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        for item in source.iterdir():
            if item.name not in WEIGHT_FILES and not item.name.startswith("."):
                copy = shutil.copytree if item.is_dir() else shutil.copy2
                copy(item, building / item.name)
        _export_quantised(source, building)
        (building / RECIPE_FILE).write_text(json.dumps(
            {"source_identity": model_identity(source), "recipe": RECIPE}, indent=1))  # no path: same on every machine
        try:
            os.rename(building, target)
        except OSError:
            if not (target / ONNX_FILE).is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _check_pipeline(source: Path) -> None:
    """Refuse a model whose pipeline is not transformer, mean pooling, normalisation."""
    try:
        modules = json.loads((source / "modules.json").read_text())
        pooling = json.loads((source / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, IndexError, KeyError) as error:
        raise ValueError(f"{source} is not a sentence-transformers model folder: {error}") from None
    kinds = [module.get("type") for module in modules]
    if kinds[1:] != [POOLING_MODULE, NORMALIZE_MODULE] or not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError(
            f"{source}: the ONNX encoder handles a transformer with mean pooling and normalisation "
            f"(all-MiniLM-L6-v2's layout); this model's modules are {kinds}"
        )


def _last_hidden_state(model: Any) -> Any:
    """The transformers ``model`` as a module taking the three inputs and returning one tensor."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    return LastHiddenState().eval()


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ValueError("the onnx-int8 encoder needs the onnx extra: pip install 'nudge[onnx]'") from None


def _export_quantised(source: Path, folder: Path) -> None:
    _require_onnx()
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = AutoModel.from_pretrained(source, local_files_only=True).eval()
    example = tokenizer(["an example", "a second, longer example"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        plain, prepared = Path(scratch, "model.onnx"), Path(scratch, "prepared.onnx")
        torch.onnx.export(
            _last_hidden_state(model), tuple(example[name] for name in INPUTS), str(plain),
            input_names=list(INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
            opset_version=17, dynamo=False,
        )
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(
            str(prepared), str(folder / ONNX_FILE), op_types_to_quantize=["MatMul"],
            per_channel=True, weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def default_prompt(folder: Path) -> str:
    """The text a sentence-transformers folder puts before every text (its default prompt; e5's "query: ")."""
    path = folder / "config_sentence_transformers.json"
    settings = json.loads(path.read_text()) if path.is_file() else {}
    return settings.get("prompts", {}).get(settings.get("default_prompt_name") or "", "")


class OnnxSentenceModel:
    """An exported folder run by ONNX Runtime: the default prompt, tokenise, transformer, mean pooling, L2 norm.

    ``encode`` has the signature of ``SentenceTransformer.encode`` that
    :class:`~nudge.estimators.encoders.SentenceEncoder` calls.
    """

    def __init__(self, folder: Path, threads: int) -> None:
        _require_onnx()
        import onnxruntime
        from transformers import AutoTokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        settings = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_length = int(settings.get("max_seq_length", 256))
        self.prefix = default_prompt(folder)
        self.dimension = int(json.loads((folder / "config.json").read_text())["hidden_size"])

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """(N, d) float32 unit vectors, ``batch_size`` texts per ONNX Runtime call."""
        parts = [self._encode_batch(list(texts[start : start + batch_size]))
                 for start in range(0, len(texts), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer([self.prefix + text for text in texts], padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="np")
        feed = {name: tokens[name].astype(np.int64) for name in INPUTS}
        hidden = self.session.run(None, feed)[0]  # (B, T, d)
        mask = tokens["attention_mask"][..., None].astype(np.float32)
        mean = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return (mean / np.linalg.norm(mean, axis=1, keepdims=True).clip(1e-12)).astype(np.float32)


class OnnxSentenceEncoder(SentenceEncoder):
    """:class:`~nudge.estimators.encoders.SentenceEncoder` on the int8 ONNX export of the model.

    Parameters as :class:`SentenceEncoder`, and:

    threads : ONNX Runtime's intra-op threads. Default None: torch's thread
        count (``torch.get_num_threads()``), so one setting governs both backends.
    models_dir : where exports are kept. Default None: ``$NUDGE_CACHE_DIR/models``
        (``~/.cache/nudge/models``).

    The export happens once, on first use (about 10 s); its identity, hence
    the cache keys, is the digest of the exported folder.
    """

    backend = "onnx-int8"

    def __init__(self, model: str | Path | None = None, cache_dir: str | Path | None = None,
                 batch_size: int = 32, show_progress: bool | None = None,
                 threads: int | None = None, models_dir: str | Path | None = None, name: str | None = None) -> None:
        super().__init__(model, cache_dir, batch_size, show_progress, name=name)
        self.threads = threads
        self.models_dir = models_dir

    @property
    def export_folder(self) -> Path:
        """The folder of the int8 export, made on first use."""
        return export_int8_onnx(self.model_path, onnx_folder(self.model_path, self.models_dir))

    def _identity(self) -> str:
        return model_identity(self.export_folder)

    def _load_model(self) -> Any:
        import torch

        return OnnxSentenceModel(self.export_folder, self.threads or torch.get_num_threads())
