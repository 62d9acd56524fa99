"""Open pairings of a mentee whose derived exit has taken effect (decision 104), over HTTP with
PostgreSQL on a frozen clock: the pairing reads show them for review, `flagged=true` finds
them, the roster counts them per mentor, and a closure cites the exit it answers.

Cohort C1 graduated on 2026-06-01 and moved to the community (stage 3) on 06-10. `gone` and
`idle` have had no service since the graduation: their derived exit (dated 06-01) is in effect
from 08-31. `served` had a case-management contact on 08-20; `lone` too, and stays unpaired.

An open pairing is planned service for its mentee, so no mentee exits while paired; a match is
refused once the mentee's derived exit is in effect (decision 97). The scene's pairings were
recorded on 09-15 before the projector had applied the mentees' facts, the window decision 97
leaves open; the log then holds what a pairing recorded before decision 97 left: an open
pairing whose mentee had exited before it opened. A release recorded late does it through the
commands alone (`test_a_release_recorded_late_can_date_the_exit_before_the_pairing`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.exit_review import MenteeExit, exit_review
from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers

EXIT = "2026-06-01"


class Scene:
    def __init__(self, api: Api, frozen_at: FreezeAt) -> None:
        self.api = api
        self.clock = frozen_at(datetime(2026, 8, 25, 15, 0, tzinfo=UTC), tick=True)
        people, _ = graduates_and_newcomers(api, 6, 0)
        self.gone, self.idle, self.served, self.lone, a, b = people
        for who in people:
            api.move(who, 3, placement="community", at="2026-06-10T15:00:00Z")
        for who in (self.served, self.lone, a, b):
            api.post(
                f"/participants/{who}/case-contacts",
                {"contacted_on": "2026-08-20", "mode": "phone"},
            )
        self.mentor_a = api.certified("Ada Mentor", participant_id=a)
        self.mentor_b = api.certified("Bo Mentor", participant_id=b)
        self.clock.set(datetime(2026, 9, 15, 15, 0, tzinfo=UTC))
        self.p_gone = api.pair(self.mentor_a, [self.gone])["id"]
        self.p_served = api.pair(self.mentor_a, [self.served])["id"]
        self.p_idle = api.pair(self.mentor_b, [self.idle])["id"]
        projector.drain(api.db, f"g_{api.slug}")

    def listed(self, **params: Any) -> set[str]:
        return {p["id"] for p in self.api.get("/pairings", **params)["items"]}

    def roster(self) -> dict[str, int]:
        return {m["id"]: m["exit_reviews"] for m in self.api.get("/mentors/")["items"]}


@pytest.fixture
def scene(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Scene:
    return Scene(Api(client, auth, grantee, db), frozen_at)


def review(participant_id: str) -> list[dict[str, str]]:
    return [{"participant_id": participant_id, "exited_on": EXIT, "basis": "derived"}]


def test_an_open_pairing_of_a_mentee_with_a_derived_exit_is_shown_for_review(
    scene: Scene,
) -> None:
    api = scene.api
    assert api.get(f"/participants/{scene.gone}")["exit_derived"] is True
    assert api.get(f"/pairings/{scene.p_gone}")["exit_review"] == review(scene.gone)
    rows = {p["id"]: p for p in api.get("/pairings")["items"]}
    assert rows[scene.p_gone]["exit_review"] == review(scene.gone)
    assert rows[scene.p_idle]["exit_review"] == review(scene.idle)
    # Recorded flags are untouched: the review is worked out when read.
    assert rows[scene.p_gone]["open_flags"] == {}


def test_a_mentee_served_within_90_days_is_not_flagged(scene: Scene) -> None:
    api = scene.api
    assert api.get(f"/participants/{scene.served}")["status"] == "active"
    assert api.get(f"/pairings/{scene.p_served}")["exit_review"] == []
    rows = {p["id"]: p for p in api.get("/pairings")["items"]}
    assert rows[scene.p_served]["exit_review"] == []


def test_flagged_filters_by_the_derived_exit_as_by_a_recorded_flag(scene: Scene) -> None:
    assert scene.listed(flagged=True) == {scene.p_gone, scene.p_idle}
    assert scene.listed(flagged=False) == {scene.p_served}
    assert scene.listed(flagged=True, mentor_id=scene.mentor_a) == {scene.p_gone}
    assert scene.listed(flagged=True, status="open") == {scene.p_gone, scene.p_idle}
    assert scene.listed(flagged=True, status="closed") == set()


def test_the_roster_counts_each_mentors_pairings_awaiting_review(scene: Scene) -> None:
    assert scene.roster() == {scene.mentor_a: 1, scene.mentor_b: 1}
    # A recorded flag is another count.
    counts = {m["id"]: m["open_flags"] for m in scene.api.get("/mentors/")["items"]}
    assert counts == {scene.mentor_a: 0, scene.mentor_b: 0}


def test_ending_the_pairing_cites_the_exit_and_clears_the_flag(scene: Scene) -> None:
    api = scene.api
    answer = api.close(scene.p_gone, reason="mentee exited: 90 days without service")
    assert answer["closure"]["exit_of"] == review(scene.gone)
    assert answer["exit_review"] == []
    projector.drain(api.db, f"g_{api.slug}")
    shown = api.get(f"/pairings/{scene.p_gone}")
    assert shown["status"] == "closed"
    assert shown["exit_review"] == []
    assert shown["closure"]["exit_of"] == review(scene.gone)
    assert scene.listed(flagged=True) == {scene.p_idle}
    assert scene.roster() == {scene.mentor_a: 0, scene.mentor_b: 1}
    # An auditor reads the reason in the log: the closing event carries the exit it answered.
    r = api.client.get(
        f"{api.base}/audit/events", params={"limit": 10_000}, headers=api.headers("auditor")
    )
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines()]
    [closed] = [
        e
        for e in lines
        if e["originator_id"] == scene.p_gone and e["topic"].endswith("Pairing.Closed")
    ]
    assert closed["event"]["closure"]["exit_of"] == review(scene.gone)
    # A closure of a pairing no exit waited on cites none.
    assert api.close(scene.p_served)["closure"]["exit_of"] == []


def test_an_open_pairing_is_planned_service_so_a_paired_mentee_does_not_exit(
    scene: Scene,
) -> None:
    """`served` and `lone` were last served on 08-20; 91 days later (11-19) `lone` has exited,
    while `served`, paired since 09-15, has service planned and is not flagged."""
    api = scene.api
    scene.clock.set(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    assert api.get(f"/participants/{scene.lone}")["exit_derived"] is True
    assert api.get(f"/participants/{scene.served}")["status"] == "active"
    assert api.get(f"/pairings/{scene.p_served}")["exit_review"] == []
    assert scene.listed(flagged=True) == {scene.p_gone, scene.p_idle}


def test_a_release_recorded_late_can_date_the_exit_before_the_pairing(
    client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt
) -> None:
    """A newcomer still in class (planned service) is matched on 10-20; then staff record
    their release to the community on 07-10, which ended their classes: judged as of its day,
    the move is accepted (decision 97), and the exit it implies took effect on 10-09, before
    the pairing opened. No lag of the views is needed for this one."""
    api = Api(client, auth, grantee, db)
    clock = frozen_at(datetime(2026, 10, 20, 15, 0, tzinfo=UTC), tick=True)
    (grad,), (newcomer,) = graduates_and_newcomers(api, 1, 1)
    mentor = api.certified("Cy Mentor", participant_id=grad)
    pairing = api.pair(mentor, [newcomer])["id"]
    projector.drain(api.db, f"g_{api.slug}")
    assert api.get(f"/pairings/{pairing}")["exit_review"] == []
    api.move(newcomer, 3, placement="community", at="2026-07-10T15:00:00Z")
    projector.drain(api.db, f"g_{api.slug}")
    expected = [{"participant_id": newcomer, "exited_on": "2026-07-10", "basis": "derived"}]
    assert api.get(f"/pairings/{pairing}")["exit_review"] == expected
    assert {p["id"] for p in api.get("/pairings", flagged=True)["items"]} == {pairing}
    assert {m["id"]: m["exit_reviews"] for m in api.get("/mentors/")["items"]} == {mentor: 1}
    clock.set(datetime(2026, 10, 21, 15, 0, tzinfo=UTC))
    assert api.close(pairing)["closure"]["exit_of"] == expected


# -- the rule without a database ------------------------------------------------------------


def test_exit_review_names_the_exited_members_of_an_open_pairing_only() -> None:
    a, b, c = sorted(uuid4() for _ in range(3))
    exited = {a: date(2026, 6, 1), c: date(2026, 5, 2)}
    assert exit_review(True, [c, b, a], exited) == (
        MenteeExit(participant_id=a, exited_on=date(2026, 6, 1)),
        MenteeExit(participant_id=c, exited_on=date(2026, 5, 2)),
    )
    assert exit_review(False, [a, b, c], exited) == ()
    assert exit_review(True, [b], exited) == ()
