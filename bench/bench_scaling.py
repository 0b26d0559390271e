"""Scaled features: held-out accuracy of simulated sessions on a CSV whose columns differ in scale, raw vs standardised.

Run: ``.venv/bin/python bench/bench_scaling.py`` (5 seeds, 30 labels; a few minutes) or ``--quick``
(2 seeds). It writes a seeded CSV (``--rows`` rows, default 600) of three classes, each a Gaussian
blob in four features whose units differ by orders of magnitude (a ratio ~0.01, a length ~1, a price
~100, a count ~10,000: every feature carries as much of the class as the others once divided by its
spread), and runs ``nudge simulate``'s loop on it (nearest-opposite oracle, boundary strategy, the
default network) twice on the same seeds, splits and answers: ``--scaling none`` (the model sees the
file's numbers) and ``--scaling auto`` (standardised on the pool). It prints the held-out accuracy at
10, 20 and 30 labels per scaling: mean and range over the seeds, and their ratio in one run.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
from common import bench_parser, print_end, start_run

from nudge.loop.simulation.simulate import SimulationConfig, simulate

UNITS = np.array([0.01, 1.0, 100.0, 10_000.0])  # each feature's spread
CHECKPOINTS = (10, 20, 30)


def write_scaled_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Three classes, one Gaussian blob each in 4 features, then each feature in its own units."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.5, size=(3, len(UNITS)))
    labels = np.arange(rows) % 3
    points = (centres[labels] + rng.normal(size=(rows, len(UNITS)))) * UNITS
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ratio", "length", "price", "count", "class"])
        for point, label in zip(points, labels):
            writer.writerow([*(f"{v:.6g}" for v in point), ["a", "b", "c"][label]])


def accuracy_at(results: dict, labels: int) -> list[float]:
    """Each run's held-out accuracy once it had ``labels`` labels."""
    return [next(r["accuracy"] for r in run["rounds"] if r["n_labeled"] >= labels) for run in results["runs"]]


def main() -> None:
    parser = bench_parser(__doc__, "2 seeds instead of 5", datasets=None)
    parser.add_argument("--rows", type=int, default=600, help="rows of the CSV (default 600)")
    args = start_run(parser)
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "scaled.csv"
        write_scaled_csv(data, args.rows)
        curves = {}
        for scaling in ("none", "auto"):
            config = SimulationConfig(dataset=f"csv:{data}", dataset_options={"label_column": "class"},
                                      oracle="nearest-opposite", budget=max(CHECKPOINTS), seeds=seeds, scaling=scaling)
            curves[scaling] = {n: accuracy_at(simulate(config), n) for n in CHECKPOINTS}
    print(f"{args.rows} rows, 3 classes, features in units {UNITS.tolist()}; seeds {seeds}; held-out accuracy:")
    print(f"{'labels':>7} {'raw (none)':>22} {'standardised (auto)':>22} {'ratio':>6}")
    for n in CHECKPOINTS:
        raw, scaled = (np.array(curves[s][n]) for s in ("none", "auto"))
        print(f"{n:>7} {raw.mean():>8.1%} ({raw.min():.0%}-{raw.max():.0%})     "
              f"{scaled.mean():>8.1%} ({scaled.min():.0%}-{scaled.max():.0%})     {scaled.mean() / raw.mean():>5.2f}")
    print_end()


if __name__ == "__main__":
    main()
