"""One batch of the outbox consumer: its transaction, the state it keeps in step with the log,
and the deliveries it writes (services/webhooks/outbox.py runs it).

The state tables (`webhook_routes`, `webhook_placements`, `webhook_pairings`,
`webhook_meetings`, services/webhooks/store.py) are read and written only here, on the batch's
cursor, so they always stand at the position the consumer has reached.

A batch reads that state once and writes it once (decision 152): `prefetch` loads, with one
statement per table, the rows of every meeting, pairing and participant its events name (and
the members of those pairings); the handlers then read and change the state in memory, and
`write` sends what changed with one statement per table, in the batch's transaction. A row
the prefetch did not foresee is read on first use. Statement by statement this was three to
five round trips per event of the projector's batch (issue 23's profile).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


# A placement as the state keeps it: the event's position, its instant, where it placed.
Placed = tuple[int, datetime, PlacementRow]


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
    """One transaction of the consumer: the cursor, the routes as of the position reached, the
    state its events read and changed (in memory until `write`) and the deliveries so far."""

    cur: Cursor[TupleRow]
    db: Database
    schema: str
    now: datetime
    routes: dict[UUID, Route]
    gone: GoneNow
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    # The state read so far (None, []: the table has no row), and what changed of it.
    _placements: dict[UUID, list[Placed]] = field(default_factory=dict)
    _pairings: dict[UUID, list[UUID] | None] = field(default_factory=dict)
    _meetings: dict[UUID, MeetingContext | None] = field(default_factory=dict)
    _placed: list[tuple[UUID, Placed]] = field(default_factory=list)
    _pairings_changed: set[UUID] = field(default_factory=set)
    _meetings_scheduled: list[UUID] = field(default_factory=list)

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

    def prefetch(self, events: Iterable[Any]) -> None:
        """Read the state `events` will need: the meetings, pairings and participants they name
        (their `originator_id`, `pairing_id`, `participant_id`, `members`), the pairings of
        those meetings and the members of those pairings; one statement per table."""
        ids: set[UUID] = set()
        for event in events:
            ids.add(event.originator_id)
            for name in ("pairing_id", "participant_id"):
                value = getattr(event, name, None)
                if isinstance(value, UUID):
                    ids.add(value)
            ids.update(m for m in getattr(event, "members", None) or () if isinstance(m, UUID))
        self._load_meetings(ids)
        ids.update(m.pairing_id for m in self._meetings.values() if m is not None)
        self._load_pairings(ids)
        for members in self._pairings.values():
            ids.update(members or ())
        self._load_placements(ids)

    def write(self) -> None:
        """The state the batch changed, its deliveries and the routes it changed (the position
        is the caller's)."""
        if self._placed:
            self.cur.execute(
                sql.SQL(
                    "INSERT INTO {} (participant_id, position, occurred_at, placement,"
                    " facility_code, number) SELECT * FROM unnest(%s::uuid[], %s::bigint[],"
                    " %s::timestamptz[], %s::text[], %s::text[], %s::text[])"
                ).format(self.t("webhook_placements")),
                _columns(
                    [
                        (pid, position, at, row.placement, row.facility_code, row.number)
                        for pid, (position, at, row) in self._placed
                    ],
                    6,
                ),
            )
        if self._pairings_changed:
            # Member lists differ in length: each goes as the text of a uuid[] literal.
            changed = sorted(self._pairings_changed)
            self.cur.execute(
                sql.SQL(
                    "INSERT INTO {} (pairing_id, members) SELECT p, m::uuid[]"
                    " FROM unnest(%s::uuid[], %s::text[]) AS t(p, m)"
                    " ON CONFLICT (pairing_id) DO UPDATE SET members = EXCLUDED.members"
                ).format(self.t("webhook_pairings")),
                (
                    changed,
                    ["{" + ",".join(map(str, self._pairings[p] or ())) + "}" for p in changed],
                ),
            )
        if self._meetings_scheduled:
            contexts = [(mid, self._meetings[mid]) for mid in self._meetings_scheduled]
            self.cur.execute(
                sql.SQL(
                    "INSERT INTO {} (meeting_id, pairing_id, scheduled_for, planned_minutes,"
                    " location_kind, location_facility) SELECT * FROM unnest(%s::uuid[],"
                    " %s::uuid[], %s::timestamptz[], %s::int[], %s::text[], %s::text[])"
                    " ON CONFLICT DO NOTHING"
                ).format(self.t("webhook_meetings")),
                _columns(
                    [
                        (
                            mid,
                            m.pairing_id,
                            m.scheduled_for,
                            m.planned_minutes,
                            m.location.kind.value,
                            m.location.facility_code,
                        )
                        for mid, m in contexts
                        if m is not None
                    ],
                    6,
                ),
            )
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

    # -- reading the state -------------------------------------------------------------------

    def _rows(self, table: str, columns: str, key: str, ids: list[UUID]) -> list[TupleRow]:
        """The rows of `table` whose `key` is one of `ids`, in `key` order, then the log's."""
        order = f"{key}, position" if table == "webhook_placements" else key
        self.cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s) ORDER BY {}").format(
                sql.SQL(columns), self.t(table), sql.Identifier(key), sql.SQL(order)
            ),
            (ids,),
        )
        return self.cur.fetchall()

    def _load_meetings(self, ids: set[UUID]) -> None:
        wanted = sorted(ids - self._meetings.keys())
        if not wanted:
            return
        self._meetings.update(dict.fromkeys(wanted))
        columns = "meeting_id, pairing_id, scheduled_for, planned_minutes, location_kind,"
        columns += " location_facility"
        for mid, pairing_id, at, minutes, kind, facility in self._rows(
            "webhook_meetings", columns, "meeting_id", wanted
        ):
            place = Location(kind=kind, facility_code=facility)
            self._meetings[mid] = MeetingContext(pairing_id, at.astimezone(UTC), minutes, place)

    def _load_pairings(self, ids: set[UUID]) -> None:
        wanted = sorted(ids - self._pairings.keys())
        if not wanted:
            return
        self._pairings.update(dict.fromkeys(wanted))
        rows = self._rows("webhook_pairings", "pairing_id, members", "pairing_id", wanted)
        self._pairings.update((pid, list(members)) for pid, members in rows)

    def _load_placements(self, ids: set[UUID]) -> None:
        wanted = sorted(ids - self._placements.keys())
        if not wanted:
            return
        self._placements.update((pid, []) for pid in wanted)
        columns = "participant_id, position, occurred_at, placement, facility_code, number"
        for pid, position, at, placement, facility, number in self._rows(
            "webhook_placements", columns, "participant_id", wanted
        ):
            self._placements[pid].append((position, at, PlacementRow(placement, facility, number)))

    def _history(self, pid: UUID) -> list[Placed]:
        """The participant's placements in log order (read on first use if not prefetched)."""
        if pid not in self._placements:
            self._load_placements({pid})
        return self._placements[pid]

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
        them). A member's placement at `at`: of those recorded before the event, the one
        latest in time at or before `at` (the later in the log of two at the same instant)."""
        out: dict[str, list[Resident]] = {}
        for pid in members:
            before = [p for p in self._history(pid) if p[1] <= at]
            if not before:
                continue
            row = max(before, key=lambda p: (p[1], p[0]))[2]
            if row.placement == Placement.RRC.value and row.facility_code:
                if self.hidden(pid, row.facility_code, position):
                    continue
                out.setdefault(row.facility_code, []).append(Resident(pid, row.number))
        return out

    def latest_placement(self, pid: UUID) -> PlacementRow | None:
        """The participant's placement as the log left it (None before enrolment)."""
        history = self._history(pid)
        return history[-1][2] if history else None

    def place(self, pid: UUID, position: int, at: datetime, placed: PlacementRow) -> None:
        """Record where the event at `position` placed the participant from instant `at`."""
        self._history(pid).append((position, at, placed))
        self._placed.append((pid, (position, at, placed)))

    # -- pairings and meetings ---------------------------------------------------------------

    def _pairing(self, pairing_id: UUID) -> list[UUID] | None:
        if pairing_id not in self._pairings:
            self._load_pairings({pairing_id})
        return self._pairings[pairing_id]

    def open_pairing(self, pairing_id: UUID, members: list[UUID]) -> None:
        """Remember a new pairing's members (a pairing already known keeps its own)."""
        if self._pairing(pairing_id) is None:
            self._pairings[pairing_id] = list(members)
            self._pairings_changed.add(pairing_id)

    def change_member(self, pairing_id: UUID, participant_id: UUID, *, added: bool) -> None:
        """A member added to the pairing, or removed from it (a pairing the consumer never
        saw open has none)."""
        members = self._pairing(pairing_id)
        if members is None:
            return
        if added:
            members.append(participant_id)
        else:
            members[:] = [m for m in members if m != participant_id]
        self._pairings_changed.add(pairing_id)

    def members(self, pairing_id: UUID) -> list[UUID]:
        """The pairing's members now (none for a pairing the consumer never saw open)."""
        return list(self._pairing(pairing_id) or ())

    def schedule_meeting(self, meeting_id: UUID, meeting: MeetingContext) -> None:
        """Remember what a meeting's later events need of its scheduling (the first time)."""
        if self.meeting(meeting_id) is None:
            # In UTC, as read back from the table whatever the server's time zone: a later
            # message of the meeting says its time the same way in any batch.
            utc = dataclasses.replace(meeting, scheduled_for=meeting.scheduled_for.astimezone(UTC))
            self._meetings[meeting_id] = utc
            self._meetings_scheduled.append(meeting_id)

    def meeting(self, meeting_id: UUID) -> MeetingContext | None:
        """The meeting as scheduled (None for one the consumer never saw scheduled)."""
        if meeting_id not in self._meetings:
            self._load_meetings({meeting_id})
        return self._meetings[meeting_id]

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


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """`rows` as `width` columns (the arrays of an `unnest` insert)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
