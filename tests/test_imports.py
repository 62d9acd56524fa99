"""Imports over HTTP with the real app and PostgreSQL (docs/import.md): a dry run reports row
by row; the import creates what it reported, idempotent per file and resumable; a refused file
leaves the log unchanged; XLSX reads as CSV does; roles; `prowd import` exit codes."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from services.app.import_file import XLSX_TYPE
from services.cli.imports import cmd_import
from services.projector import live as projector
from tests.conftest import SUITE_NOW
from tests.mentoring_helpers import Api

SAMPLE = Path(__file__).resolve().parent / "data" / "import_participants.csv"
HEADER = "first_name,last_name,date_of_birth,bop_register_number,program_entry_date,facility,cohort"


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def send(
    api: Api,
    data: bytes,
    *,
    kind: str = "participants",
    role: str = "coordinator",
    media: str = "text/csv",
    **params: Any,
) -> Any:
    return api.client.post(
        f"{api.base}/imports",
        content=data,
        params={"kind": kind, **params},
        headers={**api.headers(role), "Content-Type": media},
    )


def outcomes(body: dict[str, Any]) -> dict[int, tuple[str, str]]:
    return {o["row"]: (o["outcome"], o["code"]) for o in body["outcomes"]}


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_dry_run_reports_row_by_row_and_saves_nothing(api: Api, enrol: Any) -> None:
    existing = enrol(first_name="Ann", bop_register_number="99999-001")
    data = SAMPLE.read_bytes() + (
        b"Ann,Other,1980-01-01,99999-001,2026-02-02,FCI-A,C1,,,,\n"  # same register number
        b"Luis,Ortega,1988-04-12,,2026-02-03,FCI-A,C1,,,,\n"  # same name and birth date as row 2
        b"Zed,Young,2015-01-01,,2026-02-02,FCI-A,C1,,,,\n"  # 11 at entry
        b"Ray,Stone,1980-01-01,,2026-02-02,FCI-A,C1,2,,,2026-05-01\n"  # stage 2 without placement
    )
    before = api.events()
    r = send(api, data, dry_run="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["rows"] == 8 and body["position"] is None
    assert outcomes(body) == {
        2: ("created", ""),
        3: ("created", ""),
        4: ("created", ""),
        # The rules' own codes, as enrolment over the API answers them.
        5: ("refused", "cohort_at_other_facility"),
        6: ("duplicate", "possible_duplicate"),
        7: ("duplicate", "possible_duplicate"),
        8: ("refused", "implausible_date_of_birth"),
        9: ("refused", "placement_required"),
    }
    by_row = {o["row"]: o for o in body["outcomes"]}
    assert by_row[6]["record_id"] == existing["id"]
    assert "same_register_number" in by_row[6]["detail"]
    assert "same_name_and_birth_date" in by_row[7]["detail"]
    assert "FCI-A" in by_row[5]["detail"]
    assert (body["created"], body["duplicates"], body["refused"]) == (3, 2, 3)
    assert api.events() == before


def test_import_creates_the_rows_with_their_stages_once(api: Api) -> None:
    before = api.events()
    r = send(api, SAMPLE.read_bytes())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["finished"] is True and body["already_imported"] is False
    assert (body["created"], body["refused"]) == (3, 1) and body["position"] > 0
    ids = {o["row"]: o["record_id"] for o in body["outcomes"] if o["outcome"] == "created"}
    projector.drain(api.db, f"g_{api.slug}")
    maria = api.get(f"/participants/{ids[3]}")
    assert (maria["first_name"], maria["stage"], maria["placement"]) == ("María", 2, "rrc")
    assert api.get(f"/participants/{ids[4]}")["stage"] == 3
    assert {p["last_name"] for p in api.get("/participants")["items"]} == {
        "Ortega",
        "Núñez",
        "Harris",
    }
    # The import is an event of the log beside the records it created, keyed by the file.
    topics = [
        row[0]
        for row in api.db.fetchall(
            f'SELECT topic FROM "g_{api.slug}".events WHERE notification_id > %s', (before,)
        )
    ]
    assert any(t.endswith("Import.Started") for t in topics)
    assert any(t.endswith("Import.Finished") for t in topics)
    # The same file again adds nothing and answers the first report.
    after = api.events()
    again = send(api, SAMPLE.read_bytes())
    assert again.status_code == 200, again.text
    assert again.json()["already_imported"] is True
    assert outcomes(again.json()) == outcomes(body)
    assert api.events() == after
    # A dry run of it says the same.
    assert send(api, SAMPLE.read_bytes(), dry_run="true").json()["already_imported"] is True


def test_a_stopped_import_resumes_without_duplicates(api: Api) -> None:
    rows = [
        f"P{i},Resume,{1970 + i % 30}-03-0{1 + i % 9},{i:05d}-100,2026-02-02,FCI-A,C1"
        for i in range(7)
    ]
    data = csv_of(*rows)
    first = send(api, data, max_rows=3)
    assert first.status_code == 200, first.text
    assert first.json()["finished"] is False and first.json()["applied_through"] == 4
    second = send(api, data, max_rows=2)
    assert second.json()["applied_through"] == 6 and second.json()["finished"] is False
    last = send(api, data)
    body = last.json()
    assert body["finished"] is True and body["created"] == 7
    assert sorted(outcomes(body)) == list(range(2, 9))
    projector.drain(api.db, f"g_{api.slug}")
    names = [p["first_name"] for p in api.get("/participants", limit=50)["items"]]
    assert sorted(names) == [f"P{i}" for i in range(7)]


@pytest.mark.parametrize(
    ("data", "media", "status", "code"),
    [
        (b"", "text/csv", 422, "import_empty"),
        (HEADER.encode() + b"\n", "text/csv", 422, "import_empty"),
        (
            csv_of("A,B,1980-01-01,,2026-02-02,FCI-A,C1,x", header=HEADER + ",nickname"),
            "text/csv",
            422,
            "import_unknown_columns",
        ),
        (
            csv_of("A,B,1980-01-01,,2026-02-02,FCI-A", header=HEADER.rsplit(",", 1)[0]),
            "text/csv",
            422,
            "import_missing_columns",
        ),
        (csv_of("A,B,12/04/1980,,2026-02-02,FCI-A,C1"), "text/csv", 422, "import_invalid_cells"),
        (
            "Jos\u00e9".encode("latin-1") + b"," + HEADER.encode(),
            "text/csv",
            400,
            "import_not_utf8",
        ),
        (b"PK\x03\x04 not a workbook", XLSX_TYPE, 400, "import_unreadable"),
        # A quote never closed: refused as such, not read as one long cell (a reviewer's find).
        (csv_of('"A,B,1980-01-01,,2026-02-02,FCI-A,C1'), "text/csv", 400, "import_unreadable"),
        (
            csv_of("A,B,1980-01-01,,2026-02-02,FCI-A,C1"),
            "application/json",
            415,
            "unsupported_media_type",
        ),
        (
            csv_of(*["A,B,1980-01-01,,2026-02-02,FCI-A,C1"] * 100_001),
            "text/csv",
            413,
            "import_too_large",
        ),
    ],
)
def test_a_refused_file_is_a_problem_and_leaves_the_log_unchanged(
    api: Api, data: bytes, media: str, status: int, code: str
) -> None:
    before = api.events()
    r = send(api, data, media=media)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert api.events() == before


def test_bad_cells_are_listed_by_row_and_column(api: Api) -> None:
    r = send(api, csv_of("A,B,12/04/1980,,2026-02-02,FCI-A,C1", "C,D,1980-01-01,,,FCI-A,C1"))
    assert r.status_code == 422
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [
        (2, "date_of_birth"),
        (3, "program_entry_date"),
    ]


def test_a_date_that_is_no_day_is_told_apart_from_a_date_in_another_form(api: Api) -> None:
    r = send(
        api, csv_of("A,B,1990-02-30,,2026-02-02,FCI-A,C1", "C,D,30/02/1990,,2026-02-02,FCI-A,C1")
    )
    assert r.status_code == 422, r.text
    said = {e["row"]: e["message"] for e in r.json()["errors"]}
    assert "1990-02-30 is no day of the calendar" in said[2], said
    assert "YYYY-MM-DD" in said[3], said


def test_control_characters_in_a_cell_are_refused_by_the_text_rule(api: Api) -> None:
    """A name cell holding an escape or a NUL (an XLSX can carry either) is a bad cell, as the
    API's text rule refuses it in a JSON body: nothing is imported."""
    before = api.events()
    r = send(api, csv_of("A\x1b[31m,B,1980-01-01,,2026-02-02,FCI-A,C1"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "import_invalid_cells"
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(2, "first_name")]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(
        ["Xia", "L\x7fin", datetime(1984, 5, 6), None, datetime(2026, 2, 2), "FCI-A", "C1"]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    r = send(api, buffer.getvalue(), media=XLSX_TYPE)
    assert r.status_code == 422, r.text
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(2, "last_name")]
    assert api.events() == before


def test_an_xlsx_file_imports_as_its_csv_does(api: Api) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([*HEADER.split(","), "stage", "stage_date"])
    sheet.append(
        [
            "Xia",
            "Lin",
            datetime(1984, 5, 6),
            "55555-001",
            datetime(2026, 2, 2),
            "FCI-A",
            "C1",
            3,
            datetime(2026, 8, 1),
        ]
    )
    sheet.append(["Bo", "Ek", datetime(1984, 5, 7), None, datetime(2026, 2, 2), "FCI-A", "C9"])
    buffer = io.BytesIO()
    book.save(buffer)
    r = send(api, buffer.getvalue(), media=XLSX_TYPE)
    assert r.status_code == 200, r.text
    assert outcomes(r.json()) == {2: ("created", ""), 3: ("refused", "not_found")}
    projector.drain(api.db, f"g_{api.slug}")
    created = r.json()["outcomes"][0]["record_id"]
    got = api.get(f"/participants/{created}")
    assert (got["first_name"], got["date_of_birth"], got["stage"]) == ("Xia", "1984-05-06", 3)


def test_mentors_import_through_the_mentor_rules(api: Api, enrol: Any) -> None:
    graduate = enrol(first_name="Gus")
    data = (
        "display_name,source,channel,participant_number\n"
        "Pat Peer,community_peer,peer_referral,\n"
        f"Gus G,graduate,cohort_graduation,{graduate['number']}\n"
        "pat peer,community_peer,self_referral,\n"
    ).encode()
    r = send(api, data, kind="mentors")
    assert r.status_code == 200, r.text
    assert outcomes(r.json()) == {
        2: ("created", ""),
        3: ("refused", "not_a_graduate"),
        4: ("duplicate", "possible_duplicate"),
    }
    projector.drain(api.db, f"g_{api.slug}")
    assert [m["display_name"] for m in api.get("/mentors")["items"]] == ["Pat Peer"]


def test_roles(api: Api) -> None:
    data = csv_of("Cam,Case,1980-02-02,,2026-02-02,FCI-A,C1")
    assert send(api, data, role="case_manager", dry_run="true").status_code == 200
    for role in ("peer_mentor", "auditor", "rrc_staff", "federal_oversight"):
        assert send(api, data, role=role).status_code == 403, role
    mentors = b"display_name,source,channel\nM,community_peer,other\n"
    before = api.events()
    assert send(api, mentors, kind="mentors", role="case_manager").status_code == 403
    assert api.events() == before


def test_the_command_line_imports_resumes_and_refuses(
    api: Api, settings: Any, tmp_path: Path
) -> None:
    def run(path: Path, **extra: Any) -> tuple[int, str]:
        out = io.StringIO()
        options: dict[str, Any] = {"dry_run": False, "max_rows": None, "by": "ops", "json": False}
        args = argparse.Namespace(
            kind="participants", file=str(path), grantee=api.slug, **{**options, **extra}
        )
        return cmd_import(args, settings, out=out), out.getvalue()

    assert run(SAMPLE, dry_run=True)[0] == 0
    code, text = run(SAMPLE, max_rows=2)
    assert code == 3 and "stopped after row 3: run again to resume" in text
    code, text = run(SAMPLE)
    assert (
        code == 0 and "imported 3 participants, 0 duplicates, 1 refused of 4 rows; finished" in text
    )
    assert "row 5: refused cohort_at_other_facility" in text
    code, text = run(SAMPLE)
    assert code == 0 and "already imported before: nothing added" in text
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + ",nickname\nA,B,1980-01-01,,2026-02-02,FCI-A,C1,x\n")
    before = api.events()
    assert run(bad)[0] == 1
    assert run(tmp_path / "missing.csv")[0] == 2
    assert api.events() == before
    out = io.StringIO()
    args = argparse.Namespace(
        kind="participants",
        file=str(SAMPLE),
        grantee=api.slug,
        dry_run=True,
        max_rows=None,
        by="",
        json=True,
    )
    assert cmd_import(args, settings, out=out) == 0
    assert json.loads(out.getvalue())["already_imported"] is True


