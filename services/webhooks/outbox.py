"""The webhook outbox, filled by following the grantee's log exactly once (DESIGN D6).

A delivery exists only for a committed event: the consumer reads the log in order and, in ONE
transaction per batch, writes the deliveries of the batch's events and advances its own
position (`webhook_outbox`). A transaction-scoped advisory lock per grantee keeps two
consumers from reading the same batch; `UNIQUE (endpoint_id, position)` would refuse a second
row even so. The consumer is not a view: it is never rebuilt, so a replay can never create
deliveries again.

Which endpoints an event goes to is decided as of the event, from state the consumer keeps
in step with the log (the same transaction): the endpoints' subscriptions in log order, every
participant's placements, the members of each pairing and the context of each meeting.

RRC scoping: an event goes to an endpoint of RRC X only for participants RESIDENT at X at the
time of the event: their latest placement recorded in the log before the event whose
`occurred_at` is at or before the event's instant (a held or amended meeting's instant is
when it took place; a missed one's its scheduled time; everything else its `occurred_at`) is
`rrc` at facility X. Arrivals go to the RRC arrived at, departures (a transition elsewhere, a
return to custody) and exits to the RRC the participant was resident at. Only those residents
appear in the payload; other participants of a group meeting are left out, other grantees never
share a log.

Part 2: a held or amended meeting whose summary is tagged `summary_part2` carries the summary
only if, when the delivery is created, every member of the pairing has a covering consent for
recipient `rrc:<X>` (services/audit/disclosure.py); then `part2_notice` is attached. Otherwise
`summary` is null and `withheld` is `part2_no_consent`. Confidential notes never leave.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import ID_NAMESPACE, utcnow
from domain.meetings import HeldRecord, Meeting
from domain.pairings import Location, Pairing
from domain.participants import Participant, Placement
from domain.webhooks import WebhookEndpoint
from services.audit.disclosure import PART2_NOTICE, covering_consent
from services.store.database import Database
from services.store.mapping import MsgspecMapper
from services.webhooks.store import CHANNEL

_mapper = MsgspecMapper()
BATCH = 500
VERSION = 1

_HANDLED = (
    Meeting.Scheduled,
    Meeting.Held,
    Meeting.Missed,
    Meeting.Cancelled,
    Meeting.Amended,
    Participant.Enrolled,
    Participant.StageTransitioned,
    Participant.ReturnedToCustody,
    Participant.Exited,
    Pairing.Opened,
    Pairing.MemberAdded,
    Pairing.MemberRemoved,
    Pairing.Closed,
    WebhookEndpoint.Created,
    WebhookEndpoint.Updated,
    WebhookEndpoint.Disabled,
    WebhookEndpoint.Enabled,
)
TOPICS = sorted(get_topic(c) for c in _HANDLED)


def lock_key(schema: str) -> int:
    return zlib.crc32(f"webhooks-outbox:{schema}".encode())


def message_id(schema: str, endpoint_id: UUID, position: int) -> tuple[UUID, str]:
    """The delivery's id and its `webhook-id`: the same for every attempt, derived from the
    (grantee, endpoint, event) it stands for."""
    delivery_id = uuid5(ID_NAMESPACE, f"webhook:{schema}:{endpoint_id}:{position}")
    return delivery_id, f"msg_{delivery_id.hex}"


def envelope(event_type: str, timestamp: datetime, data: dict[str, Any]) -> bytes:
    return msgspec.json.encode(
        {"type": event_type, "timestamp": timestamp, "data": data, "version": VERSION}
    )


@dataclass
class Route:
    facility_code: str
    event_types: list[str]
    enabled: bool
    last_sequence: int
    changed: bool = False


@dataclass
class Resident:
    participant_id: UUID
    number: str


@dataclass
class _Batch:
    cur: Cursor[TupleRow]
    db: Database
    schema: str
    now: datetime
    routes: dict[UUID, Route]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def t(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))


def _load_routes(cur: Cursor[TupleRow], schema: str) -> dict[UUID, Route]:
    cur.execute(
        sql.SQL(
            "SELECT endpoint_id, facility_code, event_types, enabled, last_sequence FROM {}.webhook_routes"
        ).format(sql.Identifier(schema))
    )
    return {r[0]: Route(r[1], list(r[2]), r[3], r[4]) for r in cur.fetchall()}


def _read(cur: Cursor[TupleRow], schema: str, after: int, limit: int) -> list[tuple[int, Any]]:
    cur.execute(
        sql.SQL(
            "SELECT notification_id, topic, originator_id, originator_version,"
            " CASE WHEN topic = ANY(%s) THEN state END"
            " FROM {}.events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(sql.Identifier(schema)),
        (TOPICS, after, limit),
    )
    out = []
    for position, topic, originator_id, version, state in cur.fetchall():
        event = None
        if state is not None:
            event = _mapper.to_domain_event(
                StoredEvent(originator_id, version, topic, bytes(state))
            )
        out.append((position, event))
    return out


def catch_up(
    db: Database, schema: str, *, batch: int = BATCH, now: Callable[[], datetime] = utcnow
) -> int:
    """Turn one batch of new events of one grantee into deliveries. Returns the events read."""
    with db.session(), db.transaction() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key(schema),))
        row = cur.fetchone()
        if not row or not row[0]:
            return 0
        s = sql.Identifier(schema)
        cur.execute(sql.SQL("SELECT position FROM {}.webhook_outbox").format(s))
        tracked = cur.fetchone()
        after = int(tracked[0]) if tracked else 0
        events = _read(cur, schema, after, batch)
        if not events:
            return 0
        b = _Batch(cur, db, schema, now(), _load_routes(cur, schema))
        for position, event in events:
            if event is not None:
                _apply(b, position, event)
        if b.rows:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.webhook_deliveries (delivery_id, endpoint_id, position, sequence,"
                    " event_type, msg_id, body, disclosures, committed_at, created_at, status,"
                    " next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s)"
                ).format(s),
                b.rows,
            )
        for endpoint_id, route in b.routes.items():
            if route.changed:
                cur.execute(
                    sql.SQL(
                        "UPDATE {}.webhook_routes SET event_types = %s, enabled = %s,"
                        " last_sequence = %s WHERE endpoint_id = %s"
                    ).format(s),
                    (route.event_types, route.enabled, route.last_sequence, endpoint_id),
                )
        cur.execute(
            sql.SQL("UPDATE {}.webhook_outbox SET position = %s").format(s), (events[-1][0],)
        )
        if b.rows:
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, schema))
        return len(events)


def drain(
    db: Database, schema: str, *, batch: int = BATCH, now: Callable[[], datetime] = utcnow
) -> int:
    total = 0
    while True:
        n = catch_up(db, schema, batch=batch, now=now)
        total += n
        if n < batch:
            return total


def position(db: Database, schema: str) -> int:
    row = db.fetchone(
        sql.SQL("SELECT position FROM {}.webhook_outbox").format(sql.Identifier(schema))
    )
    return int(row[0]) if row else 0


# -- state kept in step with the log -------------------------------------------------------


def _residents(b: _Batch, members: list[UUID], at: datetime) -> dict[str, list[Resident]]:
    """The members resident at an RRC at instant `at`, by facility code."""
    out: dict[str, list[Resident]] = {}
    for pid in members:
        b.cur.execute(
            sql.SQL(
                "SELECT placement, facility_code, number FROM {} WHERE participant_id = %s"
                " AND occurred_at <= %s ORDER BY occurred_at DESC, position DESC LIMIT 1"
            ).format(b.t("webhook_placements")),
            (pid, at),
        )
        row = b.cur.fetchone()
        if row and row[0] == Placement.RRC.value and row[1]:
            out.setdefault(row[1], []).append(Resident(pid, row[2]))
    return out


def _latest_placement(b: _Batch, pid: UUID) -> tuple[str, str | None, str] | None:
    b.cur.execute(
        sql.SQL(
            "SELECT placement, facility_code, number FROM {} WHERE participant_id = %s"
            " ORDER BY position DESC LIMIT 1"
        ).format(b.t("webhook_placements")),
        (pid,),
    )
    row = b.cur.fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _place(
    b: _Batch,
    pid: UUID,
    position: int,
    at: datetime,
    placement: str,
    facility: str | None,
    number: str,
) -> None:
    b.cur.execute(
        sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)").format(b.t("webhook_placements")),
        (pid, position, at, placement, facility, number),
    )


def _members(b: _Batch, pairing_id: UUID) -> list[UUID]:
    b.cur.execute(
        sql.SQL("SELECT members FROM {} WHERE pairing_id = %s").format(b.t("webhook_pairings")),
        (pairing_id,),
    )
    row = b.cur.fetchone()
    return list(row[0]) if row else []


def _meeting(b: _Batch, meeting_id: UUID) -> tuple[UUID, datetime, int, Location] | None:
    b.cur.execute(
        sql.SQL(
            "SELECT pairing_id, scheduled_for, planned_minutes, location_kind, location_facility"
            " FROM {} WHERE meeting_id = %s"
        ).format(b.t("webhook_meetings")),
        (meeting_id,),
    )
    row = b.cur.fetchone()
    if row is None:
        return None
    return row[0], row[1], row[2], Location(kind=row[3], facility_code=row[4])


def _emit(
    b: _Batch,
    position: int,
    event_type: str,
    facility: str,
    timestamp: datetime,
    data: dict[str, Any],
    disclosures: list[dict[str, Any]],
) -> None:
    """One delivery per enabled endpoint of `facility` subscribed to `event_type`."""
    body = envelope(event_type, timestamp, data)
    for endpoint_id in sorted(b.routes):
        route = b.routes[endpoint_id]
        if not (
            route.enabled and route.facility_code == facility and event_type in route.event_types
        ):
            continue
        route.last_sequence += 1
        route.changed = True
        delivery_id, msg_id = message_id(b.schema, endpoint_id, position)
        b.rows.append(
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
                b.now,
                b.now,
            )
        )


def _people(residents: list[Resident]) -> list[dict[str, Any]]:
    return [{"participant_id": r.participant_id, "number": r.number} for r in residents]


def _plain(residents: list[Resident], information: str) -> list[dict[str, Any]]:
    return [
        {"participant_id": str(r.participant_id), "information": information, "part2": False}
        for r in residents
    ]


def _location(location: Location) -> dict[str, Any]:
    return {"kind": location.kind, "facility_code": location.facility_code}


def _held(
    b: _Batch,
    position: int,
    event: Any,
    event_type: str,
    record: HeldRecord,
    meeting_id: UUID,
    pairing_id: UUID,
) -> None:
    members = _members(b, pairing_id)
    by_rrc = _residents(b, members, record.occurred_at)
    part2 = bool(getattr(record, "summary_part2", False)) and bool(record.summary)
    for facility, residents in sorted(by_rrc.items()):
        resident_ids = {r.participant_id for r in residents}
        data: dict[str, Any] = {
            "meeting_id": meeting_id,
            "pairing_id": pairing_id,
            "occurred_at": record.occurred_at,
            "date": record.occurred_at.date().isoformat(),
            "duration_minutes": record.duration_minutes,
            "location": _location(record.location),
            "participants": _people(residents),
            "attendance": {
                str(pid): a.value for pid, a in record.attendance.items() if pid in resident_ids
            },
            "summary": record.summary or None,
            "summary_part2": part2,
        }
        information = f"{event_type}: date, duration, location, attendance"
        disclosures = _plain(residents, information)
        if part2:
            recipient = f"rrc:{facility}"
            grants = {
                pid: covering_consent(b.db, b.schema, pid, recipient, b.now) for pid in members
            }
            if all(grants.values()):
                data["part2_notice"] = PART2_NOTICE
                disclosed = resident_ids | set(members)
                disclosures = [
                    {
                        "participant_id": str(pid),
                        "information": f"{event_type}: Part 2 meeting summary"
                        + (", date, duration, location, attendance" if pid in resident_ids else ""),
                        "part2": True,
                        "consent_id": str(grants[pid].consent_id),  # type: ignore[union-attr]
                    }
                    for pid in sorted(disclosed)
                ]
            else:
                data["summary"] = None
                data["withheld"] = "part2_no_consent"
        _emit(b, position, event_type, facility, event.timestamp, data, disclosures)


def _apply(b: _Batch, position: int, event: Any) -> None:
    s = b.schema
    if isinstance(event, WebhookEndpoint.Created):
        b.cur.execute(
            sql.SQL(
                "INSERT INTO {}.webhook_routes (endpoint_id, facility_code, event_types, enabled)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(s)),
            (event.originator_id, event.facility_code, event.event_types, event.enabled),
        )
        b.routes[event.originator_id] = Route(
            event.facility_code, list(event.event_types), event.enabled, 0
        )
    elif isinstance(
        event, WebhookEndpoint.Updated | WebhookEndpoint.Disabled | WebhookEndpoint.Enabled
    ):
        route = b.routes.get(event.originator_id)
        if route is not None:
            if isinstance(event, WebhookEndpoint.Updated):
                route.event_types = list(event.event_types)
            else:
                route.enabled = isinstance(event, WebhookEndpoint.Enabled)
            route.changed = True
    elif isinstance(event, Participant.Enrolled):
        _place(
            b,
            event.originator_id,
            position,
            event.occurred_at,
            Placement.BOP_INSTITUTION.value,
            event.facility_code,
            event.number,
        )
    elif isinstance(
        event, Participant.StageTransitioned | Participant.ReturnedToCustody | Participant.Exited
    ):
        pid = event.originator_id
        before = _latest_placement(b, pid)
        if before is None:
            return
        old_placement, old_facility, number = before
        if isinstance(event, Participant.StageTransitioned):
            placement, facility = event.placement.value, event.facility_code
        elif isinstance(event, Participant.ReturnedToCustody):
            placement, facility = Placement.BOP_INSTITUTION.value, event.facility_code
        else:
            placement, facility = "exited", None
        _place(b, pid, position, event.occurred_at, placement, facility, number)
        person = [Resident(pid, number)]
        was_resident = old_placement == Placement.RRC.value and old_facility
        moved = (placement, facility) != (old_placement, old_facility)
        if was_resident and moved and old_facility:
            if isinstance(event, Participant.Exited):
                data = {
                    "participant_id": pid,
                    "number": number,
                    "facility_code": old_facility,
                    "exit_date": event.exit_date,
                }
                _emit(
                    b,
                    position,
                    "participant.exited",
                    old_facility,
                    event.timestamp,
                    data,
                    _plain(person, "participant.exited: program exit date"),
                )
            else:
                data = {
                    "participant_id": pid,
                    "number": number,
                    "facility_code": old_facility,
                    "occurred_at": event.occurred_at,
                    "to_placement": placement,
                }
                _emit(
                    b,
                    position,
                    "participant.left_rrc",
                    old_facility,
                    event.timestamp,
                    data,
                    _plain(person, "participant.left_rrc: departure date"),
                )
        if placement == Placement.RRC.value and facility and moved:
            data = {
                "participant_id": pid,
                "number": number,
                "facility_code": facility,
                "occurred_at": event.occurred_at,
            }
            _emit(
                b,
                position,
                "participant.arrived_at_rrc",
                facility,
                event.timestamp,
                data,
                _plain(person, "participant.arrived_at_rrc: arrival date"),
            )
    elif isinstance(event, Pairing.Opened):
        b.cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
                b.t("webhook_pairings")
            ),
            (event.originator_id, list(event.members)),
        )
        for facility, residents in sorted(
            _residents(b, list(event.members), event.occurred_at).items()
        ):
            data = {
                "pairing_id": event.originator_id,
                "kind": event.kind,
                "mentor_id": event.mentor_id,
                "participants": _people(residents),
                "location": _location(event.location),
                "opened_at": event.occurred_at,
            }
            _emit(
                b,
                position,
                "pairing.opened",
                facility,
                event.timestamp,
                data,
                _plain(residents, "pairing.opened: pairing with a mentor"),
            )
    elif isinstance(event, Pairing.MemberAdded | Pairing.MemberRemoved):
        op = "array_append" if isinstance(event, Pairing.MemberAdded) else "array_remove"
        b.cur.execute(
            sql.SQL("UPDATE {} SET members = {}(members, %s) WHERE pairing_id = %s").format(
                b.t("webhook_pairings"), sql.Identifier(op)
            ),
            (event.participant_id, event.originator_id),
        )
    elif isinstance(event, Pairing.Closed):
        members = _members(b, event.originator_id)
        for facility, residents in sorted(_residents(b, members, event.occurred_at).items()):
            data = {
                "pairing_id": event.originator_id,
                "participants": _people(residents),
                "closed_at": event.occurred_at,
                "closure_type": event.closure.closure_type,
                "initiator": event.closure.initiator,
            }
            _emit(
                b,
                position,
                "pairing.closed",
                facility,
                event.timestamp,
                data,
                _plain(residents, "pairing.closed: closure of a pairing"),
            )
    elif isinstance(event, Meeting.Scheduled):
        b.cur.execute(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                b.t("webhook_meetings")
            ),
            (
                event.originator_id,
                event.pairing_id,
                event.scheduled_for,
                event.planned_minutes,
                event.location.kind.value,
                event.location.facility_code,
            ),
        )
        members = _members(b, event.pairing_id)
        for facility, residents in sorted(_residents(b, members, event.occurred_at).items()):
            data = {
                "meeting_id": event.originator_id,
                "pairing_id": event.pairing_id,
                "scheduled_for": event.scheduled_for,
                "planned_minutes": event.planned_minutes,
                "location": _location(event.location),
                "participants": _people(residents),
            }
            _emit(
                b,
                position,
                "meeting.scheduled",
                facility,
                event.timestamp,
                data,
                _plain(residents, "meeting.scheduled: date, duration, location"),
            )
    elif isinstance(event, Meeting.Held | Meeting.Amended):
        meeting = _meeting(b, event.originator_id)
        if meeting is not None:
            kind = "meeting.held" if isinstance(event, Meeting.Held) else "meeting.amended"
            _held(b, position, event, kind, event.record, event.originator_id, meeting[0])
    elif isinstance(event, Meeting.Missed | Meeting.Cancelled):
        meeting = _meeting(b, event.originator_id)
        if meeting is None:
            return
        pairing_id, scheduled_for, _, location = meeting
        members = _members(b, pairing_id)
        for facility, residents in sorted(_residents(b, members, event.occurred_at).items()):
            data = {
                "meeting_id": event.originator_id,
                "pairing_id": pairing_id,
                "scheduled_for": scheduled_for,
                "location": _location(location),
                "participants": _people(residents),
            }
            if isinstance(event, Meeting.Missed):
                data["no_show_by"] = event.no_show_by
                kind, info = "meeting.missed", "meeting.missed: date, who did not attend"
            else:
                data["excused"] = event.excused
                kind, info = "meeting.cancelled", "meeting.cancelled: date"
            _emit(b, position, kind, facility, event.timestamp, data, _plain(residents, info))
