"""Overlap: which points go to several annotators, never twice to one, and when they train."""

import pytest

from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.service.team import Team
from nudge.loop.session.session import Session
from nudge.loop.store.overlap import Mark, Overlap
from nudge.loop.store.store import Store


def test_which_points_overlap_follows_the_seed_alone():
    rule = Overlap(share=0.2, seed=3)
    shared = [p for p in range(2000) if rule.shared(p)]
    assert shared == [p for p in range(2000) if Overlap(share=0.2, seed=3).shared(p)]  # another process: the same
    assert 0.17 < len(shared) / 2000 < 0.23
    assert shared != [p for p in range(2000) if Overlap(share=0.2, seed=4).shared(p)]
    assert [p for p in range(12) if Overlap(every=4, seed=1).shared(p)] == [3, 7, 11]
    assert not any(Overlap().shared(p) for p in range(100))


@pytest.mark.parametrize("settings, message", [
    (dict(share=1.5), "between 0 and 1"), (dict(share=0.1, every=3), "not both"), (dict(every=-1), "overlap_every"),
    (dict(share=0.1, per_item=1), "at least 2"),
])
def test_bad_overlap_is_refused(settings, message):
    with pytest.raises(SessionError, match=message):
        Overlap(**settings)
    names = {"share": "overlap", "every": "overlap_every", "per_item": "annotators_per_item"}
    with pytest.raises(SessionError, match=message):
        SessionConfig(**{names[key]: value for key, value in settings.items()})


def test_a_shared_point_settles_when_its_labels_agree_or_are_resolved():
    rule = Overlap(every=1, per_item=2)  # every point shared
    assert rule.settled([Mark(0, 1, "alice")]) == {}  # one label of two: not yet
    agreeing = [Mark(0, 1, "alice"), Mark(0, 1, "bob")]
    assert rule.settled(agreeing) == {0: agreeing[1]} and rule.done(0, agreeing)
    split = [Mark(0, 1, "alice"), Mark(0, 0, "bob")]
    assert rule.settled(split) == {} and rule.done(0, split) and list(rule.disagreements(split)) == [0]
    resolved = [*split, Mark(0, 0, "lead", "lead")]
    assert rule.settled(resolved) == {0: resolved[2]} and rule.disagreements(resolved) == {}
    assert Overlap().settled([Mark(0, 1, "alice"), Mark(0, None, "alice")]) == {}  # unshared: the newest answer


def session_with_overlap(tmp_path, **settings):
    config = SessionConfig(dataset="moons", dataset_options={"n_samples": 60}, estimator={"max_epochs": 2},
                           warm_epochs=1, **settings)
    return Session.create(Store(tmp_path / "team.db"), config, session_id="team")


def test_each_shared_point_reaches_k_different_annotators_never_one_twice(tmp_path):
    session = session_with_overlap(tmp_path, overlap_every=3, annotators_per_item=3)
    rule, names = session.log.overlap, ["ann", "bob", "cyd"]
    for _ in range(40):
        for name in names:
            query = session.next_query(name)
            if query is not None:
                session.submit(query.query_id, int(session.dataset.y[query.point_id]), annotator=name)
    given: dict[int, list[str]] = {}
    for a in session.log.annotations():
        given.setdefault(a.point_id, []).append(a.annotator)
    assert all(len(set(by)) == len(by) for by in given.values())  # never twice to one
    assert all(len(by) == rule.wanted(p) for p, by in given.items())  # 3 for shared points, 1 for the others
    assert sorted(given) == sorted(int(p) for p in session.dataset.pool)  # the whole pool, then no more
    shared = [p for p in given if rule.shared(p)]
    assert shared and all(p in session.labelled_points() for p in shared)  # agreeing true labels: all settled
    session.close()


def test_the_lead_resolution_is_what_trains(tmp_path):
    session = session_with_overlap(tmp_path, overlap_every=1)  # every point to two annotators
    first = session.next_query("alice")
    session.submit(first.query_id, 0, annotator="alice")
    assert first.point_id not in session.labelled_points()  # one label of two: not trained on
    assert session.next_query("alice").point_id != first.point_id
    bobs = session.relabel(first.point_id, 1, annotator="bob")
    assert first.point_id not in session.labelled_points()  # they disagree: waits for review
    assert list(session.log.disagreements()) == [first.point_id]
    with pytest.raises(SessionError, match="one of the two"):
        Team(session).settle(first.point_id, lead="lead")
    resolution = Team(session).settle(first.point_id, lead="lead", accept=bobs.id)
    assert resolution.resolved_by == "lead" and resolution.label == 1
    assert session.labelled_points()[first.point_id] == 1 and session.log.disagreements() == {}
    assert [a.id for a in session.effective_annotations() if a.point_id == first.point_id] == [resolution.id]
    relabelled = Team(session).settle(first.point_id, lead="lead", label="0")  # the newest resolution counts
    assert session.labelled_points()[first.point_id] == 0
    session.retrain()
    assert list(session.model.annotation_ids) == [relabelled.id]  # trained on the newest resolution only
    assert session.store.log("team").annotations()[-1].to_record()["resolved_by"] == "lead"
    session.close()