def test_an_import_killed_mid_file_resumes_without_duplicates(
    api: Api, settings: Any, database_url: str, tmp_path: Path
) -> None:
    """`prowd import` in its own process, killed (SIGKILL) once it has saved a batch: what it
    saved is whole batches, and running the file again creates each remaining row once."""
    rows = 1500
    path = tmp_path / "many.csv"
    path.write_text(
        "\n".join(
            [HEADER]
            + [
                f"K{i},Killed{i},{1960 + i % 40}-01-{1 + i % 28:02d},,2026-02-02,FCI-A,C1"
                for i in range(rows)
            ]
        )
        + "\n"
    )
    env = {
        **os.environ,
        "PROWD_DATABASE_URL": database_url,
        "PROWD_LOG_LEVEL": "warning",
        "PROWD_CLOCK": SUITE_NOW.isoformat(),
    }
    command = [sys.executable, "-m", "services.cli", "import", "participants", str(path)]
    proc = subprocess.Popen(
        [*command, "--grantee", api.slug, "--batch", "50"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = f'SELECT count(*) FROM "g_{api.slug}".events WHERE topic LIKE %s'
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        saved = api.db.fetchone(query, ("%Import.RowsApplied",))
        if saved and saved[0] >= 2:
            proc.kill()
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    enrolled = api.db.fetchone(query, ("%Participant.Enrolled",))
    applied = api.db.fetchone(query, ("%Import.RowsApplied",))
    finished = api.db.fetchone(query, ("%Import.Finished",))
    assert enrolled and applied and finished
    # Whole batches only: 50 participants per saved batch, nothing of a batch cut short.
    assert enrolled[0] == 50 * applied[0]
    killed_mid_file = finished[0] == 0
    out = io.StringIO()
    args = argparse.Namespace(
        kind="participants",
        file=str(path),
        grantee=api.slug,
        dry_run=False,
        max_rows=None,
        by="ops",
        json=False,
    )
    assert cmd_import(args, settings, out=out) == 0
    assert f"imported {rows} participants, 0 duplicates, 0 refused" in out.getvalue()
    total = api.db.fetchone(query, ("%Participant.Enrolled",))
    assert total and total[0] == rows
    assert killed_mid_file, "the import finished before it could be killed; rerun on a slower run"


def test_a_quote_never_closed_is_named_with_its_line(api: Api) -> None:
    data = csv_of("A,B,1980-01-01,,2026-02-02,FCI-A,C1", '"C,D,1981-01-01,,2026-02-02,FCI-A,C1')
    r = send(api, data, media="text/csv")
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("the CSV cannot be read at line ")
    assert "a quoted cell is never closed" in r.json()["detail"]


def test_a_file_over_the_limit_is_import_too_large_whoever_refuses_it(api: Api) -> None:
    """A file over 16 MiB is refused by the framework before the import reads it: it answered
    `body_too_large`, "Request Entity Too Large", where the docs promise `import_too_large`."""
    from services.app.import_file import MAX_BYTES

    before = api.events()
    r = send(api, csv_of("A,B,1980-01-01,,2026-02-02,FCI-A,C1") + b" " * MAX_BYTES)
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "import_too_large"
    assert (
        r.json()["detail"]
        == f"the body is larger than this operation takes: at most {MAX_BYTES} bytes"
    )
    assert api.events() == before


def test_a_file_separated_by_semicolons_says_so(api: Api) -> None:
    data = csv_of("A;B;1980-01-01;;2026-02-02;FCI-A;C1", header=HEADER.replace(",", ";"))
    r = send(api, data)
    assert r.status_code == 422 and r.json()["code"] == "import_unknown_columns", r.text
    assert r.json()["detail"].endswith(
        "the cells are separated by semicolons: save the file as CSV with commas"
    )
