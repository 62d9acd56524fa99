"""A coordinator certifies the PIRL file the grantee submits to DOL: name, title and statement,
bound to the file's SHA-256, once per file; the auditor reads who signed what, and the file
regenerated from the log has the digest that was signed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain import clock
from domain.common import RuleViolation
from domain.exports import (
    CERTIFICATION_STATEMENT,
    Certification,
    ExportRecord,
    ExportRegister,
    check_statement,
)
from services.store.mapping import MsgspecMapper
from tests.conftest import count_events

SIGNER = {"signer_name": "Dana Reyes", "signer_title": "Program Coordinator"}


@pytest.fixture
def exported(client, auth, grantee, enrol, frozen_at) -> dict[str, Any]:
    """A PIRL file of 2026Q3, exported once, as its record and its bytes' digest."""
    frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-07-01")
    r = client.post(
        f"/v1/grantees/{grantee}/exports/pirl/2026Q3", headers=auth("coordinator", grantee)
    )
    assert r.status_code == 201, r.text
    return {
        "id": r.headers["x-export-id"],
        "sha256": hashlib.sha256(r.content).hexdigest(),
    }


def _certify(client, auth, grantee, export_id, body=None, role="coordinator", **headers):
    return client.post(
        f"/v1/grantees/{grantee}/exports/{export_id}/certification",
        json=SIGNER if body is None else body,
        headers={**auth(role, grantee, sub=f"{role}-7"), **headers},
    )


def test_a_coordinator_certifies_the_file_as_served(client, auth, grantee, exported) -> None:
    r = _certify(client, auth, grantee, exported["id"])
    assert r.status_code == 201, r.text
    signed = r.json()["certification"]
    assert signed["sha256"] == exported["sha256"]
    assert (signed["signer_name"], signed["signer_title"]) == ("Dana Reyes", "Program Coordinator")
    assert signed["certified_by"] == "coordinator-7"
    assert signed["certified_at"] == "2026-10-20T11:00:00-04:00"  # in the grantee's zone
    assert signed["statement"].startswith("I certify that")
    # The auditor reads it on the record and in the list, and the file regenerated from the
    # log is byte for byte the one signed.
    seen = auth("auditor", grantee)
    one = client.get(f"/v1/grantees/{grantee}/exports/{exported['id']}", headers=seen).json()
    assert one["certification"] == signed
    listed = client.get(f"/v1/grantees/{grantee}/exports", headers=seen).json()["items"]
    assert [e["certification"] for e in listed] == [signed]
    again = client.get(f"/v1/grantees/{grantee}/exports/{exported['id']}/file", headers=seen)
    assert hashlib.sha256(again.content).hexdigest() == signed["sha256"]


def test_a_file_is_certified_once(client, auth, grantee, exported, db) -> None:
    assert _certify(client, auth, grantee, exported["id"]).status_code == 201
    before = count_events(db, grantee)
    r = _certify(client, auth, grantee, exported["id"], {**SIGNER, "signer_name": "Sam Ortiz"})
    assert r.status_code == 409 and r.json()["code"] == "already_certified", r.text
    assert "Dana Reyes" in r.json()["detail"]
    assert count_events(db, grantee) == before


