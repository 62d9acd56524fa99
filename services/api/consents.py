"""`/v1/grantees/{grantee}/participants/{id}/consents` and `/disclosures` (42 CFR Part 2).

A participant's written consents to disclose Part 2 information (record, revoke, list) and the
participant's accounting of disclosures: every time information about them left the grantee
(RRC view read, webhook, export), to whom, what, under which consent, by which channel.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.common import utcnow
from domain.consents import (
    CATEGORIES,
    RECIPIENT,
    Category,
    Consent,
    ConsentTerms,
    Signer,
    consent_status,
)
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, Cursor, Limit, UuidCursor
from services.api.text import FreeText, Line, Name
from services.app.consents import ConsentOut
from services.audit.accounting import DisclosureOut

Short = Annotated[Line, msgspec.Meta(max_length=500)]
ShortText = Annotated[FreeText, msgspec.Meta(max_length=500)]
Who = Annotated[Name, msgspec.Meta(max_length=500)]
Recipient = Annotated[
    str,
    msgspec.Meta(
        pattern=RECIPIENT.pattern,
        max_length=40,
        description="`rrc:<FACILITY CODE>` (an RRC of the grantee) or `export:pirl`",
        examples=["rrc:RRC-1"],
    ),
]


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    discloser: Who
    information: Annotated[list[Category], msgspec.Meta(max_length=len(CATEGORIES))]
    recipient: Recipient
    purpose: Short
    signed_on: date
    signed_by: Signer
    representative: Who = ""
    expires_on: date | None = None
    expiry_event: Short = ""


class RevocationIn(msgspec.Struct, forbid_unknown_fields=True):
    revoked_at: datetime | None = None
    note: Short = ""


class ConsentResult(ConsentOut):
    version: int
    position: int | None


class ConsentPage(msgspec.Struct):
    participant_id: UUID
    items: list[ConsentOut]
    next_cursor: str | None


class DisclosurePage(msgspec.Struct):
    participant_id: UUID
    items: list[DisclosureOut]
    next_cursor: str | None


def render(c: Consent, position: int) -> ConsentResult:
    """The consent as the API shows it, with its status now."""
    t = c.terms
    return ConsentResult(
        id=c.id,
        participant_id=c.participant_id,
        discloser=t.discloser,
        information=list(t.information),
        recipient=t.recipient,
        purpose=t.purpose,
        signed_on=t.signed_on,
        signed_by=t.signed_by.value,
        representative=t.representative,
        expires_on=t.expires_on,
        expiry_event=t.expiry_event,
        effective_at=c.effective_at,
        expires_at=c.expires_at,
        status=consent_status(c.effective_at, c.expires_at, c.revoked_at, utcnow()),
        recorded_at=c.recorded_at,
        recorded_by=c.recorded_by,
        revoked_at=c.revoked_at,
        revoked_by=c.revoked_by,
        revocation_note=c.revocation_note,
        version=c.version,
        position=position or None,
    )


RECORD_EXAMPLE = {
    "discloser": "Northside Works reentry mentoring program",
    "information": ["meeting_summaries", "attendance"],
    "recipient": "rrc:RRC-1",
    "purpose": "coordinate reentry support with the participant's RRC case manager",
    "signed_on": "2026-11-20",
    "signed_by": "participant",
    "expires_on": "2027-05-20",
}
TERMS = [
    (404, "not_found", "participant not found"),
    (
        422,
        "consent_incomplete",
        "a written consent names who may disclose, what information and the purpose; "
        "missing: purpose",
    ),
    (
        422,
        "unknown_information",
        "unknown information categories: diagnosis (known: meeting_summaries, stage, "
        "attendance, goals)",
    ),
    (422, "invalid_recipient", "the recipient is `rrc:<FACILITY CODE>` or `export:pirl`"),
    (422, "unknown_recipient", "the grantee has no facility RRC-9"),
    (
        422,
        "representative_required",
        "a consent signed by a representative names the representative and their authority",
    ),
    (
        422,
        "representative_not_signer",
        "a representative is named only when the representative signed",
    ),
    (422, "in_future", "the signature date lies in the future"),
    (
        422,
        "expiry_required",
        "a consent states when it expires: an expiry date or an expiry event (§2.31)",
    ),
    (422, "expiry_before_signature", "the expiry date must fall after the signature date"),
    (422, "too_long", "purpose is longer than 500 characters"),
]
REVOKE_RULES = [
    (404, "not_found", "consent not found"),
    (422, "consent_revoked", "the consent was revoked at 2026-11-25T10:00:00+00:00"),
    (422, "in_future", "the revocation instant lies in the future"),
    (422, "revoked_before_signature", "a consent cannot be revoked before it was signed"),
    (422, "naive_datetime", "the revocation instant must carry a UTC offset"),
]


class ConsentController(Controller):
    path = "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}"
    tags = ("consents",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/consents",
        opt=action("consents.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*TERMS),
    )
    def record_consent(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[ConsentIn, body("consent to share summaries with an RRC", RECORD_EXAMPLE)],
    ) -> Response[ConsentResult]:
        """Record a participant's written consent (42 CFR §2.31) to disclose Part 2
        information: who may disclose (`discloser`), what (`information`: categories among
        meeting_summaries, stage, attendance, goals), to whom (`recipient`: `rrc:<CODE>`, an RRC
        registered by the grantee, or `export:pirl`), the `purpose`, when it expires
        (`expires_on`, a date after `signed_on`, and/or `expiry_event`, the event named on the
        form), the signature date and who signed (the participant, or a `representative` named
        with their authority). The consent is in force from the start of the signature day to
        the end of the expiry day in the grantee's time zone, unless revoked. A consent with
        only an expiry event stays in force until revoked when the event happens."""
        terms = ConsentTerms(
            discloser=data.discloser,
            information=tuple(data.information),
            recipient=data.recipient,
            purpose=data.purpose,
            signed_on=data.signed_on,
            signed_by=data.signed_by,
            representative=data.representative,
            expires_on=data.expires_on,
            expiry_event=data.expiry_event,
        )
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.consents.record_consent(
                cmd, participant_id=participant_id, terms=terms
            ),
            render,
            status=201,
        )

    @post(
        "/consents/{consent_id:uuid}/revoke",
        opt=action("consents.write"),
        sync_to_thread=True,
        status_code=200,
        responses=problems(*REVOKE_RULES),
    )
    def revoke_consent(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        consent_id: UUID,
        data: Annotated[
            RevocationIn,
            body("the participant revoked in writing", {"note": "written revocation received"}),
        ],
    ) -> Response[ConsentResult]:
        """Revoke a consent from `revoked_at` on (now when omitted; not in the future, not
        before the signature day). From that instant no disclosure path sends Part 2
        information under it; disclosures made before stay in the accounting. Final: a
        revoked consent is never restored (record a new one)."""
        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.consents.revoke_consent(
                cmd,
                participant_id=participant_id,
                consent_id=consent_id,
                revoked_at=data.revoked_at,
                note=data.note,
            ),
            render,
        )

    @get(
        "/consents",
        opt=action("consents.read"),
        sync_to_thread=True,
        responses=problems(
            (404, "not_found", "participant not found"),
            (400, "invalid_cursor", "the cursor is not one this list handed out"),
        ),
    )
    def list_consents(
        self,
        tenant: Tenant,
        participant_id: UUID,
        limit: Limit = LIMIT_DEFAULT,
        cursor: UuidCursor = "",
    ) -> ConsentPage:
        """A participant's consents, recorded, expired and revoked alike, each with its
        `status` now (`in_force`, `pending`, `expired`, `revoked`). Read from the consent
        index written with the consents' events: never behind the log."""
        items, nxt = tenant.app.consents.consents_of(participant_id, after=cursor, limit=limit)
        return ConsentPage(participant_id, items, nxt)

    @get(
        "/disclosures",
        opt=action("disclosures.read"),
        sync_to_thread=True,
        responses=problems(
            (404, "not_found", "participant not found"),
            (400, "invalid_cursor", "the cursor is not one this list handed out"),
        ),
    )
    def list_disclosures(
        self,
        tenant: Tenant,
        participant_id: UUID,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Cursor = "",
    ) -> DisclosurePage:
        """The participant's accounting of disclosures, oldest first: each time information
        about them left the grantee, who received it (`recipient`), what (`information`,
        `part2`), when (`disclosed_at`), under which consent (`consent_id`), by which channel
        (`rrc_view`, `webhook`, `export`) and what went out (`reference`: request id, webhook
        message id or export digest). From the append-only disclosure log."""
        items, nxt = tenant.app.consents.disclosures_of(participant_id, after=cursor, limit=limit)
        return DisclosurePage(participant_id, items, nxt)


ROUTES: list[Any] = [ConsentController]
