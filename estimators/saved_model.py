"""A trained model saved for use outside nudge: a folder that :func:`load_model` reads back.

The folder (written by :func:`save_model`, read by :func:`load_model`)::

    nudge-model.json         what the model needs to be used: the classes' names, the kind of data
                             ("text", "table", "image", "points"), the feature names, the scaling of
                             features (:class:`~nudge.estimators.scaling.Scaling`), the text encoder's
                             registered name and identity (texts), the network's settings, and each
                             weights file with its SHA-256
    weights-0.safetensors    the network's weights (tensors only: nothing is unpickled); a
                             committee has one file per member, whose probabilities are averaged

Use::

    model = load_model("my-model")
    model.predict(["a text", "another"])        # class names, (N,)
    model.predict_proba(rows)                   # (N, C), rows in the data's own units (N, n)

A damaged folder (a file missing, cut short or changed, a manifest that does not parse, a text
encoder not installed here or not the one the model was trained with) is refused with one
ValueError saying what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nudge.estimators.classifier import DirectionClassifier
from nudge.estimators.encoder_registry import make_text_encoder
from nudge.estimators.modules import MLP
from nudge.estimators.scaling import Scaling

MANIFEST = "nudge-model.json"
FORMAT = "nudge-model"
FORMAT_VERSION = 1
NETWORK_SETTINGS = ("hidden", "activation", "dropout")  # MLP's settings that are not in its state dict


@dataclass(frozen=True)
class ModelCard:
    """What :func:`save_model` writes beside the weights (see the module docstring)."""

    kind: str
    class_names: list[str]
    feature_names: list[str] | None  # None for texts
    n_features: int
    scaling: Scaling
    network: dict  # MLP settings (NETWORK_SETTINGS)
    encoder: dict | None = None  # {"name", "identity"} of a text model
    about: dict | None = None  # where it came from (session, model version, answers): shown, not used

    def as_dict(self, weights: list[dict]) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind,
                "class_names": list(self.class_names), "feature_names": self.feature_names,
                "n_features": self.n_features, "scaling": self.scaling.as_dict(), "network": self.network,
                "encoder": self.encoder, "about": self.about or {}, "weights": weights}


def save_model(folder: str | Path, card: ModelCard, weights: Sequence[bytes]) -> Path:
    """Write ``weights`` (safetensors blobs of :meth:`DirectionClassifier.weights_bytes`, one per
    network) and ``card`` into ``folder`` (made when missing; its model files replaced)."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; give a folder to write the model into")
    folder.mkdir(parents=True, exist_ok=True)
    listed = []
    for index, blob in enumerate(weights):
        name = f"weights-{index}.safetensors"
        (folder / name).write_bytes(blob)
        listed.append({"file": name, "sha256": hashlib.sha256(blob).hexdigest()})
    (folder / MANIFEST).write_text(json.dumps(card.as_dict(listed), indent=1) + "\n", encoding="utf-8")
    return folder


class SavedModel:
    """A model read by :func:`load_model`: ``predict`` and ``predict_proba`` on texts (a text model)
    or rows of features in the data's own units; ``class_names``, ``feature_names``, ``kind``."""

    def __init__(self, card: ModelCard, networks: list[DirectionClassifier], encoder=None) -> None:
        self.card = card
        self.networks = networks
        self.encoder = encoder

    @property
    def class_names(self) -> list[str]:
        return self.card.class_names

    @property
    def feature_names(self) -> list[str] | None:
        return self.card.feature_names

    @property
    def kind(self) -> str:
        return self.card.kind

    def inputs(self, data) -> np.ndarray:
        """(N, n) model inputs of ``data``: texts (a list of str, for a text model), or (N, n) rows in
        the data's units (a 2-D array, or a pandas DataFrame holding the feature columns by name)."""
        if self.kind == "text":
            texts = [data] if isinstance(data, str) else list(data)
            if not all(isinstance(text, str) for text in texts):
                raise ValueError("a text model predicts on a list of texts")
            rows = np.asarray(self.encoder.encode(texts), dtype=np.float32) if texts else np.zeros((0, 0))
        elif hasattr(data, "columns") and self.feature_names is not None:
            missing = [name for name in self.feature_names if name not in data.columns]
            if missing:
                raise ValueError(f"the rows lack the model's feature columns {missing[:5]}")
            rows = np.asarray(data[self.feature_names], dtype=np.float64)
        else:
            rows = np.asarray(data, dtype=np.float64)
        if len(rows) and (rows.ndim != 2 or rows.shape[1] != self.card.n_features):
            raise ValueError(f"the model reads rows of {self.card.n_features} features; got shape {rows.shape}")
        if not np.all(np.isfinite(rows)):
            raise ValueError("the rows hold missing or non-finite values")
        return self.card.scaling.to_model(rows.reshape(len(rows), self.card.n_features))

    def predict_proba(self, data) -> np.ndarray:
        """(N, C) class probabilities (columns in :attr:`class_names` order)."""
        X = self.inputs(data)
        if len(X) == 0:
            return np.zeros((0, len(self.class_names)))
        return np.mean([network.predict_proba(X) for network in self.networks], axis=0)

    def predict(self, data) -> np.ndarray:
        """(N,) the most probable class's name per item."""
        return np.asarray(self.class_names, dtype=object)[self.predict_proba(data).argmax(axis=1)]


