"""Sessions, the annotation store, data sets, simulated annotators and the CLI.

A scripted loop in a few lines::

    from nudge.loop import apply_answer, make_oracle
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store

    session = Session.create(Store("sqlite://"), SessionConfig(dataset="moons"))
    oracle = make_oracle("exact", session.dataset)
    for _ in range(30):
        query = session.next_query("bot")
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="bot")
    print(session.status()["accuracy"])
"""

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.errors import SessionError, StoreError
from nudge.loop.session.callbacks import SessionCallback
from nudge.loop.session.records import Query
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import apply_answer, make_oracle
from nudge.loop.simulation.simulate import SimulationConfig, simulate
from nudge.loop.store.store import Store
from nudge.loop.training.trainer import BackgroundTrainer, InlineTrainer, Trainer

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
