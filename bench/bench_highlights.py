"""Do the highlights point at the words people change? Word attributions against CAD's human revisions.

Run (from the repository root; the shared CAD copy is found beside the project, else pass --data-dir):

    .venv/bin/python bench/bench_highlights.py --split dev --methods 1,8,hidden --seeds 2 --pairs 80   # the choice
    .venv/bin/python bench/bench_highlights.py --split test            # once, with the shipped method (hidden)
    .venv/bin/python bench/bench_highlights.py --quick                 # under a minute

Methods: a number of integrated-gradients steps on the word-piece embeddings (1 = gradient x
input), "hidden" (each word piece's share through the last hidden states) or "occlusion" (each
word left out and the text embedded again by the encoder, one batch per review; "occlusion:3":
runs of three words left out, a word getting the mean drop of the runs holding it; "occlusion@32":
only the 32 words with the largest hidden-state shares left out).
``--encoder`` picks the sentence model (default: the text default); ``--limit N`` loads N pairs of
each split only (the pool too), so a slow encoder embeds fewer texts.

For models trained by the loop (shipped session defaults: direction loss, boundary querying,
rewrites also added as examples, the exact oracle answering with the human revisions; retrained
every 10 answers as bench_quality.py does) on 20, 50 and 200 labels, one model per seed, every
pair of the chosen CAD split is scored: the words of the original review ranked by their
attribution towards the review's own (gold) class -- the class its writer had to change -- are
compared with the words the human revision replaced or deleted (a case-blind word diff,
nudge.loop.service.explain.word_changes). precision@5 = share of the top 5 that were changed; recall@10 =
share of the changed words among the top 10. Pairs whose revision only inserts words are left
out. Next to them: random words (ranked at random) and the VADER sentiment lexicon (words ranked
by valence towards the review's class; ties at random), which needs ``vaderSentiment``
(``pip install -c constraints.txt '.[bench]'``). Rankings are "signed" (towards the class) or
"absolute" (|weight|, either way). Cells: mean over pairs of the per-pair score averaged over
seeds, +- half-width of its 95% Student-t interval over pairs.

Then latency on ``--threads`` and on 2 threads: nudge.loop.service.explain.Explainer.explain and predict_text
(a query's revision, with a word added so that it is not in the embedding cache, read as its rewrite) for ``--latency-reviews`` train-split reviews (never
test), with a 200-label model; median and p95, the load average beside.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_quality import interval
from common import load_average, median_p95, print_end, print_machine, set_threads, submit_answer

from nudge.estimators.attribution import OcclusionAttributor, SentenceAttributor, word_spans
from nudge.estimators.encoder_registry import DEFAULT_TEXT_ENCODER, make_text_encoder
from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset, spread
from nudge.loop.service.explain import DEFAULT_ATTRIBUTOR, Explainer, hidden_state_shares, word_changes
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import make_oracle
from nudge.loop.store.store import Store
from nudge.loop.training.snapshot import ModelSnapshot

BUDGETS = (20, 50, 200)
QUERIES_PER_ROUND = 10
TOP_PRECISION, TOP_RECALL = 5, 10
RANKINGS = ("signed", "absolute")


@dataclasses.dataclass(frozen=True)
class Pair:
    """A CAD pair to score: the original, its class, and which of its words the revision changed."""

    original: str
    revision: str
    label: int
    n_words: int
    changed: frozenset[int]  # indices into word_spans(original)


def scored_pairs(dataset: Dataset, split: str, limit: int | None) -> list[Pair]:
    """The split's pairs (``limit`` of them, spread through it) whose revision changed an original word."""
    pairs = []
    for index in spread(list(getattr(dataset, split)), limit):
        original, revision = dataset.texts[index], dataset.counterfactual_texts[index]
        before, _, changes = word_changes(original, revision)
        changed = frozenset(i for c in changes for i in range(c.i1, c.i2))
        if changed:
            pairs.append(Pair(original, revision, int(dataset.y[index]), len(before), changed))
    return pairs


