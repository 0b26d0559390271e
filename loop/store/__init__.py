"""The database: the annotation log, the leases on points, the evaluations and the published
model versions of every session, and the SQL that checks and writes them together."""

from nudge.loop.errors import StoreError
from nudge.loop.store.lease_rules import LeaseLimits, QueryRecord
from nudge.loop.store.log import Annotation, AnswerLog
from nudge.loop.store.queries import QueryLeases
from nudge.loop.store.schema import DIRECTION_SOURCES
from nudge.loop.store.store import Store

__all__ = ["DIRECTION_SOURCES", "Annotation", "AnswerLog", "LeaseLimits", "QueryLeases", "QueryRecord", "Store",
           "StoreError"]
