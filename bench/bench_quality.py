"""Do directions pay? Learning curves of the real loop, on identical seeds and splits.

Run: ``.venv/bin/python bench/bench_quality.py --out runs/quality`` (about an
hour on this 2-core machine; ``--quick`` for 3 seeds, budget 50, moons and a
CAD subset). Every scenario calls :func:`nudge.loop.simulation.simulate.simulate`, the code
behind ``nudge simulate``, with the shipped defaults: the losses ``ce``,
``direction`` and ``gradient-supervision``, and ``direction-paper`` (the
direction loss in the paper's form: softplus hinge on the probability's
derivative, t = 10) crossed with random and boundary
querying (and, for text, with and without adding each revision as a labelled
example), ten queries per round. For every cell it prints the mean held-out
test accuracy with its 95% confidence interval (Student t over seeds) at 10,
20, 50, 100 and 200 labels, then the paired difference direction - ce (same
seed, strategy and augmentation; for both forms) with its interval; a "!" marks an interval
that lies wholly below zero (directions cost accuracy there).

Scenarios: moons, circles and xor with the exact oracle (true label, direction
to the nearest point of the true boundary) and with a noisy one (30 degrees of
angular noise, 5% wrong labels); ``cad-imdb`` with the human revisions as
directions (E(revision) - E(original)), accuracy on the original test reviews
and on their revisions. Multiclass: ``gaussians`` (three blobs, as the
authors' 3-Gaussians), ``gaussians-9`` (nine blobs, as in the authors' thesis)
and ``digits`` (scikit-learn's, 64 features, 10 classes), each with the
nearest-opposite oracle (true label, direction to the nearest pool point of
another class, which is the direction's target class), and ``gaussians-9-exact``
with the exact oracle (the way to the nearest point of the true, Bayes,
boundary and the class beyond it). Each scenario's results.json, results.csv
and learning_curves.png go to ``--out/<scenario>``, rewritten after every seed
(``--report`` prints the tables of what is there, so a run stopped early keeps
its finished seeds); ``--only gaussians,gaussians-9,gaussians-9-exact,digits``
runs the multiclass ones alone, ``--losses ce,direction`` compares fewer losses,
``--encoder e5+mpnet`` embeds CAD with another text encoder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import load_average, print_end, print_machine, set_threads
from scipy import stats

from nudge.estimators.encoder_registry import DEFAULT_TEXT_ENCODER, TEXT_ENCODERS
from nudge.loop.config.references import encode
from nudge.loop.simulation.simulate import SimulationConfig, simulate, write_results

BUDGETS = (10, 20, 50, 100, 200)
LOSSES = ("ce", "direction", "gradient-supervision")
# The paper's form of the direction loss (docs/method.md section 2), run beside the shipped default.
PAPER_FORM = {"criterion__hinge": "softplus", "criterion__derivative": "probability", "criterion__margin": 0.0}
PAPER = "direction-paper"
STRATEGIES = ("random", "boundary")
NOISY = {"angle_noise": 30.0, "label_noise": 0.05}


@dataclass
class Scenario:
    name: str
    dataset: str
    oracle_noise: dict = field(default_factory=dict)
    augment: tuple[bool, ...] = (False,)
    dataset_options: dict = field(default_factory=dict)
    oracle: str = "exact"


MULTICLASS = [
    Scenario("gaussians", "gaussians", oracle="nearest-opposite"),
    Scenario("gaussians-9", "gaussians", oracle="nearest-opposite", dataset_options={"n_classes": 9}),
    # the same nine blobs with the true directions (to the nearest Bayes boundary), to tell the loss from the oracle
    Scenario("gaussians-9-exact", "gaussians", oracle="exact", dataset_options={"n_classes": 9}),
    Scenario("digits", "digits", oracle="nearest-opposite"),
]


def scenarios(quick: bool, encoder: str | None = None) -> list[Scenario]:
    """The scenarios of a run; ``encoder`` names CAD's text encoder (default: nudge's default)."""
    text = {} if encoder is None else {"encoder": encoder}
    if quick:
        return [Scenario("moons", "moons"),
                Scenario("cad-imdb", "cad-imdb", augment=(False, True), dataset_options={"limit": 300, **text}),
                *MULTICLASS]
    return [
        *(Scenario(name, name) for name in ("moons", "circles", "xor")),
        *(Scenario(f"{name}-noisy", name, NOISY) for name in ("moons", "circles", "xor")),
        Scenario("cad-imdb", "cad-imdb", augment=(False, True), dataset_options=text),
        *MULTICLASS,
    ]



def interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of its 95% Student-t interval (0 for a single value)."""
    if len(values) < 2:
        return float(values.mean()), 0.0
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def accuracy_table(results: dict, key: str, budgets: tuple[int, ...]) -> dict[tuple, dict[int, float]]:
    """(loss, strategy, augment) -> seed -> budget -> accuracy (rounds at the budgets only)."""
    table: dict[tuple, dict[int, dict[int, float]]] = {}
    for run in results["runs"]:
        cell = (run["loss"], run["strategy"], run.get("augment", False))
        by_budget = {r["n_labeled"]: r.get(key) for r in run["rounds"]}
        table.setdefault(cell, {})[run["seed"]] = {b: by_budget[b] for b in budgets if by_budget.get(b) is not None}
    return table


