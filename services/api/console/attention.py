"""Which alerts concern a participant: about them, or about one of their pairings now (a missed
cadence is the pairing's). The caseload counts them on each row, a link to the participant's
page, which lists them near the top (decision 135): one rule for both, so the count is the list's
length."""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Request

from services.api.console.backend import Refusal, read
from services.api.console.session import Staff
from services.identity.access import allowed


def _concerns(alert: dict[str, Any]) -> str | None:
    """The participant or pairing an alert is about."""
    subject = alert.get("subject") in ("participant", "pairing") and alert.get("subject_id")
    concerns = alert.get("participant_id") or alert.get("pairing_id") or subject
    return str(concerns) if concerns else None


def _theirs(row: dict[str, Any]) -> set[str]:
    """What a caseload row's alerts may be about: the participant and their pairings now."""
    pairings = [row.get("individual_pairing_id"), *row.get("group_pairing_ids", [])]
    return {str(row["id"]), *(str(p) for p in pairings if p)}


def alerts_per_person(rows: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> dict[str, int]:
    """How many alerts concern each participant of the caseload's rows."""
    about = Counter(c for c in map(_concerns, alerts) if c)
    return {str(row["id"]): sum(about[c] for c in _theirs(row)) for row in rows}


async def participant_alerts(
    request: Request[Any, Any, Any], staff: Staff, participant_id: str, at: int | None
) -> list[dict[str, Any]] | None:
    """The alerts that concern one participant, in the API's order; None when the role may not
    read alerts. Their pairings now are their caseload row's, read as the caseload reads it."""
    if not allowed("alerts.read", staff.roles):
        return None
    try:
        found = await read(
            request, staff, "/participants", id=[participant_id], limit=1, min_position=at
        )
        alerts = await read(request, staff, "/alerts", min_position=at)
    except Refusal:
        return None
    rows = found.get("items", [])
    if not rows:
        return []
    theirs = _theirs(rows[0])
    return [a for a in alerts.get("items", []) if _concerns(a) in theirs]
