"""Whether the database answers, whether this process's master keys fit it, and which errors
mean that either does not.

The API answers `503 database_unavailable` for `UNAVAILABLE` (the server down or unreachable,
the pool exhausted or its queue full, the event store giving up its retries),
`503 key_unavailable` for `KEY_MISSING` (a participant key that the configured master keys do
not unwrap) and `400 invalid_request` for `UNSTORABLE` (a value the database refuses to store or
compare that validation let through), without knowing the driver (services/api/problems.py).
"""

from __future__ import annotations

import threading
import time

import psycopg
import structlog
from eventsourcing.persistence import OperationalError as StoreOperationalError
from psycopg import sql
from psycopg_pool import PoolTimeout, TooManyRequests

from services.store.database import Database
from services.store.keys import STORE, KeyUnavailable
from services.store.schema import PLATFORM_SCHEMA, grantee_schema

UNAVAILABLE: tuple[type[Exception], ...] = (
    StoreOperationalError,
    psycopg.OperationalError,
    PoolTimeout,
    TooManyRequests,
)
UNSTORABLE: tuple[type[Exception], ...] = (psycopg.DataError,)
KEY_MISSING: tuple[type[Exception], ...] = (KeyUnavailable,)

# What an operator is told to check when the master keys do not fit (docs/operations.md).
KEY_SETTINGS = (
    "check the master key settings: PROWD_MASTER_KEY (or PROWD_MASTER_KEY_FILE) must be the key"
    " the participant keys were wrapped with, and PROWD_MASTER_KEY_PREVIOUS must hold the old"
    ' key during a rotation (docs/operations.md, "A wrong master key")'
)
_CHUNK = 100  # grantees per statement

log = structlog.get_logger("prowd.health")


def ping(db: Database) -> None:
    """Raise unless the database answers a statement within the pool's timeout."""
    db.fetchone("SELECT 1")


def stray_master_keys(db: Database) -> dict[str, str]:
    """The grantees (schema → a master key id wrapping their keys) none of whose live participant
    keys is wrapped by a master key this process holds: the wrong master key is configured.

    Cheap where all is well: per grantee, one live key row and the first row under a configured
    master key (a grantee whose keys are all erased, or who has none, needs nothing). A grantee
    with some keys under a configured master key and others under a dropped previous one is not
    found here; its reads of those participants answer `key_unavailable`."""
    ring = STORE.ring(db)
    slugs = [
        slug
        for (slug,) in db.fetchall(
            sql.SQL("SELECT slug FROM {}.grantees ORDER BY slug").format(
                sql.Identifier(PLATFORM_SCHEMA)
            )
        )
    ]
    stray: dict[str, str] = {}
    for start in range(0, len(slugs), _CHUNK):
        parts, params = [], []
        for slug in slugs[start : start + _CHUNK]:
            s = sql.Identifier(grantee_schema(slug))
            parts.append(
                sql.SQL(
                    "SELECT %s::text, k.master_key_id FROM (SELECT master_key_id"
                    " FROM {}.participant_keys WHERE wrapped_key IS NOT NULL LIMIT 1) k"
                    " WHERE NOT EXISTS (SELECT 1 FROM {}.participant_keys"
                    " WHERE wrapped_key IS NOT NULL AND master_key_id = ANY(%s))"
                ).format(s, s)
            )
            params += [grantee_schema(slug), ring.ids]
        for schema, key_id in db.fetchall(sql.SQL(" UNION ALL ").join(parts), params):
            stray[schema] = key_id
    return stray


def describe(stray: dict[str, str], configured: list[str]) -> str:
    """One line for the operator: how many grantees, an example, what to check."""
    schema, key_id = next(iter(sorted(stray.items())))
    return (
        f"the configured master keys ({', '.join(configured)}) unwrap none of the participant"
        f" keys of {len(stray)} grantee(s) (e.g. {schema}: wrapped by {key_id}); {KEY_SETTINGS}"
    )


def master_key_refusal(db: Database) -> str:
    """Why a process must not start with its master keys ("" when they fit), for the CLI."""
    stray = stray_master_keys(db)
    return describe(stray, STORE.ring(db).ids) if stray else ""


class MasterKeyCheck:
    """`stray_master_keys` for the readiness probe: computed at most every `ttl` seconds, and
    again at once when this process's keyring changes."""

    def __init__(self, db: Database, ttl: float = 60.0) -> None:
        self.db = db
        self.ttl = ttl
        self._lock = threading.Lock()
        self._last: tuple[list[str], float, int] | None = None

    def stray_grantees(self) -> int:
        """How many grantees the configured master keys cannot read (0: they fit)."""
        ids = STORE.ring(self.db).ids
        with self._lock:
            last = self._last
            if last is not None and last[0] == ids and time.monotonic() - last[1] < self.ttl:
                return last[2]
            stray = stray_master_keys(self.db)
            if stray:
                log.error("master_key_mismatch", reason=describe(stray, ids))
            self._last = (ids, time.monotonic(), len(stray))
            return len(stray)
