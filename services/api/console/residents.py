"""RRC staff's pages: the residents of their own RRC, sorted, and one resident with the record
of their meetings the RRC is given (another RRC's resident is not found). The API lists
residents by id, an order nobody reads by; the console reads the whole list (`read_all`) and
sorts it by number (the default) or arrival, with the caseload's words for each choice
(sorts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from litestar import Request, get
from litestar.response import Template

from services.api.console.backend import read, read_all
from services.api.console.meeting_record import PLACE_NAMES
from services.api.console.pages import grantee_zone, page
from services.api.console.session import PATH, signed_in
from services.api.console.sorts import COLUMNS, EARLIEST


class Order(NamedTuple):
    """A choice of the residents' sort: its words, the column it orders and which way."""

    label: str
    heading: str
    direction: str


NUMBER = COLUMNS["number"]
ORDERS = {
    "number": Order(f"Number, {NUMBER.ascending}", "Number", "ascending"),
    "-number": Order(f"Number, {NUMBER.descending}", "Number", "descending"),
    "arrived_at": Order(f"Arrived, {EARLIEST[0]}", "Arrived", "ascending"),
    "-arrived_at": Order(f"Arrived, {EARLIEST[1]}", "Arrived", "descending"),
}


def sort_residents(items: list[Any], choice: str) -> list[Any]:
    """The residents in the order chosen (`ORDERS`); by number for a choice not offered. An
    arrival is compared as the instant it is (the API gives it with its offset), ties by
    number."""
    if choice.removeprefix("-") == "arrived_at":
        items = sorted(items, key=lambda r: str(r["number"]))
        return sorted(
            items,
            key=lambda r: datetime.fromisoformat(str(r["arrived_at"])),
            reverse=choice.startswith("-"),
        )
    return sorted(items, key=lambda r: str(r["number"]), reverse=choice == "-number")


@get(f"{PATH}/rrc")
async def rrc(request: Request[Any, Any, Any]) -> Template:
    """RRC staff: the residents of their own RRC, by number unless another order is asked
    (`?sort=`: no personal data, it may be in the address)."""
    staff = signed_in(request)
    code = staff.principal.rrc or ""
    asked = request.query_params.get("sort") or ""
    choice = asked if asked in ORDERS else "number"
    found = await read_all(request, staff, f"/rrc/{code}/residents", limit=500)
    return page(
        request,
        staff,
        "rrc.html",
        title="RRC residents",
        rrc=code,
        residents=sort_residents(found["items"], choice),
        complete=found["complete"],
        orders=ORDERS,
        sort=choice,
        order=ORDERS[choice],
    )


@get(f"{PATH}/rrc/residents/{{participant_id:uuid}}")
async def resident(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """One resident of the staff member's own RRC (another RRC's is not found): their stage,
    mentors and the meetings held with them here, newest first."""
    staff = signed_in(request)
    code = staff.principal.rrc or ""
    found = await read(request, staff, f"/rrc/{code}/residents/{participant_id}")
    # The meetings held with them while they reside here, as the API shares them with the RRC
    # (oldest first): newest first here, each time in the grantee's zone.
    held = await read_all(
        request, staff, f"/rrc/{code}/meetings", participant_id=str(participant_id), limit=500
    )
    zone = await grantee_zone(request, staff)
    meetings = [
        {**m, "occurred_at": datetime.fromisoformat(str(m["occurred_at"])).astimezone(zone)}
        for m in held["items"]
    ]
    meetings.sort(key=lambda m: m["occurred_at"], reverse=True)
    return page(
        request,
        staff,
        "resident.html",
        title="Resident",
        rrc=code,
        r=found,
        meetings=[{**m, "occurred_at": m["occurred_at"].isoformat()} for m in meetings],
        complete=held["complete"],
        places=PLACE_NAMES,
    )


ROUTES = [rrc, resident]