def test_a_retry_with_the_same_key_answers_the_first_certification(
    client, auth, grantee, exported, db
) -> None:
    first = _certify(client, auth, grantee, exported["id"], **{"Idempotency-Key": "sign-q3"})
    events = count_events(db, grantee)
    second = _certify(client, auth, grantee, exported["id"], **{"Idempotency-Key": "sign-q3"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert count_events(db, grantee) == events


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"signer_title": "Coordinator"}, 400, None),
        ({**SIGNER, "signer_name": ""}, 400, None),
        ({**SIGNER, "signer_name": "   "}, 422, "invalid_certification"),
        ({**SIGNER, "signer_name": "Dana\x00Reyes"}, 422, "invalid_text"),
        ({**SIGNER, "statement": "x" * 2001}, 400, None),
        ({**SIGNER, "extra": 1}, 400, None),
    ],
    ids=["no-name", "empty-name", "blank-name", "nul", "long-statement", "unknown-field"],
)
def test_a_bad_certification_is_refused_and_records_nothing(
    client, auth, grantee, exported, db, body, status, code
) -> None:
    events = count_events(db, grantee)
    r = _certify(client, auth, grantee, exported["id"], body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if code is not None:
        assert r.json()["code"] == code
    assert count_events(db, grantee) == events


def test_only_a_coordinator_signs_and_only_a_recorded_file(
    client, auth, grantee, exported, db
) -> None:
    events = count_events(db, grantee)
    for role in ("grantee_admin", "case_manager", "auditor", "peer_mentor"):
        assert _certify(client, auth, grantee, exported["id"], role=role).status_code == 403
    missing = _certify(client, auth, grantee, "00000000-0000-0000-0000-000000000001")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert count_events(db, grantee) == events


@pytest.mark.parametrize(
    "statement",
    [
        "I certify.",
        "The data in this file are true, complete and accurate as far as I know.",
        "The undersigned certifies that the data in this file are true and complete.",
        "Certify: the data in this file are true, complete and accurate as far as I know.",
    ],
    ids=["too-short", "no-certify", "not-in-own-words", "no-one-certifies"],
)
def test_a_statement_that_certifies_nothing_is_refused(
    client, auth, grantee, exported, db, statement
) -> None:
    events = count_events(db, grantee)
    r = _certify(client, auth, grantee, exported["id"], {**SIGNER, "statement": statement})
    assert r.status_code == 422 and r.json()["code"] == "invalid_certification", r.text
    assert "at least 40 characters" in r.json()["detail"]
    assert '"I certify that …"' in r.json()["detail"]
    assert count_events(db, grantee) == events
    worded = {**SIGNER, "statement": "I CERTIFY that this file is the grantee's own record."}
    assert _certify(client, auth, grantee, exported["id"], worded).status_code == 201


DENIALS = [
    ("I do not certify that the data in this file are true and complete.", "not certify"),
    ("I cannot certify that the data in this file are true and complete.", "cannot certify"),
    ("I can't certify that the data in this file are true and complete.", "can't certify"),
    ("I can\u2019t certify that the data in this file are true and complete.", "can't certify"),
    ("We decline to certify the data in this file as true and complete.", "decline to certify"),
    ("We refuse to certify the data in this file as true and complete.", "refuse to certify"),
    ("I am unable to certify that the data in this file are complete.", "unable to certify"),
    ("I won't certify that the data in this file are true and complete.", "won't certify"),
    ("I certify nothing about the data in this file, true or complete.", "certify nothing"),
    ("I hereby do not certify the data in this file as true and complete.", "not certify"),
    ("I certify this file. I am not able to certify that it is complete.", "not able to certify"),
    # The verb affirmed, what it affirms taken back (found by a coordinator's trial of the
    # console: each of these was recorded as the signed submission).
    (
        "I certify that the data are false and I do not stand behind them whatsoever.",
        "are false",
    ),
    ("I certify that the figures in this file are not accurate or complete.", "are not accurate"),
    (
        "I certify that the data in this file are, to my knowledge, untrue.",
        "are, to my knowledge, untrue",
    ),
    ("I certify the file as recorded but I do not stand behind its figures.", "not stand behind"),
    ("I certify that the data are as exported; I disclaim their accuracy.", "disclaim"),
    ("I hereby certify this file, although its counts were fabricated.", "were fabricated"),
]


@pytest.mark.parametrize(("statement", "phrase"), DENIALS)
def test_a_statement_that_denies_certifying_is_refused(
    client, auth, grantee, exported, db, statement, phrase
) -> None:
    """Each of these holds "certify" and is long enough, and was signed before; none affirms."""
    events = count_events(db, grantee)
    r = _certify(client, auth, grantee, exported["id"], {**SIGNER, "statement": statement})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "invalid_certification"
    assert f'denies what it should affirm ("{phrase}")' in problem["detail"]
    assert "if you cannot certify the file, do not sign it" in problem["detail"]
    assert count_events(db, grantee) == events
    listed = client.get(f"/v1/grantees/{grantee}/exports", headers=auth("auditor", grantee))
    assert [e["certification"] for e in listed.json()["items"]] == [None]


@pytest.mark.parametrize(
    "statement",
    [
        CERTIFICATION_STATEMENT,
        "We hereby certify that the data in this file are true and complete.",
        "I, Dana Reyes, hereby certify that the data in this file are complete.",
        "I do hereby certify that the data in this file are true and complete.",
        "To the best of my knowledge I certify that nothing in this file is untrue.",
        "I certify that this file, not a draft, is the grantee's own record.",
        "I certify that the data in this file are true and not misleading in any way.",
        "I certify that the figures are accurate and that none of them is false.",
        # The federal financial report's wording (SF-425), which names false information.
        "By signing this report, I certify to the best of my knowledge and belief that the"
        " report is true, complete, and accurate. I am aware that the submission of any false,"
        " fictitious, or fraudulent information, or the omission of any material fact, may"
        " subject me to criminal, civil or administrative penalties for fraud, false"
        " statements, false claims or otherwise.",
    ],
    ids=[
        "default",
        "we-hereby",
        "named",
        "do-hereby",
        "nothing-after-that",
        "not-elsewhere",
        "not-misleading",
        "none-false",
        "federal-wording",
    ],
)
def test_statement_rule_accepts_an_affirmation(statement: str) -> None:
    check_statement(statement)


@pytest.mark.parametrize(("statement", "phrase"), DENIALS)
def test_statement_rule_refuses_a_denial(statement: str, phrase: str) -> None:
    with pytest.raises(RuleViolation, match="denies what it should affirm") as refused:
        check_statement(statement)
    assert refused.value.code == "invalid_certification"


def test_a_denial_signed_before_the_rule_still_replays() -> None:
    """The rule is the command's: a register whose stored events hold a statement the rule now
    refuses is rebuilt from them as it was signed."""
    clock_at = datetime(2026, 10, 20, 15, 0, tzinfo=UTC)
    with clock.using(clock.FixedClock(clock_at)):
        register = ExportRegister.open()
        export_id = uuid4()
        register.record(
            ExportRecord(
                export_id=export_id,
                format="pirl",
                quarter="2026Q3",
                sha256="0" * 64,
                rows=1,
                size=10,
                stands_at=3,
                elements_version="1",
                requested_via="api",
                requested_by="coordinator-7",
                generated_at=clock_at,
            )
        )
        old = Certification(
            export_id=export_id,
            sha256="0" * 64,
            signer_name="Dana Reyes",
            signer_title="Program Coordinator",
            statement=DENIALS[0][0],
            certified_by="coordinator-7",
            certified_at=clock_at,
        )
        # As an earlier version of the register appended it, with no statement rule.
        register.trigger_event(ExportRegister.Certified, certification=old, occurred_at=clock_at)
    mapper = MsgspecMapper()
    replayed: Any = None
    for event in register.collect_events():
        replayed = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(replayed)
    assert replayed.certifications == {export_id: old}


def test_a_quarter_not_ended_is_not_certified(client, auth, grantee, enrol, db, frozen_at) -> None:
    """2026Q3 ends on 30 September in the grantee's zone (America/New_York, UTC-04:00 then):
    at 23:30 that evening it is still running and its file is refused a signature; half an
    hour after midnight the same file is certified."""
    clock = frozen_at(datetime(2026, 8, 14, 15, 0, tzinfo=UTC))
    enrol(program_entry_date="2026-07-01")
    r = client.post(
        f"/v1/grantees/{grantee}/exports/pirl/2026Q3", headers=auth("coordinator", grantee)
    )
    assert r.status_code == 201, r.text
    export_id = r.headers["x-export-id"]
    for at in (datetime(2026, 8, 14, 15, 0, tzinfo=UTC), datetime(2026, 10, 1, 3, 30, tzinfo=UTC)):
        clock.set(at)
        events = count_events(db, grantee)
        refused = _certify(client, auth, grantee, export_id)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "quarter_not_ended"
        assert "2026-09-30" in refused.json()["detail"]
        assert count_events(db, grantee) == events
    clock.set(datetime(2026, 10, 1, 4, 30, tzinfo=UTC))
    signed = _certify(client, auth, grantee, export_id)
    assert signed.status_code == 201, signed.text
    assert signed.json()["certification"]["certified_at"] == "2026-10-01T00:30:00-04:00"
