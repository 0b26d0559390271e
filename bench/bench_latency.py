"""Round latency: from the call of ``submit`` to the next query being ready.

Run: ``.venv/bin/python bench/bench_latency.py`` (about 10 minutes on one
thread) or ``--quick`` (200 labels only, 6 rounds: under a minute). For each pool (10,000 moons points;
the CAD IMDb train set), each labelled-set size and each mode, a session with
the default settings (``SessionConfig()``: direction loss, boundary strategy,
retrain after every answer, full refit every 20 retrains) is pre-filled with N
answers of the exact oracle at random pool points (half per class) and
trained once from scratch; then ``--rounds`` rounds are timed, each
``submit`` of the oracle's answer to the open query + ``next_query``.

Modes:

- ``sync``: ``InlineTrainer``, in-memory store, what ``nudge
  simulate`` does: submit retrains (and scores the test split) before it returns.
- ``ui``: a ``SharedTrainer`` over a SQLite file, what ``nudge serve``
  does; the annotator takes longer than a retrain (the script waits, untimed,
  until the trainer is idle before each submit), so each next query is chosen
  with the model of the previous round while the retrain for the new answer
  runs on the other thread.
- ``ui-busy``: as ``ui`` but the answers come back at once, so the trainer
  never rests; "lag" is how many answers the model that chose the query had
  not seen yet.

Printed per row: median and p95 of the round (submit + next_query), of its
two parts, of the round plus ``AnnotationService.describe`` (the query's
projection, which the UI and ``/submit`` also wait for), the median retrain
time, and at the end the issue's targets (p95 at 200 labels: under 0.5 s on
2D, under 1 s on CAD) with pass/miss. ``--profile`` prints a cProfile of
the timed rounds of each row (the calling thread only).
"""

from __future__ import annotations

import cProfile
import dataclasses
import io
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from common import (
    ANNOTATOR,
    DATASET_LOADERS,
    bench_parser,
    median_p95,
    prefilled_session,
    print_end,
    start_run,
    submit_answer,
)

from nudge.loop.config.settings import SessionConfig
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import make_oracle
from nudge.loop.training.shared import SharedTrainer
from nudge.loop.training.trainer import InlineTrainer

MODES = ("sync", "ui", "ui-busy")
LABELS = (20, 100, 200, 500)
QUICK_LABELS = (200,)
TARGETS = {"moons": 0.5, "cad-imdb": 1.0}  # p95 seconds at TARGET_LABELS labels
TARGET_LABELS = 200


@dataclasses.dataclass
class RoundTimes:
    """Seconds per timed round, and the model lag (answers not yet learnt) at each query."""

    submit: list[float] = dataclasses.field(default_factory=list)
    next_query: list[float] = dataclasses.field(default_factory=list)
    describe: list[float] = dataclasses.field(default_factory=list)
    lag: list[int] = dataclasses.field(default_factory=list)
    train: list[float] = dataclasses.field(default_factory=list)

    @property
    def round(self) -> list[float]:
        return [s + q for s, q in zip(self.submit, self.next_query)]

    @property
    def with_describe(self) -> list[float]:
        return [r + d for r, d in zip(self.round, self.describe)]


def time_rounds(session: Session, mode: str, rounds: int, profiler: cProfile.Profile | None) -> RoundTimes:
    """Answer ``rounds`` queries with the exact oracle, timing each submit + next_query."""
    oracle = make_oracle("exact", session.dataset)
    service = AnnotationService(session)
    times = RoundTimes()
    query = session.next_query(ANNOTATOR)
    first_version = session.model.version
    for _ in range(rounds):
        answer = oracle.answer(query.point_id)
        if mode == "ui":
            session.wait_until_trained(timeout=600)
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        submit_answer(session, query.query_id, answer)
        submitted = time.perf_counter()
        query = session.next_query(ANNOTATOR)
        ready = time.perf_counter()
        service.describe(query)
        described = time.perf_counter()
        if profiler:
            profiler.disable()
        times.submit.append(submitted - start)
        times.next_query.append(ready - submitted)
        times.describe.append(described - ready)
        answered = len(session.labelled_points())
        times.lag.append(answered - session.model.n_labeled if mode == "ui-busy" else 0)
    session.wait_until_trained(timeout=600)
    history = session.log.evaluations.history()
    times.train = [row["train_seconds"] for row in history if row["model_version"] > first_version]
    return times


