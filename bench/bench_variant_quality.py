"""Does a faster variant of a text encoder (int8 ONNX, bfloat16 weights) cost learning quality?
CAD learning curves with the float32 embedding and the variant's.

Run: ``.venv/bin/python bench/bench_variant_quality.py --encoder e5-small --variant bfloat16``
(default: minilm against onnx-int8; 10 seeds; ``--quick``: 3 seeds, budget 50, 300 pairs per
split). The CAD IMDb set is embedded with the encoder's float32 torch weights and with the
variant (each cached under its own identity); then the real loop
(:func:`nudge.loop.simulation.simulate.simulate`, shipped defaults, ten queries per round) runs ``direction``
with boundary querying, with and without adding each revision as an example, on identical seeds
and splits with each embedding. It prints the cosine between the two embeddings of every text,
the accuracy table of bench_quality.py per embedding, and the paired difference variant -
float32 per seed with its 95% interval ("!" marks an interval wholly below zero: the variant
costs accuracy there).

``--test-vectors-only`` is the cheap form for a slow float32 encoder: only the test reviews are
embedded both ways; the loop runs once, on the variant's embedding, and every round's model
scores the test reviews (originals and revisions) embedded each way, so the paired
difference is what the variant changes in the vectors a model reads.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from bench_quality import accuracy_table, interval, print_scenario
from common import bench_parser, print_end, start_run

from nudge.estimators.encoder_registry import TEXT_ENCODERS, make_text_encoder
from nudge.loop.datasets import load_dataset
from nudge.loop.simulation.simulate import SimulationConfig, run_once, simulate

BUDGETS = (10, 50, 200)
REFERENCE = "float32"


def make_variant(encoder: str, variant: str):
    """The encoder ``encoder`` as ``variant``: a torch precision, or ``onnx-int8``."""
    if variant == "onnx-int8":
        return make_text_encoder(encoder, backend="onnx-int8")
    return make_text_encoder(encoder, dtype=variant)


def agreement(encoders: dict, options: dict) -> None:
    """Cosine between the two embeddings of every CAD text (originals and revisions)."""
    vectors = {}
    for name, encoder in encoders.items():
        data = load_dataset("cad-imdb", encoder=encoder, **options)
        vectors[name] = np.concatenate([data.X, data.counterfactual_X])
    (reference, first), (variant, second) = vectors.items()
    cosine = np.einsum("ij,ij->i", first, second) / (np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1))
    print(f"cosine({reference}, {variant}) over {len(cosine)} CAD texts: mean {cosine.mean():.5f}, "
          f"median {np.median(cosine):.5f}, 1st percentile {np.percentile(cosine, 1):.5f}, "
          f"min {cosine.min():.5f}", flush=True)


def paired_difference(tables: dict[str, dict], budgets: tuple[int, ...]) -> None:
    (reference, reference_table), (variant, variant_table) = tables.items()
    print(f"  paired difference {variant} - {reference} (points; 95% interval; ! = wholly below zero)")
    for cell, seeds in variant_table.items():
        cells = []
        for budget in budgets:
            shared = [s for s in seeds if budget in seeds[s] and budget in reference_table[cell].get(s, {})]
            diffs = np.array([seeds[s][budget] - reference_table[cell][s][budget] for s in shared]) * 100
            mean, half = interval(diffs)
            cells.append(f"{mean:+7.1f}±{half:4.1f}{'!' if mean + half < 0 else ' '}")
        loss, strategy, augment = cell
        print(f"  {loss + ' / ' + strategy + (' + augment' if augment else ''):44}" + "".join(cells))


def test_vectors_only(encoders: dict, options: dict, seeds: tuple, budgets: tuple) -> None:
    """The loop on the variant's embedding; its models score the test reviews embedded both ways."""
    reference, variant = encoders
    data = load_dataset("cad-imdb", encoder=encoders[variant], **options)
    test_texts = [data.texts[i] for i in data.test] + [data.counterfactual_texts[i] for i in data.test]
    tests = {name: encoder.encode(test_texts) for name, encoder in encoders.items()}
    cosine = np.einsum("ij,ij->i", tests[reference], tests[variant])
    print(f"cosine({reference}, {variant}) over the {len(cosine)} test texts: mean {cosine.mean():.5f}, "
          f"min {cosine.min():.5f}", flush=True)
    labels = np.concatenate([data.y[data.test], 1 - data.y[data.test]])
    half = len(data.test)
    data = dataclasses.replace(data, extra_tests={
        f"{name} {part}": (vectors[rows], labels[rows]) for name, vectors in tests.items()
        for part, rows in (("original", slice(None, half)), ("revised", slice(half, None)))})
    config = SimulationConfig(dataset="cad-imdb", dataset_options=options, losses=("direction",),
                              strategies=("boundary",), budget=max(budgets), batch_size=10, seeds=seeds)
    lines = {"original": [], "revised": []}
    for augment in (False, True):
        runs = [run_once(data, config, loss="direction", strategy="boundary", augment=augment, seed=seed)
                for seed in seeds]
        for title in lines:
            cells = []
            for budget in budgets:
                rounds = [next(r for r in run["rounds"] if r["n_labeled"] == budget) for run in runs]
                first = np.array([r[f"accuracy_{reference} {title}"] for r in rounds]) * 100
                second = np.array([r[f"accuracy_{variant} {title}"] for r in rounds]) * 100
                mean, width = interval(second - first)
                cells.append(f"{first.mean():6.1f} {second.mean():6.1f} {mean:+5.1f}±{width:3.1f}")
            lines[title].append(f"  {'direction / boundary' + (' + augment' if augment else ''):32}" + "  ".join(cells))
    for title, rows in lines.items():
        print(f"\n{title} test reviews, %: the same models on {reference} / {variant} test vectors, paired difference")
        print("\n".join(rows))


