"""Helpers for the webhook tests: an app that allow-lists 127.0.0.0/8, a world with RRC
residents, a movable clock, and a dispatcher pointed at the local receiver."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from psycopg import sql

from domain import clock
from services.app.dispatching import Dispatching
from services.app.tenancy import Tenancy
from services.store.database import Database
from services.webhooks import outbox
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.ssrf import parse_networks
from tests.meetings_helpers import World, held

LOCAL = parse_networks("127.0.0.0/8")
TYPES = [
    "meeting.held",
    "meeting.missed",
    "meeting.amended",
    "participant.arrived_at_rrc",
    "participant.left_rrc",
    "pairing.opened",
    "pairing.closed",
]


class Clock:
    """`now()` for the dispatcher: starts at the real time and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or clock.now()

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class Hooks(World):
    """A grantee (time zone UTC) with RRC-1 and RRC-2, a mentor and helpers for endpoints."""

    def __init__(
        self, client: TestClient[Litestar], auth: Callable[..., dict[str, str]], db: Database
    ) -> None:
        super().__init__(client, auth, db, time_zone="UTC")
        self.post("/facilities", {"code": "RRC-2", "name": "Facility RRC-2", "kind": "rrc"})
        self.policy(stage2=["graduate"], stage3=["graduate"])
        self.mentor_id = self.mentor(f"mentor-{self.slug}")
        self._day = 0

    def resident(self, rrc: str = "RRC-1", name: str = "Res") -> str:
        """A stage-2 participant living at `rrc` since 2026-08-03."""
        pid = self.enrol("C1", "2025-09-15", name)
        self.post(
            f"/participants/{pid}/stage-transitions",
            {
                "to_stage": 2,
                "placement": "rrc",
                "facility": rrc,
                "occurred_at": "2026-08-03T09:00:00Z",
            },
        )
        return pid

    def paired(self, rrc: str = "RRC-1") -> tuple[str, str]:
        pid = self.resident(rrc)
        pairing = self.pair(self.mentor_id, [pid], "2026-08-10T10:00:00Z")
        return pid, pairing

    def held_meeting(self, pairing_id: str, **extra: Any) -> dict[str, Any]:
        """A meeting held on a new day after 2026-08-10 (each call a later one)."""
        self._day += 1
        at = (datetime(2026, 8, 11, 15, tzinfo=UTC) + timedelta(hours=self._day)).isoformat()
        return dict(self.meet(pairing_id, at, **extra))

    def endpoint(
        self, url: str, *, facility: str = "RRC-1", types: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        r = self.client.post(
            f"{self.base}/webhook-endpoints",
            json={"url": url, "facility": facility, "event_types": types or TYPES, **extra},
            headers=self.headers("grantee_admin"),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def fill(self, clock: Clock | None = None) -> int:
        """Run the outbox over the log (deliveries due at `clock`'s now, else the real now)."""
        if clock is None:
            return outbox.drain(self.db, self.schema)
        return outbox.drain(self.db, self.schema, now=clock)

    def deliveries(self, endpoint_id: str) -> list[tuple[Any, ...]]:
        return self.db.fetchall(
            sql.SQL(
                "SELECT msg_id, sequence, status, attempts, event_type, next_attempt_at, body"
                " FROM {}.webhook_deliveries WHERE endpoint_id = %s ORDER BY sequence NULLS LAST"
            ).format(sql.Identifier(self.schema)),
            (endpoint_id,),
        )


def dispatcher(db: Database, clock: Clock, **kw: Any) -> Dispatcher:
    kw.setdefault("allowed", LOCAL)
    kw.setdefault("rng", random.Random(7))
    kw.setdefault("concurrency", 4)
    return Dispatcher(db, Dispatching(Tenancy(db)), now=clock, **kw)


def run_until_idle(d: Dispatcher, schema: str, rounds: int = 100) -> int:
    total = 0
    for _ in range(rounds):
        n = d.process(schema)
        total += n
        if n == 0:
            return total
    return total


__all__ = ["Clock", "Hooks", "dispatcher", "held", "run_until_idle"]
