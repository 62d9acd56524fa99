"""DESIGN D7, auditor access: the stored events as NDJSON with their chain hashes, and
participants, pairings, meetings and goals reconstructed as of a past instant from their events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import clock
from services.api import audit_reads
from services.audit.verify import record_hash
from tests.meetings_helpers import NOTE, World, held

TO_RRC = {
    "to_stage": 2,
    "placement": "rrc",
    "facility": "RRC-1",
    "occurred_at": "2026-03-01T09:00:00Z",
}
TO_COMMUNITY = {"to_stage": 3, "occurred_at": "2026-05-01T09:00:00Z"}


def lines(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines()]


def stream(client, auth, slug: str, **params: Any) -> Any:
    return client.get(
        f"/v1/grantees/{slug}/audit/events", params=params, headers=auth("auditor", slug)
    )


def as_of(client, auth, slug: str, kind: str, aggregate_id: str, when: Any) -> Any:
    value = when.isoformat() if isinstance(when, datetime) else when
    return client.get(
        f"/v1/grantees/{slug}/audit/{kind}/{aggregate_id}",
        params={"as_of": value},
        headers=auth("auditor", slug),
    )


def recorded_times(client, auth, slug: str, participant_id: str) -> list[datetime]:
    r = client.get(
        f"/v1/grantees/{slug}/participants/{participant_id}/history",
        headers=auth("coordinator", slug),
    )
    assert r.status_code == 200, r.text
    return [datetime.fromisoformat(e["recorded_at"]) for e in r.json()["events"]]


# -- the event stream --


def test_the_stream_gives_every_event_with_its_chain_hash(client, auth, db, grantee, enrol):
    p = enrol(first_name="Zelda")
    r = stream(client, auth, grantee)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    got = lines(r)
    rows = db.fetchall(
        f"SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, c.hash"
        f' FROM "g_{grantee}".events e JOIN "g_{grantee}".chain c USING (notification_id)'
        " ORDER BY 1"
    )
    assert [x["position"] for x in got] == [row[0] for row in rows] == list(range(1, len(rows) + 1))
    assert r.headers["x-event-count"] == str(len(rows))
    assert r.headers["x-next-after"] == str(rows[-1][0])
    previous = b""
    for line, (position, originator_id, version, topic, state, chain_hash) in zip(
        got, rows, strict=True
    ):
        assert line["originator_id"] == str(originator_id)
        assert line["version"] == version
        assert line["topic"] == topic
        assert line["hash"] == bytes(chain_hash).hex()
        # The hash is the chain's: recomputed here from the stored record and the previous hash.
        previous = record_hash(previous, position, originator_id, version, topic, bytes(state))
        assert line["hash"] == previous.hex()
        assert line["recorded_at"] is not None
    enrolled = got[-1]
    assert enrolled["originator_id"] == p["id"]
    assert enrolled["topic"].endswith("Participant.Enrolled")
    assert enrolled["event"]["personal"]["first_name"] == "Zelda"
    assert enrolled["event"]["recorded_by"] == "test-coordinator"
    assert enrolled["event"]["grantee"] == grantee


def test_the_stream_pages_by_position(client, auth, grantee, enrol, monkeypatch):
    for _ in range(3):
        enrol()
    # Small batches: lines read in several round trips join without gap or repeat.
    monkeypatch.setattr(audit_reads, "BATCH", 2)
    everything = [x["position"] for x in lines(stream(client, auth, grantee, limit=10_000))]
    assert everything == list(range(1, len(everything) + 1))
    first = stream(client, auth, grantee, limit=3)
    assert [x["position"] for x in lines(first)] == [1, 2, 3]
    assert (first.headers["x-event-count"], first.headers["x-next-after"]) == ("3", "3")
    rest = stream(client, auth, grantee, after=3, limit=1000)
    assert [x["position"] for x in lines(rest)] == everything[3:]
    assert rest.headers["x-next-after"] == str(everything[-1])
    beyond = stream(client, auth, grantee, after=everything[-1])
    assert beyond.status_code == 200
    assert beyond.text == ""
    assert (beyond.headers["x-event-count"], beyond.headers["x-next-after"]) == (
        "0",
        str(everything[-1]),
    )


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 10_001}, {"after": -1}, {"after": "x"}, {"limit": "ten"}],
)
def test_bad_stream_parameters_are_400_problems(client, auth, grantee, params):
    r = stream(client, auth, grantee, **params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_request"


def test_only_auditors_of_the_grantee_stream_its_events(client, auth, grantee, make_grantee):
    for role in ("coordinator", "grantee_admin", "federal_oversight", "peer_mentor"):
        r = client.get(f"/v1/grantees/{grantee}/audit/events", headers=auth(role, grantee))
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), role
    other = make_grantee()
    r = client.get(f"/v1/grantees/{grantee}/audit/events", headers=auth("auditor", other))
    assert (r.status_code, r.json()["code"]) == (404, "grantee_not_found")


# -- as of an instant --


def test_a_participant_as_of_an_instant_between_two_moves(client, auth, grantee, enrol):
    p = enrol()
    base = f"/v1/grantees/{grantee}/participants/{p['id']}/stage-transitions"
    h = auth("coordinator", grantee)
    assert client.post(base, json=TO_RRC, headers=h).status_code == 201
    assert client.post(base, json=TO_COMMUNITY, headers=h).status_code == 201
    enrolled_at, to_rrc_at, to_community_at = recorded_times(client, auth, grantee, p["id"])
    micro = timedelta(microseconds=1)

    before = as_of(client, auth, grantee, "participants", p["id"], enrolled_at - micro)
    assert before.status_code == 404, before.text
    assert before.json()["code"] == "not_found"

    enrolled = as_of(client, auth, grantee, "participants", p["id"], enrolled_at).json()
    assert (enrolled["version"], enrolled["participant"]["stage"]) == (1, 1)

    for when in (to_rrc_at, to_community_at - micro):
        r = as_of(client, auth, grantee, "participants", p["id"], when)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["participant"]["stage"] == 2
        assert body["participant"]["placement"] == "rrc"
        assert body["participant"]["facility"] == "RRC-1"
        assert body["participant"]["funding_source"] == "first_step_act"
        assert body["version"] == body["participant"]["version"] == 2
        assert body["position"] == p["position"] + 1
        assert datetime.fromisoformat(body["recorded_at"]) == to_rrc_at
        assert datetime.fromisoformat(body["as_of"]) == when

    # A `+` typed unencoded into the URL arrives as a space and still means `+`.
    raw = to_rrc_at.astimezone(UTC).isoformat()
    assert raw.endswith("+00:00")
    r = client.get(
        f"/v1/grantees/{grantee}/audit/participants/{p['id']}?as_of={raw}",
        headers=auth("auditor", grantee),
    )
    assert (r.status_code, r.json().get("version")) == (200, 2), r.text

    now = as_of(client, auth, grantee, "participants", p["id"], clock.now()).json()
    assert (now["participant"]["stage"], now["participant"]["funding_source"]) == (3, "wioa")
    assert now["version"] == 3
    # The offset may be any: the same instant in Chicago time gives the same state.
    chicago = (to_rrc_at).astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago"))
    assert as_of(client, auth, grantee, "participants", p["id"], chicago).json()["version"] == 2


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-01T09:00:00",
        "2026-03-01",
        "yesterday",
        "2026-13-01T09:00:00Z",
        "",
        "2026-03-01T09:00Z",
    ],
)
def test_a_malformed_or_naive_instant_is_a_400(client, auth, grantee, enrol, value):
    p = enrol()
    r = as_of(client, auth, grantee, "participants", p["id"], value)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] in ("invalid_instant", "invalid_request")
    if value:
        assert r.json()["code"] == "invalid_instant"


def test_as_of_needs_the_right_kind_of_record_and_the_auditor_role(client, auth, grantee, enrol):
    p = enrol()
    now = clock.now()
    for kind in ("pairings", "meetings", "goals"):
        r = as_of(client, auth, grantee, kind, p["id"], now)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), kind
    unknown = as_of(
        client, auth, grantee, "participants", "00000000-0000-4000-8000-000000000000", now
    )
    assert unknown.status_code == 404
    r = client.get(
        f"/v1/grantees/{grantee}/audit/participants/{p['id']}",
        params={"as_of": now.isoformat()},
        headers=auth("coordinator", grantee),
    )
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")


@pytest.fixture
def world(client, auth, db) -> World:
    return World(client, auth, db)


def times_of(db, schema: str, aggregate_id: str) -> list[datetime]:
    """The recorded times of an aggregate's events, from the stored state."""
    rows = db.fetchall(
        f'SELECT state FROM "{schema}".events WHERE originator_id = %s ORDER BY originator_version',
        (aggregate_id,),
    )
    return [datetime.fromisoformat(json.loads(bytes(r[0]))["timestamp"]) for r in rows]


