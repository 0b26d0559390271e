"""Sessions, the annotation store, data sets, simulated annotators and the CLI.

A scripted loop in a few lines::

    from loop import Session, SessionConfig, Store, apply_answer, make_oracle

    session = Session.create(Store("sqlite://"), SessionConfig(dataset="moons"))
    oracle = make_oracle("exact", session.dataset)
    for _ in range(30):
        query = session.next_query("bot")
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="bot")
    print(session.status()["accuracy"])
"""

from loop.callbacks import SessionCallback
from loop.datasets import Dataset, load_dataset
from loop.errors import SessionError
from loop.oracles import apply_answer, make_oracle
from loop.session import Query, Session, SessionConfig
from loop.simulate import SimulationConfig, simulate
from loop.store import Store, StoreError
from loop.training import BackgroundTrainer, InlineTrainer, Trainer

__all__ = [
    "BackgroundTrainer",
    "Dataset",
    "InlineTrainer",
    "Query",
    "Session",
    "SessionCallback",
    "SessionConfig",
    "SessionError",
    "SimulationConfig",
    "Store",
    "StoreError",
    "Trainer",
    "apply_answer",
    "load_dataset",
    "make_oracle",
    "simulate",
]
