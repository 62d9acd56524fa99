"""Dates at the ends of the calendar (year 1, year 9999) never crash anything and never reach
the log: every date and date-time a request body, a query parameter, an import file or a
command-line option carries must lie in 1900-01-01 to 2200-12-31 (domain/daterange.py), else
400 `date_out_of_range` naming the input, with nothing appended. Inside the range, the calendar
arithmetic on an instant (its ISO week and quarter in any zone) is total."""

from __future__ import annotations

import re
from argparse import Namespace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.cadence import iso_week
from domain.daterange import EARLIEST, LATEST, in_range
from services.api.dates import first_outside
from services.cli.views import cmd_replay
from services.reports.quarterly import Quarter
from tests.meetings_helpers import World, held
from tests.test_meetings_api import solo

ENDS = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1899-12-31T23:59:59Z")
DAY_ENDS = ("0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01")
# Every zone offset in use, whole hours from UTC-12 to UTC+14.
OFFSETS = [timezone(timedelta(hours=h)) for h in range(-12, 15)]


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def refused(r: Any, name: str) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = r.json()
    assert problem["code"] == "date_out_of_range", problem
    assert name in problem["detail"] and "1900-01-01 to 2200-12-31" in problem["detail"]
    assert problem["errors"][0]["key"] == name
    return problem


# -- the rule, over every value ------------------------------------------------------------------


@given(st.datetimes(timezones=st.sampled_from([UTC, *OFFSETS])))
def test_an_instant_is_accepted_exactly_when_its_utc_time_is_in_range(moment: datetime) -> None:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        assert not in_range(moment)
        return
    assert in_range(moment) == (EARLIEST <= utc.date() <= LATEST)


@given(st.dates())
def test_a_date_is_accepted_exactly_in_range(day: date) -> None:
    assert in_range(day) == (EARLIEST <= day <= LATEST)


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    ),
    st.sampled_from([*OFFSETS, ZoneInfo("America/Chicago"), ZoneInfo("Pacific/Kiritimati")]),
)
def test_calendar_arithmetic_is_total_inside_the_range(moment: datetime, zone: Any) -> None:
    assert in_range(moment)
    week = iso_week(moment, ZoneInfo("UTC") if not isinstance(zone, ZoneInfo) else zone)
    assert re.fullmatch(r"[0-9]{4}-W[0-9]{2}", week)
    local = moment.astimezone(zone).date()
    quarter = Quarter.of(local)
    assert quarter.start <= local <= quarter.end


class _Inner(msgspec.Struct):
    due_on: date


class _Body(msgspec.Struct):
    at: datetime
    steps: list[_Inner]


@given(st.lists(st.dates(), min_size=1, max_size=4), st.datetimes(timezones=st.just(UTC)))
def test_the_body_check_names_the_first_field_out_of_range(days: list[date], at: datetime) -> None:
    body = _Body(at, [_Inner(d) for d in days])
    found = first_outside(body)
    expected = [("at", at)] if not in_range(at) else []
    expected += [(f"steps[{i}].due_on", d) for i, d in enumerate(days) if not in_range(d)]
    assert found == (expected[0] if expected else None)


# -- request bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("at", ENDS)
def test_a_meeting_at_an_end_of_the_calendar_is_refused(world: World, at: str) -> None:
    w = world
    _, _, pid = solo(w)
    before = w.events()
    r = w.client.post(w.base + "/meetings", json=w.meeting_body(pid, at), headers=w.headers())
    refused(r, "scheduled_for")
    # Nested: a meeting recorded as held names `held.occurred_at`.
    body = w.meeting_body(pid, "2026-11-03T18:00:00Z", record=held(at))
    refused(w.client.post(w.base + "/meetings", json=body, headers=w.headers()), "held.occurred_at")
    assert w.events() == before


@pytest.mark.parametrize("day", DAY_ENDS)
def test_an_enrolment_with_a_date_out_of_range_is_refused(world: World, day: str) -> None:
    w = world
    before = w.events()
    body = {
        "first_name": "Ann",
        "last_name": "Lee",
        "date_of_birth": day,
        "program_entry_date": "2025-09-15",
        "facility": "FCI-A",
        "cohort": "C1",
    }
    refused(
        w.client.post(w.base + "/participants", json=body, headers=w.headers()), "date_of_birth"
    )
    assert w.events() == before


