"""The PIRL edit checks (services/reports/pirl_checks.py): the table, row by row, and an export
refused with the rows and checks that fail (or served with `allow_warnings` when WIPS only
warns)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import pytest

from services.cli.records import cmd_export
from services.reports import pirl_checks
from services.reports.pirl_checks import CHECKS, blocking, failures
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers

HEADER = ["100", "200", "900", "901", "1007"]


def codes(rows: list[list[str]]) -> list[tuple[int, str]]:
    return [(f.row, f.check.code) for f in failures(HEADER, rows)]


def test_each_check_of_the_table_fails_the_rows_it_should() -> None:
    rows = [
        ["A1", "19900401", "20260105", "20260301", "20260215"],  # passes everything
        ["", "19900401", "", "", ""],  # required elements missing
        ["A3", "19900401", "20260105", "20251201", ""],  # exit before entry
        ["A4", "", "20260105", "", ""],  # date of birth missing (erased)
        ["A5", "20150101", "20260105", "", ""],  # 11 years old at entry
        ["A6", "19900401", "20260105", "20260301", "20260310"],  # contact after exit
        ["A7", "19900401", "20260105", "", ""],
        ["A7", "19900401", "20260105", "", ""],  # the same identifier twice
    ]
    assert codes(rows) == [
        (2, "required_elements"),
        (3, "exit_before_entry"),
        (4, "date_of_birth_missing"),
        (5, "date_of_birth_implausible"),
        (6, "contact_after_exit"),
        (7, "duplicate_identifier"),
        (8, "duplicate_identifier"),
    ]
    found = failures(HEADER, rows)
    # Warnings refuse the file only when not allowed.
    assert {f.check.code for f in blocking(found, allow_warnings=True)} == {
        "required_elements",
        "exit_before_entry",
        "date_of_birth_implausible",
        "duplicate_identifier",
    }
    assert len(blocking(found, allow_warnings=False)) == len(found)


def test_the_table_is_documented_in_pirl_md() -> None:
    with open("docs/pirl.md", encoding="utf-8") as f:
        doc = f.read()
    assert pirl_checks.markdown() in doc
    assert len(CHECKS) == 5


def contact_after_exit(api: Api) -> str:
    """A mentee whose exit, recorded later, is dated before a meeting they attended: their row
    fails `contact_after_exit` (1007 after 901), which WIPS only warns about."""
    (grad,), (mentee,) = graduates_and_newcomers(api, 1, 1)
    mentor = api.certified("Mentor", participant_id=grad)
    pairing = api.pair(mentor, [mentee], opened_at="2026-07-06T15:00:00Z")["id"]
    at = "2026-07-15T15:00:00Z"
    api.post(
        "/meetings",
        {
            "pairing_id": pairing,
            "scheduled_for": at,
            "location": {"kind": "off_site"},
            "held": {"occurred_at": at, "duration_minutes": 60, "topics": ["goals"]},
        },
    )
    # An exit recorded later, dated before the meeting held: 1007 falls after 901.
    api.post(f"/participants/{mentee}/exit", {"exit_date": "2026-07-10", "reason": "relocated"})
    return mentee


def test_an_export_with_a_failing_row_is_refused_naming_rows_and_checks(
    client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt
) -> None:
    frozen_at(datetime(2026, 11, 26, 15, 0, tzinfo=UTC), tick=True)
    api = Api(client, auth, grantee, db)
    contact_after_exit(api)
    r = client.post(f"{api.base}/exports/pirl/2026Q3", headers=api.headers())
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "pirl_edit_checks_failed"
    assert "contact_after_exit (warning" in problem["detail"] and "row " in problem["detail"]
    assert api.get("/exports")["items"] == []  # nothing recorded for a refused file
    # WIPS only warns about it: served when warnings are allowed.
    r = client.post(
        f"{api.base}/exports/pirl/2026Q3", params={"allow_warnings": "true"}, headers=api.headers()
    )
    assert r.status_code == 201, r.text
    assert "20260710" in r.text and "20260715" in r.text


def test_the_cli_refuses_a_failing_file_and_exports_it_with_allow_warnings(
    client: Any,
    auth: Any,
    grantee: str,
    db: Any,
    frozen_at: FreezeAt,
    settings: Any,
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Any,
) -> None:
    frozen_at(datetime(2026, 11, 26, 15, 0, tzinfo=UTC), tick=True)
    api = Api(client, auth, grantee, db)
    contact_after_exit(api)
    target = tmp_path / "pirl.csv"
    args = {"format": "pirl", "grantee": grantee, "quarter": "2026Q3", "output": str(target)}
    capsysbinary.readouterr()
    assert cmd_export(argparse.Namespace(**args, allow_warnings=False), settings) == 1
    err = capsysbinary.readouterr().err.decode()
    # The rows and the checks they fail, with what WIPS does about each.
    assert "pirl_edit_checks_failed" in err
    assert "row " in err and "contact_after_exit (warning" in err
    assert not target.exists()
    assert api.get("/exports")["items"] == []  # nothing recorded for a refused file
    assert cmd_export(argparse.Namespace(**args, allow_warnings=True), settings) == 0
    data = target.read_bytes().decode()
    assert "20260710" in data and "20260715" in data
    [export] = api.get("/exports")["items"]
    assert export["rows"] == len(data.splitlines()) - 1
