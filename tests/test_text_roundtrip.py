"""Property: any string the API accepts in a text field is projected into every view that shows
that field, and survives a rebuild with every view's digest equal to the live one.

Strings come from hypothesis' whole Unicode alphabet (control characters, NUL, line and
paragraph separators, byte-order marks, combining marks, right-to-left overrides, astral
planes). What a field's rule refuses must be a 422 `invalid_text` and append nothing; what it
accepts goes through a scenario of commands that write every kind of text field (names of
facilities, cohorts, participants, mentors, screening staff, trainers, resources, contacts,
employers and credentials; notes, reasons, conditions, goals, steps, progress, meeting
summaries and confidential notes, needs, feedback...), into one grantee built once."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.text import LINE_PATTERN, TEXT_PATTERN
from services.projector import faults as projection_faults
from services.projector import live as projector
from services.projector import rebuilds
from tests.meetings_helpers import MODULES, OFF_SITE, World
from tests.people import birth_date

# Characters worth meeting often, beside whatever hypothesis draws from the whole alphabet.
SPECIAL = list("\x00\x01\t\n\r\x1b\x7f\x85\x9f\u2028\u2029\ufeff\u202e\u200b\ufffd\U0001f642é")
# Every code point a UTF-8 body can carry: surrogates cannot be encoded (a JSON escape of a lone
# one is a malformed body, `test_a_lone_surrogate_escape_is_a_malformed_body`).
TEXTS = st.text(
    st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(SPECIAL)),
    min_size=1,
    max_size=24,
)
COUNTER = itertools.count(1)


@pytest.fixture(scope="module")
def world(client, auth, db) -> dict[str, Any]:
    w = World(client, auth, db)
    return {"w": w, "mentor": w.mentor("roundtrip")}


def line_of(text: str) -> str:
    """What the one-line rule keeps of `text` (and a visible first character, since a blank
    name is refused by the domain, a rule of its own)."""
    return "L" + re.sub(r"[\x00-\x1f\x7f-\x9f]", "", text)


def free_of(text: str) -> str:
    return "T" + re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "", text)


def send(w: World, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A command that must be accepted (201 for what it creates, 200 for a change)."""
    r = w.client.post(w.base + path, json=body, headers=w.headers())
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def scenario(w: World, mentor_id: str, line: str, free: str) -> dict[str, str]:
    """Every kind of text field, written once; returns the ids the checks look for."""
    n = next(COUNTER)
    send(w, "/facilities", {"code": f"RT-{n}", "name": line, "kind": "rrc"})
    send(
        w,
        "/cohorts",
        {"code": f"RC-{n}", "facility": "FCI-A", "start_date": "2025-09-01", "name": line},
    )
    pid = str(
        send(
            w,
            "/participants",
            {
                "first_name": line,
                "last_name": line,
                "date_of_birth": birth_date(),
                "program_entry_date": "2025-09-15",
                "facility": "FCI-A",
                "cohort": "C1",
            },
        )["id"]
    )
    peer = str(
        send(
            w,
            "/mentors",
            {"display_name": line, "source": "community_peer", "channel": "staff_referral"},
        )["id"]
    )
    send(
        w,
        f"/mentors/{peer}/screening-steps",
        {"step": "application", "completed_on": "2025-07-01", "staff": line, "note": free},
    )
    send(
        w,
        f"/mentors/{peer}/background-review",
        {
            "decision": "approved_with_conditions",
            "reviewer": line,
            "reviewed_on": "2025-07-01",
            "conditions": free,
        },
    )
    send(
        w,
        f"/mentors/{peer}/trainings",
        {"module": MODULES[0], "completed_on": "2025-07-02", "hours": 1, "trainer": line},
    )
    send(w, f"/mentors/{peer}/coordinator", {"coordinator": line})
    pairing = str(
        send(
            w,
            "/pairings",
            {
                "kind": "individual",
                "mentor_id": mentor_id,
                "members": [pid],
                "location": OFF_SITE,
                "criteria": ["shared_experience"],
                "criteria_note": free,
                "opened_at": "2025-10-01T12:00:00Z",
            },
        )["id"]
    )
    send(
        w,
        "/meetings",
        {
            "pairing_id": pairing,
            "scheduled_for": "2025-10-08T12:00:00Z",
            "location": OFF_SITE,
            "held": {
                "occurred_at": "2025-10-08T12:00:00Z",
                "duration_minutes": 60,
                "topics": ["goals"],
                "summary": free,
                "confidential_note": free,
            },
        },
    )
    send(
        w,
        "/feedback",
        {
            "pairing_id": pairing,
            "participant_id": pid,
            "given_on": "2025-10-09",
            "ratings": [{"question": "trust", "score": 4}],
            "comment": free,
        },
    )
    goal = str(
        send(
            w,
            "/goals",
            {
                "participant_id": pid,
                "horizon": "long_term",
                "domain": "employment",
                "statement": free,
                "measure": free,
                "target": free,
                "target_date": "2027-06-01",
            },
        )["id"]
    )
    send(w, f"/goals/{goal}/steps", {"description": free})
    send(w, f"/goals/{goal}/progress", {"note": free, "evidence": free, "percent": 10})
    resource = str(
        send(
            w,
            "/resources",
            {
                "name": line,
                "category": "housing",
                "description": free,
                "contact": {"phone": line, "email": line, "address": line, "website": line},
            },
        )["id"]
    )
    referral = str(
        send(
            w,
            "/referrals",
            {
                "participant_id": pid,
                "resource_id": resource,
                "need": free,
                "made_at": "2025-10-09T12:00:00Z",
            },
        )["id"]
    )
    send(w, f"/referrals/{referral}/connection", {"connected_on": "2025-10-10", "note": free})
    base = f"/participants/{pid}/outcomes"
    send(
        w,
        f"{base}/employment",
        {
            "employer": line,
            "started_on": "2025-11-01",
            "wage": "18.50",
            "wage_unit": "hourly",
            "job_title": line,
        },
    )
    send(
        w,
        f"{base}/credentials",
        {
            "credential_type": "industry_certificate",
            "name": line,
            "earned_on": "2025-11-02",
            "issuer": line,
        },
    )
    send(w, f"{base}/housing", {"housing_type": "family", "secured_on": "2025-11-03", "note": free})
    send(
        w,
        f"/pairings/{pairing}/closure",
        {
            "closure_type": "planned",
            "reason": free,
            "initiator": "program",
            "rematch_eligible": True,
            "post_closure_contact": free,
            "closed_at": "2025-11-04T12:00:00Z",
        },
    )
    send(
        w,
        f"/participants/{pid}/exit",
        {"exit_date": "2025-11-05", "reason": "completed", "note": free},
    )
    return {"participant": pid, "mentor": peer}