def test_the_range_itself_is_accepted(world: World) -> None:
    """The first instant of the range reaches the domain's own rules (no range refusal)."""
    w = world
    _, _, pid = solo(w)
    r = w.client.post(
        w.base + "/meetings",
        json=w.meeting_body(pid, "1900-01-01T00:00:00Z", record=held("1900-01-01T00:00:00Z")),
        headers=w.headers(),
    )
    assert r.status_code == 422 and r.json()["code"] != "date_out_of_range", r.text


# -- query parameters: every one the OpenAPI document declares as a date or date-time ---------


def _dated_query_parameters(client: Any) -> list[tuple[str, str]]:
    doc = client.get("/schema/openapi.json").json()
    found = []
    for path, operations in doc["paths"].items():
        for op in operations.values():
            for p in op.get("parameters", []) if isinstance(op, dict) else []:
                schema = msgspec.json.encode(p.get("schema", {})).decode()
                if p["in"] == "query" and ('"date-time"' in schema or "[0-9]{4}-" in schema):
                    found.append((path, p["name"]))
    return found


def test_every_dated_query_parameter_refuses_the_ends_of_the_calendar(
    world: World, client: Any, auth: Any
) -> None:
    w = world
    found = _dated_query_parameters(client)
    assert len(found) >= 13, found  # meetings, audit, access log, RRC and report parameters
    fill = {
        "grantee": w.slug,
        "participant_id": str(uuid4()),
        "pairing_id": str(uuid4()),
        "meeting_id": str(uuid4()),
        "goal_id": str(uuid4()),
        "rrc": "RRC-1",
        "quarter": "2026Q3",
        "figure": "enrolment.new",
    }
    before = w.events()
    for path, name in found:
        url = re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], path)
        if "/audit/" in path:
            headers = auth("auditor", w.slug)
        elif "/rrc/" in path:
            headers = auth("rrc_staff", w.slug, sub="rrc-desk", rrc="RRC-1")
        elif path.startswith("/v1/reports"):
            headers = auth("federal_oversight", "*")
        else:
            headers = w.headers()
        for at in ENDS:
            r = client.get(url, params={name: at}, headers=headers)
            assert r.status_code == 400, (path, name, at, r.text)
            refused(r, name)
    assert w.events() == before


# -- import files and the command line ----------------------------------------------------------


def test_an_import_row_with_a_date_out_of_range_is_refused(world: World) -> None:
    w = world
    data = (
        b"first_name,last_name,date_of_birth,bop_register_number,program_entry_date,facility,cohort\n"
        b"Ann,Lee,0001-01-01,,2025-09-15,FCI-A,C1\n"
    )
    before = w.events()
    r = w.client.post(
        w.base + "/imports",
        content=data,
        params={"kind": "participants"},
        headers={**w.headers(), "Content-Type": "text/csv"},
    )
    # As any cell not of its column's type: the whole file is refused, naming row and column.
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "import_invalid_cells"
    (cell,) = r.json()["errors"]
    assert (cell["row"], cell["column"]) == (2, "date_of_birth")
    assert "1900-01-01 to 2200-12-31" in cell["message"], cell
    assert w.events() == before


@pytest.mark.parametrize("at", ENDS)
def test_replay_refuses_an_instant_out_of_range(
    settings: Any, grantee: str, capsys: Any, at: str
) -> None:
    capsys.readouterr()
    assert cmd_replay(Namespace(grantee=grantee, as_of=at), settings) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"prowd replay: --as-of {at!r}: ") and "1900-01-01 to 2200-12-31" in err


def _formats(node: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("format") in ("date", "date-time"):
            found.append(node)
        for value in node.values():
            _formats(value, found)
    elif isinstance(node, list):
        for value in node:
            _formats(value, found)
    return found


def test_the_document_declares_the_range_on_every_date(client: Any) -> None:
    """Declared before refused (decision 24): a client or fuzzer sees the range."""
    doc = client.get("/schema/openapi.json").json()
    # The messages the service sends (`webhooks`, their `Webhook…Data`) are not inputs.
    schemas = {k: v for k, v in doc["components"]["schemas"].items() if not k.startswith("Webhook")}
    dated = _formats([doc["paths"], schemas], [])
    assert len(dated) > 50
    for schema in dated:
        assert schema.get("pattern", "").startswith("^(19[0-9]{2}|2[01][0-9]{2}|2200)-"), schema
        if schema["format"] == "date":
            assert re.search(schema["pattern"], "2200-12-31")
            assert not re.search(schema["pattern"], "2201-01-01")
            assert not re.search(schema["pattern"], "1899-12-31")
