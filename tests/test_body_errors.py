"""A body that fails validation is answered with every fault at once, over HTTP with PostgreSQL:
each missing required field, each wrong-typed value and each value outside its enumeration gets
its own entry in `errors` (with its JSON pointer), and `detail` names them all, so an integrator
fixes a body in one round trip. Nothing is appended."""

from __future__ import annotations

from typing import Any

from domain.webhooks import EVENT_TYPES
from tests.conftest import count_events


def post(client: Any, auth: Any, grantee: str, path: str, body: Any, role: str = "coordinator"):
    return client.post(f"/v1/grantees/{grantee}{path}", json=body, headers=auth(role, grantee))


def by_field(problem: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["field"]: e for e in problem["errors"]}


def test_every_missing_required_field_is_named(client, auth, grantee, db):
    before = count_events(db, grantee)
    r = post(client, auth, grantee, "/participants", {"first_name": "Ann", "cohort": "C1"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "invalid_request"
    assert problem["type"] == "urn:prowd:problem:invalid_request"
    missing = ["last_name", "date_of_birth", "program_entry_date", "facility"]
    errors = by_field(problem)
    assert sorted(errors) == sorted(missing), problem
    for name in missing:
        e = errors[name]
        assert e["pointer"] == f"/{name}" and e["source"] == "body" and e["key"] == "data"
        assert e["message"] == f"Object missing required field `{name}` - at `$`"
        assert name in problem["detail"]
    assert problem["detail"].startswith("the request body fails validation")
    assert count_events(db, grantee) == before


def test_a_wrong_type_beside_missing_fields_is_named_with_them(client, auth, grantee, enrol):
    pid = enrol()["id"]
    r = post(
        client,
        auth,
        grantee,
        f"/participants/{pid}/stage-transitions",
        {"to_stage": "2", "placement": 7, "facility": "RRC-1"},
    )
    assert r.status_code == 400, r.text
    problem = r.json()
    errors = by_field(problem)
    assert set(errors) == {"to_stage", "placement", "occurred_at"}, problem
    assert errors["to_stage"]["message"] == "Expected `int`, got `str` - at `$.to_stage`"
    assert errors["placement"]["message"] == "Expected `str | null`, got `int` - at `$.placement`"
    assert errors["occurred_at"]["message"] == (
        "Object missing required field `occurred_at` - at `$`"
    )
    detail = problem["detail"]
    for said in ("to_stage: Expected `int`, got `str`", "placement: Expected", "occurred_at"):
        assert said in detail, detail


def test_nested_missing_fields_are_named_with_their_path(client, auth, grantee, enrol):
    # The fields missing inside `held` are named `held.<name>`.
    r = post(
        client,
        auth,
        grantee,
        "/meetings",
        {
            "pairing_id": "00000000-0000-4000-8000-000000000000",
            "scheduled_for": "2026-03-01T10:00:00Z",
            "location": {"kind": "off_site"},
            "held": {},
        },
    )
    assert r.status_code == 400, r.text
    errors = by_field(r.json())
    assert errors, r.text
    assert all(f.startswith("held.") for f in errors), errors
    assert all(e["pointer"].startswith("/held/") for e in errors.values())
    assert len(errors) >= 2, errors


def test_a_batch_item_names_every_missing_field_too(client, auth, grantee):
    r = post(
        client,
        auth,
        grantee,
        "/commands",
        {"items": [{"kind": "participant.enrol", "idempotency_key": "b-1", "body": {}}]},
    )
    assert r.status_code == 200, r.text
    (result,) = r.json()["items"]
    problem = result["problem"]
    assert problem["code"] == "invalid_request", result
    assert {"first_name", "last_name", "date_of_birth", "facility"} <= set(by_field(problem))


def test_ping_in_event_types_says_what_is_allowed_and_how_ping_is_sent(client, auth, grantee):
    body = {"url": "https://203.0.113.10/hooks", "facility": "RRC-1", "event_types": ["ping"]}
    r = post(client, auth, grantee, "/webhook-endpoints", body, role="grantee_admin")
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["code"] == "invalid_request"
    (error,) = problem["errors"]
    assert error["field"] == "event_types[0]" and error["pointer"] == "/event_types/0"
    assert error["allowed"] == list(EVENT_TYPES)
    detail = problem["detail"]
    assert "Invalid enum value 'ping'" not in detail or "allowed" in detail
    for name in EVENT_TYPES:
        assert name in detail, detail
    assert "ping" in detail and "/ping" in detail, detail
    assert "regardless" in detail or "whatever" in detail or "every endpoint" in detail, detail


def test_any_unknown_event_type_names_the_allowed_values(client, auth, grantee):
    body = {
        "url": "https://203.0.113.10/hooks",
        "facility": "RRC-1",
        "event_types": ["meeting.held", "meeting.deleted"],
    }
    r = post(client, auth, grantee, "/webhook-endpoints", body, role="grantee_admin")
    assert r.status_code == 400, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "event_types[1]" and error["allowed"] == list(EVENT_TYPES)
    detail = r.json()["detail"]
    assert "'meeting.deleted'" in detail and all(n in detail for n in EVENT_TYPES), detail
    assert "test-delivery" not in detail and "/ping" not in detail
