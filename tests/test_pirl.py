"""The PIRL-aligned export over HTTP and the CLI, on the real app and PostgreSQL: the element
columns in the table's order, one row per participant entered by the quarter's end, dates as
YYYYMMDD in the grantee's time zone, a pseudonymous identifier that is none of the person's
numbers, exit and credential codes, byte-identical repeats recorded once, every file recorded in
the log with the SHA-256 of the bytes served, a GET that never writes, and the refusals (roles,
other grantees, bad quarters)."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from domain.participants import ExitReason
from services.cli.records import cmd_export
from services.projector import live as projector
from services.reports import pirl
from services.reports.pirl import COLUMNS, Quarter
from tests.conftest import race
from tests.meetings_helpers import World

ROOT = Path(__file__).resolve().parent.parent
ELEMENTS = ["100", "200", "801", "900", "901", "923", "1007"]
ELEMENTS += ["1600", "1602", "1604", "1606", "1800", "1801"]
DATE_ELEMENTS = {"200", "900", "901", "1007", "1801"}
GENERATED = "domain.exports:ExportRegister.Generated"


class Scenario:
    """A grantee (America/Chicago) with: Ann (C1, entered 2025-09-15, register number
    12345-678, participant number 12345678, paired and met twice, a credential, exited
    institutionalized on 2026-02-10, then employed from 2026-05-04); Bo (C1, entered
    2025-09-15, exited health/medical 2025-11-20); Cy (C1, entered 2026-04-01); the cohort-C0
    graduates of the World (entered 2025-01-10, graduated 2025-06-01, never mentees)."""

    def __init__(self, w: World) -> None:
        self.w = w
        mentor = w.mentor("pm-pirl")
        self.ann = w.post(
            "/participants",
            {
                "first_name": "Ann",
                "last_name": "Quill",
                "date_of_birth": "1988-03-14",
                "program_entry_date": "2025-09-15",
                "facility": "FCI-A",
                "cohort": "C1",
                "number": "12345678",
                "bop_register_number": "12345-678",
            },
        )["id"]
        self.bo = w.enrol("C1", "2025-09-15", "Bo")
        self.cy = w.enrol("C1", "2026-04-01", "Cy")
        pairing = w.pair(mentor, [self.ann], "2025-09-20T10:00:00-05:00")
        w.meet(pairing, "2025-10-01T18:00:00-05:00")
        # 20:00 in Chicago on 31 December is 1 January in UTC: the local date counts.
        w.meet(pairing, "2025-12-31T20:00:00-06:00")
        w.post(
            f"/participants/{self.ann}/outcomes/credentials",
            {
                "credential_type": "industry_certificate",
                "name": "OSHA 10",
                "earned_on": "2025-11-15",
            },
        )
        w.close(pairing)
        self.exit(self.ann, "2026-02-10", "institutionalized")
        w.post(
            f"/participants/{self.ann}/outcomes/employment",
            {
                "employer": "Tri-County Logistics",
                "started_on": "2026-05-04",
                "wage": "18.50",
                "wage_unit": "hourly",
            },
        )
        self.exit(self.bo, "2025-11-20", "health_medical")

    def exit(self, participant: str, on: str, reason: str) -> None:
        self.w.post(f"/participants/{participant}/exit", {"exit_date": on, "reason": reason})

    def export(self, quarter: str, *, method: str = "post", role: str = "coordinator", **kw: Any):
        w = self.w
        call = getattr(w.client, method)
        return call(f"{w.base}/exports/pirl/{quarter}", headers={**w.headers(role), **kw})

    def rows(self, quarter: str) -> dict[str, dict[str, str]]:
        """The file of `quarter` by participant: element -> cell."""
        r = self.export(quarter)
        assert r.status_code in (200, 201), r.text  # 200: unchanged since its last export
        table = list(csv.reader(io.StringIO(r.content.decode())))
        header, body = table[0], table[1:]
        ids = self.identifiers()
        by_identifier = {row[0]: dict(zip(header, row, strict=True)) for row in body}
        return {p: by_identifier[i] for p, i in ids.items() if i in by_identifier}

    def identifiers(self) -> dict[str, str]:
        """participant id -> element 100, from the register's events in the log."""
        rows = self.w.db.fetchall(
            f'SELECT state FROM "{self.w.schema}".events WHERE topic = %s',
            ("domain.exports:ExportRegister.IdentifiersAssigned",),
        )
        out = {}
        for (state,) in rows:
            for a in msgspec.json.decode(bytes(state))["assignments"]:
                out[a["participant_id"]] = a["identifier"]
        return out

    def generated(self) -> list[dict[str, Any]]:
        rows = self.w.db.fetchall(
            f'SELECT state FROM "{self.w.schema}".events WHERE topic = %s ORDER BY notification_id',
            (GENERATED,),
        )
        return [msgspec.json.decode(bytes(r[0]))["export"] for r in rows]


