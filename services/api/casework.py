"""`/v1/grantees/{grantee}/participants/{id}/case-contacts`: staff record a case-management
contact with a participant (in person, by phone or video) on a day. A contact is a
participation-level service (domain/definitions.py): it keeps the participant from a derived
90-day exit, in the report, the PIRL file and the caseload alike. No text: notes go in case
notes. The participant's contacts are listed by their day, newest first."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import Parameter

from domain.casework import CaseContact, ContactMode, contacts_after
from domain.participants import Participant
from services.api.context import (
    Tenant,
    action,
    check_own_mentee,
    provide_tenant,
    tenant_command,
)
from services.api.docs import body, problems
from services.api.params import LIMIT_DEFAULT, Limit
from services.api.problems import ProblemError


class CaseContactIn(msgspec.Struct, forbid_unknown_fields=True):
    contacted_on: date
    mode: ContactMode = ContactMode.IN_PERSON


class CaseContactOut(msgspec.Struct):
    participant_id: UUID
    contacted_on: date
    mode: ContactMode
    version: int
    position: int | None = None


class CaseContactPage(msgspec.Struct):
    participant_id: UUID
    # By `contacted_on`, newest first; on one day, the later recorded (`position`) first.
    items: list[CaseContact]
    next_cursor: str | None


BAD_CURSOR = "the cursor is not one this list handed out"
# A page's cursor: the last contact's day and log position (nothing personal).
_CURSOR = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\.([0-9]{1,19})$")


def _after(cursor: str) -> tuple[date, int] | None:
    if not cursor:
        return None
    found = _CURSOR.match(cursor)
    try:
        if found is None:
            raise ValueError(cursor)
        return date.fromisoformat(found[1]), int(found[2])
    except ValueError:
        raise ProblemError(400, "invalid_cursor", BAD_CURSOR) from None


class CaseContactController(Controller):
    path = "/v1/grantees/{grantee:str}/participants/{participant_id:uuid}/case-contacts"
    tags = ["participants"]
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    @post(
        "/",
        opt=action("casework.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(
            (404, "not_found", "no such participant in this grantee"),
            (422, "in_future", "the contact date lies in the future"),
            (422, "contact_before_entry", "the contact date is before program entry"),
            (422, "contact_after_exit", "the participant exited before the contact date"),
        ),
    )
    def record(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            CaseContactIn,
            body("a phone call", {"contacted_on": "2026-11-20", "mode": "phone"}),
        ],
    ) -> Response[CaseContactOut]:
        """Record a case-management contact with the participant on a day (a participation-level
        service: it resets the 90-day clock of the derived exit)."""

        def render(p: Participant, position: int) -> CaseContactOut:
            return CaseContactOut(p.id, data.contacted_on, data.mode, p.version, position or None)

        return tenant_command(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.participants.record_case_contact(
                cmd, participant_id, on=data.contacted_on, mode=data.mode
            ),
            render,
            status=201,
        )

    @get(
        "/",
        opt=action("participants.read"),
        sync_to_thread=True,
        responses=problems(
            (400, "invalid_cursor", BAD_CURSOR),
            (404, "not_found", "no such participant in this grantee"),
        ),
    )
    def list_contacts(
        self,
        tenant: Tenant,
        participant_id: UUID,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Annotated[
            str, Parameter(max_length=40, description="`next_cursor` of the previous page")
        ] = "",
    ) -> CaseContactPage:
        """The participant's case-management contacts by their day (`contacted_on`), newest
        first; two on one day, the later recorded first (`position`, the log position). Keyset
        pages on (`contacted_on`, `position`). Peer mentors: their own mentees'."""
        after = _after(cursor)
        contacts = contacts_after(tenant.app.participants.case_contacts(participant_id), after)
        check_own_mentee(
            tenant, tenant.app.participants.participant(participant_id), "participants.read"
        )
        page = contacts[:limit]
        last = page[-1] if len(contacts) > limit else None
        more = None if last is None else f"{last.contacted_on.isoformat()}.{last.position}"
        return CaseContactPage(participant_id, page, more)


ROUTES: list[Any] = [CaseContactController]
