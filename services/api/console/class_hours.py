"""A meeting refused in class hours (`during_class_hours`), said with the class hours it falls
in: the API's rule says only that the meeting overlaps a class period, so the meeting forms
(forms.py, meeting_held.py) name the cohorts' weekly periods after its sentence, read from the
API as the signed-in staff member."""

from __future__ import annotations

from typing import Any

from litestar import Request

from services.api.console.backend import Refusal, segment
from services.api.console.pages import optional
from services.api.console.session import Staff

WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


async def class_hours(request: Request[Any, Any, Any], staff: Staff, pairing_id: str) -> str:
    """The class hours a stage-1 meeting of the pairing keeps out of, in words ("Cohort C1 is
    in class on Tuesdays 09:00 to 12:00."), from the API's reads: the pairing's members (the
    caseload by `pairing_id`) in stage 1, and each one's cohort by its code. "" when none can
    be read (the role may not, or no class hours are set)."""
    rows = await optional(request, staff, "/participants", pairing_id=pairing_id, limit=100)
    codes = sorted({str(r["cohort"]) for r in (rows or {}).get("items", []) if r["stage"] == 1})
    said = []
    for code in codes:
        cohort = await optional(request, staff, f"/cohorts/{segment(code)}")
        periods = (cohort or {}).get("class_hours") or []
        if periods:
            times = [f"{WEEKDAYS[p['weekday'] - 1]} {p['start']} to {p['end']}" for p in periods]
            said.append(f"Cohort {code} is in class on {', '.join(times)}.")
    return " ".join(said)


async def with_class_hours(
    request: Request[Any, Any, Any],
    staff: Staff,
    refused: Refusal,
    shown: dict[str, Any],
    pairing_id: str,
) -> dict[str, Any]:
    """A refused form's page arguments; for a meeting refused in class hours
    (`during_class_hours`), the class hours named after the rule's sentence, above the form
    and beside the time."""
    if refused.code != "during_class_hours":
        return shown
    hours = await class_hours(request, staff, pairing_id)
    if not hours:
        return shown
    errs = dict(shown["errs"])
    errs["occurred_at"] = f"{errs.get('occurred_at', '')} {hours}".strip()
    return {**shown, "error": f"{shown['error']} {hours}", "errs": errs}
