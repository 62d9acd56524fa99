"""Whom an alert concerns, by name: the console shows people, not ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from services.api.console.backend import Refusal, read, read_all
from services.api.console.session import Staff

# The most ids one caseload read takes (`IDS_MAX` of its `id` and `pairing_id` filters).
IDS_A_READ = 100


def person_name(person: Any) -> str:
    return f"{person['first_name']} {person['last_name']} ({person['number']})"


async def _maybe(request: Request[Any, Any, Any], staff: Staff, path: str, **params: Any) -> Any:
    try:
        return await read(request, staff, path, **params)
    except Refusal:
        return None


async def _caseload(
    request: Request[Any, Any, Any], staff: Staff, by: str, ids: list[str]
) -> list[dict[str, Any]]:
    """The caseload rows kept by the filter `by` (`id` or `pairing_id`) over `ids`: one read
    (of up to 500 rows) for up to `IDS_A_READ` of them, not one an id."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), IDS_A_READ):
        chunk = ids[start : start + IDS_A_READ]
        params: dict[str, Any] = {by: chunk}
        try:
            found = await read_all(request, staff, "/participants", limit=500, **params)
        except Refusal:
            continue
        rows += found.get("items", [])
    return rows


@dataclass
class PairingPeople:
    """Whom pairings concern: each pairing's members now, as (id, name), and the names of the
    mentors the caseload names (of the members' individual pairings), by mentor id."""

    members: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    mentors: dict[str, str] = field(default_factory=dict)


async def pairing_people(
    request: Request[Any, Any, Any], staff: Staff, pairings: list[str]
) -> PairingPeople:
    """The members of `pairings` now, by name: the caseload read by `pairing_id`, one read
    for up to 100 pairings, never one a pairing (decision 113). Whom the role may not read is
    not listed."""
    wanted = set(pairings)
    found = PairingPeople()
    for row in await _caseload(request, staff, "pairing_id", list(dict.fromkeys(pairings))):
        for pairing in [row.get("individual_pairing_id"), *row.get("group_pairing_ids", [])]:
            if pairing and str(pairing) in wanted:
                found.members.setdefault(str(pairing), []).append(
                    (str(row["id"]), person_name(row))
                )
        if row.get("mentor_id") and row.get("mentor_name"):
            found.mentors[str(row["mentor_id"])] = str(row["mentor_name"])
    return found


async def people_named(
    request: Request[Any, Any, Any], staff: Staff, ids: list[str]
) -> dict[str, str]:
    """The names of the participants `ids`, by id: the caseload read by `id`, one read for up
    to 100 of them, never one a person (decision 113). Whom the role may not read is not
    named."""
    rows = await _caseload(request, staff, "id", list(dict.fromkeys(ids)))
    return {str(row["id"]): person_name(row) for row in rows}


def _pairing_of(alert: dict[str, Any]) -> str | None:
    if alert.get("participant_id"):
        return None
    pairing = alert.get("pairing_id") or (
        alert["subject_id"] if alert.get("subject") == "pairing" else None
    )
    return str(pairing) if pairing else None


async def alert_names(
    request: Request[Any, Any, Any], staff: Staff, alerts: list[dict[str, Any]]
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """Whom each alert concerns: its participants (a pairing's are its members) as (id, name)
    by the alert's subject id, and the grantee's mentors' names by id. The names come from the
    caseload read by `pairing_id` and by `id`, a read for up to 100 pairings or people, never
    one an alert (decision 113); each read is the API's, with its access-log row. Whom the role
    may not read stays unnamed."""
    mentors = await _maybe(request, staff, "/mentors", limit=200)
    mentor_names = {str(m["id"]): str(m["display_name"]) for m in (mentors or {}).get("items", [])}
    pairings = list(dict.fromkeys(p for p in map(_pairing_of, alerts) if p))
    people: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for row in await _caseload(request, staff, "pairing_id", pairings):
        people[str(row["id"])] = person_name(row)
        for pairing in [row.get("individual_pairing_id"), *row.get("group_pairing_ids", [])]:
            if pairing:
                members.setdefault(str(pairing), []).append(str(row["id"]))
    # A pairing no one is a member of now (closed since) names the members it had.
    for pairing in pairings:
        if pairing not in members:
            found = await _maybe(request, staff, f"/pairings/{pairing}")
            members[pairing] = [str(m) for m in (found or {}).get("members", [])]
    concerns = {
        str(a["subject_id"]): [str(a["participant_id"])]
        if a.get("participant_id")
        else members.get(_pairing_of(a) or "", [])
        for a in alerts
    }
    unnamed = [p for ids in concerns.values() for p in ids if p not in people]
    for row in await _caseload(request, staff, "id", list(dict.fromkeys(unnamed))):
        people[str(row["id"])] = person_name(row)
    about = {s: [(pid, people.get(pid, "")) for pid in ids] for s, ids in concerns.items()}
    return about, mentor_names
