"""`/v1/grantees/{grantee}/participants/{id}/case-contacts`: staff record a case-management
contact with a participant (in person, by phone or video) on a day. A contact is a
participation-level service (domain/definitions.py): it keeps the participant from a derived
90-day exit, in the report, the PIRL file and the caseload alike. No text: notes go in case
notes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import Provide

from domain.casework import ContactMode
from domain.participants import Participant
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems


class CaseContactIn(msgspec.Struct, forbid_unknown_fields=True):
    contacted_on: date
    mode: ContactMode = ContactMode.IN_PERSON


class CaseContactOut(msgspec.Struct):
    participant_id: UUID
    contacted_on: date
    mode: ContactMode
    version: int
    position: int | None = None


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


ROUTES: list[Any] = [CaseContactController]
