"""The benchmark scripts' shared helpers, and that every script still imports against the product.

The scripts themselves measure (``python bench/<name>.py --quick``); these
tests only keep them from rotting silently when the loop's API changes.
"""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_NET

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = ["bench_baseline", "bench_embed", "bench_finetune", "bench_highlights", "bench_latency", "bench_memory",
           "bench_page", "bench_quality", "bench_scaling", "bench_strategies", "bench_team", "bench_training",
           "bench_variant_quality", "bench_wide"]


@pytest.fixture(scope="module")
def common():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("common")
    finally:
        sys.path.remove(str(BENCH))



@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_imports_and_has_a_main(common, script):
    module = importlib.import_module(script)
    assert callable(module.main)
    assert module.__doc__.splitlines()[0].strip()  # the --help description


def test_balanced_sample_draws_distinct_pool_points_half_per_class(common, moons):
    picked = common.balanced_sample(moons, 11, seed=3)
    assert len(set(picked.tolist())) == 11 and set(picked.tolist()) <= set(moons.pool.tolist())
    assert sorted(np.bincount(moons.y[picked]).tolist()) == [5, 6]
    assert np.array_equal(picked, common.balanced_sample(moons, 11, seed=3))  # seeded


def test_prefilled_session_holds_the_sample_and_is_trained_once(common, moons):
    config = SessionConfig(dataset="moons", estimator=SMALL_NET)
    session = common.prefilled_session(moons, 12, config=config)
    expected = common.balanced_sample(moons, 12)
    assert session.labelled_points() == {int(p): int(moons.y[p]) for p in expected}  # exact oracle: true labels
    assert session.model.version == 1 and session.model.n_labeled == 12
    assert session.model.n_directions > 0  # the exact oracle gives directions on moons
    assert session.config.retrain_every == 1  # the filler's "no retrain" setting does not leak


def test_median_p95_and_timed(common):
    median, p95 = common.median_p95([1.0, 2.0, 3.0, 4.0, 100.0])
    assert median == 3.0 and 4.0 < p95 < 100.0
    value, seconds = common.timed(lambda: 7)
    assert value == 7 and seconds >= 0


def test_highlight_scores_count_the_changed_words_among_the_top_ranked(common):
    highlights = importlib.import_module("bench_highlights")
    order = np.array([4, 0, 7, 1, 2, 9, 3, 5, 6, 8, 10])
    precision, recall = highlights.precision_recall(order, frozenset({0, 2, 5, 10}))
    assert precision == 2 / 5 and recall == 3 / 4  # top 5: 0, 2; top 10: 0, 2, 5 of four changed
    rng = np.random.default_rng(0)
    ranked = highlights.ranked(np.array([0.5, -2.0, 0.5, 3.0]), np.array([True, True, True, False]), rng)
    assert ranked[2] == 1 and set(ranked[:2]) == {0, 2}  # the unread word 3 is not ranked


def test_only_pairs_whose_revision_changed_a_word_are_scored(common):
    highlights = importlib.import_module("bench_highlights")
    texts = ["a good film", "fine acting", "a dull plot"]
    revisions = ["a bad film", "fine acting, really", "a dull plot!"]
    dataset = Dataset("pairs", np.zeros((3, 2), np.float32), np.array([1, 1, 0]), ["Negative", "Positive"],
                      np.array([0]), np.array([1, 2]), dev=np.array([]), texts=texts,
                      counterfactual_texts=revisions)
    assert highlights.scored_pairs(dataset, "test", None) == []  # an insertion, punctuation: no word changed
    (pair,) = highlights.scored_pairs(dataset, "pool", None)
    assert pair.changed == frozenset({1}) and pair.n_words == 3 and pair.label == 1
