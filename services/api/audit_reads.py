"""Auditor reads of the log itself (DESIGN D7): the stored events as NDJSON, each with its chain
hash, and participants, pairings, meetings and goals reconstructed as of a past instant from
their events alone (no view is read)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent
from litestar import get
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream
from psycopg import sql

from domain.common import ProwdAggregate
from domain.goals import Goal
from domain.meetings import Meeting
from domain.pairings import Pairing
from domain.participants import Participant
from services.api import goals, meetings, pairings, participants
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import INSTANT_SCHEMA, MAX_POSITION
from services.api.problems import ProblemError

A = TypeVar("A", bound=ProwdAggregate)
NDJSON = "application/x-ndjson"
# Rows read per round trip while streaming: memory stays flat however long the log, and no
# pooled connection is held while a slow client reads.
BATCH = 500

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_UNENCODED_PLUS = re.compile(r"(?<=[0-9]) ([0-9]{2}:[0-9]{2})$")
_INSTANT_DOC = "an RFC 3339 date-time with a UTC offset, e.g. 2026-06-01T12:00:00Z"


def instant(value: str, name: str) -> datetime:
    """An RFC 3339 date-time with its offset; anything else (a naive time included) is a 400.
    A `+` sent unencoded in a query string arrives as a space: read back as `+`."""
    value = _UNENCODED_PLUS.sub(r"+\1", value)
    match = _RFC3339.fullmatch(value)
    if match is not None and match["offset"] is None:
        raise ProblemError(
            400, "invalid_instant", f"{name} must carry a UTC offset (Z or ±hh:mm): {_INSTANT_DOC}"
        )
    try:
        if match is None:
            raise ValueError(value)
        return datetime.fromisoformat(value.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise ProblemError(400, "invalid_instant", f"{name} is not {_INSTANT_DOC}") from None


_encoder = msgspec.json.Encoder(order="deterministic")


class EventLine(msgspec.Struct):
    """One line of the stream."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    recorded_at: datetime | None
    event: dict[str, Any] | None
    hash: str | None


_COLUMNS = {"originator_id", "originator_version", "timestamp"}


def _payload(event: Any) -> dict[str, Any]:
    """The event's fields as stored; a held meeting's confidential note is replaced by whether
    there is one (the note reaches only its author and the coordinator, DESIGN D8)."""
    data = {k: v for k, v in vars(event).items() if k not in _COLUMNS}
    record = data.get("record")
    if record is not None and hasattr(record, "confidential_note"):
        shown = msgspec.to_builtins(record)
        shown.pop("confidential_note", None)
        shown["has_confidential_note"] = bool(record.confidential_note)
        data["record"] = shown
    return data


def _lines(tenant: Tenant, after: int, upto: int) -> Iterator[bytes]:
    s = sql.Identifier(tenant.info.schema)
    query = sql.SQL(
        "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, c.hash"
        " FROM {s}.events e LEFT JOIN {s}.chain c ON c.notification_id = e.notification_id"
        " WHERE e.notification_id > %s AND e.notification_id <= %s"
        " ORDER BY e.notification_id LIMIT %s"
    ).format(s=s)
    mapper = tenant.app.ledger.mapper
    while after < upto:
        rows = tenant.tenancy.db.fetchall(query, (after, upto, BATCH))
        if not rows:
            return
        chunk = bytearray()
        for position, originator_id, version, topic, state, chain_hash in rows:
            try:
                event: Any = mapper.to_domain_event(
                    StoredEvent(originator_id, version, topic, bytes(state))
                )
                recorded_at, payload = event.timestamp, _payload(event)
            except Exception:  # an undecodable record must not end the stream; verify names it
                recorded_at, payload = None, None
            chunk += _encoder.encode(
                EventLine(
                    position=position,
                    originator_id=originator_id,
                    version=version,
                    topic=topic,
                    recorded_at=recorded_at,
                    event=payload,
                    hash=bytes(chain_hash).hex() if chain_hash is not None else None,
                )
            )
            chunk += b"\n"
        after = rows[-1][0]
        yield bytes(chunk)


@get(
    "/v1/grantees/{grantee:str}/audit/events",
    opt=action("audit.events"),
    sync_to_thread=True,
    tags=["audit"],
    media_type=NDJSON,
    responses={
        **problems(),
        200: ResponseSpec(
            data_container=EventLine,
            media_type=NDJSON,
            description="One `EventLine` object a line, in position order",
            generate_examples=False,
        ),
    },
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def events(
    tenant: Tenant,
    after: Annotated[
        int, Parameter(ge=0, le=MAX_POSITION, description="the last position already read")
    ] = 0,
    limit: Annotated[int, Parameter(ge=1, le=10_000, description="events at most")] = 1000,
) -> Stream:
    """The grantee's stored events after position `after`, in log order, as NDJSON
    (`application/x-ndjson`): one JSON object a line with `position`, `originator_id`,
    `version`, `topic`, `recorded_at` (the store's timestamp), `event` (the stored fields,
    decoded) and `hash`, the hex SHA-256 chain hash kept beside that record.

    The range is fixed before the first line is sent: `X-Event-Count` says how many lines follow
    and `X-Next-After` is the position to pass as `after` for the next page (equal to `after`
    when there is nothing new). A confidential meeting note never leaves here: a held or amended
    meeting's `record` says only `has_confidential_note`. The hash therefore cannot be
    recomputed from these lines for such records; `GET …/audit/verification` recomputes the
    chain from the stored bytes."""
    row = tenant.tenancy.db.fetchone(
        sql.SQL(
            "SELECT count(*), max(notification_id) FROM (SELECT notification_id FROM {}.events"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s) page"
        ).format(sql.Identifier(tenant.info.schema)),
        (after, limit),
    )
    count, upto = (int(row[0]), int(row[1])) if row and row[1] is not None else (0, after)
    return Stream(
        _lines(tenant, after, upto),
        media_type=NDJSON,
        headers={"X-Event-Count": str(count), "X-Next-After": str(upto)},
    )