def main() -> None:
    parser = bench_parser(__doc__, "3 seeds, budget 50, 300 pairs per split", datasets=None)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--encoder", choices=tuple(TEXT_ENCODERS), default="minilm")
    parser.add_argument("--variant", choices=("onnx-int8", "bfloat16"), default="onnx-int8")
    parser.add_argument("--data-dir", help="folder of the CAD files (default: found as nudge finds it)")
    parser.add_argument("--test-vectors-only", action="store_true",
                        help="embed only the test reviews both ways (see the module docstring)")
    args = start_run(parser)
    seeds = tuple(range(3 if args.quick else args.seeds))
    budgets = (10, 50) if args.quick else BUDGETS
    options = {"limit": 300} if args.quick else {}
    if args.data_dir:
        options["data_dir"] = args.data_dir
    encoders = {REFERENCE: make_variant(args.encoder, REFERENCE), args.variant: make_variant(args.encoder, args.variant)}
    print(f"encoder {args.encoder}: {REFERENCE} against {args.variant}")
    if args.test_vectors_only:
        test_vectors_only(encoders, options, seeds, budgets)
        print_end()
        return
    agreement(encoders, options)
    results = {}
    for name, encoder in encoders.items():
        config = SimulationConfig(
            dataset="cad-imdb", dataset_options=options,
            losses=("direction",), strategies=("boundary",), augment=(False, True),
            budget=max(budgets), batch_size=10, seeds=seeds,
        )
        started = time.perf_counter()
        results[name] = simulate(config, encoder=encoder)
        print(f"\n== cad-imdb, {name} embedding ({len(seeds)} seeds, {time.perf_counter() - started:.0f} s)")
        print("test accuracy, % (mean ± 95% interval half-width)")
        print_scenario(results[name], "accuracy", budgets)
    for key, title in (("accuracy", "original"), ("accuracy_revised", "revised")):
        print(f"\n== {title} test reviews: {args.variant} against {REFERENCE}")
        paired_difference({name: accuracy_table(r, key, budgets) for name, r in results.items()}, budgets)
    print_end()


if __name__ == "__main__":
    main()
