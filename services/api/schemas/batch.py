"""The batch endpoint's request and response (`POST /v1/grantees/{grantee}/commands`)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec

from services.api.problems import Problem
from services.api.text import Line

MAX_ITEMS = 500
# 500 items of up to 4 KiB each.
MAX_BYTES = 2 * 1024 * 1024
REF = r"^[A-Za-z0-9_.-]{1,64}$"


class BatchItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One command: its `kind`, the body its single endpoint takes, and its own key."""

    kind: Annotated[
        Line,
        msgspec.Meta(
            max_length=64,
            description="participant.enrol, participant.stage_transition, mentor.register,"
            " pairing.open, meeting.schedule or meeting.held (an unknown kind refuses this"
            " item alone: 422 unknown_kind)",
        ),
    ]
    idempotency_key: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]{1,200}$",
            description="this item's Idempotency-Key, as its single endpoint takes it",
        ),
    ]
    body: Annotated[
        msgspec.Raw,
        msgspec.Meta(
            description="the request body of the kind's single endpoint; a string"
            ' `"$ref:NAME"` stands for the id of the record an earlier item named NAME saved'
        ),
    ]
    target: (
        Annotated[
            Line,
            msgspec.Meta(
                max_length=70,
                description="the id in the single endpoint's path (participant.stage_transition:"
                " the participant; meeting.held: the meeting), or `$ref:NAME`",
            ),
        ]
        | None
    ) = None
    ref: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=64,
                pattern=REF,
                description="a name later items use as `$ref:NAME` for this item's record",
            ),
        ]
        | None
    ) = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """1 to 500 commands, decided in order and committed in one transaction."""

    items: list[BatchItem]


class ItemResult(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One item's outcome: the status its single endpoint would answer with, the record it
    saved (id, location, log position), or its problem."""

    index: int
    kind: str
    status: int
    id: UUID | None = None
    location: str | None = None
    position: int | None = None
    # The item's key had been answered before (by an earlier batch, a single request or an
    # earlier item of this batch): nothing was written for it now.
    replayed: bool = False
    problem: Problem | None = None


class BatchOut(msgspec.Struct, kw_only=True):
    """Every item's outcome in order, the counts, and the log position of the batch's last
    event (0 when it wrote nothing): read views with `min_position` to see the batch."""

    items: list[ItemResult]
    accepted: int
    replayed: int
    refused: int
    position: int
    attempts: int


BATCH_EXAMPLE: dict[str, Any] = {
    "items": [
        {
            "kind": "participant.enrol",
            "idempotency_key": "intake-2026-11-24-001",
            "ref": "dana",
            "body": {
                "first_name": "Dana",
                "last_name": "Reyes",
                "date_of_birth": "1988-03-14",
                "program_entry_date": "2026-02-02",
                "facility": "FCI-N1",
                "cohort": "NC-2026A",
            },
        },
        {
            "kind": "pairing.open",
            "idempotency_key": "intake-2026-11-24-002",
            "ref": "match",
            "body": {
                "kind": "individual",
                "mentor_id": "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e",
                "members": ["$ref:dana"],
                "location": {"kind": "bop_institution", "facility": "FCI-N1"},
                "criteria": ["shared_experience"],
                "commitment": {"frequency": "weekly", "minutes_per_meeting": 60, "months": 6},
            },
        },
        {
            "kind": "meeting.schedule",
            "idempotency_key": "intake-2026-11-24-003",
            "body": {
                "pairing_id": "$ref:match",
                "scheduled_for": "2026-11-24T18:00:00-06:00",
                "location": {"kind": "bop_institution", "facility": "FCI-N1"},
            },
        },
    ]
}
BATCH_OUT_EXAMPLE: dict[str, Any] = {
    "items": [
        {
            "index": 0,
            "kind": "participant.enrol",
            "status": 201,
            "id": "3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
            "location": "/v1/grantees/northside_works/participants/3f2c1a9e-8d7b-5c6a-9e0f-1a2b3c4d5e6f",
            "position": 812,
        },
        {
            "index": 1,
            "kind": "pairing.open",
            "status": 201,
            "id": "6e25b1f4-3b2a-4a96-91e5-9f67672a017e",
            "location": "/v1/grantees/northside_works/pairings/6e25b1f4-3b2a-4a96-91e5-9f67672a017e",
            "position": 814,
        },
        {
            "index": 2,
            "kind": "meeting.schedule",
            "status": 422,
            "problem": {
                "type": "urn:prowd:problem:clearance_required",
                "title": "Rule violated",
                "status": 422,
                "detail": "the mentor has no unexpired volunteer clearance for FCI-N1",
                "code": "clearance_required",
            },
        },
    ],
    "accepted": 2,
    "replayed": 0,
    "refused": 1,
    "position": 814,
    "attempts": 1,
}
