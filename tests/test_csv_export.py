"""CSV export over HTTP with the real app and PostgreSQL: every list answers `Accept:
text/csv` with the same filters, search, sort and pages (the cursor in `X-Next-Cursor`), and a
read of personal data leaves its access-log row as the JSON answer does."""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import clock
from services.api.csv_export import as_csv, asks_for_csv
from services.projector import live as projector
from services.reports import pirl
from tests.mentoring_helpers import Api


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def csv_rows(api: Api, path: str, **params: Any) -> tuple[list[dict[str, str]], Any]:
    r = api.client.get(
        api.base + path, params=params, headers={**api.headers(), "Accept": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text))), r.headers.get("x-next-cursor")


def test_accept_header_choice():
    assert asks_for_csv("text/csv")
    assert asks_for_csv("text/csv, application/json;q=0.5")
    assert not asks_for_csv("application/json, text/csv")
    assert not asks_for_csv("*/*")


def test_lists_export_as_csv_with_their_filters(api: Api) -> None:
    for first in ("Ada", "Bea", "Cy"):
        api.enrol(first_name=first)
    projector.drain(api.db, f"g_{api.slug}")
    rows, cursor = csv_rows(api, "/participants", sort="first_name", limit=2)
    assert [r["first_name"] for r in rows] == ["Ada", "Bea"]
    assert {"id", "number", "stage", "cohort", "days_in_stage"} <= set(rows[0])
    assert rows[0]["stage"] == "1" and rows[0]["cohort"] == "C1"
    rest, end = csv_rows(api, "/participants", sort="first_name", cursor=cursor)
    assert [r["first_name"] for r in rest] == ["Cy"] and end is None
    found, _ = csv_rows(api, "/participants", q="bea")
    assert [r["first_name"] for r in found] == ["Bea"]
    # Another list, with a filter: the facilities of one kind.
    facilities, _ = csv_rows(api, "/facilities", kind="rrc")
    assert [f["code"] for f in facilities] == ["RRC-1"]
    # The JSON answer is unchanged without the header.
    assert api.get("/participants")["items"][0]["first_name"]
    # The export of personal data is a read like any other: an access-log row.
    rows = api.db.fetchall(
        f'SELECT count(*) FROM "g_{api.slug}".access_log WHERE action = %s AND method = %s',
        ("participants.read", "GET"),
    )
    assert rows[0][0] >= 3


def test_an_empty_list_still_has_its_header(api: Api) -> None:
    # A search that finds no one: the file names its columns, as a page with rows does.
    r = api.client.get(
        api.base + "/participants",
        params={"q": "nobodyhere"},
        headers={**api.headers(), "Accept": "text/csv"},
    )
    assert r.status_code == 200, r.text
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    assert rows == []
    assert {"id", "number", "first_name", "stage", "cohort"} <= set(header), header


# -- formula injection (OWASP "CSV Injection") ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Ann", "Ann"),
        ("", ""),
        (-3, "-3"),  # a number keeps its sign
        (-2.5, "-2.5"),
        ("-12", "-12"),  # so does text that is a plain number
        ("-0.75", "-0.75"),
    ],
)
def test_a_cell_that_could_start_a_formula_is_quoted(value: Any, cell: str) -> None:
    (row,) = list(csv.reader(io.StringIO(as_csv([{"v": value}]))))[1:]
    assert row == [cell]


def test_a_name_that_is_a_formula_exports_escaped(api: Api) -> None:
    api.enrol(first_name='=HYPERLINK("http://x")', last_name="@Lee")
    projector.drain(api.db, f"g_{api.slug}")
    rows, _ = csv_rows(api, "/participants")
    (row,) = rows
    assert row["first_name"] == '\'=HYPERLINK("http://x")' and row["last_name"] == "'@Lee"
    # The JSON answer keeps the name as it was given.
    assert api.get("/participants")["items"][0]["first_name"] == '=HYPERLINK("http://x")'


def test_a_csv_answer_is_an_attachment_named_by_its_list_and_today(api: Api) -> None:
    pid = api.enrol(first_name="Ann", last_name="Lee")
    projector.drain(api.db, f"g_{api.slug}")
    today = clock.now().astimezone(ZoneInfo("America/New_York")).date().isoformat()
    for path, name in (("/participants", "participants"), ("/facilities", "facilities")):
        r = api.client.get(api.base + path, headers={**api.headers(), "Accept": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = r.headers["content-disposition"]
        assert disposition == f'attachment; filename="{name}-{today}.csv"', disposition
        # No personal data in the name: neither the person's name nor an id.
        assert "Ann" not in disposition and "Lee" not in disposition and pid not in disposition


def test_the_pirl_file_quotes_formula_cells_and_numbers_keep_their_sign() -> None:
    data = pirl.render([['=HYPERLINK("http://x")', "@A1", "-12", "20260131"]])
    row = data.decode().split("\r\n")[1]
    assert row == '"\'=HYPERLINK(""http://x"")",\'@A1,-12,20260131'
