"""A session on your own torch module, stored and resumed.

The network class is stored with the session by its import name, so a later
run (this script again, or `nudge serve --db examples.db --session my-net` with
this file importable) rebuilds the same session from its log.

    .venv/bin/python examples/custom_network.py
"""

import os

from torch import nn

from nudge.loop import Session, SessionConfig, Store, apply_answer, make_oracle

BUDGET = int(os.environ.get("BUDGET", "30"))


class ResidualMLP(nn.Module):
    """Two SiLU blocks with a skip connection; n_features and n_classes are filled in by nudge."""

    def __init__(self, n_features: int, n_classes: int = 2, width: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.block = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.out = nn.Linear(width, n_classes)

    def forward(self, X):
        hidden = self.inp(X)
        return self.out(hidden + self.block(hidden))


def main() -> None:
    store = Store(os.environ.get("NUDGE_EXAMPLE_DB", "examples.db"))
    config = SessionConfig(dataset="moons", estimator={"module": ResidualMLP, "module__width": 16, "max_epochs": 50})
    if "my-net" in store.session_ids():
        session = Session.open(store, "my-net")
        print(f"resumed: {session.model.n_labeled} labels, accuracy {session.model.accuracy:.3f}")
    else:
        session = Session.create(store, config, session_id="my-net")
    oracle = make_oracle("exact", session.dataset)
    while session.model.n_labeled < BUDGET:
        query = session.next_query("me")
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="me")
    print(f"{type(session.model.estimator.module_).__name__}: {session.model.n_labeled} labels, "
          f"{session.model.n_directions} directions, held-out accuracy {session.model.accuracy:.3f}")


if __name__ == "__main__":
    main()
