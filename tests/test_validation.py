"""Bodies that are not what the API accepts: a 4xx problem, never a 500, and nothing appended."""

from __future__ import annotations

import json

import pytest

from tests.conftest import count_events
from tests.people import birth_date

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "date_of_birth": "1990-04-01",
    "program_entry_date": "2026-02-01",
    "facility": "FCI-A",
    "cohort": "C1",
}
TO_RRC = {
    "to_stage": 2,
    "placement": "rrc",
    "facility": "RRC-1",
    "occurred_at": "2026-03-01T09:00:00Z",
}
BIG = "x" * (64 * 1024 + 1)


def raw(body: object) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


ENROLMENTS = [
    (b'{"first_name": "Ann", ', 400),
    (b"", 400),
    (b"[]", 400),
    (b"null", 400),
    ({**ANN, "date_of_birth": 19900401}, 400),
    ({**ANN, "first_name": 42}, 400),
    ({**ANN, "ex_offender_at_entry": "yes"}, 400),
    ({**ANN, "program_entry_date": "01/02/2026"}, 400),
    ({k: v for k, v in ANN.items() if k != "last_name"}, 400),
    ({**ANN, "ssn": "123-45-6789"}, 400),
    ({**ANN, "first_name": ""}, 400),
    ({**ANN, "facility": "fci a; drop table"}, 400),
    ({**ANN, "number": "p-1"}, 400),
    ({**ANN, "first_name": BIG}, 413),
    (raw(ANN) + b" " * (64 * 1024), 413),
]
MOVES = [
    (b"{not json}", 400),
    ({**TO_RRC, "to_stage": 4}, 400),
    ({**TO_RRC, "to_stage": [2]}, 400),
    ({**TO_RRC, "to_stage": None}, 400),
    ({**TO_RRC, "placement": "prison"}, 400),
    ({**TO_RRC, "occurred_at": "yesterday"}, 400),
    ({**TO_RRC, "returned_to_custody": "maybe"}, 400),
    ({**TO_RRC, "stage": 2}, 400),
    ({**TO_RRC, "note": BIG}, 413),
]


@pytest.mark.parametrize(("body", "status"), ENROLMENTS)
def test_bad_enrolments(client, auth, grantee, db, body, status):
    before = count_events(db, grantee)
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        content=raw(body),
        headers={**auth("coordinator", grantee), "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status
    assert r.json()["code"] == {400: "invalid_request", 413: "body_too_large"}[status]
    assert count_events(db, grantee) == before


@pytest.mark.parametrize(("body", "status"), MOVES)
def test_bad_moves(client, auth, grantee, enrol, db, body, status):
    pid = enrol()["id"]
    before = count_events(db, grantee)
    r = client.post(
        f"/v1/grantees/{grantee}/participants/{pid}/stage-transitions",
        content=raw(body),
        headers={**auth("coordinator", grantee), "Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert count_events(db, grantee) == before


def test_a_number_sent_as_a_string_is_refused(client, auth, grantee, enrol, db):
    pid = enrol()["id"]
    before = count_events(db, grantee)
    h = auth("coordinator", grantee)
    for wrong in ({**TO_RRC, "to_stage": "2"}, {**TO_RRC, "to_stage": 2.0}):
        r = client.post(
            f"/v1/grantees/{grantee}/participants/{pid}/stage-transitions", json=wrong, headers=h
        )
        assert r.status_code == 400, wrong
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "invalid_request"
        assert "to_stage" in r.json()["errors"][0]["message"]
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": birth_date(),
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
            "ex_offender_at_entry": "true",
        },
        headers=h,
    )
    assert r.status_code == 400
    assert count_events(db, grantee) == before


def test_a_validation_problem_names_the_field(client, auth, grantee):
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={**ANN, "first_name": 42},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 400
    assert "first_name" in r.text
    assert "Traceback" not in r.text


def test_a_body_just_under_the_limit_is_read(client, auth, grantee, db):
    body = raw(ANN)
    padded = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"
    before = count_events(db, grantee)
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        content=padded,
        headers={**auth("coordinator", grantee), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert count_events(db, grantee) == before + 1


def test_a_malformed_path_id_is_refused(client, auth, grantee):
    r = client.get(
        f"/v1/grantees/{grantee}/participants/not-a-uuid", headers=auth("coordinator", grantee)
    )
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")


def test_an_oversized_body_without_a_length_is_cut_off(client, auth, grantee, db):
    before = count_events(db, grantee)
    chunks = iter([b'{"first_name": "', *[b"x" * 8192] * 9, b'"}'])
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        content=chunks,
        headers={**auth("coordinator", grantee), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert count_events(db, grantee) == before
