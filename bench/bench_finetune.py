"""Does a SetFit-style fine-tune of the text encoder pay over the frozen one? CAD IMDb, logistic regression.

Run: ``.venv/bin/python bench/bench_finetune.py --seeds 2 --jobs 2 --train-max-length 128`` (about 11 CPU
minutes a seed at 128 word pieces, about 25 at 256; ``--quick``: one seed, 20 labels, 40 pairs, 64 word
pieces, 40 dev and 40 test pairs).

Issue 18 item 3 asks whether a contrastive round on the answers, with the revisions as hard
negatives, gives a better model than the best frozen encoder (e5-small, the default). For each seed:

1. a seeded random sample of ``--labels`` CAD train reviews, each with its human revision (the
   opposite label): 2 x ``--labels`` labelled texts;
2. ``--pairs`` SetFit pairs over them: every review with its own revision (target cosine 0, the
   hard negatives), the rest half same-label pairs (target 1), half different-label pairs (target 0),
   drawn at random;
3. one epoch of sentence-transformers' ``CosineSimilarityLoss`` on a fresh float32 copy of the
   encoder (AdamW, lr ``--lr``, linear warm-up over the first 10% of steps, batches of 16, the forward
   pass under bfloat16 autocast; the texts cut at ``--train-max-length`` word pieces while training);
4. the tuned encoder (bfloat16 weights, as the frozen one runs, reading its full length) embeds the
   sampled reviews and revisions, the dev split and the 976 test texts (488 original, 488 revised);
5. logistic regression on the frozen and on the tuned vectors, with the sampled reviews only
   ("labels") and with their revisions as extra examples ("+ revisions"); C is the best of
   0.1-1000 on the dev reviews and their revisions (accuracy), as bench/README.md's encoder tables did.

Printed: per seed the original / revised test accuracy of each cell, the CPU seconds (this process)
of the fine-tune and of the re-embedding, and the load; then the means with their 95% intervals
(Student t over seeds) and the paired difference tuned - frozen. Nothing is downloaded; the tuned
copies live in a temporary folder and their vectors never enter nudge's embedding cache.
"""

from __future__ import annotations

import math
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from bench_quality import interval
from common import bench_parser, load_average, print_end, set_threads, start_run
from sentence_transformers import InputExample, SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
from sklearn.linear_model import LogisticRegression
from transformers import get_linear_schedule_with_warmup

from nudge.estimators.encoder_registry import DEFAULT_TEXT_ENCODER, encoder_spec, make_text_encoder, sentence_models
from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.datasets import Dataset, load_dataset

C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
BATCH = 16
WARMUP = 0.1
CELLS = ("labels", "+ revisions")
TESTS = ("original", "revised")


@dataclass(frozen=True)
class Split:
    """Texts of one part of the experiment with their labels: originals first, then their revisions."""

    texts: list[str]
    labels: np.ndarray

    @classmethod
    def of(cls, data: Dataset, rows: np.ndarray) -> Split:
        texts = [data.texts[i] for i in rows] + [data.counterfactual_texts[i] for i in rows]
        return cls(texts, np.concatenate([data.y[rows], 1 - data.y[rows]]))

    def vectors(self, data: Dataset, rows: np.ndarray) -> np.ndarray:
        """The frozen encoder's vectors of these texts (already in ``data``)."""
        return np.concatenate([data.X[rows], data.counterfactual_X[rows]])


def setfit_pairs(split: Split, n_pairs: int, rng: np.random.Generator) -> list[InputExample]:
    """Every original with its own revision (target 0), then random same-label (1) and different-label
    (0) pairs, half each, up to ``n_pairs``; a text is never paired with itself or its own revision
    outside the hard negatives."""
    n = len(split.texts) // 2
    pairs = [InputExample(texts=[split.texts[i], split.texts[i + n]], label=0.0) for i in range(n)]
    partner = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    while len(pairs) < n_pairs:
        first, second = (int(i) for i in rng.choice(2 * n, 2, replace=False))
        same = split.labels[first] == split.labels[second]
        wanted = len(pairs) % 2 == 0  # alternate: same-label, different-label
        if second == partner[first] or same != wanted:
            continue
        pairs.append(InputExample(texts=[split.texts[first], split.texts[second]], label=float(same)))
    order = rng.permutation(len(pairs))
    return [pairs[i] for i in order]


