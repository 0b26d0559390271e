"""Your own query strategy, compared with modAL's margin sampling, boundary and random querying
on the same seeds.

A strategy is a plain function with modAL's query-strategy contract: modAL's own work as
they are. Wrapping the selection in `nudge.strategies.sampling.model_strategy` gives it the
checks and the cold start every built-in strategy has (coverage queries before the first
model), so the function only says how to rank the available points. A simulation keeps its
sessions in memory, so a function defined in the script is fine here (a stored session
needs it in a module: see custom_network.py).

    .venv/bin/python examples/custom_strategy.py
"""

import os

import numpy as np
from modAL.uncertainty import margin_sampling

from nudge.loop import SimulationConfig, simulate
from nudge.strategies import boundary_distance
from nudge.strategies.pool import best_first
from nudge.strategies.sampling import model_strategy

BUDGET = int(os.environ.get("BUDGET", "30"))
SEEDS = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]


@model_strategy
def near_boundary_far_from_labels(learner, X, n_instances, weight: float = 0.5):
    """Near the boundary, but not beside points already labelled: distance - weight * gap."""
    distance = boundary_distance(learner, X)
    labelled = learner.X_training
    gap = np.min(np.linalg.norm(X[:, None, :] - labelled[None, :, :], axis=2), axis=1)
    return best_first(distance - weight * gap, n_instances, largest=False)


def main() -> None:
    config = SimulationConfig(
        dataset="moons", strategies=[near_boundary_far_from_labels, margin_sampling, "boundary", "random"],
        losses=["direction"], budget=BUDGET, batch_size=5, seeds=SEEDS, estimator={"max_epochs": 50},
    )
    results = simulate(config)
    for strategy in ("near_boundary_far_from_labels", "margin_sampling", "boundary", "random"):
        final = [run["rounds"][-1]["accuracy"] for run in results["runs"] if run["strategy"] == strategy]
        print(f"{strategy:32s} accuracy at {BUDGET} labels: {np.mean(final):.3f} (seeds {SEEDS})")


if __name__ == "__main__":
    main()