AsOf = Annotated[
    str,
    Parameter(
        max_length=40,
        description="the instant, RFC 3339 with a UTC offset; compared with the events' "
        "recorded time, not their occurred_at",
        schema_extra=INSTANT_SCHEMA,
    ),
]


def _as_of(
    tenant: Tenant, cls: type[A], aggregate_id: UUID, when: datetime, what: str
) -> tuple[A, int, datetime]:
    """The aggregate rebuilt from its events recorded at or before `when`; with the position and
    recorded time of the last event applied. 404 when none was recorded by then."""
    applied = [
        (position, event)
        for position, event in tenant.app.ledger.history_with_positions(aggregate_id)
        if event.timestamp <= when
    ]
    if not applied:
        raise ProblemError(404, "not_found", f"no {what} had been recorded by {when.isoformat()}")
    position, last = applied[-1]
    aggregate = tenant.app.ledger.load(cls, aggregate_id, what, version=last.originator_version)
    return aggregate, position, last.timestamp


class ParticipantAsOf(msgspec.Struct):
    as_of: datetime
    version: int
    position: int
    recorded_at: datetime
    participant: participants.ParticipantOut


class PairingAsOf(msgspec.Struct):
    as_of: datetime
    version: int
    position: int
    recorded_at: datetime
    pairing: pairings.PairingOut


class MeetingAsOf(msgspec.Struct):
    as_of: datetime
    version: int
    position: int
    recorded_at: datetime
    meeting: meetings.MeetingOut


class GoalAsOf(msgspec.Struct):
    as_of: datetime
    version: int
    position: int
    recorded_at: datetime
    goal: goals.GoalOut


def _route(path: str) -> Callable[[Callable[..., Any]], Any]:
    return get(
        f"/v1/grantees/{{grantee:str}}/audit/{path}",
        opt=action("audit.as_of"),
        sync_to_thread=True,
        tags=["audit"],
        responses=problems(
            (400, "invalid_instant", "as_of must carry a UTC offset (Z or ±hh:mm)"),
            (404, "not_found", "no participant had been recorded by 2026-03-01T00:00:00+00:00"),
        ),
        dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
    )


@_route("participants/{participant_id:uuid}")
def participant_as_of(tenant: Tenant, participant_id: UUID, as_of: AsOf) -> ParticipantAsOf:
    """A participant as it stood at `as_of`: replayed from its events recorded at or before that
    instant (the store's recorded time; an event's `occurred_at`, when it happened in the world,
    plays no part). 404 when the participant had not been recorded yet."""
    when = instant(as_of, "as_of")
    p, position, recorded_at = _as_of(tenant, Participant, participant_id, when, "participant")
    return ParticipantAsOf(when, p.version, position, recorded_at, participants.render(p, position))


@_route("pairings/{pairing_id:uuid}")
def pairing_as_of(tenant: Tenant, pairing_id: UUID, as_of: AsOf) -> PairingAsOf:
    """A pairing as it stood at `as_of` (members, flags, closure), replayed from its events
    recorded at or before that instant (recorded time, not `occurred_at`). 404 when the pairing
    had not been opened yet."""
    when = instant(as_of, "as_of")
    p, position, recorded_at = _as_of(tenant, Pairing, pairing_id, when, "pairing")
    return PairingAsOf(when, p.version, position, recorded_at, pairings.render(p, position))


@_route("meetings/{meeting_id:uuid}")
def meeting_as_of(tenant: Tenant, meeting_id: UUID, as_of: AsOf) -> MeetingAsOf:
    """A meeting as it stood at `as_of`, replayed from its events recorded at or before that
    instant (recorded time, not `occurred_at`). Never the confidential note: only
    `has_confidential_note`. 404 when the meeting had not been scheduled yet."""
    when = instant(as_of, "as_of")
    m, position, recorded_at = _as_of(tenant, Meeting, meeting_id, when, "meeting")
    out: meetings.MeetingOut = meetings.render_for(tenant)(m, position)
    if out.held is not None:
        out.held = msgspec.structs.replace(out.held, confidential_note=None)
    return MeetingAsOf(when, m.version, position, recorded_at, out)


@_route("goals/{goal_id:uuid}")
def goal_as_of(tenant: Tenant, goal_id: UUID, as_of: AsOf) -> GoalAsOf:
    """A goal as it stood at `as_of` (terms, steps, progress, revisions, status), replayed from
    its events recorded at or before that instant (recorded time, not `occurred_at`). 404 when
    the goal had not been set yet."""
    when = instant(as_of, "as_of")
    g, position, recorded_at = _as_of(tenant, Goal, goal_id, when, "goal")
    # Overdue as of that instant, on the grantee's calendar.
    day = when.astimezone(tenant.app.zone).date()
    return GoalAsOf(when, g.version, position, recorded_at, goals.render(g, position, day))


ROUTES: list[Any] = [events, participant_as_of, pairing_as_of, meeting_as_of, goal_as_of]
