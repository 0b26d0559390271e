"""A session on your own torch module, stored and resumed.

The network class lives in a module beside this script (examples/networks.py), not in
the script: the session stores it by its import name, networks:ResidualMLP, so a later
run (this script again, or `nudge serve` with the folder on PYTHONPATH) imports it and
rebuilds the same session from its log.

    .venv/bin/python examples/custom_network.py
    PYTHONPATH=examples .venv/bin/nudge serve --db examples.db --session my-net
"""

import os

from networks import ResidualMLP  # beside this script: Python puts the script's folder on the path

from nudge.loop import Session, SessionConfig, Store, apply_answer, make_oracle

BUDGET = int(os.environ.get("BUDGET", "30"))


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
