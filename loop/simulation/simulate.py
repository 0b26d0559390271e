"""Scripted loops: a simulated annotator answers instead of a person.

:func:`simulate` runs every combination of losses, strategies and
augmentation settings on the same seeds, data splits and oracle answers, and
returns (and writes) the learning curves.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nudge.loop.config.factory import training_report
from nudge.loop.config.references import encode
from nudge.loop.config.settings import SessionConfig, SharedSettings
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import apply_answer, default_oracle, make_oracle
from nudge.loop.store.store import Store

SIMULATED_ANNOTATOR = "oracle"


@dataclass
class SimulationConfig(SharedSettings):
    """What ``nudge simulate`` runs: sessions with the :class:`~nudge.loop.config.settings.SharedSettings`
    (the data set, the estimator as a dict, an object or a factory, the retraining policy, stopping
    criteria: as :class:`SessionConfig` takes them), one for every combination of the lists below
    (each a set of values to compare) on every seed.

    losses / strategies / augment / seeds : compared values of the session's ``loss``, ``strategy``
        (names or functions, as ``SessionConfig`` takes them), ``augment_rewrites`` and ``seed``.
        An estimator that brings its own criterion (an object, a factory, or a dict naming
        ``criterion``) takes one loss: the runs report that criterion as their loss.
    oracle : the simulated annotator (None: the best one the data set allows,
        :func:`nudge.loop.simulation.oracles.default_oracle`), with ``label_noise`` and ``angle_noise``.
    budget : labels per run; batch_size : queries per round (each round ends with a retrain).
    """

    losses: Sequence[str] = (SessionConfig.loss,)
    strategies: Sequence[str | Callable] = (SessionConfig.strategy,)
    augment: Sequence[bool] = (False,)
    seeds: Sequence[int] = (SessionConfig.seed,)
    oracle: str | None = None
    label_noise: float = 0.0
    angle_noise: float = 0.0
    budget: int = 50
    batch_size: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.budget < 1:
            raise ValueError("the budget must be at least one label")
        if self.batch_size < 1:
            raise ValueError("the batch size must be at least 1")
        if not self.seeds:
            raise ValueError("give at least one seed")
        for name, values in (("loss", self.losses), ("strategy", self.strategies)):
            if not values:
                raise ValueError(f"give at least one {name}")
        if len(self.losses) > 1 and not _takes_loss(self.estimator):
            raise ValueError(
                f"losses {list(self.losses)} compare the default network's objectives, but this estimator "
                "brings its own criterion: give one loss, and compare criteria through the estimator"
            )
        for loss, strategy, augment in self.combinations():  # every session's settings checked now
            self.session_config(loss=loss, strategy=strategy, augment=augment, seed=self.seeds[0])

    def combinations(self) -> list[tuple]:
        """Every (loss, strategy, augment) compared."""
        return list(itertools.product(self.losses, self.strategies, self.augment))

    def session_config(self, *, loss: str, strategy: str | Callable, augment: bool, seed: int) -> SessionConfig:
        """The settings of one simulated session: the shared ones, and one value of each compared list."""
        shared = {**self.shared_settings(), "dataset_options": self.dataset_options_for(seed)}
        return SessionConfig(**shared, loss=loss, strategy=strategy, seed=seed, retrain_every=self.batch_size,
                             augment_rewrites=augment)

    def dataset_options_for(self, seed: int) -> dict:
        """The data set's options for one seed (a generated set or a split is drawn with it)."""
        return {"seed": seed, **self.dataset_options}


def _takes_loss(estimator) -> bool:
    """True when the session's ``loss`` chooses the estimator's criterion (a dict that does not name one)."""
    return isinstance(estimator, dict) and "criterion" not in estimator


def run_once(
    dataset: Dataset,
    config: SimulationConfig,
    *,
    loss: str,
    strategy: str | Callable,
    augment: bool,
    seed: int,
) -> dict:
    """One simulated session; returns its run record with one entry per round."""
    session_config = config.session_config(loss=loss, strategy=strategy, augment=augment, seed=seed)
    session = Session.create(Store("sqlite://"), session_config, dataset=dataset)
    oracle_kind = config.oracle or default_oracle(dataset)[0]
    oracle = make_oracle(  # the session's data set: the model's units for "nearest", the data's for directions
        oracle_kind, session.dataset, label_noise=config.label_noise, angle_noise=config.angle_noise, seed=seed,
    )
    rounds = []
    stopped = None
    while session.model.n_labeled < config.budget and stopped is None:
        wanted = min(config.batch_size, config.budget - session.model.n_labeled)
        started = time.perf_counter()
        queries = session.next_queries(SIMULATED_ANNOTATOR, wanted)
        query_seconds = time.perf_counter() - started
        if not queries:
            break
        version = session.model.version
        for query in queries:
            apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator=SIMULATED_ANNOTATOR)
        if session.model.version == version:  # a short last batch did not reach retrain_every
            session.retrain()
        model = session.model
        stopping = session.stopping.status()
        if stopping["met"]:
            stopped = {"round": len(rounds) + 1, "n_labeled": model.n_labeled, "reason": stopping["reason"]}
        rounds.append({
            "round": len(rounds) + 1,
            "queried": [query.point_id for query in queries],
            "n_labeled": model.n_labeled,
            "n_directions": model.n_directions,
            "accuracy": model.accuracy,
            **{f"accuracy_{name}": session.evaluate(X, y) for name, (X, y) in session.dataset.extra_tests.items()},
            "train_seconds": session.last_train_seconds,
            "query_seconds": query_seconds,
            **(stop_columns(stopping) if config.stop else {}),
        })
    return {"seed": seed, "dataset": dataset.name, "loss": training_report(session.model.learner)["loss"],
            "strategy": session_config.strategy_name, "augment": augment, "oracle": oracle_kind, "rounds": rounds,
            "stopped": stopped}


