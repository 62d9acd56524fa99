"""`/v1/grantees/{grantee}/participants/{id}/outcomes` and `/outcomes`: participant
outcomes (jobs, credentials, housing)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain.evaluation import (
    WAGE_RANGE,
    Credential,
    CredentialType,
    Employment,
    Housing,
    HousingType,
    Outcomes,
    WageUnit,
)
from projections.evaluation import OutcomeKind, OutcomeRow, outcome_page
from services.api import text
from services.api.context import Tenant, action, provide_tenant, tenant_command
from services.api.docs import body, problems
from services.api.evaluation import evaluation_tables
from services.api.params import LIMIT_DEFAULT, Cursor, Limit, LongText, MinPosition

Text = LongText
Name = Annotated[text.Name, msgspec.Meta(max_length=200)]
# A wage, as a decimal string ("18.50"): 0.01 to 9999999.99 in whole cents. msgspec takes no
# pattern on a Decimal; the domain refuses the rest (`invalid_wage`, domain/evaluation.py), the
# schema declares it (Litestar copies `extra_json_schema["extra"]` into the field's schema).
PositiveAmount = Annotated[
    Decimal,
    msgspec.Meta(
        description=f"wage: {WAGE_RANGE}",
        extra_json_schema={
            "extra": {"pattern": r"^0*([1-9][0-9]{0,6}(\.[0-9]{1,2})?|\.(0[1-9]|[1-9][0-9]?))$"}
        },
        examples=["18.50"],
    ),
]


class EmploymentIO(msgspec.Struct, forbid_unknown_fields=True):
    employer: Name
    started_on: date
    wage: PositiveAmount
    wage_unit: WageUnit
    hours_per_week: Annotated[float, msgspec.Meta(gt=0, le=80)] | None = None
    job_title: Name = ""


class CredentialIO(msgspec.Struct, forbid_unknown_fields=True):
    credential_type: CredentialType
    name: Name
    earned_on: date
    issuer: Name = ""


class HousingIO(msgspec.Struct, forbid_unknown_fields=True):
    housing_type: HousingType
    secured_on: date
    note: Text = ""


class OutcomesOut(msgspec.Struct, omit_defaults=True):
    participant_id: UUID
    employments: list[EmploymentIO]
    credentials: list[CredentialIO]
    housing: list[HousingIO]
    version: int | None = None
    position: int | None = None


class OutcomePage(msgspec.Struct):
    items: list[OutcomeRow]
    next_cursor: str | None


def render_outcomes(o: Outcomes, position: int) -> OutcomesOut:
    """The participant's outcomes as the API shows them."""
    return OutcomesOut(
        participant_id=o.participant_id,
        employments=[
            EmploymentIO(
                e.employer, e.started_on, e.wage, e.wage_unit, e.hours_per_week, e.job_title
            )
            for e in o.employments
        ],
        credentials=[
            CredentialIO(c.credential_type, c.name, c.earned_on, c.issuer) for c in o.credentials
        ],
        housing=[HousingIO(h.housing_type, h.secured_on, h.note) for h in o.housing],
        version=o.version,
        position=position or None,
    )


OUTCOME_DAY = [
    (422, "before_program_entry", "the employment start date is before the date of program entry"),
    (422, "in_future", "the employment start date lies in the future"),
    (422, "duplicate_outcome", "this employment is already recorded"),
]


class OutcomeController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ("evaluation",)
    dependencies = {"tenant": Provide(provide_tenant, sync_to_thread=False)}

    def _outcome(
        self, request: Request[Any, Any, Any], tenant: Tenant, data: Any, execute: Any
    ) -> Response[OutcomesOut]:
        return tenant_command(request, tenant, data, execute, render_outcomes, status=201)

    @post(
        "/participants/{participant_id:uuid}/outcomes/employment",
        opt=action("outcomes.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*OUTCOME_DAY, (422, "invalid_wage", f"wage must be {WAGE_RANGE}")),
    )
    def employment(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            EmploymentIO,
            body(
                "a job start",
                {
                    "employer": "Tri-County Logistics",
                    "started_on": "2026-10-05",
                    "wage": "18.50",
                    "wage_unit": "hourly",
                    "hours_per_week": 40,
                    "job_title": "forklift operator",
                },
            ),
        ],
    ) -> Response[OutcomesOut]:
        """Record that the participant started a job: employer, start date and wage."""
        employment = Employment(
            employer=data.employer,
            started_on=data.started_on,
            wage=data.wage,
            wage_unit=data.wage_unit,
            hours_per_week=data.hours_per_week,
            job_title=data.job_title,
        )
        return self._outcome(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_employment(cmd, participant_id, employment),
        )

    @post(
        "/participants/{participant_id:uuid}/outcomes/credentials",
        opt=action("outcomes.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*OUTCOME_DAY),
    )
    def credential(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            CredentialIO,
            body(
                "an industry certificate",
                {
                    "credential_type": "industry_certificate",
                    "name": "OSHA 10",
                    "earned_on": "2026-09-12",
                    "issuer": "OSHA Training Institute",
                },
            ),
        ],
    ) -> Response[OutcomesOut]:
        """Record a credential the participant earned."""
        credential = Credential(
            credential_type=data.credential_type,
            name=data.name,
            earned_on=data.earned_on,
            issuer=data.issuer,
        )
        return self._outcome(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_credential(cmd, participant_id, credential),
        )

    @post(
        "/participants/{participant_id:uuid}/outcomes/housing",
        opt=action("outcomes.write"),
        sync_to_thread=True,
        status_code=201,
        responses=problems(*OUTCOME_DAY),
    )
    def housing(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        participant_id: UUID,
        data: Annotated[
            HousingIO,
            body(
                "a lease in the participant's name",
                {"housing_type": "own_lease", "secured_on": "2026-11-02"},
            ),
        ],
    ) -> Response[OutcomesOut]:
        """Record that the participant secured housing."""
        housing = Housing(
            housing_type=data.housing_type, secured_on=data.secured_on, note=data.note
        )
        return self._outcome(
            request,
            tenant,
            data,
            lambda cmd: tenant.app.evaluation.record_housing(cmd, participant_id, housing),
        )

    @get(
        "/participants/{participant_id:uuid}/outcomes",
        opt=action("outcomes.read"),
        sync_to_thread=True,
        responses=problems(),
    )
    def participant_outcomes(self, tenant: Tenant, participant_id: UUID) -> OutcomesOut:
        """The participant's outcomes as the log has them (a return to custody is a stage
        transition of the participant)."""
        return render_outcomes(tenant.app.evaluation.outcomes(participant_id), 0)

    @get("/outcomes", opt=action("outcomes.read"), sync_to_thread=True, responses=problems())
    def list_outcomes(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        limit: Limit = LIMIT_DEFAULT,
        cursor: Cursor = "",
        kind: OutcomeKind | None = None,
        participant_id: UUID | None = None,
        min_position: MinPosition = None,
    ) -> OutcomePage:
        """Every outcome recorded, in log order, by kind or participant."""
        t = evaluation_tables(request, tenant, min_position)
        return OutcomePage(
            *outcome_page(
                tenant.tenancy.db,
                t,
                after=cursor or "0",
                limit=limit,
                kind=kind,
                participant_id=participant_id,
            )
        )