def precision_recall(order: np.ndarray, changed: frozenset[int]) -> tuple[float, float]:
    """precision@5 and recall@10 of word indices ranked best first."""
    top_p, top_r = order[:TOP_PRECISION], order[:TOP_RECALL]
    precision = sum(int(i) in changed for i in top_p) / max(len(top_p), 1)
    recall = sum(int(i) in changed for i in top_r) / len(changed)
    return precision, recall


def ranked(scores: np.ndarray, candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``candidates`` (a mask) by score, highest first; ties in random order."""
    indices = np.flatnonzero(candidates)
    shuffled = rng.permutation(indices)
    return shuffled[np.argsort(-scores[shuffled], kind="stable")]


def rankings_of(towards_class: np.ndarray, candidates: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"signed": ranked(towards_class, candidates, rng),
            "absolute": ranked(np.abs(towards_class), candidates, rng)}


# --------------------------------------------------------------------------- models


def train_models(dataset: Dataset, seed: int, budgets: tuple[int, ...]) -> tuple[Session, dict[int, ModelSnapshot]]:
    """The loop's model at each budget for one seed (shipped defaults, exact oracle, 10 answers a
    round), and the session, whose current model is the last budget's."""
    config = SessionConfig(dataset=dataset.name, seed=seed, retrain_every=QUERIES_PER_ROUND)
    session = Session.create(Store("sqlite://"), config, dataset=dataset)
    oracle = make_oracle("exact", dataset, seed=seed)
    models = {}
    for budget in sorted(budgets):
        while session.model.n_labeled < budget:
            for query in session.next_queries("bench", min(QUERIES_PER_ROUND, budget - session.model.n_labeled)):
                submit_answer(session, query.query_id, oracle.answer(query.point_id))
            if session.model.n_labeled < budget and session.model.n_labeled % QUERIES_PER_ROUND:
                session.retrain()
        models[budget] = session.model
    return session, models


# --------------------------------------------------------------------------- scores


