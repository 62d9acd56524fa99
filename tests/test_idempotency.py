"""`Idempotency-Key`: a retried command gets the first answer back and appends nothing."""

from __future__ import annotations

from tests.conftest import count_events, race
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


def test_a_retried_enrolment_returns_the_first_answer_and_appends_nothing(
    client, auth, grantee, db
):
    h = {**auth("coordinator", grantee), "Idempotency-Key": "enrol-ann-1"}
    url = f"/v1/grantees/{grantee}/participants"
    first = client.post(url, json=ANN, headers=h)
    after_first = count_events(db, grantee)
    second = client.post(url, json=ANN, headers=h)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["x-log-position"] == first.headers["x-log-position"]
    assert count_events(db, grantee) == after_first
    caseload = client.get(url, headers=h).json()
    assert caseload == client.get(url, headers=h).json()


def test_a_retry_answers_as_of_the_first_attempt_even_after_later_changes(
    client, auth, grantee, enrol, db
):
    pid = enrol()["id"]
    h = auth("case_manager", grantee)
    url = f"/v1/grantees/{grantee}/participants/{pid}"
    keyed = {**h, "Idempotency-Key": "move-1"}
    first = client.post(f"{url}/stage-transitions", json=TO_RRC, headers=keyed)
    later = {"to_stage": 3, "occurred_at": "2026-05-01T00:00:00Z"}
    assert client.post(f"{url}/stage-transitions", json=later, headers=h).status_code == 201
    before = count_events(db, grantee)
    retry = client.post(f"{url}/stage-transitions", json=TO_RRC, headers=keyed)
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry.json()["stage"] == 2
    assert count_events(db, grantee) == before
    assert client.get(url, headers=h).json()["stage"] == 3


def test_the_same_key_with_another_body_is_refused(client, auth, grantee, db):
    h = {**auth("coordinator", grantee), "Idempotency-Key": "k-reused"}
    url = f"/v1/grantees/{grantee}/participants"
    assert client.post(url, json=ANN, headers=h).status_code == 201
    before = count_events(db, grantee)
    for other_url, body in [
        (url, {**ANN, "first_name": "Bea"}),
        (f"/v1/grantees/{grantee}/facilities", {"code": "RRC-9", "name": "R", "kind": "rrc"}),
    ]:
        r = client.post(other_url, json=body, headers=h)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "idempotency_key_reused"
    assert count_events(db, grantee) == before


def test_keys_belong_to_one_grantee(client, auth, make_grantee, db):
    a, b = make_grantee(), make_grantee()
    for slug in (a, b):
        h = {**auth("coordinator", slug), "Idempotency-Key": "shared-key"}
        r = client.post(f"/v1/grantees/{slug}/participants", json=ANN, headers=h)
        assert r.status_code == 201
        assert "idempotent-replayed" not in r.headers


def test_keys_belong_to_one_caller(client, auth, grantee, db):
    url = f"/v1/grantees/{grantee}/participants"
    answers = [
        client.post(
            url,
            # Two people (another birth date): the same person twice would be a duplicate.
            json={**ANN, "date_of_birth": birth_date()},
            headers={**auth("coordinator", grantee, sub=who), "Idempotency-Key": "same-key"},
        )
        for who in ("alice", "bob")
    ]
    assert [r.status_code for r in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert "idempotent-replayed" not in answers[1].headers


def test_a_refused_command_is_not_remembered(client, auth, grantee, enrol, db):
    pid = enrol()["id"]
    h = {**auth("case_manager", grantee), "Idempotency-Key": "too-early"}
    url = f"/v1/grantees/{grantee}/participants/{pid}/stage-transitions"
    early = {**TO_RRC, "occurred_at": "2026-01-01T00:00:00Z"}
    for _ in range(2):
        r = client.post(url, json=early, headers=h)
        assert (r.status_code, r.json()["code"]) == (422, "before_current_stage")
    before = count_events(db, grantee)
    assert client.post(url, json=TO_RRC, headers=h).status_code == 201
    assert count_events(db, grantee) == before + 1


def test_an_invalid_key_is_refused(client, auth, grantee, db):
    h = {**auth("coordinator", grantee), "Idempotency-Key": "x" * 201}
    before = count_events(db, grantee)
    r = client.post(f"/v1/grantees/{grantee}/participants", json=ANN, headers=h)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_idempotency_key")
    assert count_events(db, grantee) == before


def test_two_simultaneous_retries_append_once_and_answer_alike(client, auth, grantee, enrol, db):
    pid = enrol()["id"]
    h = {**auth("case_manager", grantee), "Idempotency-Key": "double-click"}
    url = f"/v1/grantees/{grantee}/participants/{pid}/stage-transitions"
    before = count_events(db, grantee)

    def send():
        return client.post(url, json=TO_RRC, headers=h)

    first, second = race(db, grantee, send, send)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json() == second.json()
    assert sorted(r.headers.get("idempotent-replayed", "") for r in (first, second)) == ["", "true"]
    assert count_events(db, grantee) == before + 1


def test_two_simultaneous_enrolments_with_one_key_enrol_one_participant(client, auth, grantee, db):
    h = {**auth("coordinator", grantee), "Idempotency-Key": "enrol-twice"}
    url = f"/v1/grantees/{grantee}/participants"
    before = count_events(db, grantee)
    first, second = race(db, grantee, *[lambda: client.post(url, json=ANN, headers=h)] * 2)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    assert count_events(db, grantee) == before + 1
