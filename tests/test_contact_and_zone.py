"""Contact details, the projected release date and local times over HTTP with the real app and
PostgreSQL: recorded as an event, encrypted with the participant's key (not in the log's
bytes), shredded by erasure; refusals with their rule codes; the access log's rows; every time
of a grantee's answer in the grantee's zone with its offset."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from psycopg import sql

from services.projector import live as projector
from tests.meetings_helpers import World

PHONE = "+1 312 555 0142"


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def log_text(w: World) -> str:
    rows = w.db.fetchall(sql.SQL("SELECT state FROM {}.events").format(sql.Identifier(w.schema)))
    return "\n".join(bytes(r[0]).decode("utf-8", "replace") for r in rows)


def test_contact_details_are_recorded_encrypted_and_shredded(world: World) -> None:
    w = world
    pid = w.enrol()
    # Nothing on record and nothing given: nothing is recorded (no empty ContactRecorded).
    before = w.events()
    w.refused(f"/participants/{pid}/contact", {}, "contact_empty")
    w.refused(f"/participants/{pid}/contact", {"phone": None, "email": None}, "contact_empty")
    assert w.events() == before
    out = w.post(
        f"/participants/{pid}/contact",
        {"phone": PHONE, "email": "ann@example.org", "projected_release_date": "2026-12-14"},
    )
    assert out["contact"] == {"phone": PHONE, "email": "ann@example.org"}
    assert out["projected_release_date"] == "2026-12-14"
    got = w.get(f"/participants/{pid}")
    assert got["contact"]["phone"] == PHONE and got["projected_release_date"] == "2026-12-14"
    text = log_text(w)
    assert PHONE not in text and "ann@example.org" not in text and "2026-12-14" not in text

    rows = w.db.fetchall(
        sql.SQL("SELECT count(*) FROM {}.access_log WHERE action = %s").format(
            sql.Identifier(w.schema)
        ),
        ("participants.contact",),
    )
    assert rows[0][0] == 1

    w.refused(
        f"/participants/{pid}/contact",
        {"phone": PHONE, "projected_release_date": "2024-01-01"},
        "release_before_entry",
    )
    w.refused(
        f"/participants/{pid}/contact",
        {"phone": PHONE, "email": "ann@example.org", "projected_release_date": "2026-12-14"},
        "nothing_to_correct",
    )
    # Details on record may all be cleared: the recording replaces them (not `contact_empty`).
    cleared = w.post(f"/participants/{pid}/contact", {})
    assert cleared.get("contact", {}) == {} and cleared.get("projected_release_date") is None
    w.refused(f"/participants/{pid}/contact", {}, "nothing_to_correct")
    w.post(
        f"/participants/{pid}/contact",
        {"phone": PHONE, "email": "ann@example.org", "projected_release_date": "2026-12-14"},
    )
    r = w.client.post(
        f"{w.base}/participants/{pid}/contact", json={"phone": "call me"}, headers=w.headers()
    )
    assert r.status_code == 400
    r = w.client.post(
        f"{w.base}/participants/{pid}/contact", json={"phone": PHONE}, headers=w.headers("auditor")
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"

    r = w.client.post(
        f"{w.base}/participants/{pid}/erasure", json={"reason": "request"}, headers=w.headers()
    )
    assert r.status_code == 201, r.text
    erased = w.get(f"/participants/{pid}")
    assert "contact" not in erased or erased["contact"] == {}
    assert erased.get("projected_release_date") is None
    w.refused(f"/participants/{pid}/contact", {"phone": PHONE}, "already_erased")


def test_times_are_rendered_in_the_grantees_zone(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-z")
    mentee = w.enrol()
    pairing = w.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    m = w.schedule(pairing, "2026-11-03T18:00:00-06:00")
    # An evening in Chicago stays on its own day, with its offset (UTC would say 00:00 on 4th).
    assert m["scheduled_for"] == "2026-11-03T18:00:00-06:00"
    projector.drain(w.db, w.schema)
    listed = w.get("/meetings", pairing_id=pairing)["items"][0]
    assert listed["scheduled_for"] == "2026-11-03T18:00:00-06:00"
    opened = w.get(f"/pairings/{pairing}")["opened_at"]
    assert opened == "2026-10-01T10:00:00-05:00"  # daylight time in October
    # The instant is the same: stored in UTC.
    assert datetime.fromisoformat(opened) == datetime.fromisoformat("2026-10-01T15:00:00+00:00")
    row = w.db.fetchone(
        sql.SQL("SELECT scheduled_for AT TIME ZONE 'UTC' FROM {} WHERE meeting_id = %s").format(
            sql.Identifier(w.schema, "meetings_b1")
        ),
        (m["id"],),
    )
    assert row is not None and row[0].isoformat() == "2026-11-04T00:00:00"
