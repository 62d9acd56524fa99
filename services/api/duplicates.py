"""Duplicate detection at enrolment: 409 `possible_duplicate` with the existing record."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from domain.participants import PersonalDetails
from services.api.context import Tenant
from services.api.problems import ProblemError
from services.app import enrolment_index


def check_duplicates(
    request: Request[Any, Any, Any], tenant: Tenant, personal: PersonalDetails
) -> None:
    """409 `possible_duplicate` when a participant with the same register number, or the same
    name and date of birth, is enrolled already; `existing` names them by id and number only.
    One indexed read of the enrolment index, which the writes keep (decision 132): nothing
    waits for a view."""
    ledger = tenant.app.ledger
    people = enrolment_index.people(ledger, request.app.state.settings.view_wait_max)
    found = enrolment_index.duplicates(ledger.db, people, personal)
    if found:
        rules = ", ".join(sorted({d.rule for d in found}))
        raise ProblemError(
            409,
            "possible_duplicate",
            f"a participant is enrolled already ({rules}); enrol all the same with"
            " `duplicate_reason`",
            existing=[msgspec.to_builtins(d) for d in found],
        )