@pytest.fixture(scope="module")
def s(client, auth, db) -> Scenario:
    return Scenario(World(client, auth, db))


def test_the_header_is_the_element_table_in_order(s):
    r = s.export("2026Q1")
    assert r.status_code in (200, 201), r.text  # 200: the quarter's last export, unchanged
    # One charset parameter (it was doubled: `charset=utf-8; charset=utf-8`).
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    lines = r.content.split(b"\r\n")
    assert lines[-1] == b""  # every row ends with CRLF
    table = list(csv.reader(io.StringIO(r.content.decode())))
    assert table[0] == [str(c.element) for c in COLUMNS] == ELEMENTS
    assert all(len(row) == len(ELEMENTS) for row in table[1:])


def test_one_row_per_participant_entered_by_the_end_of_the_quarter(s):
    graduates = 4  # the World's C0 cohort, entered 2025-01-10
    for quarter, expected in (("2024Q4", 0), ("2025Q1", graduates), ("2026Q1", graduates + 2)):
        r = s.export(quarter)
        assert r.status_code in (200, 201), r.text  # 200: the quarter's last export, unchanged
        assert r.content.count(b"\r\n") - 1 == expected, quarter
        recorded = s.w.get(f"/exports/{r.headers['X-Export-Id']}")
        assert r.headers["X-Export-Digest"] and recorded["rows"] == expected
    q1, q2 = s.rows("2026Q1"), s.rows("2026Q2")
    assert s.cy not in q1 and s.cy in q2  # entered 2026-04-01
    assert {s.ann, s.bo} <= set(q1)


def test_values_and_formats(s):
    q3, q4, q1 = s.rows("2025Q3"), s.rows("2025Q4"), s.rows("2026Q1")
    for rows in (q3, q4, q1):
        for row in rows.values():
            for element in DATE_ELEMENTS:
                assert re.fullmatch(r"(|[0-9]{8})", row[element]), (element, row[element])
    ann = q4[s.ann]
    assert (ann["200"], ann["801"], ann["900"]) == ("19880314", "1", "20250915")
    # The late meeting is on 31 December in the grantee's zone (1 January in UTC).
    assert ann["1007"] == "20251231"
    assert q3[s.ann]["1007"] == ""
    # Exit is reported from the quarter it is dated in, with its 923 code.
    assert (ann["901"], ann["923"]) == ("", "")
    assert (q1[s.ann]["901"], q1[s.ann]["923"]) == ("20260210", "1")
    assert (q4[s.bo]["901"], q4[s.bo]["923"]) == ("20251120", "2")
    # The credential: PIRL 1800 code 6 (industry-recognised), from the quarter it was earned.
    assert (q3[s.ann]["1800"], q3[s.ann]["1801"]) == ("", "")
    assert (ann["1800"], ann["1801"]) == ("6", "20251115")


def test_employment_after_exit_by_quarter(s):
    # Ann exited in 2026Q1 and started a job on 2026-05-04 (in 2026Q2, the 1st quarter after).
    q1, q2, q3 = s.rows("2026Q1")[s.ann], s.rows("2026Q2")[s.ann], s.rows("2026Q3")[s.ann]
    assert [q1[e] for e in ("1600", "1602", "1604", "1606")] == ["", "", "", ""]
    assert [q2[e] for e in ("1600", "1602", "1604", "1606")] == ["1", "", "", ""]
    assert [q3[e] for e in ("1600", "1602", "1604", "1606")] == ["1", "1", "", ""]
    # Bo (exited 2025Q4) has no employment recorded: unknown, so empty.
    assert s.rows("2026Q3")[s.bo]["1600"] == ""


