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
from nudge.loop.session.answers import check_annotator, label_index
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
        resolution = self.settle(_integer(point_id, "point id"), lead=lead,
                                 accept=None if accept is None else _integer(accept, "answer id"), label=label)
        return {"point_id": resolution.point_id, "label": self.session.dataset.class_names[resolution.label],
                "resolved_by": resolution.resolved_by, "answer_id": resolution.id}

    def settle(self, point_id: int, *, lead: str, accept: int | None = None,
               label: int | str | None = None) -> Annotation:
        """The lead ``lead`` settles a point (a disagreement on a shared one): ``accept`` an answer on it
        (its annotation id; its label and directions are taken) or give a new ``label`` (no directions).

        Stored as an answer of ``lead`` with ``resolved_by``; the newest resolution is what the point
        trains with from now on, whatever its annotators answered (:mod:`nudge.loop.store.overlap`).
        """
        session, lead = self.session, check_annotator(lead)
        if not session.leases.in_pool(point_id):
            raise SessionError(f"point {point_id} is not in the pool")
        if (accept is None) == (label is None):
            raise SessionError("resolve by accepting one answer (its id) or by giving a label: one of the two")
        if accept is not None:
            chosen = next((a for a in session.log.annotations(include_undone=False)
                           if a.id == accept and a.point_id == point_id and not a.is_skip), None)
            if chosen is None:
                raise SessionError(f"answer {accept} is not a label given on point {point_id}")
            given = dict(label=chosen.label, directions=chosen.directions, targets=chosen.targets,
                         sources=chosen.sources, rewrite=chosen.rewrite, towards=chosen.towards)
        else:
            given = dict(label=label_index(label, session.dataset.class_names), directions=[], targets=[],
                         sources=[])
        annotation = session.store_answer(point_id, annotator=lead, resolved_by=lead,
                                          saved="your review was saved", **given)
        session.request_retrain()
        return annotation

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
