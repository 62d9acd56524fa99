"""What the API accepts, the views can store: every text field of every command refuses NUL
(PostgreSQL text cannot hold it) and the other control characters (no name holds them; free
text keeps line breaks and tabs), with a 422 `invalid_text` naming the field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.api.text import LINE_PATTERN, TEXT_PATTERN
from tests.conftest import count_events

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "date_of_birth": "1990-04-01",
    "program_entry_date": "2026-02-01",
    "facility": "FCI-A",
    "cohort": "C1",
}
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"]


def request_strings(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, schema) of every string a request body may carry, in every operation."""
    schemas = spec["components"]["schemas"]
    out: list[tuple[str, dict[str, Any]]] = []

    def walk(s: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], where, seen | {name})
            return
        for key in ("oneOf", "anyOf", "allOf"):
            for option in s.get(key, []):
                walk(option, where, seen)
        for name, prop in s.get("properties", {}).items():
            walk(prop, f"{where}.{name}", seen)
        if isinstance(s.get("additionalProperties"), dict):
            walk(s["additionalProperties"], f"{where}.*", seen)
        if isinstance(s.get("propertyNames"), dict):
            walk(s["propertyNames"], f"{where}.<key>", seen)
        if isinstance(s.get("items"), dict):
            walk(s["items"], f"{where}[]", seen)
        kind = s.get("type")
        if kind == "string" or (isinstance(kind, list) and "string" in kind):
            out.append((where, s))

    for path, item in spec["paths"].items():
        for method, op in item.items():
            for media in op.get("requestBody", {}).get("content", {}).values():
                walk(media["schema"], f"{method.upper()} {path} $", frozenset())
    return out


def refuses_controls(schema: dict[str, Any]) -> bool:
    """The schema admits no string holding a control character other than a line break or tab."""
    if "enum" in schema or "const" in schema:
        return all(
            not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", str(v))
            for v in schema.get("enum", [schema.get("const")])
        )
    # A file part ("binary") carries bytes, not text.
    if schema.get("format") in ("date", "date-time", "uuid", "time", "binary"):
        return True
    pattern = schema.get("pattern")
    return pattern is not None and not any(
        re.search(pattern, f"a{c}b") for c in [*CONTROLS, "\x0b", "\x0c"]
    )


def test_every_text_field_of_every_command_declares_the_rule(client):
    spec = client.get("/schema/openapi.json").json()
    strings = request_strings(spec)
    assert len(strings) > 100
    loose = [f"{where}: {schema}" for where, schema in strings if not refuses_controls(schema)]
    assert not loose, "\n".join(loose)
    patterns = {s.get("pattern") for _, s in strings}
    assert {LINE_PATTERN, TEXT_PATTERN} <= patterns


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_character_in_a_name_is_a_422_naming_the_field(
    client, auth, grantee, db, control
):
    """The three fields of the issue: a participant's, a facility's and a mentor's name."""
    h = auth("coordinator", grantee)
    before = count_events(db, grantee)
    calls = [
        ("/participants", {**ANN, "first_name": f"Ann{control}Lee"}, "first_name"),
        (
            "/facilities",
            {"code": "FCI-N", "name": f"FCI{control}N", "kind": "bop_institution"},
            "name",
        ),
        (
            "/mentors",
            {
                "display_name": f"Sam{control}",
                "source": "community_peer",
                "channel": "staff_referral",
            },
            "display_name",
        ),
    ]
    for path, body, field in calls:
        r = client.post(f"/v1/grantees/{grantee}{path}", json=body, headers=h)
        assert r.status_code == 422, (path, r.text)
        problem = r.json()
        assert problem["code"] == "invalid_text"
        assert problem["type"] == "urn:prowd:problem:invalid_text"
        assert problem["errors"][0]["key"] == field
        assert problem["detail"].startswith(field)
    assert count_events(db, grantee) == before


@pytest.mark.parametrize("text", ["Ann\nLee", "Ann\tLee", "Ann\r", "Ann\n"])
def test_a_name_is_one_line(client, auth, grantee, db, text):
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={**ANN, "last_name": text},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["key"] == "last_name", r.text


def test_free_text_keeps_line_breaks_and_tabs_but_no_other_control(client, auth, grantee, enrol):
    pid = enrol()["id"]
    h = auth("coordinator", grantee)
    body = {"exit_date": "2026-03-01", "reason": "completed", "note": "two\nlines\r\n\tand a tab"}
    r = client.post(f"/v1/grantees/{grantee}/participants/{pid}/exit", json=body, headers=h)
    assert r.status_code == 200 or r.status_code == 201, r.text
    pid = enrol()["id"]
    body = {**body, "note": "a bell\x07"}
    r = client.post(f"/v1/grantees/{grantee}/participants/{pid}/exit", json=body, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["key"] == "note", r.text


def test_a_nested_text_field_is_named_by_its_path(client, auth, grantee):
    r = client.post(
        f"/v1/grantees/{grantee}/resources",
        json={
            "name": "Food bank",
            "category": "housing",
            "contact": {"phone": "555\x000100"},
        },
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["key"] == "contact.phone"


def test_any_other_character_is_accepted_and_stored(client, auth, grantee):
    """Names in any script, emoji, combining marks, right-to-left letters and the rest of Unicode
    outside the control characters and, in names, the bidirectional controls (decision 130,
    tests/test_bidi_names.py)."""
    name = "Zoë 李 \u0645\u062d\u0645\u062f 🙂 e\u0301 \u2028 \ufeff"
    r = client.post(
        f"/v1/grantees/{grantee}/participants",
        json={**ANN, "first_name": name},
        headers=auth("coordinator", grantee),
    )
    assert r.status_code == 201, r.text
    assert r.json()["first_name"] == name
