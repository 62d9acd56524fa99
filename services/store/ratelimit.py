"""Rate limits shared by every API process and pod, kept in PostgreSQL (decision 46).

The generic cell rate algorithm: each key (a token's digest, a client address, a grantee)
has a theoretical arrival time `tat`. A request at `now` costs `step = 1/rate` seconds; it is
allowed when `max(tat, now) + step - now <= window`, where `window = burst/rate`, and then
moves `tat` there. So a key may run `rate` requests per second on average with bursts of
`burst`, exactly what a token bucket allows, but with one row per key that any process
updates in one statement (a row lock for the microseconds of the update).

All the keys of one request are checked in one round trip. The table is unlogged (no WAL);
rows idle for an hour are deleted now and then by the same statement's caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import psycopg
import psycopg_pool
import structlog
from psycopg import sql

from domain import clock
from services.store.database import Database
from services.store.schema import PLATFORM_SCHEMA

log = structlog.get_logger("prowd.ratelimit")


@dataclass(frozen=True)
class Limit:
    key: str
    rate: float  # requests per second, on average
    burst: float  # requests at once

    @property
    def step(self) -> float:
        return 1.0 / self.rate

    @property
    def window(self) -> float:
        return max(self.burst, 1.0) / self.rate


_TAKE = sql.SQL(
    "INSERT INTO {p}.rate_limits AS r (key, tat, window_s)"
    " SELECT k, %(at)s + make_interval(secs => s), w"
    "   FROM unnest(%(keys)s::text[], %(steps)s::float8[], %(windows)s::float8[]) AS t(k, s, w)"
    " ON CONFLICT (key) DO UPDATE"
    "   SET tat = greatest(r.tat, %(at)s) + (EXCLUDED.tat - %(at)s), window_s = EXCLUDED.window_s"
    "   WHERE extract(epoch FROM greatest(r.tat, %(at)s) + (EXCLUDED.tat - %(at)s) - %(at)s)"
    "     <= EXCLUDED.window_s"
    " RETURNING key"
).format(p=sql.Identifier(PLATFORM_SCHEMA))

_FORGET = sql.SQL(
    "DELETE FROM {p}.rate_limits WHERE tat < %(at)s::timestamptz - interval '1 hour'"
).format(p=sql.Identifier(PLATFORM_SCHEMA))


class SharedLimits:
    def __init__(self, db: Database, forget_every: int = 1000) -> None:
        self.db = db
        self.forget_every = forget_every

    def take(self, limits: list[Limit]) -> Limit | None:
        """Take one request from each of `limits`; the first one over its rate, or None."""
        if not limits:
            return None
        # The real time, whatever clock the service runs on (a frozen test clock would never
        # let a limit refill): every API process's host clock, kept by NTP.
        at = clock.wall()
        try:
            with self.db.connection() as conn:
                allowed = {
                    key
                    for (key,) in conn.execute(
                        _TAKE,
                        {
                            "at": at,
                            "keys": [lim.key for lim in limits],
                            "steps": [lim.step for lim in limits],
                            "windows": [lim.window for lim in limits],
                        },
                    ).fetchall()
                }
                if random.randrange(self.forget_every) == 0:
                    conn.execute(_FORGET, {"at": at})
        except (psycopg.Error, psycopg_pool.PoolTimeout) as e:
            # Open when the database cannot answer: the request then meets the same outage
            # (and its own clear 503) instead of a refusal that would hide it.
            log.warning("rate_limit_unavailable", error_class=type(e).__name__, error=str(e))
            return None
        return next((lim for lim in limits if lim.key not in allowed), None)
