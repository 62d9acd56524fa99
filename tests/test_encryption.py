"""Field-level encryption of personal fields in the log (DESIGN D8, docs/privacy.md), on the
real app and PostgreSQL: what is stored, what is read back, the key table, master-key
rotation, and the table of personal fields."""

from __future__ import annotations

import base64
import os
from datetime import date
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from domain.participants import PersonalDetails
from services.settings import Settings
from services.store import keys, personal
from services.store.mapping import MsgspecMapper
from tests.meetings_helpers import World

DOB = "1981-07-23"
REGISTER = "48213-054"


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def enrol(w: World, first: str, last: str, register: str = REGISTER) -> str:
    body = {
        "first_name": first,
        "last_name": last,
        "date_of_birth": DOB,
        "bop_register_number": register,
        "program_entry_date": "2025-09-15",
        "facility": "FCI-A",
        "cohort": "C1",
    }
    return str(w.post("/participants", body)["id"])


def log_bytes(w: World) -> bytes:
    rows = w.db.fetchall(f'SELECT state FROM "{w.schema}".events ORDER BY notification_id')
    return b"\n".join(bytes(r[0]) for r in rows)


def test_personal_fields_are_stored_encrypted_and_read_back_in_the_clear(world: World) -> None:
    w = world
    pid = enrol(w, "Zebediah", "Quartermaine")
    stored = log_bytes(w)
    for value in (b"Zebediah", b"Quartermaine", DOB.encode(), REGISTER.encode()):
        assert value not in stored, f"{value!r} stored in the clear"
    row = w.db.fetchone(
        f'SELECT state FROM "{w.schema}".events WHERE originator_id = %s'
        " ORDER BY originator_version LIMIT 1",
        (pid,),
    )
    assert row is not None
    envelope = msgspec.json.decode(bytes(row[0]))["personal"]
    assert envelope["enc"] == 1 and envelope["kid"] == f"{w.schema}/{pid}"
    assert set(envelope) == {"enc", "kid", "n", "c"}
    # Not personal: stays readable for the views and the chain's readers.
    assert msgspec.json.decode(bytes(row[0]))["cohort_code"] == "C1"

    got = w.get(f"/participants/{pid}")
    assert (got["first_name"], got["last_name"]) == ("Zebediah", "Quartermaine")
    assert (got["date_of_birth"], got["bop_register_number"]) == (DOB, REGISTER)
    caseload = w.view("/participants")["items"]
    assert {(r["first_name"], r["last_name"]) for r in caseload if r["id"] == pid} == {
        ("Zebediah", "Quartermaine")
    }


def test_the_data_key_is_created_with_the_enrolment_and_stored_wrapped(world: World) -> None:
    w = world
    before = w.db.fetchone(f'SELECT count(*) FROM "{w.schema}".participant_keys')
    pid = enrol(w, "Keyholder", "Smith")
    after = w.db.fetchone(f'SELECT count(*) FROM "{w.schema}".participant_keys')
    assert before is not None and after is not None and after[0] == before[0] + 1
    row = w.db.fetchone(
        f'SELECT master_key_id, wrapped_key, destroyed_at FROM "{w.schema}".participant_keys'
        " WHERE participant_id = %s",
        (pid,),
    )
    assert row is not None
    ring = keys.STORE.ring(w.db)
    assert row[0] == ring.current_id and row[2] is None
    # 12-byte nonce + 32-byte key + 16-byte tag: the key is never stored in the clear.
    assert len(bytes(row[1])) == 60
    # It unwraps only for its own participant (the participant id is the associated data).
    with pytest.raises(keys.KeyUnavailable):
        ring.unwrap(row[0], uuid4(), bytes(row[1]))


def test_a_refused_enrolment_leaves_no_key_and_no_event(world: World) -> None:
    w = world
    pid = enrol(w, "Once", "Only")
    keys_before = w.db.fetchone(f'SELECT count(*) FROM "{w.schema}".participant_keys')
    number = w.get(f"/participants/{pid}")["number"]
    body = {
        "first_name": "Twice",
        "last_name": "Again",
        "date_of_birth": DOB,
        "program_entry_date": "2025-09-15",
        "facility": "FCI-A",
        "cohort": "C1",
        "number": number,
    }
    w.refused("/participants", body, "already_exists", status=409)
    assert w.db.fetchone(f'SELECT count(*) FROM "{w.schema}".participant_keys') == keys_before
    # The first participant still reads with its own key.
    assert w.get(f"/participants/{pid}")["first_name"] == "Once"