def print_row(name: str, n_labels: int, mode: str, times: RoundTimes) -> None:
    round_median, round_p95 = median_p95(times.round)
    submit_median, submit_p95 = median_p95(times.submit)
    next_median, next_p95 = median_p95(times.next_query)
    ui_median, ui_p95 = median_p95(times.with_describe)
    train = statistics.median(times.train) if times.train else float("nan")
    lag = f"{statistics.mean(times.lag):4.1f}" if mode == "ui-busy" else "   -"
    print(
        f"{name:<9} {n_labels:>6} {mode:<8} {round_median:>7.3f} {round_p95:>7.3f}  "
        f"{submit_median:>7.3f} {submit_p95:>7.3f}  {next_median:>7.3f} {next_p95:>7.3f}  "
        f"{ui_median:>7.3f} {ui_p95:>7.3f}  {train:>7.3f} {len(times.train):>4} {lag}",
        flush=True,
    )


def print_profile(profiler: cProfile.Profile, lines: int = 25) -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print("\n".join(out.getvalue().splitlines()[:lines + 12]))


def print_targets(results: dict[tuple[str, int, str], RoundTimes]) -> None:
    print(f"\ntargets: round p95 at {TARGET_LABELS} labels "
          + ", ".join(f"{name} < {limit} s" for name, limit in TARGETS.items()))
    for (name, n_labels, mode), times in results.items():
        if n_labels != TARGET_LABELS or name not in TARGETS:
            continue
        limit = TARGETS[name]
        for what, seconds in (("round", times.round), ("round+describe", times.with_describe)):
            p95 = median_p95(seconds)[1]
            verdict = (f"pass, {limit - p95:.3f} s to spare" if p95 < limit else f"MISS by {p95 - limit:.3f} s")
            verdict += f" ({p95 / limit:.2f}x the target)"
            print(f"  {name:<9} {mode:<8} {what:<15} p95 {p95:6.3f} s  {verdict}")


def main() -> None:
    parser = bench_parser(__doc__, quick=f"labels {QUICK_LABELS}, 6 rounds")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated from {MODES}")
    parser.add_argument("--labels", help=f"comma-separated labelled-set sizes (default {LABELS})")
    parser.add_argument("--rounds", type=int, help="timed rounds per row (default 20)")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed rounds of each row")
    args = start_run(parser)
    rounds = args.rounds or (6 if args.quick else 20)
    modes = args.modes.split(",")
    defaults = SessionConfig()
    print(f"{rounds} timed rounds per row; seconds; session defaults: loss {defaults.loss}, strategy "
          f"{defaults.strategy}, retrain every {defaults.retrain_every} answer(s), full refit every "
          f"{defaults.full_refit_every} retrains")
    print(f"{'pool':<9} {'labels':>6} {'mode':<8} {'round':>7} {'p95':>7}  {'submit':>7} {'p95':>7}  "
          f"{'next_q':>7} {'p95':>7}  {'+descr':>7} {'p95':>7}  {'retrain':>7} {'#':>4} {'lag':>4}")
    results: dict[tuple[str, int, str], RoundTimes] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets.split(","):
            dataset = DATASET_LOADERS[name]()
            sizes = [int(n) for n in args.labels.split(",")] if args.labels else (
                QUICK_LABELS if args.quick else LABELS)
            for n_labels in sizes:
                if n_labels + rounds + 1 > len(dataset.pool):
                    print(f"{name:<9} {n_labels:>6} skipped: the pool holds {len(dataset.pool)} points")
                    continue
                for mode in modes:
                    db = "sqlite://" if mode == "sync" else str(Path(folder) / f"{name}-{n_labels}-{mode}.db")
                    session = prefilled_session(dataset, n_labels, db=db, trainer=InlineTrainer() if mode == "sync" else SharedTrainer())
                    profiler = cProfile.Profile() if args.profile else None
                    try:
                        times = time_rounds(session, mode, rounds, profiler)
                    finally:
                        session.close()
                        session.store.close()
                    results[name, n_labels, mode] = times
                    print_row(name, n_labels, mode, times)
                    if profiler:
                        print_profile(profiler)
    print_targets(results)
    print_end()


if __name__ == "__main__":
    main()
