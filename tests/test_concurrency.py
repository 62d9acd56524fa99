"""Optimistic concurrency: of two writes to one participant made from the same version, one
wins; the other is decided again on the winner's state (decision 91) or, called without the
command runner, told 409 `conflict`; nothing of either is lost or doubled."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from domain.common import Conflict
from domain.participants import Placement
from services.app.tenancy import Tenancy
from services.store.ledger import Command
from tests.conftest import count_events, race

TO_RRC = {
    "to_stage": 2,
    "placement": "rrc",
    "facility": "RRC-1",
    "occurred_at": "2026-03-01T09:00:00Z",
}
TO_COMMUNITY = {"to_stage": 3, "occurred_at": "2026-03-02T09:00:00Z"}


def test_two_simultaneous_moves_one_wins_the_other_is_decided_again(
    client, auth, grantee, enrol, db
):
    """Both moves are decided on stage 1; the one that loses the race on the log is run again
    on the state the winner left (decision 91), where the same move is refused for what it is
    (422, not a 409 asking the user to retry what would fail)."""
    pid = enrol()["id"]
    h = auth("case_manager", grantee)
    url = f"/v1/grantees/{grantee}/participants/{pid}"
    before = count_events(db, grantee)

    def move(body):
        return lambda: client.post(f"{url}/stage-transitions", json=body, headers=h)

    answers = race(db, grantee, move(TO_RRC), move(TO_RRC))
    assert sorted(r.status_code for r in answers) == [201, 422]
    won = next(r for r in answers if r.status_code == 201)
    lost = next(r for r in answers if r.status_code == 422)
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert lost.json()["code"] == "illegal_transition"
    events = client.get(f"{url}/history", headers=h).json()["events"]
    assert [e["type"] for e in events] == ["Enrolled", "StageTransitioned"]
    assert events[-1]["data"]["to_stage"] == won.json()["stage"]
    assert events[-1]["position"] == won.json()["position"]
    assert client.get(url, headers=h).json() | {"position": None} == won.json() | {"position": None}
    assert count_events(db, grantee) == before + 1


def test_two_simultaneous_different_moves_are_applied_in_turn(client, auth, grantee, enrol, db):
    """A move to an RRC and one to the community, decided on stage 1 at once: the loser is
    decided again on the winner's state, where it is allowed; nothing is lost or doubled."""
    pid = enrol()["id"]
    h = auth("case_manager", grantee)
    url = f"/v1/grantees/{grantee}/participants/{pid}"
    before = count_events(db, grantee)

    def move(body):
        return lambda: client.post(f"{url}/stage-transitions", json=body, headers=h)

    answers = race(db, grantee, move(TO_RRC), move(TO_COMMUNITY))
    events = client.get(f"{url}/history", headers=h).json()["events"]
    applied = [r for r in answers if r.status_code == 201]
    assert len(events) == 1 + len(applied) and count_events(db, grantee) == before + len(applied)
    assert applied, [r.text for r in answers]
    for refused in (r for r in answers if r.status_code != 201):
        assert refused.status_code == 422, refused.text
    last = max(applied, key=lambda r: r.json()["position"])
    assert client.get(url, headers=h).json() | {"position": None} == last.json() | {
        "position": None
    }


def test_simultaneous_moves_of_different_participants_both_succeed(
    client, auth, grantee, enrol, db
):
    h = auth("case_manager", grantee)
    urls = [
        f"/v1/grantees/{grantee}/participants/{enrol()['id']}/stage-transitions" for _ in range(2)
    ]
    answers = race(db, grantee, *[lambda u=u: client.post(u, json=TO_RRC, headers=h) for u in urls])
    assert [r.status_code for r in answers] == [201, 201]


def test_the_application_refuses_a_save_from_a_stale_version(db, grantee, enrol):
    pid = UUID(enrol()["id"])
    app = Tenancy(db).app(grantee)
    first, second = app.participants.participant(pid), app.participants.participant(pid)
    when = datetime(2026, 3, 1, tzinfo=UTC)
    first.transition(
        placement=Placement.RRC, facility=app.facilities.facility("RRC-1"), occurred_at=when
    )
    second.transition(placement=Placement.COMMUNITY, facility=None, occurred_at=when)
    app.ledger.record(first, Command())
    with pytest.raises(Conflict):
        app.ledger.record(second, Command())
    history = app.ledger.history_with_positions(pid)
    assert [type(e).__name__ for _, e in history] == ["Enrolled", "StageTransitioned"]
    assert app.participants.participant(pid).placement is Placement.RRC