def test_a_participant_without_service_for_90_days_has_a_derived_exit(s):
    q3 = s.rows("2025Q3")
    graduate_rows = [row for p, row in q3.items() if p not in (s.ann, s.bo, s.cy)]
    assert len(graduate_rows) == 4
    # Cohort C0 graduated on 2025-06-01 and none of its members was mentored or met since:
    # the exit took effect on 2025-08-31 (the 91st day, nothing planned), dated at their last
    # service (923: none of the special reasons). That includes Ann's peer mentor, a C0
    # graduate: the pairing they mentor opened on 2025-09-20, after their exit had taken
    # effect, and a later service does not undo an exit (docs/reports.md).
    cells = sorted((row["901"], row["923"]) for row in graduate_rows)
    assert cells == [("20250601", "0")] * 4
    # Still within 90 days at the end of 2025Q2: no exit.
    assert all(row["901"] == "" for row in s.rows("2025Q2").values())
    # Ann and Bo are in class (C1 has not graduated): never a derived exit.
    assert q3[s.ann]["901"] == q3[s.bo]["901"] == ""


def test_the_identifier_is_a_stable_pseudonym_never_a_number_of_the_person(s):
    q4, q1 = s.rows("2025Q4"), s.rows("2026Q1")
    ids = s.identifiers()
    ann = q4[s.ann]["100"]
    assert re.fullmatch(r"[A-Z2-9]{12}", ann)
    assert "12345678" not in ann and "12345" not in ann and "678" not in ann
    assert ann != s.ann.replace("-", "")[:12].upper()
    assert q1[s.ann]["100"] == ann == ids[s.ann]  # the same in every quarter's file
    assert len({row["100"] for row in q1.values()}) == len(q1)


@pytest.mark.parametrize(
    "reason, code",
    [
        ("institutionalized", "1"),
        ("health_medical", "2"),
        ("deceased", "3"),
        ("completed", "0"),
        ("relocated", "0"),
        ("no_service_90_days", "0"),
    ],
)
def test_exit_reason_codes(reason, code):
    assert pirl.EXIT_REASON_CODE.get(ExitReason(reason), "0") == code


def test_exit_reason_code_in_the_file(client, auth, db):
    w = World(client, auth, db)
    who = {
        reason: w.enrol("C1", "2025-09-15", name)
        for reason, name in (("deceased", "Di"), ("completed", "Co"), ("relocated", "Re"))
    }
    for reason, participant in who.items():
        w.post(
            f"/participants/{participant}/exit",
            {"exit_date": "2025-10-01", "reason": reason},
        )
    r = w.client.post(f"{w.base}/exports/pirl/2025Q4", headers=w.headers())
    assert r.status_code == 201, r.text
    body = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert sorted((row["901"], row["923"]) for row in body if row["901"] != "20250601") == [
        ("20251001", "0"),
        ("20251001", "0"),
        ("20251001", "3"),
    ]


