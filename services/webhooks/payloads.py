"""The documented shapes of webhook messages (version 1), for the OpenAPI `webhooks` section.

The outbox (services/webhooks/outbox.py) writes these bodies; these Structs describe them and
carry the examples. A message is `{"type", "timestamp", "data", "version", "sequence"}`;
`timestamp` is when the event was recorded (RFC 3339), `sequence` the endpoint's gap-free
number of the message (none on `ping`). New optional fields may appear within a version; a change
of meaning or a removed field raises `version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import (
    Example,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    PathItem,
    RequestBody,
)
from litestar.openapi.spec.base import BaseSchemaObject

from domain.webhooks import EVENT_TYPES

P = "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f"
M = "6e25b1f4-3b2a-4a96-91e5-9f67672a017e"
PAIRING = "0b6f9e2a-4c1d-4e5f-8a9b-7c6d5e4f3a2b"


class Person(msgspec.Struct):
    """A participant resident at the endpoint's RRC when the event happened."""

    participant_id: UUID
    number: str


class Place(msgspec.Struct):
    kind: Literal["bop_institution", "rrc", "off_site", "remote"]
    facility_code: str | None


class MeetingHeldData(msgspec.Struct):
    """`meeting.held` and `meeting.amended` (the corrected record)."""

    meeting_id: UUID
    pairing_id: UUID
    occurred_at: datetime
    date: date
    duration_minutes: int
    location: Place
    participants: list[Person]
    attendance: dict[str, Literal["present", "absent"]]
    summary: str | None
    summary_part2: bool
    withheld: Literal["part2_no_consent"] | None = None
    part2_notice: str | None = None


class MeetingScheduledData(msgspec.Struct):
    meeting_id: UUID
    pairing_id: UUID
    scheduled_for: datetime
    planned_minutes: int
    location: Place
    participants: list[Person]


class MeetingMissedData(msgspec.Struct):
    """`meeting.missed` carries `no_show_by`; `meeting.cancelled` carries `excused`."""

    meeting_id: UUID
    pairing_id: UUID
    scheduled_for: datetime
    location: Place
    participants: list[Person]
    no_show_by: Literal["mentor", "mentee", "both"] | None = None
    excused: bool | None = None


class ArrivedData(msgspec.Struct):
    participant_id: UUID
    number: str
    facility_code: str
    occurred_at: datetime


class LeftData(msgspec.Struct):
    participant_id: UUID
    number: str
    facility_code: str
    occurred_at: datetime
    to_placement: Literal["bop_institution", "rrc", "home_confinement", "community"]


class ExitedData(msgspec.Struct):
    participant_id: UUID
    number: str
    facility_code: str
    exit_date: date


class PairingOpenedData(msgspec.Struct):
    pairing_id: UUID
    kind: Literal["individual", "group"]
    mentor_id: UUID
    participants: list[Person]
    location: Place
    opened_at: datetime


class PairingClosedData(msgspec.Struct):
    pairing_id: UUID
    participants: list[Person]
    closed_at: datetime
    closure_type: Literal["planned", "unplanned"]
    initiator: Literal["mentor", "mentee", "program"]


class PingData(msgspec.Struct):
    endpoint_id: UUID
    message: str


