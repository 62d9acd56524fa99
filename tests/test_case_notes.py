"""Case notes over HTTP with the real app and PostgreSQL: written by staff, read by staff and
auditors only (refused to peer mentors, RRC staff and oversight), tagged Part 2, encrypted in
the log, erased with the participant; access-log rows for writes and reads."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql

from tests.mentoring_helpers import Api

NOTE = "Called about the bus pass; worried about the housing wait list."


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def status_of(api: Api, method: str, path: str, role: str, **kw: Any) -> int:
    r = api.client.request(method, api.base + path, headers=api.headers(role), **kw)
    return r.status_code


def test_case_notes_are_staff_records_encrypted_and_erasable(api: Api) -> None:
    pid = api.enrol()
    path = f"/participants/{pid}/case-notes"
    note = api.post(path, {"text": NOTE, "part2": True}, role="case_manager")
    assert (note["text"], note["part2"], note["written_by"]) == (NOTE, True, "test-case_manager")
    api.post(path, {"text": "Second note."})
    notes = api.view(path, note["position"] + 1, role="auditor")["items"]
    assert [n["text"] for n in notes] == ["Second note.", NOTE]
    assert notes[1]["part2"] is True

    # Never peer mentors, RRC staff or oversight.
    for role in ("peer_mentor", "rrc_staff", "federal_oversight"):
        assert status_of(api, "GET", path, role) in (403, 404)
    assert status_of(api, "POST", path, "auditor", json={"text": "x"}) == 403
    api.refused(path, {"text": "   "}, "note_required")

    # Encrypted in the log.
    rows = api.db.fetchall(
        sql.SQL("SELECT state FROM {}.events").format(sql.Identifier(f"g_{api.slug}"))
    )
    assert all(NOTE not in bytes(r[0]).decode("utf-8", "replace") for r in rows)

    # Access-log rows for the write and the read.
    logged = api.db.fetchall(
        f'SELECT action, method FROM "g_{api.slug}".access_log'
        " WHERE action LIKE 'casenotes.%%' ORDER BY id"
    )
    assert ("casenotes.write", "POST") in logged and ("casenotes.read", "GET") in logged

    # Erased with the participant: the notes stay, their text does not.
    r = api.client.post(
        f"{api.base}/participants/{pid}/erasure", json={"reason": "request"}, headers=api.headers()
    )
    assert r.status_code == 201, r.text
    after = api.view(path, 0)["items"]
    assert [n["text"] for n in after] == ["[erased]", "[erased]"]
    api.refused(path, {"text": "more"}, "already_erased")
