"""A mentor who is a participant, after their own derived exit (decision 85): the mentor rules
that read the participant's status read a derived exit as they read a recorded one (decision
101), over HTTP with PostgreSQL on a frozen clock.

Cohort C1 graduated on 2026-06-01; two graduates moved to the community (stage 3) on 06-10 and
registered as graduate mentors (`idle` and `peer` moved too, not registered). On 2026-09-15
`gone` and `idle` have had no service since the graduation
(derived exit dated 06-01, in effect from 08-31); `served` and `peer` had a contact on 08-20. By the
default rules a stage-2 mentee is mentored by a graduate resident in their RRC or an active
stage-3 participant: `gone` is neither any more, as `served` is not after a recorded exit.
A newcomer of cohort C2 lives at RRC-1 (stage 2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers

NOT_ELIGIBLE = "mentor_not_eligible_for_stage"


class Scene:
    def __init__(self, api: Api, frozen_at: FreezeAt) -> None:
        self.api = api
        clock = frozen_at(datetime(2026, 8, 25, 15, 0, tzinfo=UTC), tick=True)
        (self.gone, self.served, self.idle, self.peer), (self.mentee,) = graduates_and_newcomers(
            api, 4, 1
        )
        for who in (self.gone, self.served, self.idle, self.peer):
            api.move(who, 3, placement="community", at="2026-06-10T15:00:00Z")
        api.move(self.mentee, 2, placement="rrc", facility="RRC-1", at="2026-08-03T15:00:00Z")
        for who in (self.served, self.peer):
            api.post(
                f"/participants/{who}/case-contacts",
                {"contacted_on": "2026-08-20", "mode": "phone"},
            )
        self.gone_mentor = api.certified("Gale Gone", participant_id=self.gone)
        self.served_mentor = api.certified("Sam Served", participant_id=self.served)
        clock.set(datetime(2026, 9, 15, 15, 0, tzinfo=UTC))
        projector.drain(api.db, f"g_{api.slug}")


@pytest.fixture
def scene(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Scene:
    return Scene(Api(client, auth, grantee, db), frozen_at)


def test_a_mentor_whose_own_derived_exit_took_effect_is_no_longer_a_stage3_participant(
    scene: Scene,
) -> None:
    api = scene.api
    assert api.get(f"/participants/{scene.gone}")["exit_derived"] is True
    problem = api.refuse_pair(scene.gone_mentor, [scene.mentee], NOT_ELIGIBLE)
    assert "stage 3 participant" not in problem["detail"].split("this mentor is")[1]
    # The same refusal, with the same code, after a recorded exit of the mentor's participant.
    api.post(f"/participants/{scene.served}/exit", {"exit_date": "2026-09-01", "reason": "other"})
    api.refuse_pair(scene.served_mentor, [scene.mentee], NOT_ELIGIBLE)


def test_a_mentor_served_recently_is_still_a_stage3_participant(scene: Scene) -> None:
    pairing = scene.api.pair(scene.served_mentor, [scene.mentee])
    assert pairing["mentor_id"] == scene.served_mentor


def test_a_graduate_mentor_stays_a_graduate_after_their_derived_exit(scene: Scene) -> None:
    """Graduating is history: a stage-3 mentee may have a graduate mentor (the default rules)
    whose own participation ended, recorded or derived."""
    api = scene.api
    (newcomer,) = [api.enrol("C2", "2026-07-06", first_name="Late")]
    api.move(newcomer, 3, placement="community", at="2026-09-10T15:00:00Z")
    assert api.pair(scene.gone_mentor, [newcomer])["mentor_id"] == scene.gone_mentor


def test_a_derived_exited_participant_is_not_registered_as_a_linked_community_peer(
    scene: Scene,
) -> None:
    """A community peer is linked to a participant record only while that participant is an
    active stage-3 participant (decision 59): refused after a derived exit as after a recorded."""
    api = scene.api
    body = {
        "display_name": "Gale Again",
        "source": "community_peer",
        "channel": "community_organization",
        "expected_hours_per_month": 6,
        "participant_id": scene.idle,
    }
    problem = api.refused("/mentors", body, "participant_not_allowed")
    assert problem["detail"]
    api.post(f"/participants/{scene.peer}/exit", {"exit_date": "2026-09-01", "reason": "other"})
    api.refused("/mentors", {**body, "participant_id": scene.peer}, "participant_not_allowed")
