"""Erasure of a participant's personal data (crypto-shredding, docs/privacy.md), on the real app
and PostgreSQL: nothing of the participant's personal data is readable anywhere in the
grantee's schema afterwards, every view shows them erased, the hash chain still verifies, a
rebuild yields the same, and the refusals (legal hold, roles, twice)."""

from __future__ import annotations

import argparse
import io
from typing import Any
from uuid import UUID

import pytest
from psycopg import sql

from services.cli.audit import cmd_verify
from services.cli.records import cmd_erase
from services.projector import live as projector
from services.projector import rebuilds
from services.store import keys
from services.store.database import Database
from tests.meetings_helpers import World

FIRST, LAST = "Xanthippe", "Brightwater"
DOB = "1979-05-17"
REGISTER = "55555-123"
SUMMARY = "talked through the Brightwater custody hearing"
NOTE = "worried about relapse after the hearing"
STATEMENT = "Reconnect with her daughter Philippa"
OTHER_FIRST, OTHER_LAST = "Octavian", "Stormcrest"

EMPLOYER, JOB_TITLE = "Brightwater Marine Salvage", "night deckhand"
HOUSING_NOTE = "sublet from her cousin Philippa"
ESCALATION, RESOLUTION = "relapse after the custody hearing", "detox bed found at Saint Jude"
SECRETS = (
    FIRST,
    LAST,
    DOB,
    REGISTER,
    SUMMARY,
    NOTE,
    STATEMENT,
    "19790517",
    EMPLOYER,
    JOB_TITLE,
    HOUSING_NOTE,
    ESCALATION,
    RESOLUTION,
)


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def enrol(w: World, first: str, last: str, register: str, key: str | None = None) -> str:
    body = {
        "first_name": first,
        "last_name": last,
        "date_of_birth": DOB if first == FIRST else "1985-02-03",
        "bop_register_number": register,
        "program_entry_date": "2025-09-15",
        "facility": "FCI-A",
        "cohort": "C1",
    }
    headers = {**w.headers(), **({"Idempotency-Key": key} if key else {})}
    r = w.client.post(w.base + "/participants", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def case_file(w: World) -> tuple[str, str, str]:
    """(target, other participant, pairing): the target enrolled with an idempotency key, an
    individual pairing with a held meeting (summary and confidential note) and a goal."""
    target = enrol(w, FIRST, LAST, REGISTER, key="enrol-target")
    other = enrol(w, OTHER_FIRST, OTHER_LAST, "66666-321")
    mentor = w.mentor("mentor-erase")
    pairing = w.pair(mentor, [target], "2026-10-01T15:00:00Z")
    w.meet(pairing, "2026-11-03T18:00:00-06:00", summary=SUMMARY, confidential_note=NOTE)
    w.post(
        "/goals",
        {
            "participant_id": target,
            "horizon": "short_term",
            "domain": "family",
            "statement": STATEMENT,
            "measure": "a visit arranged",
            "target": "one visit",
            "target_date": "2027-01-15",
        },
    )
    outcomes = f"/participants/{target}/outcomes"
    w.post(
        f"{outcomes}/employment",
        {
            "employer": EMPLOYER,
            "job_title": JOB_TITLE,
            "started_on": "2026-10-05",
            "wage": "18.50",
            "wage_unit": "hourly",
            "hours_per_week": 40,
        },
    )
    w.post(
        f"{outcomes}/housing",
        {"housing_type": "own_lease", "secured_on": "2026-11-02", "note": HOUSING_NOTE},
    )
    escalation = w.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "participant_id": target,
            "type": "crisis",
            "severity": "high",
            "description": ESCALATION,
        },
    )
    w.post(f"/escalations/{escalation['id']}/acknowledgement", {"note": "called her"})
    w.post(f"/escalations/{escalation['id']}/resolution", {"resolution": RESOLUTION})
    projector.drain(w.db, w.schema)
    return target, other, pairing


def readable_text(w: World) -> str:
    """Every row of every table of the grantee's schema as text (bytea columns decoded as
    escaped text, so ASCII inside them is visible), and the log's stored event bytes."""
    db = w.db
    parts: list[str] = []
    tables = db.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        " AND table_type = 'BASE TABLE'",
        (w.schema,),
    )
    for (table,) in tables:
        columns = db.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (w.schema, table),
        )
        exprs = [
            sql.SQL("coalesce(encode({}, 'escape'), '')").format(sql.Identifier(c))
            if t == "bytea"
            else sql.SQL("coalesce({}::text, '')").format(sql.Identifier(c))
            for c, t in columns
        ]
        query = sql.SQL("SELECT concat_ws(' | ', {}) FROM {}.{}").format(
            sql.SQL(", ").join(exprs), sql.Identifier(w.schema), sql.Identifier(table)
        )
        parts.extend(str(r[0]) for r in db.fetchall(query))
    for (state,) in db.fetchall(
        sql.SQL("SELECT state FROM {}.events").format(sql.Identifier(w.schema))
    ):
        parts.append(bytes(state).decode("utf-8", "replace"))
    return "\n".join(parts)


