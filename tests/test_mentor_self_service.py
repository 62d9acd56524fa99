"""A mentor's own access and a community peer's own eligibility, over HTTP with the real app and
PostgreSQL: a peer mentor reads the copy of their feedback with their own token (another
mentor's is 404, an access-log row is written); a stage-3 participant registered as a
community peer mentors by their own stage-3 status, their cohort graduated or not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mentoring_helpers import Api
from tests.test_evaluation import feedback
from tests.test_supervision import MENTOR_SUB, SupApi, World, world


@pytest.fixture
def w(client, auth, grantee, db) -> World:
    return world(SupApi(client, auth, grantee, db))


def test_a_peer_mentor_reads_their_own_feedback_copy(w: World) -> None:
    api = w.api
    given = api.post("/feedback", feedback(w, anonymous_to_mentor=True), role="case_manager")
    copy = api.view(
        f"/feedback/mentors/{w.mentor}", given["position"], role="peer_mentor", sub=MENTOR_SUB
    )
    assert [f["id"] for f in copy["items"]] == [given["id"]]
    assert "participant_id" not in copy["items"][0]  # anonymous to the mentor
    # Another mentor's copy is not theirs to read: not found, so not disclosed.
    api.get(f"/feedback/mentors/{w.other_mentor}", role="peer_mentor", sub=MENTOR_SUB, expect=404)
    api.get(f"/feedback/mentors/{w.mentor}", role="peer_mentor", sub="someone-else", expect=404)
    # Nor the staff lists of feedback.
    api.get("/feedback", role="peer_mentor", sub=MENTOR_SUB, expect=403)
    rows = api.db.fetchall(
        f'SELECT subject, status FROM "g_{api.slug}".access_log WHERE action = %s',
        ("feedback.mentor_copy",),
    )
    assert (MENTOR_SUB, 200) in [(r[0], r[1]) for r in rows]


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def community_peer(api: Api, participant_id: str) -> dict[str, Any]:
    body = {
        "display_name": "Lena Q.",
        "source": "community_peer",
        "channel": "community_organization",
        "participant_id": participant_id,
        "expected_hours_per_month": 6,
    }
    return dict(api.post("/mentors", body))


def test_a_stage_three_community_peer_mentors_by_their_own_status(api: Api) -> None:
    # Cohort C1 has not graduated: a graduate mentor from it is still refused.
    peer = api.enrol("C1", first_name="Lena")
    newcomer = api.enrol("C1", first_name="Nia")
    released = api.enrol("C1", first_name="Ola")
    body = {
        "display_name": "Lena Q.",
        "source": "community_peer",
        "channel": "community_organization",
        "participant_id": peer,
    }
    # In stage 1, a participant is no community peer.
    api.refused("/mentors", body, "participant_not_allowed")
    api.move(peer, 3)
    api.move(released, 3)
    api.refused("/mentors", {**body, "source": "graduate"}, "not_a_graduate")
    mentor = community_peer(api, peer)
    assert (mentor["source"], mentor["participant_id"], mentor["lived_experience"]) == (
        "community_peer",
        peer,
        True,
    )
    mid = str(mentor["id"])
    api.screen(mid)
    api.train(mid)
    api.clear(mid, "FCI-A")
    api.certify(mid)
    # A stage-3 mentee: the mentor qualifies as a stage-3 participant.
    assert api.pair(mid, [released])["mentor_id"] == mid
    # A stage-1 mentee needs an earlier graduate: this mentor is not one.
    problem = api.refuse_pair(mid, [newcomer], "mentor_not_eligible_for_stage")
    assert "a stage 3 participant in good standing" in problem["detail"]
