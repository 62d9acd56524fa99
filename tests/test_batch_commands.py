"""The batch endpoint over HTTP with PostgreSQL (decision 89): `POST /v1/grantees/{g}/commands`.

Items are decided in order as their single endpoints decide them, later items see earlier ones
(enrol, pair, meet in one batch), refused items get their own problem and write nothing, the
accepted items commit in one transaction, each item's key makes a resend write nothing, and
the limits, roles and views hold. Today is 2026-11-26 (UTC)."""

from __future__ import annotations

import json
import threading
from typing import Any
from uuid import UUID

import msgspec
import pytest

from domain import common
from domain.contact import Contact, record_contact
from services.app.batch import Attempt, run_batch
from services.projector import live as projector
from services.store.ledger import Command
from tests.meetings_helpers import OFF_SITE, World, held
from tests.people import birth_date


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def enrol(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "first_name": name,
        "last_name": "Batch",
        "date_of_birth": birth_date(),
        "program_entry_date": "2025-09-15",
        "facility": "FCI-A",
        "cohort": "C1",
        **extra,
    }


def item(kind: str, key: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "idempotency_key": key, "body": body, **extra}


def send(
    w: World,
    items: list[dict[str, Any]],
    *,
    role: str = "coordinator",
    status: int = 200,
    sub: str | None = None,
) -> Any:
    r = w.client.post(w.base + "/commands", json={"items": items}, headers=w.headers(role, sub))
    assert r.status_code == status, r.text
    # Read-your-writes: the batch's last log position, as single commands give theirs.
    assert r.headers["X-Log-Position"] == str(r.json()["position"])
    return r.json()