def load_model(folder: str | Path) -> SavedModel:
    """The model saved in ``folder`` by :func:`save_model` (see the module docstring); a ValueError
    saying what is wrong with a damaged folder."""
    folder = Path(folder).expanduser()
    manifest = _manifest(folder)
    card = _card(folder, manifest)
    networks = [_network(folder, entry, card) for entry in manifest["weights"]]
    return SavedModel(card, networks, _encoder(folder, card) if card.kind == "text" else None)


def _manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder holding a model (nudge export-model writes one)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no {MANIFEST}: not a model folder written by nudge export-model") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} cannot be read ({error}): the model folder is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path} is not a nudge model manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is format version {manifest.get('format_version')}; this nudge reads "
                         f"version {FORMAT_VERSION}")
    return manifest


def _card(folder: Path, manifest: dict) -> ModelCard:
    try:
        card = ModelCard(str(manifest["kind"]), [str(n) for n in manifest["class_names"]],
                         manifest["feature_names"], int(manifest["n_features"]),
                         Scaling.from_dict(manifest["scaling"]), dict(manifest["network"]),
                         manifest.get("encoder"), manifest.get("about"))
        if not isinstance(manifest["weights"], list) or not manifest["weights"]:
            raise ValueError("no weights files are listed")
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{folder / MANIFEST} is damaged ({type(error).__name__}: {error})") from None
    if card.kind == "text" and not (isinstance(card.encoder, dict) and card.encoder.get("name")):
        raise ValueError(f"{folder / MANIFEST} is damaged: a text model names no text encoder")
    return card


def _network(folder: Path, entry: dict, card: ModelCard) -> DirectionClassifier:
    try:
        path = folder / Path(str(entry["file"])).name  # a name, never a path out of the folder
        digest = str(entry["sha256"])
    except (KeyError, TypeError):
        raise ValueError(f"{folder / MANIFEST} is damaged: a weights entry lacks its file or sha256") from None
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise ValueError(f"the model's weights {path} cannot be read ({error.strerror or error})") from None
    if hashlib.sha256(blob).hexdigest() != digest:
        raise ValueError(f"the model's weights {path} were changed or cut short since they were written "
                         "(SHA-256 differs): export the model again")
    settings = {key: value for key, value in card.network.items() if key in NETWORK_SETTINGS}
    network = DirectionClassifier(module=MLP, **{f"module__{key}": value for key, value in settings.items()})
    try:
        network.load_weights_bytes(blob, source=str(path))
    except RuntimeError as error:  # a state dict that does not fit the network's settings
        raise ValueError(f"{path} does not fit the network described in {MANIFEST}: "
                         f"{str(error).splitlines()[0]}") from None
    if network.n_features_in_ != card.n_features or len(network.classes_) != len(card.class_names):
        raise ValueError(f"{path} holds a network for {network.n_features_in_} features and "
                         f"{len(network.classes_)} classes; {MANIFEST} says {card.n_features} and "
                         f"{len(card.class_names)}")
    return network


def _encoder(folder: Path, card: ModelCard):
    name, identity = card.encoder["name"], card.encoder.get("identity")
    encoder = make_text_encoder(name)  # a ValueError naming the pip command when it is not installed
    found = getattr(encoder, "identity", None)
    if identity and found and found != identity:
        raise ValueError(f"the model in {folder} was trained on the text encoder {name!r} with identity {identity}; "
                         f"the one installed here is {found}: its vectors would not be the model's inputs")
    return encoder
