"""Whom an alert concerns, by name: the console shows people, not ids."""

from __future__ import annotations

from typing import Any

from litestar import Request

from services.api.console.backend import Refusal, read
from services.api.console.session import Staff


def person_name(person: Any) -> str:
    return f"{person['first_name']} {person['last_name']} ({person['number']})"


async def _maybe(request: Request[Any, Any, Any], staff: Staff, path: str, **params: Any) -> Any:
    try:
        return await read(request, staff, path, **params)
    except Refusal:
        return None


async def alert_names(
    request: Request[Any, Any, Any], staff: Staff, alerts: list[dict[str, Any]]
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """Whom each alert concerns: its participants (a pairing's are its members) as (id, name)
    by the alert's subject id, and the grantee's mentors' names by id. Each read is the API's,
    with its access-log row; whom the role may not read stays unnamed."""
    mentors = await _maybe(request, staff, "/mentors", limit=200)
    mentor_names = {str(m["id"]): str(m["display_name"]) for m in (mentors or {}).get("items", [])}
    people: dict[str, str] = {}
    about: dict[str, list[tuple[str, str]]] = {}
    for alert in alerts:
        ids = [str(alert["participant_id"])] if alert.get("participant_id") else []
        pairing = alert.get("pairing_id") or (
            alert["subject_id"] if alert.get("subject") == "pairing" else None
        )
        if pairing and not ids:
            found = await _maybe(request, staff, f"/pairings/{pairing}")
            ids = [str(m) for m in (found or {}).get("members", [])]
        for pid in ids:
            if pid not in people:
                person = await _maybe(request, staff, f"/participants/{pid}")
                people[pid] = person_name(person) if person else ""
        about[str(alert["subject_id"])] = [(pid, people[pid]) for pid in ids]
    return about, mentor_names