_PEOPLE = [{"participant_id": P, "number": "A1001"}]
_RRC = {"kind": "rrc", "facility_code": "RRC-1"}
_HELD = {
    "meeting_id": M,
    "pairing_id": PAIRING,
    "occurred_at": "2026-11-24T18:05:00-06:00",
    "date": "2026-11-24",
    "duration_minutes": 55,
    "location": _RRC,
    "participants": _PEOPLE,
    "attendance": {P: "present"},
}
DATA: dict[str, tuple[type[Any], str, list[tuple[str, dict[str, Any]]]]] = {
    "meeting.held": (
        MeetingHeldData,
        "A meeting of a pairing with a resident of the RRC was held. Never the confidential note."
        " A summary tagged as Part 2 comes only under the resident's consent for `rrc:<code>`,"
        " with `part2_notice`; otherwise `summary` is null and `withheld` says why.",
        [
            (
                "shareable summary",
                {**_HELD, "summary": "Worked on a resume.", "summary_part2": False},
            ),
            (
                "Part 2 summary without consent",
                {**_HELD, "summary": None, "summary_part2": True, "withheld": "part2_no_consent"},
            ),
            (
                "Part 2 summary under consent",
                {
                    **_HELD,
                    "summary": "Talked about staying in recovery.",
                    "summary_part2": True,
                    "part2_notice": "This record which has been disclosed to you is protected by"
                    " Federal confidentiality rules (42 CFR part 2). ...",
                },
            ),
        ],
    ),
    "meeting.amended": (
        MeetingHeldData,
        "A held meeting's record was corrected: the whole corrected record, as `meeting.held`.",
        [("amended", {**_HELD, "duration_minutes": 45, "summary": None, "summary_part2": False})],
    ),
    "meeting.scheduled": (
        MeetingScheduledData,
        "A meeting with a resident of the RRC was scheduled.",
        [
            (
                "scheduled",
                {
                    "meeting_id": M,
                    "pairing_id": PAIRING,
                    "scheduled_for": "2026-11-26T18:00:00-06:00",
                    "planned_minutes": 60,
                    "location": _RRC,
                    "participants": _PEOPLE,
                },
            )
        ],
    ),
    "meeting.missed": (
        MeetingMissedData,
        "A scheduled meeting did not take place (who did not come).",
        [
            (
                "missed",
                {
                    "meeting_id": M,
                    "pairing_id": PAIRING,
                    "scheduled_for": "2026-11-26T18:00:00-06:00",
                    "location": _RRC,
                    "participants": _PEOPLE,
                    "no_show_by": "mentee",
                },
            )
        ],
    ),
    "meeting.cancelled": (
        MeetingMissedData,
        "A scheduled meeting was cancelled (excused or not; never the free-text reason).",
        [
            (
                "cancelled",
                {
                    "meeting_id": M,
                    "pairing_id": PAIRING,
                    "scheduled_for": "2026-11-26T18:00:00-06:00",
                    "location": _RRC,
                    "participants": _PEOPLE,
                    "excused": True,
                },
            )
        ],
    ),
    "participant.arrived_at_rrc": (
        ArrivedData,
        "A participant moved into this RRC.",
        [
            (
                "arrived",
                {
                    "participant_id": P,
                    "number": "A1001",
                    "facility_code": "RRC-1",
                    "occurred_at": "2026-11-02T09:00:00-06:00",
                },
            )
        ],
    ),
    "participant.left_rrc": (
        LeftData,
        "A resident left this RRC (moved on, or returned to custody); where to, by kind only.",
        [
            (
                "left",
                {
                    "participant_id": P,
                    "number": "A1001",
                    "facility_code": "RRC-1",
                    "occurred_at": "2027-01-15T09:00:00-06:00",
                    "to_placement": "community",
                },
            )
        ],
    ),
    "participant.exited": (
        ExitedData,
        "A resident of this RRC exited the program (never the reason).",
        [
            (
                "exited",
                {
                    "participant_id": P,
                    "number": "A1001",
                    "facility_code": "RRC-1",
                    "exit_date": "2027-02-01",
                },
            )
        ],
    ),
    "pairing.opened": (
        PairingOpenedData,
        "A resident of this RRC was matched with a mentor.",
        [
            (
                "opened",
                {
                    "pairing_id": PAIRING,
                    "kind": "individual",
                    "mentor_id": M,
                    "participants": _PEOPLE,
                    "location": _RRC,
                    "opened_at": "2026-11-03T10:00:00-06:00",
                },
            )
        ],
    ),
    "pairing.closed": (
        PairingClosedData,
        "A pairing with a resident of this RRC closed (never the free-text reason).",
        [
            (
                "closed",
                {
                    "pairing_id": PAIRING,
                    "participants": _PEOPLE,
                    "closed_at": "2027-05-03T10:00:00-05:00",
                    "closure_type": "planned",
                    "initiator": "program",
                },
            )
        ],
    ),
    "ping": (
        PingData,
        "A test message sent on request (`POST …/webhook-endpoints/{id}/ping`).",
        [("ping", {"endpoint_id": PAIRING, "message": "a test message"})],
    ),
}
assert set(DATA) == {*EVENT_TYPES, "ping"}


@dataclass
class _Raw(BaseSchemaObject):
    """A JSON Schema given as a plain dictionary."""

    value: dict[str, Any]

    def to_schema(self) -> dict[str, Any]:
        return self.value


HEADERS = {
    "webhook-id": "The message id (`msg_…`), the same for every attempt: drop duplicates by it.",
    "webhook-timestamp": "Seconds since the epoch when this attempt was signed.",
    "webhook-signature": "Space-separated `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`,"
    " one per secret in force (two during a rotation's 24 hours).",
    "webhook-sequence": "The endpoint's gap-free number of the message, as the body's"
    " `sequence` (trust the signed body's): a skipped number is a lost message.",
}


def add_webhooks(spec: OpenAPI) -> None:
    """The OpenAPI 3.1 `webhooks` object: one POST per message type, with examples."""
    types = [t for t in DATA]
    _, components = msgspec.json.schema_components(
        [DATA[t][0] for t in types], ref_template="#/components/schemas/Webhook{name}"
    )
    if spec.components is not None:
        schemas = dict(spec.components.schemas or {})
        for name, schema in components.items():
            schemas[f"Webhook{name}"] = _Raw(schema)  # type: ignore[assignment]
        spec.components.schemas = schemas
    webhooks: dict[str, Any] = {}
    for event_type in types:
        cls, description, examples = DATA[event_type]
        envelope = {
            "type": "object",
            "required": ["type", "timestamp", "data", "version"],
            "properties": {
                "type": {"const": event_type},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": {"$ref": f"#/components/schemas/Webhook{cls.__name__}"},
                "version": {"const": 1},
                "sequence": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "the endpoint's gap-free number of this message, in the"
                    " order of the grantee's log (absent on `ping`)",
                },
            },
        }
        media = OpenAPIMediaType(
            schema=_Raw(envelope),  # type: ignore[arg-type]
            examples={
                name: Example(
                    summary=name,
                    # Raw, so that `"summary": null` stays in the example (null is meaningful).
                    value=_Raw(
                        {
                            "type": event_type,
                            "timestamp": "2026-11-24T18:06:12.345678Z",
                            "data": value,
                            "version": 1,
                            **({} if event_type == "ping" else {"sequence": 42}),
                        }
                    ),
                )
                for name, value in examples
            },
        )
        webhooks[event_type] = PathItem(
            post=Operation(
                summary=event_type,
                description=description
                + " Headers: "
                + "; ".join(f"`{k}`: {v}" for k, v in HEADERS.items())
                + " Answer 2xx within 15 s; 410 disables the endpoint; anything else is retried"
                " (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ±20%).",
                request_body=RequestBody(content={"application/json": media}, required=True),
                responses={
                    "200": OpenAPIResponse(description="received (any 2xx)"),
                    "410": OpenAPIResponse(description="gone: the endpoint is disabled"),
                },
            )
        )
    spec.webhooks = webhooks
