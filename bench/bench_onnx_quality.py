"""Does the int8 ONNX encoder cost learning quality? CAD learning curves with both embeddings.

Run: ``.venv/bin/python bench/bench_onnx_quality.py`` (10 seeds; ``--quick``:
3 seeds, budget 50, 300 pairs per split). The CAD IMDb set is embedded with
the torch encoder and with the int8 ONNX one (each cached under its own model
identity); then the real loop (:func:`nudge.loop.simulation.simulate.simulate`, shipped
defaults, ten queries per round) runs ``direction`` with boundary querying,
with and without adding each revision as an example, on identical seeds and
splits with each embedding. It prints the cosine between the two embeddings
of every text, the accuracy table of bench_quality.py per encoder, and the
paired difference onnx - torch per seed with its 95% interval ("!" marks an
interval wholly below zero: the int8 embedding costs accuracy there).
"""

from __future__ import annotations

import time

import numpy as np
from bench_quality import accuracy_table, interval, print_scenario
from common import bench_parser, print_end, start_run

from nudge.estimators.encoders import SentenceEncoder
from nudge.estimators.onnx_encoder import OnnxSentenceEncoder
from nudge.loop.datasets import load_dataset
from nudge.loop.simulation.simulate import SimulationConfig, simulate

BUDGETS = (10, 50, 200)
ENCODERS = {"torch": SentenceEncoder, "onnx-int8": OnnxSentenceEncoder}


def agreement(options: dict) -> None:
    """Cosine between the torch and the int8 embedding of every CAD text (originals and revisions)."""
    vectors = {}
    for name, make in ENCODERS.items():
        data = load_dataset("cad-imdb", encoder=make(), **options)
        vectors[name] = np.concatenate([data.X, data.counterfactual_X])
    torch_vectors, onnx_vectors = vectors["torch"], vectors["onnx-int8"]
    cosine = np.einsum("ij,ij->i", torch_vectors, onnx_vectors) / (
        np.linalg.norm(torch_vectors, axis=1) * np.linalg.norm(onnx_vectors, axis=1))
    print(f"cosine(torch, onnx-int8) over {len(cosine)} CAD texts: mean {cosine.mean():.4f}, "
          f"median {np.median(cosine):.4f}, 1st percentile {np.percentile(cosine, 1):.4f}, "
          f"min {cosine.min():.4f}", flush=True)


def paired_difference(tables: dict[str, dict], budgets: tuple[int, ...]) -> None:
    print("  paired difference onnx-int8 - torch (points; 95% interval; ! = wholly below zero)")
    onnx_table, torch_table = tables["onnx-int8"], tables["torch"]
    for cell, seeds in onnx_table.items():
        cells = []
        for budget in budgets:
            shared = [s for s in seeds if budget in seeds[s] and budget in torch_table[cell].get(s, {})]
            diffs = np.array([seeds[s][budget] - torch_table[cell][s][budget] for s in shared]) * 100
            mean, half = interval(diffs)
            cells.append(f"{mean:+7.1f}±{half:4.1f}{'!' if mean + half < 0 else ' '}")
        loss, strategy, augment = cell
        print(f"  {loss + ' / ' + strategy + (' + augment' if augment else ''):44}" + "".join(cells))


def main() -> None:
    parser = bench_parser(__doc__, "3 seeds, budget 50, 300 pairs per split", datasets=None)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--data-dir", help="folder of the CAD files (default: found as nudge finds it)")
    args = start_run(parser)
    seeds = tuple(range(3 if args.quick else args.seeds))
    budgets = (10, 50) if args.quick else BUDGETS
    options = {"limit": 300} if args.quick else {}
    if args.data_dir:
        options["data_dir"] = args.data_dir
    agreement(options)
    results = {}
    for name, make in ENCODERS.items():
        config = SimulationConfig(
            dataset="cad-imdb", dataset_options=options,
            losses=("direction",), strategies=("boundary",), augment=(False, True),
            budget=max(budgets), batch_size=10, seeds=seeds,
        )
        started = time.perf_counter()
        results[name] = simulate(config, encoder=make())
        print(f"\n== cad-imdb, {name} embedding ({len(seeds)} seeds, {time.perf_counter() - started:.0f} s)")
        print("test accuracy, % (mean ± 95% interval half-width)")
        print_scenario(results[name], "accuracy", budgets)
    for key, title in (("accuracy", "original"), ("accuracy_revised", "revised")):
        print(f"\n== {title} test reviews: onnx-int8 against torch")
        paired_difference({name: accuracy_table(r, key, budgets) for name, r in results.items()}, budgets)
    print_end()


if __name__ == "__main__":
    main()
