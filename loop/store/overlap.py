"""Overlap: which points go to several annotators, and when a point's answers settle it.

A session with overlap gives a share of its points (``share``, e.g. 0.1) or every n-th one
(``every``) to ``per_item`` different annotators, never twice to one, so that their agreement can
be measured. Which points is decided by the session's seed and the point id alone (a hash), so
every process and every restart computes the same ones and nothing needs storing.

The one rule of what a point's answers (those not undone, oldest first) amount to:

- a resolution (an answer with ``resolved_by``, the lead's review) settles the point, the newest one;
- a point given to one annotator is settled by its newest answer, when that is a label (as before
  overlap existed: a relabel replaces the label, a skip leaves the point unlabelled);
- a shared point is settled once ``per_item`` different annotators labelled it and their newest
  labels agree (the newest of them is the one trained on); with labels that disagree it waits for
  the lead's review, and it is handed to no one else meanwhile (:meth:`Overlap.done`).

An answer here is anything with ``point_id``, ``label``, ``annotator`` and ``resolved_by``
(a stored :class:`nudge.loop.store.log.Annotation`, or the light :class:`Mark`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

from nudge.loop.errors import SessionError


class Answer(Protocol):
    point_id: int
    label: int | None
    annotator: str
    resolved_by: str | None


class Mark(NamedTuple):
    """An answer without its directions (what lease checks and counts read)."""

    point_id: int
    label: int | None
    annotator: str
    resolved_by: str | None = None


A = TypeVar("A", bound=Answer)


@dataclass(frozen=True)
class Overlap:
    """``share`` of the points (0..1), or every ``every``-th (0: none), go to ``per_item`` annotators."""

    share: float = 0.0
    every: int = 0
    per_item: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise SessionError(f"overlap must be a share between 0 and 1, not {self.share}")
        if self.every < 0:
            raise SessionError("overlap_every must be 0 (none) or positive")
        if self.share and self.every:
            raise SessionError("give either overlap (a share of the items) or overlap_every, not both")
        if self.per_item < 2:
            raise SessionError("annotators_per_item must be at least 2 (an item given to one person does not overlap)")

    @property
    def on(self) -> bool:
        return bool(self.share or self.every)

    def shared(self, point_id: int) -> bool:
        """True when ``point_id`` goes to ``per_item`` annotators (the same answer in every process)."""
        if self.every:
            return (int(point_id) + self.seed) % self.every == 0
        if not self.share:
            return False
        digest = hashlib.blake2b(f"{self.seed}:{int(point_id)}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self.share

    def wanted(self, point_id: int) -> int:
        """How many different annotators should label ``point_id``."""
        return self.per_item if self.shared(point_id) else 1

    def done(self, point_id: int, answers: Iterable[Answer]) -> bool:
        """True when ``point_id`` is handed out no more: resolved, or labelled by as many different
        annotators as it wants (agreeing or not: a disagreement waits for review)."""
        answers = list(answers)
        if any(a.resolved_by is not None for a in answers):
            return True
        labelled_by = {a.annotator for a in answers if a.label is not None}
        return len(labelled_by) >= self.wanted(point_id) if self.shared(point_id) else bool(labelled_by)

    def done_points(self, answers: Iterable[Answer]) -> set[int]:
        """The points :meth:`done` holds for, of those ``answers`` are on."""
        by_point: dict[int, list[Answer]] = defaultdict(list)
        for answer in answers:
            by_point[answer.point_id].append(answer)
        return {point_id for point_id, given in by_point.items() if self.done(point_id, given)}

    def settled(self, answers: Iterable[A]) -> dict[int, A]:
        """Per point, the answer training takes (see the module's rule); answers oldest first, none undone."""
        by_point: dict[int, list[A]] = defaultdict(list)
        for answer in answers:
            by_point[answer.point_id].append(answer)
        chosen: dict[int, A] = {}
        for point_id, given in by_point.items():
            answer = self._settling(point_id, given)
            if answer is not None:
                chosen[point_id] = answer
        return chosen

    def disagreements(self, answers: Iterable[A]) -> dict[int, list[A]]:
        """Shared points whose annotators' newest labels differ and that no one resolved:
        point id -> each annotator's newest label, oldest first."""
        by_point: dict[int, list[A]] = defaultdict(list)
        for answer in answers:
            by_point[answer.point_id].append(answer)
        found = {}
        for point_id, given in by_point.items():
            if any(a.resolved_by is not None for a in given):
                continue
            labels = _newest_labels(given)
            if len({a.label for a in labels}) > 1:
                found[point_id] = labels
        return found

    def _settling(self, point_id: int, given: list[A]) -> A | None:
        resolutions = [a for a in given if a.resolved_by is not None]
        if resolutions:
            return resolutions[-1]
        if not self.shared(point_id):
            return given[-1] if given[-1].label is not None else None
        labels = _newest_labels(given)
        if len(labels) >= self.per_item and len({a.label for a in labels}) == 1:
            return labels[-1]
        return None


def _newest_labels(given: list[A]) -> list[A]:
    """Each annotator's newest answer, when it is a label, oldest first."""
    newest = {a.annotator: a for a in given}
    return [a for a in given if newest[a.annotator] is a and a.label is not None]
