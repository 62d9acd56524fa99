"""Auditor reads of the log itself (DESIGN D7): the stored events as NDJSON, each with its chain
hash, and participants, pairings, meetings and goals reconstructed as of a past instant from
their events alone (no view is read)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import get
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from domain.goals import Goal
from domain.meetings import Meeting
from domain.pairings import Pairing
from domain.participants import Participant
from services.api import goal_schemas, meetings
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.params import INSTANT_SCHEMA, MAX_POSITION, instant
from services.api.schemas import meetings as meeting_schemas
from services.api.schemas import pairings, participants
from services.audit import stream
from services.audit.as_of import stood_at

NDJSON = "application/x-ndjson"
# Rows read per round trip while streaming: memory stays flat however long the log, and no
# pooled connection is held while a slow client reads.
BATCH = 500

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
    mapper = tenant.app.ledger.mapper
    for records in stream.records(tenant.tenancy.db, tenant.info.schema, after, upto, BATCH):
        chunk = bytearray()
        for r in records:
            try:
                event: Any = mapper.to_domain_event(r.stored())
                recorded_at, payload = event.timestamp, _payload(event)
            except Exception:  # an undecodable record must not end the stream; verify names it
                recorded_at, payload = None, None
            chunk += _encoder.encode(
                EventLine(
                    position=r.position,
                    originator_id=r.originator_id,
                    version=r.version,
                    topic=r.topic,
                    recorded_at=recorded_at,
                    event=payload,
                    hash=None if r.hash is None else r.hash.hex(),
                )
            )
            chunk += b"\n"
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
    count, upto = stream.page_range(tenant.tenancy.db, tenant.info.schema, after, limit)
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
    meeting: meeting_schemas.MeetingOut


class GoalAsOf(msgspec.Struct):
    as_of: datetime
    version: int
    position: int
    recorded_at: datetime
    goal: goal_schemas.GoalOut


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
    found = stood_at(tenant.app.ledger, Participant, participant_id, when, "participant")
    p, position = found.aggregate, found.position
    return ParticipantAsOf(
        when, p.version, position, found.recorded_at, participants.render(p, position)
    )


@_route("pairings/{pairing_id:uuid}")
def pairing_as_of(tenant: Tenant, pairing_id: UUID, as_of: AsOf) -> PairingAsOf:
    """A pairing as it stood at `as_of` (members, flags, closure), replayed from its events
    recorded at or before that instant (recorded time, not `occurred_at`). 404 when the pairing
    had not been opened yet."""
    when = instant(as_of, "as_of")
    found = stood_at(tenant.app.ledger, Pairing, pairing_id, when, "pairing")
    p, position = found.aggregate, found.position
    return PairingAsOf(when, p.version, position, found.recorded_at, pairings.render(p, position))


@_route("meetings/{meeting_id:uuid}")
def meeting_as_of(tenant: Tenant, meeting_id: UUID, as_of: AsOf) -> MeetingAsOf:
    """A meeting as it stood at `as_of`, replayed from its events recorded at or before that
    instant (recorded time, not `occurred_at`). Never the confidential note: only
    `has_confidential_note`. 404 when the meeting had not been scheduled yet."""
    when = instant(as_of, "as_of")
    found = stood_at(tenant.app.ledger, Meeting, meeting_id, when, "meeting")
    m, position = found.aggregate, found.position
    out: meeting_schemas.MeetingOut = meetings.render_for(tenant)(m, position)
    if out.held is not None:
        out.held = msgspec.structs.replace(out.held, confidential_note=None)
    return MeetingAsOf(when, m.version, position, found.recorded_at, out)


@_route("goals/{goal_id:uuid}")
def goal_as_of(tenant: Tenant, goal_id: UUID, as_of: AsOf) -> GoalAsOf:
    """A goal as it stood at `as_of` (terms, steps, progress, revisions, status), replayed from
    its events recorded at or before that instant (recorded time, not `occurred_at`). 404 when
    the goal had not been set yet."""
    when = instant(as_of, "as_of")
    found = stood_at(tenant.app.ledger, Goal, goal_id, when, "goal")
    g, position = found.aggregate, found.position
    # Overdue as of that instant, on the grantee's calendar.
    day = when.astimezone(tenant.app.zone).date()
    return GoalAsOf(
        when, g.version, position, found.recorded_at, goal_schemas.render(g, position, day)
    )


ROUTES: list[Any] = [events, participant_as_of, pairing_as_of, meeting_as_of, goal_as_of]
