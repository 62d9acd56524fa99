"""An erased participant: their record stays for the program's figures, but
nothing personal can be added to it. The API refuses some of what a form would send
(`already_erased`) and keeps the rest's text only as `[erased]`; so the console offers none of
those forms, and a form's address opened anyway says why instead of drawing it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.response import Response, Template

from services.api.console.backend import read
from services.api.console.format import day
from services.api.console.session import PATH, Staff


class ErasedRecord(Exception):
    """A form about a participant whose personal data was erased."""

    def __init__(self, erased_at: str) -> None:
        super().__init__(erased_at)
        self.erased_at = erased_at


def explained(erased_at: Any) -> str:
    """What the erasure means, said on the participant's page and in place of a form."""
    return (
        f"Personal data erased on {day(erased_at)}: the names, date of birth, contact details"
        " and every note, summary and document about this participant can no longer be read."
        " The record stays, without them, for the program's figures; nothing personal can be"
        " added to it, so the forms that would add notes, summaries, details or documents are"
        " not offered."
    )


async def not_erased(request: Request[Any, Any, Any], staff: Staff, participant_id: UUID) -> Any:
    """The participant as the API shows them; `ErasedRecord` once their data was erased."""
    person = await read(request, staff, f"/participants/{participant_id}")
    if person.get("erased_at"):
        raise ErasedRecord(str(person["erased_at"]))
    return person


async def mentee_not_erased(
    request: Request[Any, Any, Any], staff: Staff, meeting: dict[str, Any]
) -> None:
    """`ErasedRecord` for a meeting of an individual pairing whose mentee was erased: its
    summary would be kept only as erased (a group's is not the mentee's: it is kept)."""
    pairing = await read(request, staff, f"/pairings/{meeting['pairing_id']}")
    if pairing["kind"] == "individual":
        await not_erased(request, staff, UUID(str(pairing["members"][0])))


def erased_refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """In place of the form: why it is not offered, and the way back to the record."""
    erased_at = exc.erased_at if isinstance(exc, ErasedRecord) else ""
    pid = request.path_params.get("participant_id") or request.query_params.get("participant")
    return Template(
        "error.html",
        context={
            "title": "Personal data erased",
            "detail": explained(erased_at),
            "back": f"{PATH}/participants/{pid}" if pid else "",
        },
        status_code=409,
    )
