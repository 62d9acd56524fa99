"""Duplicate detection at enrolment: 409 `possible_duplicate` with the existing record."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from domain.participants import PersonalDetails
from projections.search import duplicates
from services.api import views
from services.api.context import Tenant
from services.api.problems import ProblemError


def check_duplicates(
    request: Request[Any, Any, Any], tenant: Tenant, personal: PersonalDetails
) -> None:
    """409 `possible_duplicate` when a participant with the same register number, or the same
    name and date of birth, is enrolled already; `existing` names them by id and number only.
    The views are caught up first (or, while the worker holds them, waited for) so that the
    search view has applied the whole log."""
    db, schema = tenant.tenancy.db, tenant.info.schema
    people = views.caught_up(db, schema, "search", request.app.state.settings.view_wait_max)
    found = duplicates(db, people, personal)
    if found:
        rules = ", ".join(sorted({d.rule for d in found}))
        raise ProblemError(
            409,
            "possible_duplicate",
            f"a participant is enrolled already ({rules}); enrol all the same with"
            " `duplicate_reason`",
            existing=[msgspec.to_builtins(d) for d in found],
        )
