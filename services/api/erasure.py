"""Erasure of a participant's personal data: `POST /v1/grantees/{grantee}/participants/{id}/erasure`
(crypto-shredding, docs/privacy.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, post
from litestar.di import Provide

from domain.participants import Participant
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.text import FreeText

Reason = Annotated[FreeText, msgspec.Meta(min_length=1, max_length=1000)]


class ErasureIn(msgspec.Struct, forbid_unknown_fields=True):
    # Why the personal data is erased (e.g. the participant's request and its date); recorded
    # in the `Participant.Erased` event and in the destroyed key's row.
    reason: Reason


class ErasureOut(msgspec.Struct):
    participant_id: UUID
    number: str
    erased_at: datetime
    erased_by: str
    reason: str
    position: int | None = None


def _render(p: Participant, position: int) -> ErasureOut:
    erased_at = p.erased_at
    assert erased_at is not None  # rendered only after the Erased event
    return ErasureOut(
        participant_id=p.id,
        number=p.number,
        erased_at=erased_at,
        erased_by=p.erased_by,
        reason=p.erasure_reason,
        position=position or None,
    )


TENANT = {"tenant": Provide(provide_tenant, sync_to_thread=False)}


@post(
    "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}/erasure",
    opt=action("participants.erase"),
    dependencies=TENANT,
    sync_to_thread=True,
    status_code=201,
    tags=["participants"],
    responses=problems(
        (404, "not_found", "no such participant in this grantee"),
        (422, "legal_hold", "a legal hold covers the participant's records: erasure is blocked"),
        (422, "already_erased", "the participant's personal data was erased before"),
        (422, "reason_required", "the reason is blank"),
    ),
)
def erase_participant(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    participant_id: UUID,
    data: Annotated[
        ErasureIn,
        body("at the participant's request", {"reason": "participant request of 2026-11-20"}),
    ],
) -> Response[ErasureOut]:
    """Erase a participant's personal data (crypto-shredding). In one transaction: a
    `Participant.Erased` event (who and why, nothing personal), the participant's data key
    destroyed, and stored copies outside the views scrubbed. Afterwards the name, date of
    birth, register number and every free-text note about the participant read as erased
    (`[erased]`, or null) in every view, export and history; the rest of the record (stages,
    dates, counts) stays, and the hash chain still verifies. The views follow within the
    projection lag (ask `wait_for` with the returned position). Refused with `legal_hold`
    while a legal hold covers the participant, and with `already_erased` the second time.
    Cannot be undone."""
    platform = tenant.tenancy.platform
    slug = tenant.info.slug

    def check(pid: UUID) -> None:
        platform.retention.grantee_record(slug).check_erasable(pid)

    return tenant_command(
        request,
        tenant,
        data,
        lambda cmd: tenant.app.participants.erase_participant(
            cmd, participant_id, reason=data.reason, check_erasable=check
        ),
        _render,
        status=201,
    )


ROUTES: list[Any] = [erase_participant]