def erase(w: World, participant: str, role: str = "coordinator", **kw: Any) -> Any:
    r = w.client.post(
        f"{w.base}/participants/{participant}/erasure",
        json={"reason": "participant request of 2026-11-20"},
        headers=w.headers(role, **kw),
    )
    return r


def verify(settings: Any, slug: str) -> int:
    return cmd_verify(argparse.Namespace(grantee=slug, sign=False, require_signed=False), settings)


def test_erasure_leaves_no_readable_personal_field_and_a_verifiable_chain(
    world: World, settings: Any
) -> None:
    w = world
    target, other, pairing = case_file(w)
    before = readable_text(w)
    # Before: the views hold the names and texts (that is what the scan must not find after).
    assert FIRST in before and SUMMARY in before and STATEMENT in before
    # ... but the log never held them in the clear.
    log = b"".join(bytes(r[0]) for r in w.db.fetchall(f'SELECT state FROM "{w.schema}".events'))
    for value in SECRETS:
        assert value.encode() not in log
    shown = w.get(f"/participants/{target}")
    assert (shown["first_name"], shown["date_of_birth"]) == (FIRST, DOB)
    stored_outcomes = (
        f'SELECT count(*) FROM "{w.schema}".idempotency'
        " WHERE convert_from(body, 'UTF8')::jsonb->>'aggregate_id' = %s"
    )
    assert w.db.fetchone(stored_outcomes, (target,)) == (1,)

    r = erase(w, target)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["participant_id"] == target and out["erased_by"] == "test-coordinator"
    assert out["reason"] == "participant request of 2026-11-20"
    topics = w.topics_of(target)
    assert topics[-1] == "Erased"
    projector.drain(w.db, w.schema)

    after = readable_text(w)
    for value in SECRETS:
        assert value not in after, f"{value!r} is still readable after the erasure"
    # The enrolment's stored first outcome (its fingerprint hashes the request body) is gone.
    assert w.db.fetchone(stored_outcomes, (target,)) == (0,)
    # The other participant's data is intact.
    assert OTHER_FIRST in after and OTHER_LAST in after
    row = w.db.fetchone(
        f'SELECT wrapped_key, destroyed_at, destroyed_by, reason FROM "{w.schema}".participant_keys'
        " WHERE participant_id = %s",
        (target,),
    )
    assert row is not None and row[0] is None and row[1] is not None
    assert (row[2], row[3]) == ("test-coordinator", "participant request of 2026-11-20")

    # Every view shows the participant as erased; the rest of the record stays.
    shown = w.get(f"/participants/{target}")
    assert (shown["first_name"], shown["last_name"]) == ("[erased]", "[erased]")
    assert shown["date_of_birth"] is None and shown["bop_register_number"] is None
    assert shown["erased_at"] and shown["cohort"] == "C1" and shown["stage"] == 1
    rows = {r["id"]: r for r in w.view("/participants")["items"]}
    assert (rows[target]["first_name"], rows[target]["last_name"]) == ("[erased]", "[erased]")
    assert rows[other]["first_name"] == OTHER_FIRST
    meeting = w.log(pairing)[0]
    assert meeting["summary"] == "[erased]" and meeting["duration_minutes"] == 60
    goal = w.view("/goals", participant_id=target)["items"][0]
    assert goal["statement"] == "[erased]" and goal["domain"] == "family"
    timeline = w.client.get(f"{w.base}/participants/{target}/timeline", headers=w.headers())
    assert timeline.status_code == 200
    assert "[erased]" in timeline.text and SUMMARY not in timeline.text
    assert "participant.Erased" in timeline.text
    history = w.client.get(f"{w.base}/participants/{target}/history", headers=w.headers())
    assert history.status_code == 200 and FIRST not in history.text

    # The chain still verifies: it is over the stored bytes, which did not change.
    assert verify(settings, w.slug) == 0

    # A rebuild decodes the encrypted fields as erased (the key is gone) and yields the same.
    digests = projector.digests(w.db, w.schema)
    rebuilds.rebuild_views(w.db, w.schema, None)
    assert projector.digests(w.db, w.schema) == digests
    rebuilt = readable_text(w)
    for value in SECRETS:
        assert value not in rebuilt
    assert w.log(pairing)[0]["summary"] == "[erased]"
    rows = {r["id"]: r for r in w.view("/participants")["items"]}
    assert rows[target]["first_name"] == "[erased]" and rows[other]["first_name"] == OTHER_FIRST
    assert verify(settings, w.slug) == 0


def test_personal_fields_written_after_the_erasure_are_not_kept(world: World) -> None:
    w = world
    target, _, pairing = case_file(w)
    assert erase(w, target).status_code == 201
    w.meet(pairing, "2026-11-10T18:00:00-06:00", summary="a new summary naming Xanthippe")
    projector.drain(w.db, w.schema)
    assert "Xanthippe" not in readable_text(w)
    assert w.log(pairing)[-1]["summary"] == "[erased]"


