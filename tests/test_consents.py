"""Part 2 consents and the disclosure log, on the real app and PostgreSQL: a recorded consent
covers its recipient from its signature day to the end of its expiry day and not after a
revocation; invalid consents are refused with a named code and append nothing; every disclosure
is a row of the append-only `disclosures` table, listed in the participant's accounting; roles
and grantees are kept apart; meetings keep their Part 2 tag."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from domain.consents import consent_status
from services.audit.disclosure import (
    PART2_NOTICE,
    Grant,
    covering_consent,
    record_disclosure,
)
from services.store.database import Database
from tests.meetings_helpers import World

ZONE = "America/Chicago"


def now() -> datetime:
    return clock.now()


def today() -> Any:
    return now().astimezone(ZoneInfo(ZONE)).date()


def local(day: Any, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(ZONE))


@pytest.fixture(scope="module")
def world(client: TestClient[Litestar], auth: Callable[..., dict[str, str]], db: Database) -> World:
    w = World(client, auth, db, time_zone=ZONE)
    w.post("/facilities", {"code": "RRC-2", "name": "Second RRC", "kind": "rrc"})
    return w


def consent_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "discloser": "Meetings grantee mentoring program",
        "information": ["meeting_summaries", "attendance"],
        "recipient": "rrc:RRC-1",
        "purpose": "coordinate reentry support with the RRC case manager",
        "signed_on": (today() - timedelta(days=10)).isoformat(),
        "signed_by": "participant",
        "expires_on": (today() + timedelta(days=30)).isoformat(),
    }
    body.update(overrides)
    return body


def record(world: World, participant: str, **overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = world.post(
        f"/participants/{participant}/consents", consent_body(**overrides)
    )
    return out


def covering(world: World, participant: str, recipient: str, at: datetime) -> Grant | None:
    return covering_consent(world.db, world.schema, UUID(participant), recipient, at)


def test_a_recorded_consent_covers_its_recipient_until_it_expires(world: World) -> None:
    person = world.enrol()
    consent = record(world, person)
    assert consent["status"] == "in_force"
    expiry = today() + timedelta(days=30)
    # In force from the start of the signature day to the end of the expiry day, local time.
    assert datetime.fromisoformat(consent["effective_at"]) == local(today() - timedelta(days=10))
    assert datetime.fromisoformat(consent["expires_at"]) == local(expiry + timedelta(days=1))

    grant = covering(world, person, "rrc:RRC-1", now())
    assert grant is not None
    assert grant.consent_id == UUID(consent["id"])
    assert grant.recipient == "rrc:RRC-1"
    assert grant.expires_at == local(expiry + timedelta(days=1))
    assert set(grant.information) == {"meeting_summaries", "attendance"}
    # The last instant of the expiry day is covered; its end is not.
    assert covering(world, person, "rrc:RRC-1", local(expiry, 23)) is not None
    assert covering(world, person, "rrc:RRC-1", local(expiry + timedelta(days=1))) is None
    assert covering(world, person, "rrc:RRC-1", now() + timedelta(days=60)) is None
    # Not before the signature day, not for another recipient, not for another participant.
    assert covering(world, person, "rrc:RRC-1", local(today() - timedelta(days=11), 12)) is None
    assert covering(world, person, "rrc:RRC-2", now()) is None
    assert covering(world, person, "export:pirl", now()) is None
    assert covering(world, world.enrol(name="Bo"), "rrc:RRC-1", now()) is None
    # Only the categories it names.
    assert (
        covering_consent(
            world.db, world.schema, UUID(person), "rrc:RRC-1", now(), information="attendance"
        )
        is not None
    )
    assert (
        covering_consent(
            world.db, world.schema, UUID(person), "rrc:RRC-1", now(), information="goals"
        )
        is None
    )


def test_a_revoked_consent_covers_only_before_the_revocation_instant(world: World) -> None:
    person = world.enrol()
    consent = record(world, person)
    revoked_at = now() - timedelta(hours=2)
    out = world.post(
        f"/participants/{person}/consents/{consent['id']}/revoke",
        {"revoked_at": revoked_at.isoformat(), "note": "written revocation received"},
        status=200,
    )
    assert out["status"] == "revoked"
    assert out["revoked_by"]
    assert covering(world, person, "rrc:RRC-1", revoked_at - timedelta(seconds=1)) is not None
    assert covering(world, person, "rrc:RRC-1", revoked_at) is None
    assert covering(world, person, "rrc:RRC-1", now()) is None
    # Final: a second revocation is refused and appends nothing.
    world.refused(f"/participants/{person}/consents/{consent['id']}/revoke", {}, "consent_revoked")


def test_record_disclosure_writes_a_row_listed_in_the_accounting(world: World) -> None:
    person = world.enrol()
    consent = record(world, person)
    grant = covering(world, person, "rrc:RRC-1", now())
    assert grant is not None
    at = now()
    with world.db.transaction() as cur:
        record_disclosure(
            cur,
            world.schema,
            participant_id=UUID(person),
            recipient="rrc:RRC-1",
            channel="rrc_view",
            information="meeting_summaries",
            part2=True,
            consent_id=grant.consent_id,
            reference="req-123",
            at=at,
            actor="rrc-key-1",
        )
        record_disclosure(
            cur,
            world.schema,
            participant_id=UUID(person),
            recipient="export:pirl",
            channel="export",
            information="stage",
            part2=False,
            consent_id=None,
            reference="sha256:abc",
            at=at,
            actor="system",
        )
    page = world.get(f"/participants/{person}/disclosures")
    assert page["participant_id"] == person
    assert [(d["recipient"], d["channel"], d["part2"]) for d in page["items"]] == [
        ("rrc:RRC-1", "rrc_view", True),
        ("export:pirl", "export", False),
    ]
    first = page["items"][0]
    assert first["consent_id"] == consent["id"]
    assert first["reference"] == "req-123"
    assert first["information"] == "meeting_summaries"
    assert first["actor"] == "rrc-key-1"
    assert datetime.fromisoformat(first["disclosed_at"]) == at
    # Paged.
    one = world.get(f"/participants/{person}/disclosures", limit=1)
    assert len(one["items"]) == 1 and one["next_cursor"]
    rest = world.get(f"/participants/{person}/disclosures", limit=1, cursor=one["next_cursor"])
    assert rest["items"][0]["recipient"] == "export:pirl" and rest["next_cursor"] is None
    # Nobody else's accounting shows them.
    assert world.get(f"/participants/{world.enrol(name='Cy')}/disclosures")["items"] == []


def test_record_disclosure_refuses_part2_without_consent_and_bad_channels(world: World) -> None:
    person = UUID(world.enrol())
    common: dict[str, Any] = dict(
        participant_id=person,
        recipient="rrc:RRC-1",
        information="meeting_summaries",
        reference="r",
        at=now(),
        actor="a",
    )
    with pytest.raises(ValueError), world.db.transaction() as cur:
        record_disclosure(
            cur, world.schema, channel="rrc_view", part2=True, consent_id=None, **common
        )
    with pytest.raises(ValueError), world.db.transaction() as cur:
        record_disclosure(
            cur, world.schema, channel="email", part2=False, consent_id=None, **common
        )
    # The table itself refuses a Part 2 row without a consent.
    with pytest.raises(psycopg.errors.CheckViolation), world.db.transaction() as cur:
        cur.execute(
            f'INSERT INTO "{world.schema}".disclosures (participant_id, recipient, channel,'
            " information, part2, consent_id, reference, disclosed_at, actor)"
            " VALUES (%s, 'rrc:RRC-1', 'webhook', 'meeting_summaries', true, NULL, 'r', now(), 'a')",
            (person,),
        )
    assert world.get(f"/participants/{person}/disclosures")["items"] == []


def test_the_disclosure_log_is_append_only(world: World) -> None:
    person = UUID(world.enrol())
    with world.db.transaction() as cur:
        record_disclosure(
            cur,
            world.schema,
            participant_id=person,
            recipient="export:pirl",
            channel="export",
            information="stage",
            part2=False,
            consent_id=None,
            reference="sha256:def",
            at=now(),
            actor="system",
        )
    table = f'"{world.schema}".disclosures'
    for statement in (
        f"UPDATE {table} SET recipient = 'rrc:RRC-2' WHERE participant_id = %s",
        f"DELETE FROM {table} WHERE participant_id = %s",
        f"TRUNCATE {table}",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), world.db.transaction() as cur:
            cur.execute(statement, (person,) if "%s" in statement else None)
    rows = world.db.fetchall(
        f"SELECT recipient, reference FROM {table} WHERE participant_id = %s", (person,)
    )
    assert rows == [("export:pirl", "sha256:def")]


def test_the_notice_is_the_section_2_32_statement() -> None:
    assert PART2_NOTICE.startswith(
        "This record which has been disclosed to you is protected by Federal confidentiality "
        "rules (42 CFR part 2)."
    )
    assert PART2_NOTICE.endswith("(see 42 CFR 2.31).")
    assert "\n" not in PART2_NOTICE and "  " not in PART2_NOTICE


# -- refusals --


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"purpose": "  "}, "consent_incomplete"),
        ({"discloser": ""}, "consent_incomplete"),
        ({"information": []}, "consent_incomplete"),
        ({"information": ["stage", "stage"]}, "unknown_information"),
        ({"recipient": "rrc:RRC-9"}, "unknown_recipient"),
        ({"recipient": "rrc:FCI-A"}, "unknown_recipient"),
        ({"signed_by": "representative"}, "representative_required"),
        ({"representative": "Jo Lee, guardian"}, "representative_not_signer"),
        ({"signed_on": "2099-01-01", "expires_on": "2099-06-01"}, "in_future"),
        ({"expires_on": None}, "expiry_required"),
        ({"expires_on": None, "expiry_event": " "}, "expiry_required"),
        ({"expires_on": "2026-01-01", "signed_on": "2026-01-01"}, "expiry_before_signature"),
        ({"expires_on": "2025-12-31", "signed_on": "2026-01-01"}, "expiry_before_signature"),
    ],
)
def test_an_invalid_consent_is_refused_and_appends_nothing(
    world: World, overrides: dict[str, Any], code: str
) -> None:
    person = world.__dict__.setdefault("_refused_person", world.enrol())
    body = consent_body(**overrides)
    body = {k: v for k, v in body.items() if v is not None}
    world.refused(f"/participants/{person}/consents", body, code)
    assert world.get(f"/participants/{person}/consents")["items"] == []


def test_malformed_bodies_are_400_and_append_nothing(world: World) -> None:
    person = world.enrol()
    for body in (
        consent_body(signed_by="nobody"),
        consent_body(extra="x"),
        # The schema declares the categories and the recipient's form (the domain's
        # `unknown_information` and `invalid_recipient` are guards behind it).
        consent_body(information=["diagnosis"]),
        consent_body(recipient="RRC-1"),
        consent_body(recipient="rrc:rrc-1"),
        consent_body(recipient="email:someone@example.org"),
        consent_body(signed_on="yesterday"),
        {k: v for k, v in consent_body().items() if k != "recipient"},
    ):
        before = world.events()
        r = world.client.post(
            f"{world.base}/participants/{person}/consents", json=body, headers=world.headers()
        )
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert world.events() == before


def test_revocation_rules(world: World) -> None:
    person = world.enrol()
    consent = record(world, person)
    path = f"/participants/{person}/consents/{consent['id']}/revoke"
    world.refused(path, {"revoked_at": (now() + timedelta(days=1)).isoformat()}, "in_future")
    world.refused(path, {"revoked_at": "2026-11-20T10:00:00"}, "naive_datetime")
    world.refused(
        path,
        {"revoked_at": local(today() - timedelta(days=11), 12).isoformat()},
        "revoked_before_signature",
    )
    world.refused(f"/participants/{person}/consents/{uuid4()}/revoke", {}, "not_found", status=404)
    # Another participant's consent is not found under this one.
    other = world.enrol(name="Di")
    world.refused(
        f"/participants/{other}/consents/{consent['id']}/revoke", {}, "not_found", status=404
    )
    assert covering(world, person, "rrc:RRC-1", now()) is not None
    # Revoked now when no instant is given.
    out = world.post(path, {}, status=200)
    assert now() - timedelta(minutes=1) < datetime.fromisoformat(out["revoked_at"]) <= now()
    assert covering(world, person, "rrc:RRC-1", now()) is None


def test_consents_are_listed_with_their_status_and_paged(world: World) -> None:
    person = world.enrol()
    in_force = record(world, person)
    by_event = record(
        world,
        person,
        recipient="export:pirl",
        information=["stage"],
        expires_on=None,
        expiry_event="the participant exits the program",
        signed_by="representative",
        representative="Jo Lee, legal guardian",
    )
    expired = record(
        world,
        person,
        signed_on=(today() - timedelta(days=40)).isoformat(),
        expires_on=(today() - timedelta(days=5)).isoformat(),
    )
    revoked = record(world, person, recipient="rrc:RRC-2")
    world.post(f"/participants/{person}/consents/{revoked['id']}/revoke", {}, status=200)

    page = world.get(f"/participants/{person}/consents")
    by_id = {c["id"]: c for c in page["items"]}
    assert len(by_id) == 4 and page["next_cursor"] is None
    assert by_id[in_force["id"]]["status"] == "in_force"
    assert by_id[expired["id"]]["status"] == "expired"
    assert by_id[revoked["id"]]["status"] == "revoked"
    event = by_id[by_event["id"]]
    assert (event["status"], event["expires_at"], event["expiry_event"]) == (
        "in_force",
        None,
        "the participant exits the program",
    )
    assert event["representative"] == "Jo Lee, legal guardian"
    assert event["signed_by"] == "representative"
    # An event-only expiry covers until revoked.
    assert (
        covering_consent(
            world.db,
            world.schema,
            UUID(person),
            "export:pirl",
            now() + timedelta(days=900),
            information="stage",
        )
        is not None
    )
    assert covering(world, person, "rrc:RRC-1", now()) == Grant(
        UUID(in_force["id"]),
        "rrc:RRC-1",
        datetime.fromisoformat(in_force["expires_at"]),
        ("meeting_summaries", "attendance"),
    )
    seen: list[str] = []
    cursor = ""
    while True:
        part = world.get(f"/participants/{person}/consents", limit=3, cursor=cursor)
        seen += [c["id"] for c in part["items"]]
        if part["next_cursor"] is None:
            break
        cursor = part["next_cursor"]
    assert sorted(seen) == sorted(by_id) and len(seen) == 4
    world.get(f"/participants/{person}/consents", cursor="not-a-cursor", status=400)
    world.get(f"/participants/{person}/disclosures", cursor="x1", status=400)
    world.get(f"/participants/{uuid4()}/consents", status=404)
    world.get(f"/participants/{uuid4()}/disclosures", status=404)


def test_a_consents_status_at_an_instant() -> None:
    signed = datetime(2026, 11, 20, 5, tzinfo=ZoneInfo("UTC"))
    ends = signed + timedelta(days=180)
    assert consent_status(signed, ends, None, signed - timedelta(seconds=1)) == "pending"
    assert consent_status(signed, ends, None, signed) == "in_force"
    assert consent_status(signed, None, None, ends + timedelta(days=999)) == "in_force"
    assert consent_status(signed, ends, None, ends) == "expired"
    revoked = signed + timedelta(days=1)
    assert consent_status(signed, ends, revoked, revoked - timedelta(seconds=1)) == "in_force"
    assert consent_status(signed, ends, revoked, revoked) == "revoked"
    assert consent_status(signed, ends, revoked, ends) == "revoked"


def test_an_idempotent_retry_records_one_consent(world: World) -> None:
    person = world.enrol()
    headers = {**world.headers(), "Idempotency-Key": f"consent-{uuid4()}"}
    path = f"{world.base}/participants/{person}/consents"
    first = world.client.post(path, json=consent_body(), headers=headers)
    again = world.client.post(path, json=consent_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len(world.get(f"/participants/{person}/consents")["items"]) == 1


# -- who may --


@pytest.mark.parametrize(
    ("role", "write", "read", "disclosures"),
    [
        ("coordinator", 201, 200, 200),
        ("case_manager", 201, 200, 403),
        ("grantee_admin", 201, 200, 200),
        ("auditor", 403, 200, 200),
        ("peer_mentor", 403, 403, 403),
        ("rrc_staff", 403, 403, 403),
        ("federal_oversight", 403, 403, 403),
    ],
)
def test_roles(world: World, role: str, write: int, read: int, disclosures: int) -> None:
    person = world.__dict__.setdefault("_roles_person", world.enrol())
    consent = world.__dict__.setdefault("_roles_consent", record(world, person))
    h = world.headers(role)
    before = world.events()
    r = world.client.post(
        f"{world.base}/participants/{person}/consents", json=consent_body(), headers=h
    )
    assert r.status_code == write, r.text
    if write == 403:
        assert world.events() == before
        assert "consent" not in r.text.lower() or r.json()["code"] == "forbidden"
        r = world.client.post(
            f"{world.base}/participants/{person}/consents/{consent['id']}/revoke",
            json={},
            headers=h,
        )
        assert r.status_code == 403 and world.events() == before
    r = world.client.get(f"{world.base}/participants/{person}/consents", headers=h)
    assert r.status_code == read, r.text
    if read == 403:
        assert consent["id"] not in r.text
    r = world.client.get(f"{world.base}/participants/{person}/disclosures", headers=h)
    assert r.status_code == disclosures, r.text


def test_another_grantee_sees_nothing(
    world: World, make_grantee: Callable[[], str], auth: Callable[..., dict[str, str]]
) -> None:
    person = world.enrol()
    consent = record(world, person)
    other = make_grantee()
    h = auth("coordinator", other)
    before = world.events()
    for method, path, body in (
        ("post", f"/participants/{person}/consents", consent_body()),
        ("post", f"/participants/{person}/consents/{consent['id']}/revoke", {}),
        ("get", f"/participants/{person}/consents", None),
        ("get", f"/participants/{person}/disclosures", None),
    ):
        r = getattr(world.client, method)(
            world.base + path, headers=h, **({"json": body} if method == "post" else {})
        )
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "grantee_not_found"
        assert consent["id"] not in r.text
        # The participant is unknown in the other grantee too.
        r = getattr(world.client, method)(
            f"/v1/grantees/{other}" + path,
            headers=h,
            **({"json": body} if method == "post" else {}),
        )
        assert r.status_code == 404, r.text
    assert world.events() == before
    assert covering_consent(world.db, f"g_{other}", UUID(person), "rrc:RRC-1", now()) is None


# -- the Part 2 tag of meeting summaries --


def test_a_part2_summary_keeps_its_tag_through_amendment_and_reads(world: World) -> None:
    mentor = world.mentor("pm-part2")
    mentee = world.enrol()
    pairing = world.pair(mentor, [mentee], (now() - timedelta(days=20)).isoformat())
    at = (now() - timedelta(days=3)).isoformat()
    meeting = world.meet(
        pairing, at, summary="Talked about treatment progress.", summary_part2=True
    )
    assert meeting["held"]["summary_part2"] is True
    plain = world.meet(pairing, (now() - timedelta(days=2)).isoformat(), summary="Resume work.")
    assert plain["held"]["summary_part2"] is False

    path = f"/meetings/{meeting['id']}/amendments"
    out = world.post(path, {"reason": "typo", "record": held_body(at, "Talked about progress.")})
    assert out["held"]["summary_part2"] is True
    assert out["held"]["summary"] == "Talked about progress."
    read = world.get(f"/meetings/{meeting['id']}")
    assert read["held"]["summary_part2"] is True
    # An explicit false untags it; true tags again.
    rec = held_body(at, "Talked about progress.")
    out = world.post(
        path, {"reason": "no Part 2 content", "record": {**rec, "summary_part2": False}}
    )
    assert out["held"]["summary_part2"] is False
    assert world.get(f"/meetings/{meeting['id']}")["held"]["summary_part2"] is False
    out = world.post(path, {"reason": "it is", "record": {**rec, "summary_part2": True}})
    assert world.get(f"/meetings/{meeting['id']}")["held"]["summary_part2"] is True
    assert world.get(f"/meetings/{plain['id']}")["held"]["summary_part2"] is False
    world.refused(
        path,
        {"reason": "x", "record": {**rec, "summary_part2": "yes"}},
        "invalid_request",
        status=400,
    )


def held_body(at: str, summary: str) -> dict[str, Any]:
    return {"occurred_at": at, "duration_minutes": 60, "topics": ["goals"], "summary": summary}
