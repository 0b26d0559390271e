"""Export a session's trained model (``nudge export-model``): the newest published model version
whose weights load, with what is needed to use it (:func:`export_model`; the folder's format and
:func:`nudge.estimators.load_model` are in :mod:`nudge.estimators.saved_model`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nudge.estimators import DirectionClassifier, ModelCard, save_model
from nudge.estimators.classifier import safetensors_metadata
from nudge.estimators.saved_model import NETWORK_SETTINGS
from nudge.estimators.scaling import Scaling
from nudge.loop.config.factory import TEXT_ESTIMATOR
from nudge.loop.config.resume import with_text_encoder
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.export.items import SessionItems, session_items
from nudge.loop.store.items import SessionData
from nudge.loop.store.overview import resolve_session
from nudge.loop.store.publication import ModelRegistry, PublishedModel
from nudge.loop.store.store import Store


@dataclass(frozen=True)
class ExportedModel:
    folder: Path
    session_id: str
    version: int
    n_labeled: int
    skipped: tuple[str, ...]  # why newer published versions were not exported


def export_model(store: Store, out: str | Path, *, session_id: str | None = None) -> ExportedModel:
    """Write the session's newest published model whose weights load (damaged or non-finite ones are
    skipped, and said) into the folder ``out``; a SessionError when it has none."""
    session_id = resolve_session(store, session_id)
    config = with_text_encoder(SessionConfig.from_dict(store.session_config(session_id)),
                               store.session_fingerprint(session_id))
    items = session_items(store, session_id)
    network = _network_settings(config, session_id, text=items.kind == "text")
    registry = ModelRegistry(store.db, session_id)
    skipped = []
    for version in registry.versions():
        published = registry.published(version)
        problem = _weights_problem(published, network)
        if problem is None:
            break
        skipped.append(problem)
    else:
        raise SessionError(f"session {session_id!r} has no trained model to export"
                           f"{' that loads (' + '; '.join(skipped) + ')' if skipped else ' yet'}: answer a few "
                           "items while nudge serve (or nudge train) trains it")
    card = _card(store, session_id, config, items, network, published)
    folder = save_model(out, card, published.weights)
    return ExportedModel(folder, session_id, published.version, published.n_labeled, tuple(skipped))


def _network_settings(config: SessionConfig, session_id: str, *, text: bool) -> dict:
    """The MLP settings of the session's network (its default ones, with those the session set)."""
    if not isinstance(config.estimator, dict):
        raise SessionError(f"session {session_id!r} trains its own estimator ({config.estimator!r}); export-model "
                           "writes nudge's own network (DirectionClassifier with an MLP)")
    params = {**(TEXT_ESTIMATOR if text else {}), **config.estimator}
    unknown = [key for key in params if key.startswith("module") and key.removeprefix("module__")
               not in (*NETWORK_SETTINGS, "center", "scale")]
    if unknown:
        raise SessionError(f"session {session_id!r} sets {', '.join(unknown)}: export-model writes nudge's MLP only")
    return {key.removeprefix("module__"): list(value) if isinstance(value, tuple) else value
            for key, value in params.items() if key.removeprefix("module__") in NETWORK_SETTINGS}


def _weights_problem(published: PublishedModel, network: dict) -> str | None:
    """None when every network of ``published`` loads, else why not."""
    for blob in published.weights:
        estimator = DirectionClassifier(**{f"module__{key}": value for key, value in network.items()})
        try:
            estimator.load_weights_bytes(blob, source=f"model v{published.version}")
        except (ValueError, RuntimeError) as error:
            return str(error).splitlines()[0]
    return None


def _card(store: Store, session_id: str, config: SessionConfig, items: SessionItems, network: dict,
          published: PublishedModel) -> ModelCard:
    fingerprint = store.session_fingerprint(session_id) or {}
    encoder = ({"name": config.dataset_options.get("encoder"), "identity": fingerprint.get("encoder")}
               if items.kind == "text" else None)
    scaling = SessionData(store.db, session_id).scaling()
    n_features = int(safetensors_metadata(published.weights[0])["n_features"])
    about = {"session": session_id, "model_version": published.version, "n_labeled": published.n_labeled,
             "n_directions": published.n_directions, "dataset": config.dataset}
    return ModelCard(items.kind, items.class_names, items.feature_names, n_features,
                     Scaling.from_dict(scaling or {}), network, encoder, about)