def stop_columns(stopping: dict) -> dict:
    """A round's stopping state as flat columns: each criterion's value, and the reason when met."""
    values = {f"stop {criterion['criterion']}": criterion["value"] for criterion in stopping["criteria"]}
    return {**values, "stop": stopping["reason"] or ""}


def simulate(config: SimulationConfig, *, encoder=None, progress=None) -> dict:
    """Run every (loss, strategy, augment) combination on every seed.

    For each seed the data set (and so its split) is loaded once and shared by
    all combinations, so they are compared on identical splits and answers.
    ``progress``, if given, is called with a one-line message after each run.
    """
    runs = []
    combinations = config.combinations()
    for seed in config.seeds:
        options = config.dataset_options_for(seed) | ({"encoder": encoder} if encoder is not None else {})
        dataset = load_dataset(config.dataset, **options)
        if config.oracle is None and seed == config.seeds[0] and progress is not None:
            progress("simulated annotator: {} oracle ({})".format(*default_oracle(dataset)))
        for loss, strategy, augment in combinations:
            run = run_once(dataset, config, loss=loss, strategy=strategy, augment=augment, seed=seed)
            runs.append(run)
            if progress is not None:
                final = run["rounds"][-1] if run["rounds"] else {}
                stopped = f", stopped at round {run['stopped']['round']}: {run['stopped']['reason']}" \
                    if run["stopped"] else ""
                progress(
                    f"seed {seed} {run['loss']}/{run['strategy']}{' +augment' if augment else ''}: "
                    f"{final.get('n_labeled', 0)} labels, accuracy {final.get('accuracy')}{stopped}"
                )
    return {"config": encode(asdict(config), "the simulation settings"), "runs": runs}


def configuration_label(run: dict) -> str:
    return f"{run['loss']} / {run['strategy']}" + (" + augment" if run.get("augment") else "")


def write_results(results: dict, out: str | Path) -> list[Path]:
    """Write results.json, results.csv and learning_curves.png into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path, plot_path = out / "results.json", out / "results.csv", out / "learning_curves.png"
    json_path.write_text(json.dumps(results, indent=2, default=_json_default))
    _write_csv(results, csv_path)
    plot_learning_curves(results, plot_path)
    return [json_path, csv_path, plot_path]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _write_csv(results: dict, path: Path) -> None:
    rows = [
        {"configuration": configuration_label(run), "seed": run["seed"], "dataset": run["dataset"],
         "loss": run["loss"], "strategy": run["strategy"], "augment": run.get("augment", False),
         **round_}
        for run in results["runs"] for round_ in run["rounds"]
    ]
    columns = list(dict.fromkeys(key for row in rows for key in row)) or ["configuration"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def learning_curves(results: dict) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per configuration: labels, mean, min and max accuracy over seeds.

    Only label counts reached by every seed of a configuration are kept.
    """
    by_configuration: dict[str, list[dict[int, float]]] = {}
    for run in results["runs"]:
        curve = {r["n_labeled"]: r["accuracy"] for r in run["rounds"] if r["accuracy"] is not None}
        by_configuration.setdefault(configuration_label(run), []).append(curve)
    curves = {}
    for name, seed_curves in by_configuration.items():
        shared = sorted(set.intersection(*(set(c) for c in seed_curves)))
        values = np.array([[c[n] for n in shared] for c in seed_curves]).reshape(len(seed_curves), -1)
        curves[name] = (np.array(shared), values.mean(axis=0), values.min(axis=0), values.max(axis=0))
    return curves


def plot_learning_curves(results: dict, path: Path) -> None:
    """Accuracy against labels: one line per configuration, mean with the seeds' range shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, (labels, mean, low, high) in learning_curves(results).items():
        (line,) = axes.plot(labels, mean, label=name, marker="." if len(labels) < 30 else None)
        axes.fill_between(labels, low, high, color=line.get_color(), alpha=0.15)
    seeds = sorted({run["seed"] for run in results["runs"]})
    axes.set(xlabel="labelled points", ylabel="held-out accuracy",
             title=f"{results['config']['dataset']}: mean over {len(seeds)} seed(s), range shaded")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
