"""Whether the database answers, and which errors mean it does not.

The API answers `503 database_unavailable` for `UNAVAILABLE` (the server down or unreachable,
the pool exhausted or its queue full, the event store giving up its retries) and
`400 invalid_request` for `UNSTORABLE` (a value the database refuses to store or compare that
validation let through), without knowing the driver (services/api/problems.py).
"""

from __future__ import annotations

import psycopg
from eventsourcing.persistence import OperationalError as StoreOperationalError
from psycopg_pool import PoolTimeout, TooManyRequests

from services.store.database import Database

UNAVAILABLE: tuple[type[Exception], ...] = (
    StoreOperationalError,
    psycopg.OperationalError,
    PoolTimeout,
    TooManyRequests,
)
UNSTORABLE: tuple[type[Exception], ...] = (psycopg.DataError,)


def ping(db: Database) -> None:
    """Raise unless the database answers a statement within the pool's timeout."""
    db.fetchone("SELECT 1")