def views_holding(db: Any, schema: str, texts: set[str]) -> set[str]:
    """The views whose served build holds one of `texts` as a value (in a column, an array or
    a JSON document)."""
    found = set()
    for view, version in db.fetchall(f'SELECT view, version FROM "{schema}".active_views'):
        tables = db.fetchall(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
            (schema, f"%\\_b{version}"),
        )
        for (table,) in tables:
            if not table.startswith(_PREFIXES[view]):
                continue
            for (row,) in db.fetchall(f'SELECT row_to_json(t) FROM "{schema}"."{table}" t'):
                if _holds(row, texts):
                    found.add(view)
    return found


def _holds(value: Any, texts: set[str]) -> bool:
    if isinstance(value, str):
        return value in texts
    if isinstance(value, list):
        return any(_holds(v, texts) for v in value)
    if isinstance(value, dict):
        return any(_holds(v, texts) for v in value.values())
    return False


def _prefixes() -> dict[str, tuple[str, ...]]:
    from projections.registry import PROJECTIONS

    return {p.name: tuple(f"{t}_b" for t in p.tables) for p in PROJECTIONS}


_PREFIXES = _prefixes()


def test_any_text_the_api_accepts_is_projected_and_survives_a_rebuild(client, auth, db, world):
    w: World = world["w"]
    schema = w.schema
    # Which views show these fields: learnt from plain text once.
    scenario(w, world["mentor"], "Lplain", "Tplain")
    projector.drain(db, schema)
    expected = views_holding(db, schema, {"Lplain", "Tplain"})
    assert expected >= {"caseload", "directory", "mentor_roster", "goals", "referrals"}
    examples = 0

    @given(text=TEXTS)
    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(text: str) -> None:
        nonlocal examples
        examples += 1
        before = w.events()
        for field, rule in (("first_name", LINE_PATTERN), ("note", TEXT_PATTERN)):
            if re.search(rule, text):
                continue
            # The rule refuses it: 422 naming the field, nothing appended.
            pid = world.setdefault("pid", w.enrol(name="Probe"))
            before = w.events()
            path, body = (
                (
                    "/participants",
                    {
                        "first_name": text,
                        "last_name": "Lee",
                        "date_of_birth": birth_date(),
                        "program_entry_date": "2025-09-15",
                        "facility": "FCI-A",
                        "cohort": "C1",
                    },
                )
                if field == "first_name"
                else (
                    f"/participants/{pid}/exit",
                    {"exit_date": "2025-11-05", "reason": "completed", "note": text},
                )
            )
            r = client.post(w.base + path, json=body, headers=w.headers())
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "invalid_text" and r.json()["errors"][0]["key"] == field
            assert w.events() == before
        line, free = line_of(text), free_of(text)
        scenario(w, world["mentor"], line, free)
        projector.drain(db, schema)
        texts = {line, line.strip(), free, free.strip()}
        assert views_holding(db, schema, texts) == expected
        assert projection_faults.live(db, schema) == []
        live = projector.digests(db, schema)
        rebuilds.rebuild_views(db, schema)
        assert projector.digests(db, schema) == live

    check()
    assert examples == 15


def test_a_lone_surrogate_escape_is_a_malformed_body(client, auth, db, world):
    """JSON may spell a lone surrogate as an escape; no text can hold it: 400, nothing stored."""
    w: World = world["w"]
    before = w.events()
    r = client.post(
        w.base + "/facilities",
        content=b'{"code": "RT-SUR", "name": "L\\ud800", "kind": "rrc"}',
        headers={**w.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert w.events() == before