def fine_tune(folder: Path, pairs: Sequence[InputExample], *, prefix: str, max_length: int,
              lr: float) -> SentenceTransformer:
    """One epoch of CosineSimilarityLoss over ``pairs`` on a fresh float32 copy of the model in ``folder``."""
    model = SentenceTransformer(str(folder), local_files_only=True, device="cpu")
    full_length, model.max_seq_length = model.max_seq_length, max_length
    loss = CosineSimilarityLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = math.ceil(len(pairs) / BATCH)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(WARMUP * steps), steps)
    model.train()
    for start in range(0, len(pairs), BATCH):
        batch = pairs[start : start + BATCH]
        features = [model.preprocess([prefix + example.texts[side] for example in batch]) for side in (0, 1)]
        targets = torch.tensor([example.label for example in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss(features, targets)
        value.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    model.max_seq_length = full_length
    return model


def best_c(train: tuple[np.ndarray, np.ndarray], dev: tuple[np.ndarray, np.ndarray]) -> float:
    """The C of :data:`C_GRID` with the best dev accuracy (the smallest among ties)."""
    scores = [LogisticRegression(C=c, max_iter=5000).fit(*train).score(*dev) for c in C_GRID]
    return C_GRID[int(np.argmax(scores))]


def accuracies(vectors: dict[str, np.ndarray], splits: dict[str, Split], n_test: int) -> dict[str, tuple[float, float]]:
    """Cell -> (original, revised) test accuracy, %, of logistic regression on these vectors."""
    n_train = len(splits["train"].labels) // 2
    train_X, train_y = vectors["train"], splits["train"].labels
    dev = (vectors["dev"], splits["dev"].labels)
    test_X, test_y = vectors["test"], splits["test"].labels
    result = {}
    for cell, rows in zip(CELLS, (slice(0, n_train), slice(None))):
        train = (train_X[rows], train_y[rows])
        model = LogisticRegression(C=best_c(train, dev), max_iter=5000).fit(*train)
        result[cell] = tuple(100 * model.score(test_X[part], test_y[part])
                             for part in (slice(0, n_test), slice(n_test, None)))
    return result


def run_seed(seed: int, args) -> dict:
    """One seed, in its own process (:func:`main` runs ``--jobs`` at once): sample, fine-tune, re-embed,
    fit; the accuracies and this process's CPU seconds."""
    set_threads(args.threads)
    frozen = make_text_encoder(args.encoder)
    data = load_dataset("cad-imdb", encoder=frozen, **({"data_dir": args.data_dir} if args.data_dir else {}))
    rng = np.random.default_rng(seed)
    rows = {"train": rng.choice(data.pool, args.labels, replace=False), **evaluation_rows(data, args.quick)}
    splits = {name: Split.of(data, part) for name, part in rows.items()}
    pairs = setfit_pairs(splits["train"], args.pairs, rng)
    torch.manual_seed(seed)
    cpu, wall = time.process_time(), time.perf_counter()
    model = fine_tune(frozen.model_path, pairs, prefix=encoder_spec(args.encoder).prefix,
                      max_length=args.train_max_length, lr=args.lr)
    tune_cpu, tune_wall = time.process_time() - cpu, time.perf_counter() - wall
    with tempfile.TemporaryDirectory(prefix="nudge-finetune-") as folder:
        model.save(str(Path(folder) / "model"))
        del model
        tuned = SentenceEncoder(Path(folder) / "model", cache_dir=Path(folder) / "cache", dtype=frozen.dtype,
                                show_progress=False)
        cpu, wall = time.process_time(), time.perf_counter()
        tuned_vectors = {name: tuned.encode(split.texts) for name, split in splits.items()}
        embed_cpu, embed_wall = time.process_time() - cpu, time.perf_counter() - wall
    frozen_vectors = {name: split.vectors(data, rows[name]) for name, split in splits.items()}
    n_test = len(rows["test"])
    return {
        "frozen": accuracies(frozen_vectors, splits, n_test), "tuned": accuracies(tuned_vectors, splits, n_test),
        "pairs": len(pairs), "tune_cpu": tune_cpu, "tune_wall": tune_wall, "embed_cpu": embed_cpu,
        "embed_wall": embed_wall, "texts": sum(len(split.texts) for split in splits.values()), "load": load_average(),
    }


def evaluation_rows(data: Dataset, quick: bool) -> dict[str, np.ndarray]:
    """The dev and test reviews scored (40 of each with ``quick``)."""
    return {"dev": data.dev[:40], "test": data.test[:40]} if quick else {"dev": data.dev, "test": data.test}


def print_seed(seed: int, result: dict) -> None:
    cells = "  ".join(f"{encoder} {cell}: {result[encoder][cell][0]:.1f} / {result[encoder][cell][1]:.1f}"
                      for encoder in ("frozen", "tuned") for cell in CELLS)
    print(f"seed {seed}: {cells}", flush=True)
    print(f"  fine-tune {result['pairs']} pairs: {result['tune_cpu']:.0f} CPU s ({result['tune_wall']:.0f} s wall); "
          f"re-embed {result['texts']} texts: {result['embed_cpu']:.0f} CPU s ({result['embed_wall']:.0f} s wall); "
          f"load (1/5/15 min) {result['load']}", flush=True)


def print_summary(results: list[dict]) -> None:
    print(f"\n== {len(results)} seed(s): test accuracy, % (mean ± 95% interval half-width), original / revised")
    print(f"  {'':22}{'frozen':>26}{'tuned':>26}{'tuned - frozen (paired)':>30}")
    for cell in CELLS:
        line = []
        for part in range(len(TESTS)):
            frozen = np.array([r["frozen"][cell][part] for r in results])
            tuned = np.array([r["tuned"][cell][part] for r in results])
            line.append((interval(frozen), interval(tuned), interval(tuned - frozen)))
        text = [" / ".join(f"{mean:{sign}.1f}±{half:.1f}" for mean, half in (cells[k] for cells in line))
                for k, sign in ((0, ""), (1, ""), (2, "+"))]
        print(f"  {cell:22}{text[0]:>26}{text[1]:>26}{text[2]:>30}")
    for key, what in (("tune_cpu", "fine-tune CPU s"), ("embed_cpu", "re-embed CPU s")):
        mean, half = interval(np.array([r[key] for r in results]))
        print(f"  {what}: {mean:.0f} ± {half:.0f}")


def main() -> None:
    parser = bench_parser(__doc__, "one seed, 20 labels, 40 pairs, 64 word pieces, 40 dev and 40 test pairs",
                          datasets=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--encoder", choices=tuple(sentence_models()), default=DEFAULT_TEXT_ENCODER)
    parser.add_argument("--labels", type=int, default=200, help="train reviews sampled per seed (default 200)")
    parser.add_argument("--pairs", type=int, default=800, help="SetFit pairs per seed (default 800)")
    parser.add_argument("--train-max-length", type=int, default=256,
                        help="word pieces read per text while fine-tuning (default 256)")
    parser.add_argument("--lr", type=float, default=2e-5, help="AdamW learning rate (default 2e-5, SetFit's)")
    parser.add_argument("--data-dir", help="folder of the CAD files (default: found as nudge finds it)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, each in its own process (default 1)")
    args = start_run(parser)
    if args.quick:
        args.seeds, args.labels, args.pairs, args.train_max_length = 1, 20, 40, 64
    print(f"encoder {args.encoder}; {args.labels} labelled reviews with their revisions, {args.pairs} pairs, "
          f"1 epoch, batch {BATCH}, lr {args.lr}, fine-tune reads {args.train_max_length} word pieces; "
          f"{args.seeds} seed(s), {args.jobs} at once", flush=True)
    results = []
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for seed, result in enumerate(pool.map(run_seed, range(args.seeds), repeat(args))):
            results.append(result)
            print_seed(seed, result)
            if seed or args.seeds == 1:  # a summary after every seed from the second: an interrupted run has one
                print_summary(results)
    print_end()


if __name__ == "__main__":
    main()
