"""One batch of the outbox consumer: its transaction, the state it keeps in step with the log,
and the deliveries it writes (services/webhooks/outbox.py runs it).

The state tables (`webhook_routes`, `webhook_placements`, `webhook_pairings`,
`webhook_meetings`, services/webhooks/store.py) are read and written only here, on the batch's
cursor, so they always stand at the position the consumer has reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import msgspec
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import ID_NAMESPACE
from domain.pairings import Location
from domain.participants import Placement
from services.store.database import Database
from services.webhooks.exits import GoneNow

VERSION = 1


def message_id(schema: str, endpoint_id: UUID, position: int) -> tuple[UUID, str]:
    """The delivery's id and its `webhook-id`: the same for every attempt, derived from the
    (grantee, endpoint, event) it stands for."""
    delivery_id = uuid5(ID_NAMESPACE, f"webhook:{schema}:{endpoint_id}:{position}")
    return delivery_id, f"msg_{delivery_id.hex}"


def envelope(
    event_type: str, timestamp: datetime, data: dict[str, Any], sequence: int | None = None
) -> bytes:
    """A message body (services/webhooks/payloads.py documents its shapes). `sequence`: the
    endpoint's gap-free number of this message (signed with the body; a ping has none)."""
    message: dict[str, Any] = {
        "type": event_type,
        "timestamp": timestamp,
        "data": data,
        "version": VERSION,
    }
    if sequence is not None:
        message["sequence"] = sequence
    return msgspec.json.encode(message)


@dataclass
class Route:
    """An endpoint's subscription as of the consumer's position."""

    facility_code: str
    event_types: list[str]
    enabled: bool
    last_sequence: int
    changed: bool = False


@dataclass
class Resident:
    participant_id: UUID
    number: str


@dataclass(frozen=True)
class PlacementRow:
    """Where a participant was placed by an event of the log."""

    placement: str
    facility_code: str | None
    number: str


@dataclass(frozen=True)
class MeetingContext:
    """What a meeting's later events need of its scheduling."""

    pairing_id: UUID
    scheduled_for: datetime
    planned_minutes: int
    location: Location


def people(residents: list[Resident]) -> list[dict[str, Any]]:
    """The `participants` of a message."""
    return [{"participant_id": r.participant_id, "number": r.number} for r in residents]


def plain(residents: list[Resident], information: str) -> list[dict[str, Any]]:
    """The disclosures of a message without Part 2 information, one per resident."""
    return [
        {"participant_id": str(r.participant_id), "information": information, "part2": False}
        for r in residents
    ]


def location(place: Location) -> dict[str, Any]:
    """The `location` of a message."""
    return {"kind": place.kind, "facility_code": place.facility_code}


