"""Resuming a session: it stays pinned to its data and to the settings that define it.

A stored session holds answers about points of one data set, trained by one
kind of model. Resuming it on other data (a shuffled or edited file, another
generator, another text encoder) would attach old answers to other points, so
:func:`check_same_data` refuses it and says what changed. Of the settings,
those that define the data or the model (:data:`PINNED`) cannot change on
resume; those that only change how the session runs (:data:`ADJUSTABLE`) are
applied and reported by :func:`resumed_settings`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError

LEGACY_TEXT_ENCODER = "minilm"  # what embedded every text session made before encoders were a choice
PINNED = ("dataset", "dataset_options", "scaling", "loss", "estimator", "seed", "max_directions", "augment_rewrites",
          "overlap", "overlap_every", "annotators_per_item")
ADJUSTABLE = ("strategy", "retrain_every", "full_refit_every", "warm_epochs", "lease_seconds", "stop")


def fingerprint_changes(stored: dict, current: dict) -> list[str]:
    """What differs between two data fingerprints, one phrase per difference."""
    before_items, after_items = _flat(stored), _flat(current)
    return [
        f"{key}: {_short(before_items.get(key))} -> {_short(after_items.get(key))}"
        for key in sorted(set(before_items) | set(after_items))
        if before_items.get(key) != after_items.get(key)
    ]


def _flat(fingerprint: dict, prefix: str = "") -> dict:
    """Nested entries as dotted keys ({"sha256": {"train": h}} -> {"sha256.train": h})."""
    flat = {}
    for key, value in fingerprint.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_same_data(session_id: str, stored: dict | None, current: dict) -> None:
    """Refuse (SessionError) to resume ``session_id`` on data whose fingerprint differs from the stored one."""
    if not stored or not current:
        return  # not recorded (an older session, or a data set built in code): nothing to compare
    changes = fingerprint_changes(stored, current)
    if changes:
        raise SessionError(
            f"session {session_id!r} was made on other data than this ({'; '.join(changes)}): its "
            "answers name points of the old data. Restore the data it was made on, or start a new "
            "session (--session NEW_NAME)"
        )


def record_text_encoder(config: SessionConfig, dataset) -> SessionConfig:
    """``config`` with the registered name of the encoder that embedded ``dataset`` among its data set
    options when none is there, so the session keeps its encoder when nudge's default changes."""
    name = getattr(dataset.encoder, "name", None)
    if dataset.texts is None or name is None or "encoder" in config.dataset_options:
        return config
    return replace(config, dataset_options={**config.dataset_options, "encoder": name})


def with_text_encoder(config: SessionConfig, fingerprint: dict | None) -> SessionConfig:
    """A stored session's settings with its text encoder: a text session made before encoders were
    recorded (its fingerprint names an encoder, its options none) was embedded by minilm."""
    if not fingerprint or "encoder" not in fingerprint or "encoder" in config.dataset_options:
        return config
    return replace(config, dataset_options={**config.dataset_options, "encoder": LEGACY_TEXT_ENCODER})


def resumed_settings(session_id: str, stored: SessionConfig, requested: dict[str, Any]) -> tuple[SessionConfig, list[str]]:
    """The stored settings with the ``requested`` ones (those the person gave explicitly) applied.

    A requested change of a :data:`PINNED` setting is refused, all differences
    listed; changes of :data:`ADJUSTABLE` ones are applied and described.
    """
    refused, applied, changes = [], [], {}
    for name, value in requested.items():
        before = getattr(stored, name)
        if name == "dataset_options":  # the options given are compared, those left out keep their stored values
            value = {**before, **value}
        if _same(before, value):
            continue
        if name in PINNED:
            refused.append(f"{name} {_short(before)} (asked: {_short(value)})")
        elif name in ADJUSTABLE:
            changes[name] = value
            applied.append(f"{name} {_short(before)} -> {_short(value)}")
        else:
            raise ValueError(f"unknown session setting {name!r}")
    if refused:
        raise SessionError(
            f"session {session_id!r} was made with {'; '.join(refused)}. These define its data and model "
            "and cannot change on resume: leave them out to resume it, or start a new session "
            "(--session NEW_NAME)"
        )
    return replace(stored, **changes), applied


def _same(stored: Any, requested: Any) -> bool:
    """Equal as stored: a tuple and a list of the same items are the same setting."""
    return SessionConfig.encode_setting(stored) == SessionConfig.encode_setting(requested)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "…"  # a content hash
    return text if len(text) <= 80 else text[:77] + "…"