def test_a_meeting_as_of_never_shows_the_confidential_note(client, auth, db, world):
    w = world
    mentor = w.mentor("mentor-a")
    mentee = w.enrol()
    pairing = w.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    at = "2026-11-17T18:00:00-06:00"
    m = w.post(
        "/meetings",
        w.meeting_body(pairing, at),
    )
    w.post(
        f"/meetings/{m['id']}/held",
        held(at, summary="shared summary", confidential_note=NOTE, attendance={mentee: "present"}),
        status=201,
    )
    scheduled_at, held_at = times_of(db, w.schema, m["id"])

    r = as_of(client, auth, w.slug, "meetings", m["id"], scheduled_at)
    assert r.status_code == 200, r.text
    assert r.json()["meeting"]["status"] == "scheduled"
    assert "held" not in r.json()["meeting"]

    r = as_of(client, auth, w.slug, "meetings", m["id"], held_at)
    body = r.json()
    assert body["meeting"]["status"] == "held"
    assert body["meeting"]["held"]["summary"] == "shared summary"
    assert body["meeting"]["held"]["has_confidential_note"] is True
    assert NOTE not in r.text
    assert "confidential_note" not in body["meeting"]["held"]

    # Nor does the event stream carry it: the held record says only that there is a note.
    s = stream(client, auth, w.slug, limit=10_000)
    assert s.status_code == 200
    assert NOTE not in s.text
    held_line = next(x for x in lines(s) if x["topic"].endswith("Meeting.Held"))
    assert held_line["event"]["record"]["has_confidential_note"] is True
    assert held_line["event"]["record"]["summary"] == "shared summary"


