"""Load: 20 scripted annotators (gradio_client, loopback) against one ``nudge serve`` process.

For ``NUDGE_LOAD_SECONDS`` (default 60) each annotator answers the queries it is handed as
fast as it can, while the server retrains after every answer. Then: no request failed, no
point was handed to two annotators, and the log holds exactly the acknowledged answers.
Latency (median, p95, max) and throughput are printed.
"""

import os
import threading
import time

import numpy as np
import pytest
from conftest import nudge_serve
from gradio_client import Client
from sqlalchemy import select

from nudge.loop.store.schema import queries
from nudge.loop.store.store import Store

ANNOTATORS = 20
LOAD_SECONDS = float(os.environ.get("NUDGE_LOAD_SECONDS", "60"))
SESSION = "load"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]


def test_twenty_annotators_at_once(tmp_path, record_property):
    db = tmp_path / "load.db"
    lock = threading.Lock()
    handed: list[tuple[str, str, int]] = []  # (annotator, query id, point id) as each client saw them
    acknowledged: list[tuple[str, str, int]] = []
    latencies: dict[str, list[float]] = {"/next": [], "/submit": []}
    failures: list[tuple[str, str]] = []
    began: list[float] = []
    start = threading.Barrier(ANNOTATORS, action=lambda: began.append(time.monotonic()), timeout=120)

    def call(api: Client, endpoint: str, *arguments):
        started = time.perf_counter()
        result = api.predict(*arguments, api_name=endpoint)
        with lock:
            latencies[endpoint].append(time.perf_counter() - started)
        return result

    def annotate(api: Client, name: str) -> None:
        try:
            start.wait()  # all at once, for LOAD_SECONDS from then
            query = call(api, "/next", name)
            while query and time.monotonic() < began[0] + LOAD_SECONDS:
                with lock:
                    handed.append((name, query["query_id"], query["point_id"]))
                label = query["point_id"] % 2
                following = call(api, "/submit", query["query_id"], str(label), [0.0, 1.0 - 2 * label],
                                 None, None, None, name)
                with lock:
                    acknowledged.append((name, query["query_id"], query["point_id"]))
                query = following
        except Exception as error:  # every failure is reported below
            failures.append((name, repr(error)))
            start.abort()

    # a pool of 3200 points: more than 20 annotators can answer in a minute on a fast machine
    with nudge_serve(db, "--dataset", "moons", "--n-samples", "4000", "--session", SESSION) as server:
        # each annotator on an address of their own (as a proxy forwards it): one address may hold only so many
        clients = {f"annotator-{i:02d}": Client(server.url, verbose=False, headers={"X-Forwarded-For": f"10.1.0.{i + 1}"})
                   for i in range(ANNOTATORS)}
        threads = [threading.Thread(target=annotate, args=(api, name)) for name, api in clients.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=LOAD_SECONDS + 120)
        elapsed = time.monotonic() - began[0] if began else 0.0
        assert not any(thread.is_alive() for thread in threads), "an annotator hung"
        status = Client(server.url, verbose=False).predict(api_name="/status")

    assert not failures, failures[:5]
    store = Store(db, create=False)
    try:
        stored = store.log(SESSION).annotations()
        with store.engine.connect() as connection:
            issued = connection.execute(select(queries.c.annotator, queries.c.point_id)
                                        .where(queries.c.session_id == SESSION)).all()
    finally:
        store.close()

    # no point handed to two annotators (nor twice to one): nobody skipped, leases outlast the test
    assert len({point for _, point in issued}) == len(issued)
    assert len({point for _, _, point in handed}) == len(handed)
    # no lost, doubled or invented answer
    assert sorted((a.annotator, a.query_id, a.point_id) for a in stored) == sorted(acknowledged)
    assert status["n_answers"] == len(acknowledged) and status["model_version"] > 1
    assert len({name for name, _, _ in acknowledged}) == ANNOTATORS  # everyone got served

    lines = []
    for endpoint, values in latencies.items():
        values = np.asarray(values)
        # plain floats: a recorded property travels to pytest-xdist's controller, which cannot send numpy scalars
        summary = {"n": len(values), "median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
                   "max": float(values.max())}
        record_property(f"latency{endpoint.replace('/', '_')}", summary)
        lines.append(f"{endpoint}: {summary['n']} calls, median {summary['median']:.3f} s, "
                     f"p95 {summary['p95']:.3f} s, max {summary['max']:.3f} s")
    print(f"\n{ANNOTATORS} annotators for {elapsed:.0f} s: {len(acknowledged)} answers "
          f"({len(acknowledged) / elapsed:.1f}/s), model v{status['model_version']}\n" + "\n".join(lines))
