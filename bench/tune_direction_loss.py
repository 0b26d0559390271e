"""How the estimator's defaults were chosen: loss variants on the CAD dev split.

Run: ``.venv/bin/python bench/tune_direction_loss.py`` (about 15 minutes on one
thread; ``--quick`` for 3 seeds and two budgets). For every seed and budget
it draws the same random labelled set of original reviews, fits each
candidate from scratch (no active learning: this isolates the loss) and prints
the mean accuracy and spread over seeds on the **dev** split, which is what
the defaults were picked on. ``--split test`` prints the test split instead,
for the record; never tune on it.

Directions are the human ones: E(revision) - E(original); "+aug" also adds
each revision as a labelled example of the other class (Kaushik et al.), with
the direction back to its original. "standardised": the network reads the
features centred on the pool's mean and divided by one spread, the root-mean-square of their
standard deviations (``nudge.loop.config.factory.pool_statistics``; one per feature before 83a5c95). Logistic regression (scikit-learn, C = 100,
the best of 1, 10, 100, 1000 on dev) is the reference a linear network should
reach. ``--encoder`` picks the text encoder (default: nudge's default).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from nudge.estimators import DirectionClassifier, pack_targets
from nudge.estimators.encoder_registry import DEFAULT_TEXT_ENCODER, TEXT_ENCODERS
from nudge.loop.config.factory import pool_statistics
from nudge.loop.datasets import Dataset, load_dataset

PAPER_FORM = {"criterion__hinge": "softplus", "criterion__derivative": "probability", "criterion__margin": 0.0}
# name -> (estimator settings, add the revisions as labelled examples)
CANDIDATES: dict[str, tuple[dict, bool]] = {
    "ce (labels only)": ({"criterion": "ce"}, False),
    "ce + aug": ({"criterion": "ce"}, True),
    "paper form (softplus, dp/dx, t=10)": (PAPER_FORM, False),
    "paper form, tanh hinge": ({**PAPER_FORM, "criterion__hinge": "tanh"}, False),
    "logit derivative, softplus": ({**PAPER_FORM, "criterion__derivative": "logit"}, False),
    "cosine, margin 0.5": ({"criterion__margin": 0.5}, False),
    "cosine, margin 1": ({}, False),
    "cosine, margin 1, alpha 0.25": ({"criterion__alpha": 0.25}, False),
    "gradient supervision": ({"criterion": "gradient-supervision"}, False),
    "cosine + aug": ({}, True),
    "ce, standardised": ({"criterion": "ce", "standardise": True}, False),
    "ce + aug, standardised": ({"criterion": "ce", "standardise": True}, True),
    "cosine, standardised (default)": ({"standardise": True}, False),
    "cosine + aug, standardised (default)": ({"standardise": True}, True),
    "cosine, standardised, alpha 0.25": ({"standardise": True, "criterion__alpha": 0.25}, False),
    "cosine, standardised, alpha 0.1": ({"standardise": True, "criterion__alpha": 0.1}, False),
    "cosine + aug, standardised, alpha 0.25": ({"standardise": True, "criterion__alpha": 0.25}, True),
    "cosine + aug, standardised, alpha 0.1": ({"standardise": True, "criterion__alpha": 0.1}, True),
    "logistic regression C=100": ({"logistic": True}, False),
    "logistic regression C=100 + aug": ({"logistic": True}, True),
}
NETWORKS = {"mlp 64-64": (64, 64), "mlp 64": (64,), "linear": ()}


def training_set(data: Dataset, index: np.ndarray, *, directions: bool, augment: bool):
    """X and packed y for the originals ``index`` (and their revisions when ``augment``)."""
    X, revised = data.X[index], data.counterfactual_X[index]
    labels = data.y[index]
    moves = revised - X
    usable = directions & np.isfinite(moves).all(axis=1) & (np.abs(moves).max(axis=1) > 1e-6)
    rows, row_labels, row_moves, row_usable = [X], [labels], [moves], [usable]
    if augment:
        has_revision = np.isfinite(revised).all(axis=1)
        rows.append(revised[has_revision])
        row_labels.append(1 - labels[has_revision])
        row_moves.append(-moves[has_revision])
        row_usable.append(usable[has_revision])
    X_all, labels_all = np.concatenate(rows), np.concatenate(row_labels)
    if not directions:
        return X_all, labels_all
    per_point = [m[None] if u else np.zeros((0, X.shape[1]))
                 for m, u in zip(np.concatenate(row_moves), np.concatenate(row_usable))]
    return X_all, pack_targets(labels_all, per_point, n_features=X.shape[1], classes=[0, 1])


def evaluate(data: Dataset, settings: dict, augment: bool, seeds: Sequence[int],
             budgets: Sequence[int], split: str) -> dict[int, list[float]]:
    """Accuracy on ``split`` per budget, one value per seed."""
    evaluation = data.dev if split == "dev" else data.test
    settings = dict(settings)
    logistic = settings.pop("logistic", False)
    if settings.pop("standardise", False):
        settings["module__center"], settings["module__scale"] = pool_statistics(data)
    directions = settings.get("criterion", "direction") != "ce" and not logistic
    scores: dict[int, list[float]] = {budget: [] for budget in budgets}
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(data.pool)
        for budget in budgets:
            X, y = training_set(data, order[:budget], directions=directions, augment=augment)
            if logistic:
                model = LogisticRegression(C=100, max_iter=2000).fit(X, y)
            else:
                model = DirectionClassifier(classes=[0, 1], random_state=seed, **settings).fit(X, y)
            scores[budget].append(float(np.mean(model.predict(data.X[evaluation]) == data.y[evaluation])))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, budgets 10 and 100")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"among {list(NETWORKS)}")
    parser.add_argument("--encoder", choices=tuple(TEXT_ENCODERS), default=DEFAULT_TEXT_ENCODER)
    parser.add_argument("--only", help="objectives separated by semicolons (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = range(3 if args.quick else args.seeds)
    budgets = (10, 100) if args.quick else (10, 20, 50, 100, 200)
    data = load_dataset("cad-imdb", encoder=args.encoder)
    print(f"CAD IMDb, {args.encoder}: {len(data.pool)} training originals, {len(data.dev)} dev, {len(data.test)} test; "
          f"accuracy on the {args.split} split, mean ± sd over {len(seeds)} seeds")
    print(f"{'network':10} {'objective':38}" + "".join(f"{b:>12}" for b in budgets))
    for network in args.networks.split(","):
        for name, (settings, augment) in CANDIDATES.items():
            if args.only and name not in args.only.split(";"):
                continue
            settings = {**settings, "module__hidden": NETWORKS[network]}
            scores = evaluate(data, settings, augment, seeds, budgets, args.split)
            cells = "".join(
                f"{100 * statistics.mean(s):7.1f}±{100 * statistics.stdev(s):4.1f}" for s in scores.values()
            )
            print(f"{network:10} {name:38}{cells}", flush=True)


if __name__ == "__main__":
    main()