def test_the_same_quarter_twice_is_byte_identical_and_recorded_once(s):
    s.w.enrol("C1", "2025-10-02", "Eve")  # someone new in 2025Q4: its next file is a new one
    before = len(s.generated())
    first = s.export("2025Q4")
    assert first.status_code == 201, first.text
    events = s.w.events()
    second = s.export("2025Q4")
    # Nothing changed: the same bytes are the last export again, and nothing is appended.
    assert second.status_code == 200, second.text
    assert first.content == second.content
    assert first.headers["X-Export-Digest"] == second.headers["X-Export-Digest"]
    assert first.headers["X-Export-Id"] == second.headers["X-Export-Id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert s.w.events() == events
    third = s.export("2025Q4", method="get")
    assert third.status_code == 200 and third.content == second.content
    assert third.headers["X-Export-Id"] == second.headers["X-Export-Id"]
    recorded = s.generated()[before:]
    assert [g["export_id"] for g in recorded] == [first.headers["X-Export-Id"]]


def test_the_export_event_carries_the_digest_of_the_bytes_served(s):
    r = s.export("2026Q1")
    assert r.status_code in (200, 201)  # 200: the quarter's last export, unchanged
    event = next(g for g in s.generated() if g["export_id"] == r.headers["X-Export-Id"])
    digest = hashlib.sha256(r.content).hexdigest()
    assert event["sha256"] == digest == r.headers["X-Export-Digest"]
    assert event["export_id"] == r.headers["X-Export-Id"]
    assert (event["quarter"], event["format"], event["requested_via"]) == ("2026Q1", "pirl", "api")
    assert event["size"] == len(r.content)
    assert event["rows"] == r.content.count(b"\r\n") - 1
    assert event["elements_version"] == pirl.ELEMENTS_VERSION
    assert event["requested_by"] == "test-coordinator"
    assert 0 < event["stands_at"] < int(r.headers["X-Log-Position"])
    assert r.headers["Location"] == f"/v1/grantees/{s.w.slug}/exports/{event['export_id']}"
    # What was served, regenerated from the log where it stood, byte for byte (auditors too).
    again = s.w.client.get(
        f"{s.w.base}/exports/{event['export_id']}/file", headers=s.w.headers("auditor")
    )
    assert again.status_code == 200, again.text
    assert again.content == r.content
    meta = s.w.get(f"/exports/{event['export_id']}", role="auditor")
    assert (meta["sha256"], meta["stands_at"]) == (digest, event["stands_at"])


def test_a_later_fact_changes_the_file_and_the_old_one_still_regenerates(client, auth, db):
    w = World(client, auth, db)
    first = w.client.post(f"{w.base}/exports/pirl/2025Q4", headers=w.headers())
    w.enrol("C1", "2025-10-01", "Late")
    second = w.client.post(f"{w.base}/exports/pirl/2025Q4", headers=w.headers())
    assert first.content != second.content
    assert first.headers["X-Export-Digest"] != second.headers["X-Export-Digest"]
    old = w.client.get(f"{w.base}/exports/{first.headers['X-Export-Id']}/file", headers=w.headers())
    assert old.status_code == 200 and old.content == first.content


def test_an_idempotent_retry_returns_the_first_file_and_records_nothing(s):
    key = {"Idempotency-Key": "pirl-2026Q2-a"}
    first = s.export("2026Q2", **key)
    events = s.w.events()
    second = s.export("2026Q2", **key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert second.headers["X-Export-Id"] == first.headers["X-Export-Id"]
    assert s.w.events() == events


def test_two_exports_at_once_never_give_a_participant_two_pseudonyms(client, auth, db):
    w = World(client, auth, db)
    url = f"{w.base}/exports/pirl/2025Q4"
    first, second = race(db, w.slug, *[lambda: w.client.post(url, headers=w.headers())] * 2)
    # The export that loses the race is decided again from the log (decision 91) and answers
    # the same file; only one that loses twice is a 409.
    statuses = sorted([first.status_code, second.status_code])
    assert statuses in ([200, 201], [201, 409]), statuses
    for lost in (r for r in (first, second) if r.status_code == 409):
        assert lost.json()["code"] == "conflict"
    assigned = w.db.fetchall(
        f'SELECT count(*) FROM "{w.schema}".events WHERE topic = %s',
        ("domain.exports:ExportRegister.IdentifiersAssigned",),
    )
    assert assigned[0][0] == 1
    again = w.client.post(url, headers=w.headers())
    assert again.status_code == 200  # the same file: recorded once
    assert all(r.content == again.content for r in (first, second) if r.status_code != 409)
    generated = w.db.fetchall(
        f'SELECT count(*) FROM "{w.schema}".events WHERE topic = %s', (GENERATED,)
    )
    assert generated[0][0] == 1


def test_past_exports_newest_first_in_pages(s):
    # At least four, whatever ran before (an unchanged quarter is its last export again).
    ids = [s.export(q).headers["X-Export-Id"] for q in ("2025Q1", "2025Q2", "2025Q3", "2025Q4")]
    everything = s.w.get("/exports", role="auditor", limit=500)["items"]
    assert [e["number"] for e in everything] == list(range(len(everything), 0, -1))
    assert len(everything) >= 4 and set(ids) <= {e["id"] for e in everything}
    assert [e["sha256"] for e in everything] == [g["sha256"] for g in reversed(s.generated())]
    page1 = s.w.get("/exports", role="grantee_admin", limit=2)
    page2 = s.w.get("/exports", role="grantee_admin", limit=2, cursor=page1["next_cursor"])
    assert [e["id"] for e in page1["items"] + page2["items"]] == [e["id"] for e in everything[:4]]
    assert s.w.get_text("/exports", cursor="x1")[0] == 400


def test_roles_and_other_grantees(s, make_grantee):
    events = s.w.events()
    for role in ("case_manager", "peer_mentor", "auditor", "federal_oversight"):
        for method in ("post", "get"):
            if (role, method) == ("auditor", "get"):
                continue  # a recorded file is the auditor's to read (exports.file)
            r = s.export("2026Q1", method=method, role=role)
            assert r.status_code == 403, (role, method, r.text)
    read = s.export("2026Q1", method="get", role="auditor")
    assert read.status_code in (200, 404), read.text
    assert s.w.get_text("/exports", role="federal_oversight")[0] == 403
    assert s.w.get_text("/exports", role="case_manager")[0] == 403
    other = make_grantee()
    foreign = s.w.auth("coordinator", other)
    for method in ("post", "get"):
        r = getattr(s.w.client, method)(f"{s.w.base}/exports/pirl/2026Q1", headers=foreign)
        assert r.status_code == 404 and r.json()["code"] == "grantee_not_found"
    assert s.w.client.get(f"{s.w.base}/exports", headers=foreign).status_code == 404
    assert s.w.get_text(f"/exports/{s.w.slug}")[0] in (400, 404)
    assert s.w.get_text("/exports/6f1c7a52-51b4-4c2e-9d55-8f0e6b1e2a10")[0] == 404
    assert s.w.events() == events


@pytest.mark.parametrize(
    "quarter", ["2026Q5", "2026Q0", "2026-Q1", "26Q1", "2026q1", "\u0662\u0660\u0662\u0666Q1"]
)
def test_a_malformed_quarter_is_400_and_records_nothing(s, quarter):
    events = s.w.events()
    r = s.export(quarter)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_quarter"
    assert "YYYYQn" in r.json()["detail"]
    assert s.w.events() == events


def test_a_quarter_not_begun_is_422(s):
    events = s.w.events()
    r = s.export("2099Q1")
    assert r.status_code == 422 and r.json()["code"] == "quarter_not_started"
    # Nothing of it is recorded, so there is nothing to serve.
    r = s.export("2099Q1", method="get")
    assert r.status_code == 404 and r.json()["code"] == "export_not_recorded"
    assert s.w.events() == events


def _args(**kw: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"format": "pirl", "output": "", **kw})


def test_cli_prints_the_same_file_and_records_it(s, settings, capsysbinary, tmp_path):
    s.w.enrol("C1", "2025-10-03", "Fay")  # a changed file: the CLI records it
    capsysbinary.readouterr()  # the request log lines of that enrolment
    assert cmd_export(_args(grantee=s.w.slug, quarter="2025Q4"), settings) == 0
    out, err = capsysbinary.readouterr()
    event = s.generated()[-1]
    assert event["requested_via"] == "cli" and event["requested_by"].startswith("cli:")
    assert event["sha256"] == hashlib.sha256(out).hexdigest()
    assert event["sha256"].encode() in err and b"rows" in err
    api = s.export("2025Q4")
    assert api.status_code == 200  # nothing changed since: the CLI's export again
    assert api.content == out and api.headers["X-Export-Id"] == event["export_id"]
    capsysbinary.readouterr()  # the request log lines of that export
    events = s.w.events()
    target = tmp_path / "pirl.csv"
    assert cmd_export(_args(grantee=s.w.slug, quarter="2025Q4", output=str(target)), settings) == 0
    assert target.read_bytes() == out
    out, err = capsysbinary.readouterr()
    assert out == b"" and b"not recorded again" in err
    assert s.w.events() == events


def test_cli_refuses_unknown_grantee_and_bad_quarter(s, settings, capsys, tmp_path):
    events = s.w.events()
    assert cmd_export(_args(grantee="no_such_grantee", quarter="2026Q1"), settings) == 2
    assert "no grantee 'no_such_grantee'" in capsys.readouterr().err
    assert cmd_export(_args(grantee=s.w.slug, quarter="2026Q7"), settings) == 2
    out, err = capsys.readouterr()
    assert out == "" and "YYYYQn" in err
    assert cmd_export(_args(grantee=s.w.slug, quarter="2099Q1"), settings) == 1
    assert "quarter_not_started" in capsys.readouterr().err
    missing = tmp_path / "nowhere" / "pirl.csv"
    assert cmd_export(_args(grantee=s.w.slug, quarter="2026Q1", output=str(missing)), settings) == 2
    assert "no directory" in capsys.readouterr().err
    assert s.w.events() == events


def test_docs_hold_the_element_table():
    text = (ROOT / "docs" / "pirl.md").read_text(encoding="utf-8")
    assert pirl.markdown_table() in text


@pytest.mark.parametrize(
    "text, first, last",
    [
        ("2026Q1", "2026-01-01", "2026-03-31"),
        ("2024Q1", "2024-01-01", "2024-03-31"),
        ("2025Q4", "2025-10-01", "2025-12-31"),
        ("2026Q2", "2026-04-01", "2026-06-30"),
    ],
)
def test_quarters(text, first, last):
    q = pirl.parse_quarter(text)
    assert (str(q), q.start.isoformat(), q.end.isoformat()) == (text, first, last)
    assert q.after(4) == Quarter(q.year + 1, q.number) and q.after(0) == q


def test_an_export_takes_the_quarters_of_years_1900_to_2200():
    """The one range of every quarter (services/reports/quarterly.py), as the export's path
    parameter declares."""
    assert [str(pirl.parse_quarter(t)) for t in ("1900Q1", "1999Q4", "2200Q4")] == [
        "1900Q1",
        "1999Q4",
        "2200Q4",
    ]
    for outside in ("1899Q4", "2201Q1", "9999Q4"):
        with pytest.raises(ValueError, match="YYYYQn"):
            pirl.parse_quarter(outside)
    assert Quarter.parse("1999Q4") == pirl.parse_quarter("1999Q4")


def test_each_participant_in_a_file_is_in_the_accounting_of_disclosures(client, auth, db):
    w = World(client, auth, db)
    inside = w.enrol("C1", "2025-10-01", "Inside")
    later = w.enrol("C1", "2026-05-01", "Later")  # entered after 2025Q4: not in that file
    r = w.client.post(f"{w.base}/exports/pirl/2025Q4", headers=w.headers())
    assert r.status_code == 201, r.text
    rows = w.get(f"/participants/{inside}/disclosures")["items"]
    assert [(d["recipient"], d["channel"], d["part2"], d["reference"]) for d in rows] == [
        ("export:pirl", "export", False, f"sha256:{r.headers['X-Export-Digest']}")
    ]
    assert rows[0]["actor"] == "test-coordinator"
    assert w.get(f"/participants/{later}/disclosures")["items"] == []


def test_a_quarter_in_progress_is_reported_through_today_as_the_report_and_caseload_are(
    client, auth, db, frozen_at
):
    """A file made during its quarter stands at the day it was made, not at the quarter's end:
    a 90-day exit that would take effect later in the quarter is not in it, so the file agrees
    with the quarterly report and the caseload of that day. It still regenerates byte for byte
    after the quarter ends, when a new file does carry the exit."""
    frozen_at(datetime(2026, 11, 26, 15, tzinfo=UTC), tick=True)
    w = World(client, auth, db)
    w.post("/cohorts", {"code": "C2", "facility": "FCI-A", "start_date": "2026-01-05"})
    grad = w.enrol("C2", "2026-01-10", "Dee")
    # Graduated 67 days before today: the exit takes effect on the 91st day, 19 December.
    w.post("/cohorts/C2/graduation", {"graduated_on": "2026-09-20"}, status=200)
    projector.drain(w.db, w.schema)

    made = w.client.post(f"{w.base}/exports/pirl/2026Q4", headers=w.headers())
    assert made.status_code == 201, made.text
    header, *body = list(csv.reader(io.StringIO(made.content.decode())))
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    dee = rows[_identifier_of(w, grad)]
    assert dee["901"] == "" and dee["923"] == ""

    report = w.client.get(f"{w.base}/reports/quarterly/2026Q4", headers=w.headers())
    assert report.status_code == 200, report.text
    figures = {name: f["value"] for name, f in report.json()["figures"].items()}
    # C0's four graduates exited in 2025; Dee has not yet: the file, the report and the
    # caseload of today say the same.
    exited_in_file = sum(1 for row in body if row[header.index("901")])
    assert figures["enrolment.exited"] == exited_in_file == 4
    listed = w.get(f"/participants/{grad}")
    assert listed["status"] != "exited"

    frozen_at(datetime(2027, 1, 2, 15, tzinfo=UTC), tick=True)
    again = w.client.get(
        f"{w.base}/exports/{made.headers['X-Export-Id']}/file", headers=w.headers()
    )
    assert again.status_code == 200 and again.content == made.content
    later = w.client.post(f"{w.base}/exports/pirl/2026Q4", headers=w.headers())
    assert later.status_code == 201, later.text
    header, *body = list(csv.reader(io.StringIO(later.content.decode())))
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert (rows[_identifier_of(w, grad)]["901"], rows[_identifier_of(w, grad)]["923"]) == (
        "20260920",
        "0",
    )
    report = w.client.get(f"{w.base}/reports/quarterly/2026Q4", headers=w.headers())
    figures = {name: f["value"] for name, f in report.json()["figures"].items()}
    assert figures["enrolment.exited"] == sum(1 for row in body if row[header.index("901")]) == 5


def _identifier_of(w: World, participant: str) -> str:
    """Element 100 of `participant`, from the register's events in the log."""
    for (state,) in w.db.fetchall(
        f'SELECT state FROM "{w.schema}".events WHERE topic = %s',
        ("domain.exports:ExportRegister.IdentifiersAssigned",),
    ):
        for a in msgspec.json.decode(bytes(state))["assignments"]:
            if a["participant_id"] == participant:
                return str(a["identifier"])
    raise AssertionError(f"no identifier assigned to {participant}")


def test_a_get_never_changes_the_log(client, auth, grantee, enrol, db, frozen_at) -> None:
    """`GET …/exports/pirl/{q}` writes nothing, ever (decision 136): before any export it is
    404 `export_not_recorded`; then it serves the quarter's last recorded file byte for byte
    (its id and digest) with an access-log row, even after the facts changed; only a `POST`
    records the changed file, and the `GET` then serves that one."""
    frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-07-01")
    path = f"/v1/grantees/{grantee}/exports/pirl/2026Q3"

    def head() -> int:
        row = db.fetchone(f'SELECT max(notification_id) FROM "g_{grantee}".events')
        return int(row[0]) if row and row[0] is not None else 0

    def reads() -> int:
        row = db.fetchone(
            f'SELECT count(*) FROM "g_{grantee}".access_log WHERE action = %s', ("exports.file",)
        )
        return int(row[0]) if row else 0

    at = head()
    for role in ("coordinator", "grantee_admin", "auditor"):
        none = client.get(path, headers=auth(role, grantee))
        assert none.status_code == 404, none.text
        assert none.json()["code"] == "export_not_recorded" and "POST" in none.json()["detail"]
    assert head() == at
    recorded = client.post(path, headers=auth("coordinator", grantee))
    assert recorded.status_code == 201, recorded.text
    at, logged = head(), reads()
    first = client.get(path, headers=auth("coordinator", grantee))
    assert first.status_code == 200, first.text
    assert first.content == recorded.content
    for name in ("x-export-id", "x-export-digest", "x-export-stands-at"):
        assert first.headers[name] == recorded.headers[name]
    assert "x-log-position" not in first.headers
    assert head() == at and reads() == logged + 1
    # Someone new in the quarter: the GET still serves the recorded file and writes nothing.
    enrol(first_name="Bea", program_entry_date="2026-08-03")
    at = head()
    stale = client.get(path, headers=auth("auditor", grantee))
    assert stale.status_code == 200 and stale.content == recorded.content
    assert stale.headers["x-export-id"] == recorded.headers["x-export-id"]
    assert head() == at
    # Only a POST records the changed file; the GET then serves it.
    changed = client.post(path, headers=auth("coordinator", grantee))
    assert changed.status_code == 201, changed.text
    assert changed.headers["x-export-id"] != recorded.headers["x-export-id"]
    assert head() > at
    at = head()
    latest = client.get(path, headers=auth("coordinator", grantee))
    assert latest.content == changed.content
    assert latest.headers["x-export-id"] == changed.headers["x-export-id"]
    assert head() == at
    listed = client.get(f"/v1/grantees/{grantee}/exports", headers=auth("auditor", grantee))
    assert len(listed.json()["items"]) == 2
