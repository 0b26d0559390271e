"""Sessions, the annotation store, data sets, simulated annotators and the CLI.

A scripted loop in a few lines::

    from loop import Session, SessionConfig, Store, make_oracle

    session = Session.create(Store("sqlite://"), SessionConfig(dataset="moons"))
    oracle = make_oracle("exact", session.dataset)
    for _ in range(30):
        query = session.next_query("bot")
        answer = oracle.answer(query.point_id)
        session.submit(query.query_id, answer.label, answer.directions, annotator="bot")
    print(session.status()["accuracy"])
"""

from loop.datasets import Dataset, load_dataset
from loop.oracles import make_oracle
from loop.session import Query, Session, SessionConfig, SessionError
from loop.simulate import SimulationConfig, simulate
from loop.store import Store, StoreError

__all__ = [
    "Dataset",
    "Query",
    "Session",
    "SessionConfig",
    "SessionError",
    "SimulationConfig",
    "Store",
    "StoreError",
    "load_dataset",
    "make_oracle",
    "simulate",
]