def test_a_pairing_and_a_goal_as_of_an_instant(client, auth, db, world):
    w = world
    mentor = w.mentor("mentor-b")
    mentee = w.enrol()
    pairing = w.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    w.close(pairing)
    opened_at, closed_at = times_of(db, w.schema, pairing)
    between = as_of(
        client, auth, w.slug, "pairings", pairing, closed_at - timedelta(microseconds=1)
    )
    assert between.status_code == 200, between.text
    assert between.json()["pairing"]["status"] == "open"
    assert between.json()["version"] == 1
    after = as_of(client, auth, w.slug, "pairings", pairing, closed_at).json()
    assert after["pairing"]["status"] == "closed"
    assert after["pairing"]["closure"]["reason"] == "commitment completed"
    assert (
        as_of(
            client, auth, w.slug, "pairings", pairing, opened_at - timedelta(seconds=1)
        ).status_code
        == 404
    )

    goal = w.post(
        "/goals",
        {
            "participant_id": mentee,
            "horizon": "short_term",
            "domain": "id_documents",
            "statement": "Get a state ID card",
            "measure": "ID card issued by the DMV",
            "target": "card in hand",
            "target_date": (clock.today() + timedelta(days=60)).isoformat(),
        },
    )
    w.post(f"/goals/{goal['id']}/steps", {"description": "Collect the birth certificate"})
    set_at, step_at = times_of(db, w.schema, goal["id"])
    first = as_of(client, auth, w.slug, "goals", goal["id"], set_at).json()
    assert (first["version"], first["goal"]["steps"]) == (1, [])
    second = as_of(client, auth, w.slug, "goals", goal["id"], step_at).json()
    assert second["version"] == 2
    assert [s["description"] for s in second["goal"]["steps"]] == ["Collect the birth certificate"]