def test_a_legal_hold_blocks_the_erasure_and_nothing_is_written(
    world: World, settings: Any
) -> None:
    w = world
    target = enrol(w, FIRST, LAST, REGISTER)
    w.post(
        "/legal-holds",
        {"reason": "OIG audit 2027-014", "participant_id": target},
        role="grantee_admin",
    )
    w.refused(
        f"/participants/{target}/erasure",
        {"reason": "participant request"},
        "legal_hold",
    )
    row = w.db.fetchone(
        f'SELECT wrapped_key IS NOT NULL, destroyed_at FROM "{w.schema}".participant_keys'
        " WHERE participant_id = %s",
        (target,),
    )
    assert row == (True, None)
    assert w.get(f"/participants/{target}")["first_name"] == FIRST
    # The command line is refused the same way (exit 1), and writes nothing either.
    err = io.StringIO()
    args = argparse.Namespace(
        what="participant", grantee=w.slug, participant=target, by="ops", reason="request"
    )
    before = w.events()
    assert cmd_erase(args, settings, out=err) == 1
    assert w.events() == before


def test_only_coordinators_and_grantee_admins_erase(
    world: World, auth: Any, make_grantee: Any
) -> None:
    w = world
    a = enrol(w, "Roleone", "Test", "11111-111")
    b = enrol(w, "Roletwo", "Test", "22222-222")
    before = w.events()
    for role in ("case_manager", "peer_mentor", "auditor", "federal_oversight", "rrc_staff"):
        r = erase(w, a, role)
        assert r.status_code == 403, (role, r.text)
        assert FIRST not in r.text and "Roleone" not in r.text
    other = make_grantee()
    r = w.client.post(
        f"{w.base}/participants/{a}/erasure",
        json={"reason": "x"},
        headers=auth("coordinator", other),
    )
    assert r.status_code == 404, r.text
    r = w.client.post(f"{w.base}/participants/{a}/erasure", json={"reason": "x"})
    assert r.status_code == 401
    assert w.events() == before
    assert erase(w, a, "grantee_admin").status_code == 201
    assert erase(w, b, "coordinator").status_code == 201


def test_erasing_twice_or_badly_is_refused_clearly(world: World, settings: Any) -> None:
    w = world
    target = enrol(w, "Twice", "Erased", "33333-333")
    assert erase(w, target).status_code == 201
    problem = w.refused(f"/participants/{target}/erasure", {"reason": "again"}, "already_erased")
    assert "already erased" in problem["detail"]
    w.refused(
        "/participants/7d4f6a9e-1111-4c4c-9c9c-000000000000/erasure",
        {"reason": "x"},
        "not_found",
        status=404,
    )
    fresh = enrol(w, "Blank", "Reason", "44444-444")
    w.refused(f"/participants/{fresh}/erasure", {"reason": "   "}, "reason_required")
    r = w.client.post(
        f"{w.base}/participants/{fresh}/erasure", json={"why": "x"}, headers=w.headers()
    )
    assert r.status_code == 400

    # The command line: erases once (exit 0), refuses the second time (exit 1).
    out = io.StringIO()
    args = argparse.Namespace(
        what="participant", grantee=w.slug, participant=fresh, by="ops-lead", reason="request"
    )
    assert cmd_erase(args, settings, out=out) == 0
    assert f"participant {fresh} erased" in out.getvalue()
    assert cmd_erase(args, settings, out=io.StringIO()) == 1
    projector.drain(w.db, w.schema)
    assert w.get(f"/participants/{fresh}")["first_name"] == "[erased]"
    bad = argparse.Namespace(
        what="participant", grantee=w.slug, participant="nope", by="x", reason="y"
    )
    assert cmd_erase(bad, settings, out=io.StringIO()) == 2


def test_another_process_stops_using_an_erased_key_once_it_checks_for_erasures(
    world: World, settings: Any, database_url: str
) -> None:
    """Another process (its own pool and its own key store) holds the participant's key; the
    erasure is made here. Until its next check (every `PROWD_KEY_CACHE_SECONDS`) it may still
    use the key; at the check it learns of the erasure by its log position and refuses the
    key, for reading and for writing, with no bulk reload of the grantee's keys."""
    w = world
    target = UUID(enrol(w, "Cached", "Key", "77777-777"))
    other_db = Database(database_url, settings, name="prowd-other-process").open()
    try:
        other = keys.KeyStore()
        other.attach(other_db, keys.STORE.ring(w.db), ttl=3600.0)
        assert other.key(w.schema, target) is not None  # warmed and cached over there
        erase(w, str(target))
        assert keys.STORE.key(w.schema, target) is None  # the erasing process: at once
        assert other.key(w.schema, target) is not None  # before its check: still cached
        other.ttl = 0.0  # its check is due
        assert other.key(w.schema, target) is None
        with pytest.raises(keys.ParticipantErased):
            other.key_for_write(w.schema, target)
        # A participant enrolled since is found there by one look-up.
        later = UUID(enrol(w, "Later", "Person", "77777-778"))
        assert other.key(w.schema, later) is not None
    finally:
        other_db.close()