def xmins(w: World) -> list[tuple[int, str]]:
    rows = w.db.fetchall(
        f'SELECT notification_id, xmin::text FROM "g_{w.slug}".events ORDER BY notification_id'
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def test_enrol_pair_and_meet_in_one_batch_one_transaction(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-b")
    before = xmins(w)
    out = send(
        w,
        [
            item("participant.enrol", "b-1", enrol("Ada"), ref="ada"),
            item(
                "pairing.open",
                "b-3",
                {
                    "kind": "individual",
                    "mentor_id": mentor,
                    "members": ["$ref:ada"],
                    "location": OFF_SITE,
                    "criteria": ["shared_experience"],
                    "opened_at": "2026-10-01T15:00:00Z",
                },
                ref="match",
            ),
            item(
                "meeting.schedule",
                "b-4",
                w.meeting_body("$ref:match", "2026-11-03T18:00:00-06:00"),
                ref="m",
            ),
            item("meeting.held", "b-5", held("2026-11-03T18:05:00-06:00", 50), target="$ref:m"),
            item(
                "participant.stage_transition",
                "b-2",
                {
                    "to_stage": 2,
                    "placement": "rrc",
                    "facility": "RRC-1",
                    "occurred_at": "2026-01-05T09:00:00-06:00",
                },
                target="$ref:ada",
            ),
        ],
    )
    assert (out["accepted"], out["refused"], out["replayed"]) == (5, 0, 0), json.dumps(out)
    assert [i["status"] for i in out["items"]] == [201] * 5
    ada = out["items"][0]["id"]
    assert out["items"][0]["location"] == f"{w.base}/participants/{ada}"
    assert w.get(f"/participants/{ada}")["stage"] == 2
    meeting = w.get(f"/meetings/{out['items'][2]['id']}")
    assert meeting["status"] == "held" and meeting["pairing_id"] == out["items"][1]["id"]
    # One transaction: every new event has the same xmin, and positions are contiguous.
    new = [row for row in xmins(w) if row not in before]
    assert len({x for _, x in new}) == 1
    ids = [n for n, _ in new]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert out["position"] == ids[-1] == out["items"][4]["position"]
    assert out["attempts"] == 1
    positions = [i["position"] for i in out["items"]]
    assert positions == sorted(positions)


def test_refused_items_get_their_problem_and_write_nothing(world: World) -> None:
    w = world
    before = w.events()
    ghost = "00000000-0000-4000-8000-000000000001"
    out = send(
        w,
        [
            item("participant.enrol", "r-1", enrol("Bea", facility="NOPE")),
            item("participant.enrol", "r-2", enrol("Cy")),
            item("participant.stage_transition", "r-3", {"to_stage": 5}, target=ghost),
            item(
                "participant.stage_transition",
                "r-4",
                {
                    "to_stage": 2,
                    "placement": "rrc",
                    "facility": "RRC-1",
                    "occurred_at": "2026-01-05T09:00:00-06:00",
                },
                target=ghost,
            ),
            item("participant.enrol", "r-5", {**enrol("Di"), "first_name": 7}),
            item("meeting.teleport", "r-6", {}),
            item("meeting.held", "r-7", held("2026-11-03T18:05:00-06:00")),
        ],
    )
    got = [(i["status"], i.get("problem", {}).get("code")) for i in out["items"]]
    assert got == [
        (404, "not_found"),
        (201, None),
        (400, "invalid_request"),
        (404, "not_found"),
        (400, "invalid_request"),
        (422, "unknown_kind"),
        (400, "invalid_request"),
    ]
    assert out["items"][0]["problem"]["type"] == "urn:prowd:problem:not_found"
    assert (out["accepted"], out["refused"]) == (1, 6)
    assert w.events() == before + 1
    # The same refusal as the single endpoint gives.
    w.refused("/participants", enrol("Bea", facility="NOPE"), "not_found", status=404)


def test_a_later_item_sees_an_earlier_one_and_a_refusal_leaves_no_trace(world: World) -> None:
    """A refused item that changed an aggregate before its rule failed leaves nothing: the
    next item sees the participant as the last accepted item saved it."""
    w = world
    move = {
        "to_stage": 2,
        "placement": "rrc",
        "facility": "RRC-1",
        "occurred_at": "2026-01-05T09:00:00-06:00",
    }
    out = send(
        w,
        [
            item("participant.enrol", "s-1", enrol("Eve"), ref="eve"),
            item("participant.stage_transition", "s-2", move, target="$ref:eve"),
            # Already in stage 2: refused, as the single endpoint refuses it.
            item("participant.stage_transition", "s-3", move, target="$ref:eve"),
            item(
                "participant.stage_transition",
                "s-4",
                {"to_stage": 3, "occurred_at": "2026-03-01T09:00:00-06:00"},
                target="$ref:eve",
            ),
            item("participant.stage_transition", "s-5", move, target="$ref:nobody"),
        ],
    )
    statuses = [i["status"] for i in out["items"]]
    assert statuses[:2] == [201, 201] and statuses[3] == 201, out
    # The single endpoint refuses the same move of a participant in stage 2 alike.
    other = w.enrol()
    w.post(f"/participants/{other}/stage-transitions", move)
    single = w.refused(
        f"/participants/{other}/stage-transitions",
        move,
        out["items"][2]["problem"]["code"],
        status=statuses[2],
    )
    assert single["type"] == out["items"][2]["problem"]["type"]
    assert out["items"][4]["problem"]["code"] == "unresolved_reference"
    history = w.get(f"/participants/{out['items'][0]['id']}/history")
    assert len(history["events"]) == 3


def test_sending_the_batch_again_writes_nothing_and_answers_the_same(world: World) -> None:
    w = world
    items = [
        item("participant.enrol", "i-1", enrol("Fay", number="PBATCH000001"), ref="fay"),
        item(
            "participant.stage_transition",
            "i-2",
            {"to_stage": 3, "occurred_at": "2026-02-01T09:00:00-06:00"},
            target="$ref:fay",
        ),
        item("participant.enrol", "i-3", enrol("Gus", facility="NOPE")),
    ]
    first = send(w, items)
    count = w.events()
    again = send(w, items)
    assert w.events() == count
    assert (again["accepted"], again["replayed"], again["refused"]) == (0, 2, 1)
    for a, b in zip(first["items"], again["items"], strict=True):
        assert (a["status"], a.get("id"), a.get("position")) == (
            b["status"],
            b.get("id"),
            b.get("position"),
        )
    assert again["position"] == first["position"]
    # A key of the batch answered by the single endpoint too (same path and body).
    r = w.client.post(
        w.base + "/participants",
        json=items[0]["body"],
        headers={**w.headers(), "Idempotency-Key": "i-1"},
    )
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
    assert r.json()["id"] == first["items"][0]["id"]


def test_a_key_reused_with_another_body_is_refused_as_the_single_endpoints_do(
    world: World,
) -> None:
    w = world
    send(w, [item("participant.enrol", "k-1", enrol("Hal"))])
    before = w.events()
    jo = enrol("Jo")
    out = send(
        w,
        [
            item("participant.enrol", "k-1", enrol("Ian")),
            item("participant.enrol", "k-2", jo),
            item("participant.enrol", "k-2", jo),
            item("participant.enrol", "k-2", enrol("Kim")),
        ],
    )
    got = [
        (i["status"], i.get("problem", {}).get("code"), i.get("replayed", False))
        for i in out["items"]
    ]
    assert got == [
        (422, "idempotency_key_reused", False),
        (201, None, False),
        (201, None, True),
        (422, "idempotency_key_reused", False),
    ]
    assert out["items"][1]["id"] == out["items"][2]["id"]
    assert w.events() == before + 1
    r = w.client.post(
        w.base + "/participants",
        json=enrol("Lu"),
        headers={**w.headers(), "Idempotency-Key": "k-1"},
    )
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"


def test_duplicates_inside_a_batch_are_found_as_enrolment_finds_them(world: World) -> None:
    w = world
    body = enrol("Max", bop_register_number="55555-001")
    out = send(
        w,
        [
            item("participant.enrol", "d-1", body),
            item("participant.enrol", "d-2", {**body, "first_name": "Maxine"}),
            item("participant.enrol", "d-3", {**body, "duplicate_reason": "twin; checked"}),
        ],
    )
    assert [i["status"] for i in out["items"]] == [201, 409, 201]
    problem = out["items"][1]["problem"]
    assert problem["code"] == "possible_duplicate"
    assert problem["existing"][0]["participant_id"] == out["items"][0]["id"]
    # Against the participants enrolled before the batch, the single endpoint's own answer.
    later = send(w, [item("participant.enrol", "d-4", {**body, "first_name": "Mo"})])
    assert later["items"][0]["problem"]["code"] == "possible_duplicate"


@pytest.mark.parametrize("count", [0, 501], ids=["empty", "over_500"])
def test_an_empty_or_oversized_batch_is_refused_whole(world: World, count: int) -> None:
    w = world
    before = w.events()
    items = [item("participant.enrol", f"n-{i}", enrol("N")) for i in range(count)]
    r = w.client.post(w.base + "/commands", json={"items": items}, headers=w.headers())
    assert r.status_code == 422 and r.json()["code"] == "batch_size"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert w.events() == before


def test_an_item_without_its_key_is_told_that_and_nothing_about_its_body(world: World) -> None:
    w = world
    before = w.events()
    bare = {"kind": "participant.enrol", "body": enrol("K")}
    r = w.client.post(w.base + "/commands", json={"items": [bare]}, headers=w.headers())
    assert r.status_code == 400 and r.json()["code"] == "invalid_request", r.text
    fields = [e["field"] for e in r.json()["errors"]]
    # The body is any JSON object (decoded later by its kind): only the missing key is wrong.
    assert fields == ["items[0].idempotency_key"], r.text
    assert "idempotency_key" in r.json()["detail"] and "raw" not in r.json()["detail"], r.text
    assert w.events() == before


def test_a_body_over_the_limit_is_413(world: World) -> None:
    w = world
    filler = "x" * 3_000_000
    r = w.client.post(
        w.base + "/commands",
        content=b'{"items": [], "pad": "' + filler.encode() + b'"}',
        headers={**w.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"


def test_each_item_needs_the_role_of_its_single_endpoint(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-pm")
    mentee = w.enrol()
    mine = w.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    before = w.events()
    out = send(
        w,
        [
            item("participant.enrol", "p-1", enrol("Ned")),
            item("meeting.schedule", "p-2", w.meeting_body(mine, "2026-11-03T18:00:00-06:00")),
        ],
        role="peer_mentor",
        sub="mentor-pm",
    )
    assert [(i["status"], i.get("problem", {}).get("code")) for i in out["items"]] == [
        (403, "forbidden"),
        (201, None),
    ]
    # The meeting's `Scheduled` and its time booked on the pairing.
    assert w.events() == before + 2
    other = send(
        w,
        [item("meeting.schedule", "p-3", w.meeting_body(mine, "2026-11-04T18:00:00-06:00"))],
        role="peer_mentor",
        sub="someone-else",
    )
    assert other["items"][0]["status"] == 404
    r = w.client.post(
        w.base + "/commands",
        json={"items": [item("participant.enrol", "p-4", enrol("Ola"))]},
        headers=w.headers("auditor"),
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert w.events() == before + 2


def test_the_caseload_shows_the_batch_after_the_projector_runs(world: World) -> None:
    w = world
    out = send(
        w,
        [item("participant.enrol", f"v-{i}", enrol(f"View{i}")) for i in range(20)],
    )
    assert out["accepted"] == 20
    projector.drain(w.db, w.schema)
    page = w.get("/participants", min_position=out["position"], limit=100)
    ids = {row["id"] for row in page["items"]}
    assert {i["id"] for i in out["items"]} <= ids


def test_a_lost_race_decides_the_batch_again(world: World, app: Any) -> None:
    """A concurrent writer saves the participant between the batch's decision and its commit:
    the commit loses, nothing of that attempt is written, and the batch is decided again on
    the participant as the other writer left it."""
    w = world
    participant = UUID(w.enrol())
    ledger_app = app.state.tenancy.app(w.slug)
    participants = ledger_app.participants
    common.actor.set("test-coordinator")
    seen: list[int] = []

    def concurrent_contact() -> None:
        common.actor.set("test-other")
        participants.record_contact(
            Command(), participant, contact=_contact("0199"), projected_release_date=None
        )

    def decide(attempt: Attempt) -> int:
        seen.append(attempt.number)
        saved = participants.record_contact(
            Command(), participant, contact=_contact("0100"), projected_release_date=None
        )
        if attempt.number == 1:
            # Another request, outside the batch (its own thread, so not deferred).
            other = threading.Thread(target=concurrent_contact)
            other.start()
            other.join()
        return saved.aggregate.version

    before = w.events()
    outcome = run_batch(ledger_app.ledger, [], decide)
    assert seen == [1, 2] and outcome.attempts == 2
    # Enrolment (v1), the concurrent contact (v2), the batch's contact (v3).
    assert outcome.decided == 3
    assert w.events() == before + 2


def test_a_record_created_meanwhile_refuses_its_item_alone(world: World) -> None:
    """The participant number was enrolled after the batch began: the commit loses, and the
    next attempt refuses that item alone, as the single endpoint would (409)."""
    w = world
    body = enrol("Pat", number="PBATCHRACE01", duplicate_reason="test")
    out = send(w, [item("participant.enrol", "c-1", body)])
    assert out["items"][0]["status"] == 201
    before = w.events()
    again = send(
        w, [item("participant.enrol", "c-2", body), item("participant.enrol", "c-3", enrol("Q"))]
    )
    assert again["items"][0]["problem"]["code"] == "already_exists"
    assert [i["status"] for i in again["items"]] == [409, 201]
    assert again["attempts"] == 2
    assert w.events() == before + 1


def _contact(line: str) -> Contact:
    return Contact(phone=f"+1 312 555 {line}")


def test_the_batch_operation_is_in_the_contract(client: Any) -> None:
    spec = client.get("/schema/openapi.json").json()
    op = spec["paths"]["/v1/grantees/{grantee}/commands"]["post"]
    assert {"200", "400", "403", "404", "409", "413", "422"} <= set(op["responses"])
    examples = op["requestBody"]["content"]["application/json"]["schema"]["examples"]
    assert examples[0]["items"][0]["kind"] == "participant.enrol"
    answer = op["responses"]["200"]["content"]["application/json"]["examples"]
    assert [e["value"]["accepted"] for e in answer.values()] == [2]


def test_a_command_that_changed_a_record_without_saving_it_leaves_no_trace(
    world: World, app: Any
) -> None:
    """In a unit of work, an aggregate changed by a command that then failed (or did not save
    it) is rebuilt at the end of that command: the next command sees it as the last accepted
    one saved it, and the commit writes only the accepted events."""
    w = world
    participant = UUID(w.enrol())
    ledger_app = app.state.tenancy.app(w.slug)
    participants = ledger_app.participants
    common.actor.set("test-coordinator")

    def decide(attempt: Attempt) -> tuple[int, int]:
        saved = participants.record_contact(
            Command(), participant, contact=_contact("0101"), projected_release_date=None
        )
        version = saved.aggregate.version
        attempt.unit.end_item()
        # A change that is never saved (a refused command's half-done work).
        loaded = participants.participant(participant)
        record_contact(loaded, _contact("0102"), None)
        attempt.unit.end_item()
        again = participants.participant(participant)
        return version, again.version

    before = w.events()
    with ledger_app.ledger.db.session():
        outcome = run_batch(ledger_app.ledger, [], decide)
    assert outcome.decided == (2, 2)
    assert w.events() == before + 1
    assert w.get(f"/participants/{participant}")["contact"]["phone"] == "+1 312 555 0101"


def test_a_batch_with_an_item_nested_hundreds_deep_is_refused_whole(world: World) -> None:
    """An item's body 5,000 arrays deep makes the batch's JSON too deep to read: the whole
    batch is a 400 saying so (as a malformed batch is), and nothing is written."""
    w = world
    before = w.events()
    deep = b"[" * 5000 + b"]" * 5000
    items = (
        b'{"items": [{"kind": "participant.enrol", "idempotency_key": "deep-1", "body": '
        + deep
        + b'}, {"kind": "participant.enrol", "idempotency_key": "deep-2", "body": '
        + msgspec.json.encode(enrol("Flo"))
        + b"}]}"
    )
    r = w.client.post(
        w.base + "/commands",
        content=items,
        headers={**w.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_request", r.text
    assert "nested" in r.json()["detail"]
    assert w.events() == before
