"""Agreement from a small log, against values worked out by hand (see each test's comment)."""

import numpy as np
import pytest

from nudge.loop.session.agreement import ModelReading, agreement, cosine
from nudge.loop.store.log import Annotation


def answer(annotator, point_id, label, directions=(), *, at=0.0, answer_id=0, resolved_by=None, targets=None):
    directions = [np.asarray(d, dtype=float) for d in directions]
    return Annotation(answer_id, None, point_id, label, directions,
                      list(targets if targets is not None else [1 - (label or 0)] * len(directions)),
                      ["api"] * len(directions), None, annotator, at, 0, 1, False, None, resolved_by)


def two_annotators():
    """alice 0 0 1 1 and bob 0 1 1 1 on points 0..3; alice alone on point 4, then a skip on 5."""
    alice = [answer("alice", p, label, [[1, 0]], at=t) for p, label, t in zip(range(4), (0, 0, 1, 1), (0, 10, 30, 60))]
    bob = [answer("bob", p, label, [[1, 1]], at=100 + p) for p, label in zip(range(4), (0, 1, 1, 1))]
    return alice + bob + [answer("alice", 4, 1, at=70), answer("alice", 5, None, at=75)]


def test_pair_kappa_alpha_and_cosine_by_hand():
    report = agreement(two_annotators())
    (pair,) = report.pairs
    assert pair.annotators == ("alice", "bob") and pair.n_items == 4
    assert pair.share_equal == pytest.approx(0.75)
    # p_o = 3/4; p_e = 1/2 * 1/4 + 1/2 * 3/4 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2)
    assert pair.kappa == pytest.approx(0.5)
    # coincidences o00 = 2, o01 = o10 = 1, o11 = 4; n = 8, n0 = 3, n1 = 5: alpha = 1 - 7 * 2 / (2 * 3 * 5)
    assert report.alpha == pytest.approx(1 - 14 / 30)
    assert pair.direction_cosine == pytest.approx(1 / np.sqrt(2))  # [1, 0] against [1, 1]
    assert report.shared_items == 4 and report.share_equal == pytest.approx(0.75)


def test_alpha_of_three_annotators_with_one_missing_by_hand():
    answers = [answer("a", 0, 0), answer("b", 0, 0), answer("c", 0, 1),
               answer("a", 1, 1), answer("b", 1, 1), answer("c", 1, 1), answer("a", 2, 0)]
    # unit 0 (0, 0, 1): o00 = o01 = o10 = 1 (pairs / (m - 1)); unit 1 (1, 1, 1): o11 = 3; point 2 is not shared.
    # n = 6, n0 = 2, n1 = 4: alpha = 1 - (n - 1) * (o01 + o10) / (2 * n0 * n1) = 1 - 5 * 2 / 16
    assert agreement(answers).alpha == pytest.approx(0.375)


def test_per_annotator_standing_by_hand():
    reading = ModelReading(predict=lambda X: (X[:, 0] > 0).astype(int),
                           X=np.array([[-1.0, 0], [-1, 0], [1, 0], [1, 0], [-1, 0], [0, 0]]),
                           direction_to_model=lambda d: 2 * d)
    alice = agreement(two_annotators(), reading).standing("alice")
    assert (alice.labels, alice.skips) == (5, 1)
    assert alice.median_seconds == pytest.approx(10.0)  # answers at 0 10 30 60 70 75: gaps 10 20 30 10 5
    assert alice.agreement_with_others == pytest.approx(0.75)  # bob gave the same on 3 of her 4 shared points
    assert alice.direction_cosine_with_others == pytest.approx(1 / np.sqrt(2))
    # the model reads points 0..4 as 0 0 1 1 0; she said 0 0 1 1 1
    assert alice.agreement_with_model == pytest.approx(4 / 5)
    # her arrows [1, 0] (x2 in the model) lead to 1 1 0 0 from x1 = -1 -1 1 1: tips 1 1 3 3 read 1 1 1 1
    assert alice.directions_model_agreed == pytest.approx(2 / 4)


def test_resolutions_undone_answers_and_relabels_are_not_agreement():
    answers = [answer("alice", 0, 0), answer("bob", 0, 1), answer("bob", 0, 0),  # bob relabelled: his newest counts
               answer("lead", 0, 1, resolved_by="lead")]
    report = agreement(answers)
    assert [p.annotators for p in report.pairs] == [("alice", "bob")] and report.pairs[0].share_equal == 1.0
    assert report.pairs[0].kappa is None and report.alpha is None  # one class only: not defined
    assert report.standing("lead") is None


def test_cosine_of_answers_with_several_directions():
    # the mean of unit vectors: [1, 0] and [0, 2] -> [0.5, 0.5], against [1, 1]: cosine 1
    assert cosine(answer("a", 0, 0, [[1, 0], [0, 2]]), answer("b", 0, 0, [[1, 1]])) == pytest.approx(1.0)
    assert cosine(answer("a", 0, 0), answer("b", 0, 0, [[1, 1]])) is None
