"""One export record per answer: the item it is on (id and data), the answer by class name, who and
when, and its directions in the data's units (:func:`answer_records`); :func:`flat` lays a record out
in columns for tables (CSV, Parquet).

A record (JSON-ready)::

    session, annotation_id, query_id, item_id, point_id,
    text (text sets) | features {name: value} (tables, images, points), image_path (images from files),
    answer ("label" | "skip" | "undone"), label (class name; None for a skip),
    annotator, resolved_by (the lead whose review this answer is; None for an annotator's own), time (ISO 8601,
    UTC), model_version, round,
    directions [[...]] (data units), direction_targets [class names], direction_sources [...],
    rewrite (text sets), towards_ids [item id or None per direction], towards_texts (text sets)
"""

from __future__ import annotations

from datetime import datetime, timezone

from nudge.loop.export.items import SessionItems
from nudge.loop.store.log import Annotation

FEATURE_PREFIX = "feature:"  # a feature column whose name an export column has already


def answer_kind(annotation: Annotation) -> str:
    """"undone" (withdrawn by its annotator), "skip", or "label"."""
    if annotation.undone:
        return "undone"
    return "skip" if annotation.is_skip else "label"


def iso_time(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 in UTC, e.g. 2026-12-06T07:10:00.123456+00:00."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def answer_records(session_id: str, annotations: list[Annotation], items: SessionItems) -> list[dict]:
    """Every answer of ``annotations`` as an export record (see the module docstring), in their order."""
    return [_record(session_id, annotation, items) for annotation in annotations]


def _record(session_id: str, annotation: Annotation, items: SessionItems) -> dict:
    item_id = items.item_id(annotation.point_id)
    names = items.class_names
    towards = annotation.towards or [None] * len(annotation.directions)
    record = {
        "session": session_id,
        "annotation_id": annotation.id,
        "query_id": annotation.query_id,
        "item_id": item_id,
        "point_id": annotation.point_id,
        **_item_data(item_id, items),
        "answer": answer_kind(annotation),
        "label": None if annotation.label is None else names[annotation.label],
        "annotator": annotation.annotator,
        "resolved_by": annotation.resolved_by,
        "time": iso_time(annotation.created_at),
        "model_version": annotation.model_version,
        "round": annotation.round,
        "directions": [direction.tolist() for direction in annotation.directions],
        "direction_targets": [names[target] for target in annotation.targets],
        "direction_sources": list(annotation.sources),
        "towards_ids": list(towards),
    }
    if items.kind == "text":
        record["rewrite"] = annotation.rewrite
        record["towards_texts"] = [None if other is None else items.texts.get(other) for other in towards]
    return record


def _item_data(item_id: str, items: SessionItems) -> dict:
    """The item's text, or its features by name (None: the item is no longer in the data's file)."""
    if items.kind == "text":
        return {"text": items.texts.get(item_id)}
    values = items.features.get(item_id)
    data = {"features": None if values is None else dict(zip(items.feature_names, values.tolist()))}
    if items.image_paths:
        data["image_path"] = items.image_paths.get(item_id)
    return data


def flat(record: dict, feature_names: list[str] | None) -> dict:
    """``record`` with its features as columns named after them (prefixed with
    :data:`FEATURE_PREFIX` when a record field has the name already), in the feature order."""
    if "features" not in record:
        return record
    values = record["features"] or {}
    columns = {key: value for key, value in record.items() if key != "features"}
    for name in feature_names or []:
        columns[FEATURE_PREFIX + name if name in record else name] = values.get(name)
    return columns
