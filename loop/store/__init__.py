"""The database: the annotation log, the leases on points, the evaluations and the published
model versions of every session, and the SQL that checks and writes them together."""

from nudge.loop.errors import StoreError
from nudge.loop.store.schema import DIRECTION_SOURCES
from nudge.loop.store.store import Annotation, LeaseLimits, QueryRecord, Store

__all__ = ["DIRECTION_SOURCES", "Annotation", "LeaseLimits", "QueryRecord", "Store", "StoreError"]