@dataclass
class Batch:
    """One transaction of the consumer: the cursor, the routes as of the position reached and
    the deliveries written so far."""

    cur: Cursor[TupleRow]
    db: Database
    schema: str
    now: datetime
    routes: dict[UUID, Route]
    gone: GoneNow
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    @classmethod
    def begin(cls, cur: Cursor[TupleRow], db: Database, schema: str, now: datetime) -> Batch:
        """A batch on `cur`, with the routes as the consumer's position left them."""
        cur.execute(
            sql.SQL(
                "SELECT endpoint_id, facility_code, event_types, enabled, last_sequence"
                " FROM {}.webhook_routes"
            ).format(sql.Identifier(schema))
        )
        routes = {r[0]: Route(r[1], list(r[2]), r[3], r[4]) for r in cur.fetchall()}
        return cls(cur, db, schema, now, routes, GoneNow(cur, db, schema, now))

    def t(self, table: str) -> sql.Composed:
        """A table of the grantee's schema."""
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def write(self) -> None:
        """The batch's deliveries and the routes it changed (the position is the caller's)."""
        if self.rows:
            self.cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (delivery_id, endpoint_id, position, sequence,"
                    " event_type, msg_id, body, disclosures, committed_at, created_at, status,"
                    " next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s)"
                ).format(self.t("webhook_deliveries")),
                self.rows,
            )
        for endpoint_id, route in self.routes.items():
            if route.changed:
                self.cur.execute(
                    sql.SQL(
                        "UPDATE {} SET event_types = %s, enabled = %s,"
                        " last_sequence = %s WHERE endpoint_id = %s"
                    ).format(self.t("webhook_routes")),
                    (route.event_types, route.enabled, route.last_sequence, endpoint_id),
                )

    # -- endpoints ---------------------------------------------------------------------------

    def add_route(self, endpoint_id: UUID, route: Route) -> None:
        """A new endpoint's subscription, from the next event on."""
        self.cur.execute(
            sql.SQL(
                "INSERT INTO {} (endpoint_id, facility_code, event_types, enabled)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(self.t("webhook_routes")),
            (endpoint_id, route.facility_code, route.event_types, route.enabled),
        )
        self.routes[endpoint_id] = route

    # -- placements --------------------------------------------------------------------------

    def hidden(self, pid: UUID, facility: str, position: int) -> bool:
        """Messages to the RRC `facility` leave the participant out: their derived exit has
        taken effect (services/webhooks/exits.py; read only for an RRC an enabled endpoint
        serves)."""
        served = any(r.enabled and r.facility_code == facility for r in self.routes.values())
        return served and self.gone(pid, position)

    def residents(
        self, members: list[UUID], at: datetime, position: int
    ) -> dict[str, list[Resident]]:
        """The members resident at an RRC at instant `at`, by facility code, but those whose
        derived exit has taken effect (`hidden`: the event at `position` tells nothing of
        them)."""
        out: dict[str, list[Resident]] = {}
        for pid in members:
            self.cur.execute(
                sql.SQL(
                    "SELECT placement, facility_code, number FROM {} WHERE participant_id = %s"
                    " AND occurred_at <= %s ORDER BY occurred_at DESC, position DESC LIMIT 1"
                ).format(self.t("webhook_placements")),
                (pid, at),
            )
            row = self.cur.fetchone()
            if row and row[0] == Placement.RRC.value and row[1]:
                if self.hidden(pid, row[1], position):
                    continue
                out.setdefault(row[1], []).append(Resident(pid, row[2]))
        return out

    def latest_placement(self, pid: UUID) -> PlacementRow | None:
        """The participant's placement as the log left it (None before enrolment)."""
        self.cur.execute(
            sql.SQL(
                "SELECT placement, facility_code, number FROM {} WHERE participant_id = %s"
                " ORDER BY position DESC LIMIT 1"
            ).format(self.t("webhook_placements")),
            (pid,),
        )
        row = self.cur.fetchone()
        return None if row is None else PlacementRow(row[0], row[1], row[2])

    def place(self, pid: UUID, position: int, at: datetime, placed: PlacementRow) -> None:
        """Record where the event at `position` placed the participant from instant `at`."""
        self.cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)").format(
                self.t("webhook_placements")
            ),
            (pid, position, at, placed.placement, placed.facility_code, placed.number),
        )

    # -- pairings and meetings ---------------------------------------------------------------

    def open_pairing(self, pairing_id: UUID, members: list[UUID]) -> None:
        """Remember a new pairing's members."""
        self.cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
                self.t("webhook_pairings")
            ),
            (pairing_id, members),
        )

    def change_member(self, pairing_id: UUID, participant_id: UUID, *, added: bool) -> None:
        """A member added to the pairing, or removed from it."""
        op = "array_append" if added else "array_remove"
        self.cur.execute(
            sql.SQL("UPDATE {} SET members = {}(members, %s) WHERE pairing_id = %s").format(
                self.t("webhook_pairings"), sql.Identifier(op)
            ),
            (participant_id, pairing_id),
        )

    def members(self, pairing_id: UUID) -> list[UUID]:
        """The pairing's members now (none for a pairing the consumer never saw open)."""
        self.cur.execute(
            sql.SQL("SELECT members FROM {} WHERE pairing_id = %s").format(
                self.t("webhook_pairings")
            ),
            (pairing_id,),
        )
        row = self.cur.fetchone()
        return list(row[0]) if row else []

    def schedule_meeting(self, meeting_id: UUID, meeting: MeetingContext) -> None:
        """Remember what a meeting's later events need of its scheduling."""
        self.cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                self.t("webhook_meetings")
            ),
            (
                meeting_id,
                meeting.pairing_id,
                meeting.scheduled_for,
                meeting.planned_minutes,
                meeting.location.kind.value,
                meeting.location.facility_code,
            ),
        )

    def meeting(self, meeting_id: UUID) -> MeetingContext | None:
        """The meeting as scheduled (None for one the consumer never saw scheduled)."""
        self.cur.execute(
            sql.SQL(
                "SELECT pairing_id, scheduled_for, planned_minutes, location_kind, location_facility"
                " FROM {} WHERE meeting_id = %s"
            ).format(self.t("webhook_meetings")),
            (meeting_id,),
        )
        row = self.cur.fetchone()
        if row is None:
            return None
        return MeetingContext(row[0], row[1], row[2], Location(kind=row[3], facility_code=row[4]))

    # -- deliveries --------------------------------------------------------------------------

    def emit(
        self,
        position: int,
        event_type: str,
        facility: str,
        timestamp: datetime,
        data: dict[str, Any],
        disclosures: list[dict[str, Any]],
    ) -> None:
        """One delivery per enabled endpoint of `facility` subscribed to `event_type`."""
        for endpoint_id in sorted(self.routes):
            route = self.routes[endpoint_id]
            if not (
                route.enabled
                and route.facility_code == facility
                and event_type in route.event_types
            ):
                continue
            route.last_sequence += 1
            route.changed = True
            body = envelope(event_type, timestamp, data, route.last_sequence)
            delivery_id, msg_id = message_id(self.schema, endpoint_id, position)
            self.rows.append(
                (
                    delivery_id,
                    endpoint_id,
                    position,
                    route.last_sequence,
                    event_type,
                    msg_id,
                    body,
                    msgspec.json.encode(disclosures).decode(),
                    timestamp,
                    self.now,
                    self.now,
                )
            )