def lexicon_valence() -> Callable[[str], float]:
    """word -> VADER valence (0 when absent), from the lexicon file shipped in vaderSentiment."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise SystemExit("the lexicon baseline needs vaderSentiment: pip install -c constraints.txt '.[bench]'") from None
    lexicon = SentimentIntensityAnalyzer().lexicon
    return lambda word: float(lexicon.get(word.lower(), 0.0))


def baseline_scores(pairs: list[Pair], seeds: list[int]) -> dict[str, np.ndarray]:
    """name -> (pairs, seeds, 2) precision and recall of the random and lexicon rankings."""
    valence = lexicon_valence()
    out = {name: np.zeros((len(pairs), len(seeds), 2)) for name in
           ("random words", *(f"VADER lexicon, {r}" for r in RANKINGS))}
    for p, pair in enumerate(pairs):
        spans = word_spans(pair.original)
        sign = 1.0 if pair.label == 1 else -1.0
        scores = sign * np.array([valence(pair.original[a:b]) for a, b in spans])
        everything = np.ones(len(spans), dtype=bool)
        for s, seed in enumerate(seeds):
            rng = np.random.default_rng([seed, p])
            out["random words"][p, s] = precision_recall(rng.permutation(len(spans)), pair.changed)
            for ranking, order in rankings_of(scores, everything, rng).items():
                out[f"VADER lexicon, {ranking}"][p, s] = precision_recall(order, pair.changed)
    return out


def attribution_scores(pairs: list[Pair], models: dict[int, dict[int, ModelSnapshot]], attributor: SentenceAttributor,
                       seeds: list[int]) -> tuple[dict[tuple[str, int], np.ndarray], list[float]]:
    """(ranking, budget) -> (pairs, seeds, 2) precision and recall; and the seconds of each attribution."""
    budgets = sorted(next(iter(models.values())))
    out = {(r, b): np.zeros((len(pairs), len(seeds), 2)) for r in RANKINGS for b in budgets}
    seconds = []
    for p, pair in enumerate(pairs):
        for s, seed in enumerate(seeds):
            rng = np.random.default_rng([seed, p, 1])
            for budget in budgets:
                started = time.perf_counter()
                result = attributor.attribute(pair.original, models[seed][budget].estimator.module_)
                seconds.append(time.perf_counter() - started)
                for ranking, order in rankings_of(result.weights[:, pair.label], result.read, rng).items():
                    out[ranking, budget][p, s] = precision_recall(order, pair.changed)
    return out, seconds


def attributor_named(method: str, encoder: SentenceEncoder) -> tuple[SentenceAttributor, str]:
    """A --methods entry: a number of integrated-gradients steps on the word-piece embeddings
    (1: gradient x input), "hidden" (shares of the last hidden states) or "occlusion[:WINDOW]"."""
    if method == "hidden":
        return hidden_state_shares(encoder), "hidden-state shares"
    if method.startswith("occlusion"):
        window = int(method.partition(":")[2] or 1)
        shortlist = int(method.partition("@")[2]) if "@" in method else None
        name = ("occlusion" + ("" if window == 1 else f", {window}-word runs")
                + ("" if shortlist is None else f", top {shortlist} hidden"))
        attributor = OcclusionAttributor(encoder.sentence_model(), encoder.embed_uncached, window=window,
                                         shortlist=shortlist, head=encoder.logits_through_model)
        return attributor, name
    steps = int(method)
    name = "gradient x input" if steps == 1 else f"integrated gradients, {steps} steps"
    return SentenceAttributor(encoder.sentence_model(), n_steps=steps, head=encoder.logits_through_model), name


def cell(values: np.ndarray) -> str:
    """'mean±half' in % of a (pairs, seeds) array: seeds averaged per pair, interval over pairs."""
    mean, half = interval(values.mean(axis=1) * 100)
    return f"{mean:5.1f}±{half:4.1f}"


def print_against_lexicon(rows: dict[str, dict[int, np.ndarray]], budget: int) -> None:
    """Each model ranking's precision@5 minus the signed lexicon's, paired over the same pairs."""
    lexicon = rows["VADER lexicon, signed"][budget][..., 0].mean(axis=1)
    print(f"precision@5 minus the VADER lexicon's (signed), same pairs, {budget} labels (mean ± 95% interval):")
    for name, by_budget in rows.items():
        if not name.startswith(("random", "VADER")):
            mean, half = interval((by_budget[budget][..., 0].mean(axis=1) - lexicon) * 100)
            print(f"  {name:40}{mean:+6.1f}±{half:4.1f}")


def print_table(rows: dict[str, dict[int, np.ndarray]], budgets: list[int]) -> None:
    header = "".join(f"{f'p@5 {b}':>13}{f'r@10 {b}':>13}" for b in budgets)
    print(f"  {'ranking (labels:)':40}{header}")
    for name, by_budget in rows.items():
        print(f"  {name:40}" + "".join(f"{cell(by_budget[b][..., 0]):>13}{cell(by_budget[b][..., 1]):>13}"
                                       for b in budgets))


# --------------------------------------------------------------------------- latency


def latency(dataset: Dataset, model_session: Session, encoder: SentenceEncoder, n_reviews: int,
            threads: int) -> dict[str, tuple[float, float]]:
    """Median and p95 seconds of explain and predict_text (a query's revision) on ``n_reviews`` queries."""
    set_threads(threads)
    explainer = Explainer(model_session, encoder)
    queries = model_session.next_queries("latency", n_reviews)
    timings: dict[str, list[float]] = {"explain": [], "predict_text": []}
    try:
        explainer.explain(queries[0].query_id)  # loads the model; not timed
        for query in queries:
            started = time.perf_counter()
            explainer.explain(query.query_id)
            timings["explain"].append(time.perf_counter() - started)
            started = time.perf_counter()
            draft = dataset.counterfactual_texts[query.point_id] + " Really."  # not in the embedding cache
            explainer.predict_text(draft, query.query_id)
            timings["predict_text"].append(time.perf_counter() - started)
    finally:
        explainer.close()
    return {name: median_p95(values) for name, values in timings.items()}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--methods", default="hidden",
                        help="comma-separated: integrated-gradients steps (1 = gradient x input) or 'hidden' "
                             "(default hidden, shipped)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--pairs", type=int, help="score only this many pairs, spread through the split (default all)")
    parser.add_argument("--encoder", default=DEFAULT_TEXT_ENCODER, help=f"text encoder (default {DEFAULT_TEXT_ENCODER})")
    parser.add_argument("--limit", type=int, help="load only this many pairs of each split (default all)")
    parser.add_argument("--latency-reviews", type=int, default=100)
    parser.add_argument("--data-dir", help="the CAD folder (default: beside the project, or the cache)")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    parser.add_argument("--out", type=Path, help="write the per-pair scores as JSON here")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 labels, 12 pairs, 5 latency reviews")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budgets, args.pairs, args.latency_reviews = 2, "20", 12, 5
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = args.methods.split(",")
    seeds = list(range(args.seeds))
    set_threads(args.threads)
    print_machine(args.threads)

    encoder = make_text_encoder(args.encoder)
    dataset = load_dataset("cad-imdb", data_dir=args.data_dir, encoder=encoder, limit=args.limit)
    print(f"encoder {args.encoder}; {len(dataset.pool)} pool reviews, {len(dataset.test)} test", flush=True)
    pairs = scored_pairs(dataset, args.split, args.pairs)
    print(f"{args.split} split: {len(pairs)} pairs scored (revisions that only insert words left out); "
          f"{np.mean([len(p.changed) for p in pairs]):.1f} changed of {np.mean([p.n_words for p in pairs]):.0f} "
          "words per review on average")
    started = time.perf_counter()
    sessions, models = {}, {}
    for seed in seeds:
        sessions[seed], models[seed] = train_models(dataset, seed, tuple(budgets))
    accuracy = {b: np.mean([models[s][b].accuracy for s in seeds]) * 100 for b in budgets}
    print(f"trained {len(seeds)} seeds x {budgets} labels in {time.perf_counter() - started:.0f} s; mean test "
          f"accuracy " + ", ".join(f"{b}: {a:.1f}%" for b, a in accuracy.items()), flush=True)

    baselines = baseline_scores(pairs, seeds)
    rows = {name: {b: values for b in budgets} for name, values in baselines.items()}
    saved = {name: values.tolist() for name, values in baselines.items()}
    for method in methods:
        attributor, name = attributor_named(method, encoder)
        scores, seconds = attribution_scores(pairs, models, attributor, seeds)
        for ranking in RANKINGS:
            rows[f"{name}, {ranking}"] = {b: scores[ranking, b] for b in budgets}
            saved[f"{name}, {ranking}"] = {b: scores[ranking, b].tolist() for b in budgets}
        median, p95 = median_p95(seconds)
        print(f"\n{name}: {len(seconds)} attributions, median {median:.3f} s, p95 {p95:.3f} s "
              f"on {args.threads} thread(s), load {load_average()}")
        print(f"precision@5 and recall@10 (%) against the words the human revision changed, {args.split} split, "
              f"{len(seeds)} seeds (mean ± 95% interval over pairs)")
        print_table(rows, budgets)
        print_against_lexicon(rows, max(budgets))
        sys.stdout.flush()

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"split": args.split, "budgets": budgets, "seeds": seeds, "scores": saved}))
    unlabelled = len(dataset.pool) - max(budgets)
    if args.latency_reviews > unlabelled:
        print(f"\nlatency not measured: {args.latency_reviews} queries asked, {unlabelled} pool reviews unlabelled")
    elif args.latency_reviews:
        print(f"\nlatency over {args.latency_reviews} train-split reviews, {max(budgets)}-label model, "
              f"{DEFAULT_ATTRIBUTOR.__name__} (seconds)")
        for threads in dict.fromkeys((args.threads, 2)):
            load = load_average()
            timing = latency(dataset, sessions[seeds[0]], encoder, args.latency_reviews, threads)
            print("  " + f"{threads} thread(s): " + ", ".join(
                f"{name} median {m:.3f} p95 {p:.3f}" for name, (m, p) in timing.items()) + f"  (load before {load})")
    print_end()


if __name__ == "__main__":
    main()