def print_scenario(results: dict, key: str, budgets: tuple[int, ...]) -> None:
    table = accuracy_table(results, key, budgets)
    print(f"  {'configuration':44}" + "".join(f"{b:>14}" for b in budgets))
    for (loss, strategy, augment), seeds in table.items():
        name = f"{loss} / {strategy}" + (" + augment" if augment else "")
        cells = []
        for budget in budgets:
            values = np.array([s[budget] for s in seeds.values() if budget in s]) * 100
            mean, half = interval(values) if len(values) else (np.nan, np.nan)
            cells.append(f"{mean:8.1f}±{half:4.1f}")
        print(f"  {name:44}" + "".join(cells))
    print("  paired difference direction - ce (points; 95% interval; ! = wholly below zero)")
    for (loss, strategy, augment), seeds in table.items():
        if not loss.startswith("direction") or ("ce", strategy, augment) not in table:
            continue
        reference = table[("ce", strategy, augment)]
        cells = []
        for budget in budgets:
            shared = [seed for seed in seeds if budget in seeds[seed] and budget in reference.get(seed, {})]
            diffs = np.array([seeds[s][budget] - reference[s][budget] for s in shared]) * 100
            mean, half = interval(diffs)
            flag = "!" if mean + half < 0 else " "
            cells.append(f"{mean:+7.1f}±{half:4.1f}{flag}")
        print(f"  {loss + ' - ce / ' + strategy + (' + augment' if augment else ''):44}" + "".join(cells))


def run_scenario(scenario: Scenario, seeds: tuple[int, ...], budgets: tuple[int, ...], losses: list[str],
                 out: Path) -> dict:
    """Every chosen loss on ``seeds``, one seed at a time; the results so far are written after each seed,
    so a run stopped early keeps its finished seeds (``--report`` prints them)."""
    shipped = [loss for loss in losses if loss != PAPER]
    runs: list[dict] = []
    for done, seed in enumerate(seeds, start=1):
        config = SimulationConfig(
            dataset=scenario.dataset, dataset_options=scenario.dataset_options, losses=tuple(shipped or LOSSES),
            strategies=STRATEGIES, augment=scenario.augment, budget=max(budgets), batch_size=10,
            seeds=(seed,), oracle=scenario.oracle, **scenario.oracle_noise,
        )
        started = time.perf_counter()
        seed_runs = simulate(config)["runs"] if shipped else []
        if PAPER in losses:
            paper = simulate(dataclasses.replace(config, losses=("direction",), estimator=PAPER_FORM))["runs"]
            for run in paper:
                run["loss"] = PAPER
            seed_runs += paper
        runs += seed_runs
        record = encode(dataclasses.asdict(dataclasses.replace(config, seeds=seeds[:done])), "the simulation settings")
        results = {"config": {**record, "losses": losses}, "runs": runs}
        write_results(results, out / scenario.name)
        print(f"  {scenario.name} seed {seed}: {len(seed_runs)} runs in "
              f"{time.perf_counter() - started:.0f} s, load average now {load_average()}", flush=True)
    return results


def report(results: dict, name: str, budgets: tuple[int, ...]) -> None:
    """Print one scenario's tables: accuracy, and on the revised test reviews when there are any."""
    seeds = sorted({run["seed"] for run in results["runs"]})
    print(f"\n== {name} ({len(seeds)} seeds: {seeds}; load average now {load_average()})")
    print("test accuracy, % (mean ± 95% interval half-width)")
    print_scenario(results, "accuracy", budgets)
    if any("accuracy_revised" in r for run in results["runs"] for r in run["rounds"]):
        print("accuracy on the revised test reviews, %")
        print_scenario(results, "accuracy_revised", budgets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/quality"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", help="comma-separated scenario names to run")
    parser.add_argument("--losses", default=",".join((*LOSSES, PAPER)),
                        help=f"comma-separated losses to compare (default all: {', '.join((*LOSSES, PAPER))})")
    parser.add_argument("--encoder", choices=tuple(TEXT_ENCODERS),
                        help=f"CAD's text encoder (default {DEFAULT_TEXT_ENCODER})")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: print the tables of the results already in --out")
    args = parser.parse_args()
    losses = args.losses.split(",")
    unknown = sorted(set(losses) - {*LOSSES, PAPER})
    if unknown:
        parser.error(f"unknown loss(es) {', '.join(unknown)}; choose from {', '.join((*LOSSES, PAPER))}")
    set_threads(1)
    print_machine(1)
    seeds = tuple(range(3 if args.quick else args.seeds))
    budgets = (10, 20, 50) if args.quick else BUDGETS
    chosen = scenarios(args.quick, args.encoder)
    if args.only:
        chosen = [s for s in chosen if s.name in args.only.split(",")]
    for scenario in chosen:
        if args.report:
            results = json.loads((args.out / scenario.name / "results.json").read_text())
        else:
            started = time.perf_counter()
            results = run_scenario(scenario, seeds, budgets, losses, args.out)
            print(f"  {scenario.name}: {time.perf_counter() - started:.0f} s, {scenario.oracle} oracle"
                  f"{', noise ' + str(scenario.oracle_noise) if scenario.oracle_noise else ''}")
        report(results, scenario.name, budgets)
    print_end()


if __name__ == "__main__":
    main()
