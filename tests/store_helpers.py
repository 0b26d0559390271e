"""Test set-ups of the store that no product code needs: a point handed out under a chosen query id."""

from nudge.loop.store.lease_rules import QueryRecord, insert_query
from nudge.loop.store.store import Store


def hand_out(store: Store, session_id: str, query_id: str, point_id: int, annotator: str,
             lease_seconds: float = 60.0, model_version: int = 0, score: float | None = None) -> QueryRecord:
    """Lease ``point_id`` to ``annotator`` as query ``query_id``, unconditionally (sessions claim free points)."""
    return store.db.write(lambda tx: insert_query(tx, session_id, query_id, point_id, annotator, lease_seconds,
                                                  model_version, score, None))