def test_free_text_about_a_participant_is_encrypted_too(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-enc")
    mentee = enrol(w, "Mentee", "Person")
    pairing = w.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    w.meet(pairing, "2026-11-03T18:00:00-06:00", summary="talked about the warehouse job")
    w.post(
        "/goals",
        {
            "participant_id": mentee,
            "horizon": "short_term",
            "domain": "id_documents",
            "statement": "Obtain a birth certificate",
            "measure": "certificate issued",
            "target": "certificate in hand",
            "target_date": "2027-01-15",
        },
    )
    # Why a meeting was called off (found stored in the clear, and kept after an erasure).
    called_off = w.schedule(pairing, "2026-11-10T18:00:00-06:00")
    w.post(
        f"/meetings/{called_off['id']}/cancellation",
        {"reason": "a medical appointment at the clinic", "excused": True},
    )
    stored = log_bytes(w)
    for text in (b"warehouse job", b"birth certificate", b"certificate in hand", b"the clinic"):
        assert text not in stored, f"{text!r} stored in the clear"
    meetings = w.log(pairing)
    assert meetings[0]["summary"] == "talked about the warehouse job"
    assert [m["cancel_reason"] for m in w.log(pairing, only="cancelled")] == [
        "a medical appointment at the clinic"
    ]
    goals = w.view("/goals", participant_id=mentee)["items"]
    assert goals[0]["statement"] == "Obtain a birth certificate"


def test_group_meeting_summaries_are_not_encrypted(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-group")
    a, b = enrol(w, "Groupa", "One", "11111-111"), enrol(w, "Groupb", "Two", "22222-222")
    pairing = w.pair(mentor, [a, b], "2026-10-01T15:00:00Z", kind="group")
    w.meet(
        pairing,
        "2026-11-03T18:00:00-06:00",
        summary="group talked about budgeting",
        attendance={a: "present", b: "present"},
    )
    assert b"group talked about budgeting" in log_bytes(w)


def test_events_stored_before_encryption_still_decode() -> None:
    """A plaintext `Enrolled` event (stored before this feature) decodes as it is."""
    plain = {
        "number": "P0LD",
        "personal": {
            "first_name": "Old",
            "last_name": "Record",
            "date_of_birth": "1970-01-02",
            "bop_register_number": None,
        },
        "ex_offender_at_entry": True,
        "program_entry_date": "2024-01-01",
        "facility_code": "FCI-A",
        "cohort_code": "C1",
        "funding_source": "first_step_act",
        "originator_topic": "domain.participants:Participant",
        "recorded_by": "x",
        "request_id": "",
        "grantee": "old",
        "occurred_at": "2024-01-01T00:00:00+00:00",
        "timestamp": "2024-01-01T00:00:00+00:00",
    }
    stored = StoredEvent(
        uuid4(), 1, "domain.participants:Participant.Enrolled", msgspec.json.encode(plain)
    )
    event: Any = MsgspecMapper().to_domain_event(stored)
    assert event.personal == PersonalDetails(
        first_name="Old", last_name="Record", date_of_birth=date(1970, 1, 2)
    )


def test_master_key_rotation_rewraps_every_key_without_downtime(world: World, db: Any) -> None:
    w = world
    people = {
        enrol(w, f"Rotate{chr(97 + i)}", "Case", f"1000{i}-00{i}"): f"Rotate{chr(97 + i)}"
        for i in range(5)
    }
    old_ring = keys.STORE.ring(db)
    new_raw = os.urandom(32)
    settings: Settings = db.settings
    old_b64 = _current_b64(settings)
    rotated = keys.KeyRing(new_raw, [base64.b64decode(old_b64)])
    assert rotated.current_id != old_ring.current_id
    try:
        # The service now runs with the new key current and the old one previous.
        keys.STORE.attach(db, rotated, settings.key_cache_seconds)
        # A batch of 2 at a time: between batches old- and new-wrapped rows coexist, and every
        # participant still reads (their keys are unwrapped with the key their row names).
        assert keys.key_ids(db, w.schema) == {old_ring.current_id: _count(db, w.schema)}
        done = _rotate_one_batch(db, w.schema, rotated)
        mixed = keys.key_ids(db, w.schema)
        assert mixed.get(rotated.current_id) == done == 2 and old_ring.current_id in mixed
        keys.STORE.attach(db, rotated, settings.key_cache_seconds)  # cold cache
        for pid, first in people.items():
            assert w.get(f"/participants/{pid}")["first_name"] == first
        rest = keys.rotate(db, w.schema, rotated, batch=2)
        assert done + rest == _count(db, w.schema)
        assert keys.key_ids(db, w.schema) == {rotated.current_id: _count(db, w.schema)}
        keys.STORE.attach(db, rotated, settings.key_cache_seconds)
        for pid, first in people.items():
            assert w.get(f"/participants/{pid}")["first_name"] == first
        # A new enrolment is wrapped under the new key.
        enrol(w, "After", "Rotation", "20000-000")
        assert set(keys.key_ids(db, w.schema)) == {rotated.current_id}
        # Without the new key, the rotated rows no longer unwrap: it really was re-wrapped.
        keys.STORE.attach(db, old_ring, settings.key_cache_seconds)
        r = w.client.get(f"{w.base}/participants/{next(iter(people))}", headers=w.headers())
        assert r.status_code == 503 and r.json()["code"] == "key_unavailable", r.text
    finally:
        # Back to the configured key for the rest of the session (rotation the other way).
        back = keys.KeyRing(base64.b64decode(old_b64), [new_raw])
        keys.rotate(db, w.schema, back)
        keys.STORE.attach(db, keys.load_keyring(settings), settings.key_cache_seconds)
    assert keys.key_ids(db, w.schema) == {old_ring.current_id: _count(db, w.schema)}
    for pid, first in people.items():
        assert w.get(f"/participants/{pid}")["first_name"] == first


def _current_b64(settings: Settings) -> str:
    return (
        (settings.data_dir / "master-key").read_text().strip()
        if not settings.master_key
        else settings.master_key
    )


def _count(db: Any, schema: str) -> int:
    row = db.fetchone(f'SELECT count(*) FROM "{schema}".participant_keys')
    return int(row[0]) if row else 0


def _rotate_one_batch(db: Any, schema: str, ring: keys.KeyRing) -> int:
    """One batch of a rotation (as a rotation interrupted half-way leaves the table)."""
    from psycopg import sql

    with db.transaction() as cur:
        cur.execute(
            sql.SQL(
                "SELECT participant_id, master_key_id, wrapped_key FROM {}.participant_keys"
                " WHERE master_key_id <> %s ORDER BY participant_id LIMIT 2"
            ).format(sql.Identifier(schema)),
            (ring.current_id,),
        )
        rows = cur.fetchall()
        for pid, key_id, wrapped in rows:
            new_id, new_wrapped = ring.wrap(pid, ring.unwrap(key_id, pid, bytes(wrapped)))
            cur.execute(
                sql.SQL(
                    "UPDATE {}.participant_keys SET master_key_id = %s, wrapped_key = %s"
                    " WHERE participant_id = %s"
                ).format(sql.Identifier(schema)),
                (new_id, new_wrapped, pid),
            )
    return len(rows)


def test_the_master_key_settings_are_checked() -> None:
    with pytest.raises(SystemExit, match="32 bytes"):
        keys.load_keyring(Settings(master_key=base64.b64encode(b"short").decode()))
    with pytest.raises(SystemExit, match="base64"):
        keys.load_keyring(Settings(master_key="not base64!"))
    with pytest.raises(SystemExit, match="PROWD_MASTER_KEY"):
        keys.load_keyring(Settings(environment="production"))
    raw = os.urandom(32)
    ring = keys.load_keyring(Settings(master_key=base64.b64encode(raw).decode()))
    assert ring.current_id == keys.master_key_id(raw)
    assert "master_key=" not in repr(Settings(master_key="secret"))


def test_the_table_of_personal_fields_is_printed_in_the_privacy_doc() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parent.parent.joinpath("docs", "privacy.md").read_text()
    assert personal.markdown_table() in doc
    paths = {(f.event.__qualname__, f.path) for f in personal.FIELDS}
    assert ("Participant.Enrolled", "personal") in paths
    assert ("Meeting.Held", "record.summary") in paths


def test_prowd_keys_rotate_rewraps_a_grantee_and_back(world: World, settings: Settings) -> None:
    import argparse
    import dataclasses
    import io

    from services.cli.records import cmd_keys

    w = world
    pid = enrol(w, "Commandline", "Rotation", "30303-303")
    old_b64 = _current_b64(settings)
    new_b64 = base64.b64encode(os.urandom(32)).decode()
    new_id = keys.master_key_id(base64.b64decode(new_b64))
    old_id = keys.master_key_id(base64.b64decode(old_b64))
    args = argparse.Namespace(action="rotate", grantee=w.slug, all=False, batch=3)
    forward = dataclasses.replace(settings, master_key=new_b64, master_key_previous=old_b64)
    backward = dataclasses.replace(settings, master_key=old_b64, master_key_previous=new_b64)
    out = io.StringIO()
    try:
        assert cmd_keys(args, forward, out=out) == 0
        count = _count(w.db, w.schema)
        assert f"{w.slug}: {count} key(s) re-wrapped; {new_id}: {count}" in out.getvalue()
        assert keys.key_ids(w.db, w.schema) == {new_id: count}
    finally:
        assert cmd_keys(args, backward, out=io.StringIO()) == 0
    assert keys.key_ids(w.db, w.schema) == {old_id: _count(w.db, w.schema)}
    assert w.get(f"/participants/{pid}")["first_name"] == "Commandline"
    neither = argparse.Namespace(action="rotate", grantee="", all=False, batch=500)
    assert cmd_keys(neither, settings, out=io.StringIO()) == 2
