"""What a team's lead sees and does, and what each annotator sees of their own standing, as JSON-ready
data for the page and the API (who may see it is the caller's business: ``nudge serve --lead``).

- :meth:`Team.report`: the overlap setting, each annotator's progress and agreement, the pairs, the
  overall agreement (:mod:`nudge.loop.session.agreement`), and the disagreements waiting for review,
  each with the item (its text, or its feature values) and every annotator's answer;
- :meth:`Team.resolve`: the lead's review of one point (accept an answer, or relabel);
- :meth:`Team.standings`: each annotator's count, and their agreement with the others once they share items.

The agreement is computed again only when the log or the model changed (the page polls it).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict

from nudge.loop.errors import SessionError
from nudge.loop.session.agreement import AgreementReport, cosine
from nudge.loop.session.session import Session
from nudge.loop.store.limits import quoted
from nudge.loop.store.log import Annotation

MAX_FEATURES_SHOWN = 20  # feature values shown with a disagreement on a table's item


class Team:
    """The team's numbers for one session (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lock = threading.Lock()
        self._cached: tuple[tuple, AgreementReport] | None = None

    def agreement(self) -> AgreementReport:
        """The session's agreement, computed again when an answer or a model version is new."""
        key = (self.session.log.state(), self.session.model.version)
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, self.session.agreement())
            return self._cached[1]

    def report(self) -> dict:
        """The lead's view of the session (see the module docstring)."""
        session, report = self.session, self.agreement()
        config = session.config
        return {
            "overlap": {"share": config.overlap, "every": config.overlap_every,
                        "annotators_per_item": config.annotators_per_item},
            "classes": list(session.dataset.class_names),
            "overall": {"shared_items": report.shared_items, "share_equal": report.share_equal,
                        "alpha": report.alpha, "direction_cosine": report.direction_cosine},
            "annotators": [asdict(row) for row in report.annotators],
            "pairs": [{**asdict(pair), "annotators": list(pair.annotators)} for pair in report.pairs],
            "disagreements": [_disagreement(session, point_id, answers)
                              for point_id, answers in session.log.disagreements().items()],
        }

    def resolve(self, lead: str, point_id, *, accept=None, label: int | str | None = None) -> dict:
        """The lead settles ``point_id``: accept the answer ``accept`` (an annotation id) or give ``label``."""
        session = self.session
        resolution = session.resolve(_integer(point_id, "point id"), lead=lead,
                                     accept=None if accept is None else _integer(accept, "answer id"), label=label)
        return {"point_id": resolution.point_id, "label": session.dataset.class_names[resolution.label],
                "resolved_by": resolution.resolved_by, "answer_id": resolution.id}

    @staticmethod
    def standing_of(standings: dict[str, dict], annotator: str) -> dict:
        """``annotator``'s entry of :meth:`standings`; no labels and no agreement for one not in it yet."""
        return standings.get(annotator, {"labels": 0, "agreement": None})

    def standings(self) -> dict[str, dict]:
        """Per annotator, {"labels": their labels, "agreement": the share of their labels on shared items
        that the others gave too (None until they share one, and always without overlap)}."""
        if not self.session.log.overlap.on:
            labels = Counter(mark.annotator for mark in self.session.log.answered_points()
                             if mark.label is not None and mark.resolved_by is None)
            return {name: {"labels": count, "agreement": None} for name, count in labels.items()}
        return {row.annotator: {"labels": row.labels, "agreement": row.agreement_with_others}
                for row in self.agreement().annotators}


def _disagreement(session: Session, point_id: int, answers: list[Annotation]) -> dict:
    dataset = session.dataset
    item = {"point_id": point_id, "item_id": dataset.item_ids[point_id]}
    if dataset.texts is not None:
        item["text"] = dataset.texts[point_id]
    else:
        names = dataset.feature_names or [f"x{i + 1}" for i in range(dataset.n_features)]
        item["features"] = {name: float(value) for name, value in
                            list(zip(names, dataset.raw[point_id]))[:MAX_FEATURES_SHOWN]}
    item["answers"] = [{"answer_id": a.id, "annotator": a.annotator, "label": dataset.class_names[a.label],
                        "directions": len(a.directions), "rewrite": a.rewrite} for a in answers]
    item["direction_cosine"] = cosine(answers[0], answers[1]) if len(answers) == 2 else None
    return item


def _integer(value, what: str) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        return int(value)
    except (TypeError, ValueError):
        raise SessionError(f"the {what} must be a whole number, not {quoted(value)}") from None
