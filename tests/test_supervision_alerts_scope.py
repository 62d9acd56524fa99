"""`GET …/supervision/alerts` by role (decision 139), over HTTP on the real app and PostgreSQL
with a frozen clock, in decision 129's scene: a case manager gets only the overdue crises about
the participants they hold, with `mentor_id` null, and no debriefs due (the same crises as their
main alerts list); another case manager gets theirs; the supervision roles see what they saw."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.projector import live as projector
from tests.test_alerts_caseload_crises import (
    CM,
    MENTOR_SUBJECT,
    OTHER_CM,
    RAISED,
    World,
    assert_nothing_confidential,
    assign,
    w,  # noqa: F401
)


@pytest.fixture
def scene(w: World) -> World:  # noqa: F811
    """Decision 129's scene (tests/test_alerts_caseload_crises.py): five crises raised at
    `RAISED` about CM's participant, the one CM coordinates, OTHER_CM's, no one's and about no
    participant; one certified mentor never debriefed."""
    return w


def supervision_alerts(
    scene: World, role: str = "case_manager", sub: str | None = CM
) -> tuple[int, str, Any]:
    projector.drain(scene.api.db, f"g_{scene.api.slug}")
    r = scene.api.client.get(
        scene.api.base + "/supervision/alerts",
        params={"min_position": scene.last},
        headers=scene.api.headers(role, sub),
    )
    return r.status_code, r.text, r.json()


def crises(scene: World, role: str = "case_manager", sub: str | None = CM) -> dict[str, Any]:
    status, raw, body = supervision_alerts(scene, role, sub)
    assert status == 200, raw
    return {c["escalation_id"]: c for c in body["overdue_crises"]}


def test_a_case_manager_sees_only_their_participants_overdue_crises_without_the_mentor(
    scene, frozen_at
):
    frozen_at(RAISED + timedelta(hours=23, minutes=59))
    assert crises(scene) == {}

    frozen_at(RAISED + timedelta(hours=25))
    status, raw, body = supervision_alerts(scene)
    assert status == 200, raw
    # Theirs as case manager and as coordinator; never another case manager's participant's,
    # an unassigned participant's or a crisis about no participant.
    seen = {c["escalation_id"]: c for c in body["overdue_crises"]}
    assert set(seen) == {scene.crisis, scene.crisis_coordinated}
    assert seen[scene.crisis] == {
        "escalation_id": scene.crisis,
        "mentor_id": None,
        "severity": "critical",
        "raised_at": seen[scene.crisis]["raised_at"],
        "hours_open": 25,
        "acknowledged": False,
    }
    assert seen[scene.crisis_coordinated]["mentor_id"] is None
    # The debriefs due are the mentors' supervision: withheld, as in the main list.
    assert body["debriefs_due"] == []
    assert_nothing_confidential(raw, scene)
    # The same crises as the case manager's main list (one rule, decision 129).
    main = scene.crises()
    assert set(main) == set(seen)


def test_another_case_manager_sees_only_theirs_and_the_alert_follows_the_assignment(
    scene, frozen_at
):
    frozen_at(RAISED + timedelta(hours=30))
    assert set(crises(scene, sub=OTHER_CM)) == {scene.crisis_theirs}
    assert crises(scene, sub="cm-new") == {}
    scene.last = assign(scene.api, scene.mine, "case_manager", OTHER_CM)
    assert set(crises(scene)) == {scene.crisis_coordinated}
    assert set(crises(scene, sub=OTHER_CM)) == {scene.crisis, scene.crisis_theirs}
    # Acknowledged, the crisis stays theirs to see, still without the mentor.
    scene.post(
        f"/escalations/{scene.crisis}/acknowledgement",
        {"acknowledged_at": (RAISED + timedelta(hours=1)).isoformat()},
    )
    acknowledged = crises(scene, sub=OTHER_CM)[scene.crisis]
    assert (acknowledged["acknowledged"], acknowledged["mentor_id"]) == (True, None)
    scene.post(f"/escalations/{scene.crisis}/resolution", {"resolution": "found a bed"})
    assert set(crises(scene, sub=OTHER_CM)) == {scene.crisis_theirs}


@pytest.mark.parametrize("role", ["coordinator", "grantee_admin"])
def test_the_supervision_roles_see_every_crisis_with_its_mentor_and_the_debriefs(
    scene, frozen_at, role
):
    frozen_at(RAISED + timedelta(hours=25))
    status, raw, body = supervision_alerts(scene, role=role, sub=None)
    assert status == 200, raw
    every = [c["escalation_id"] for c in body["overdue_crises"]]
    # Every crisis of the scene, each once (all raised at the same instant: listed by id).
    assert every == sorted(
        [
            scene.crisis,
            scene.crisis_coordinated,
            scene.crisis_theirs,
            scene.crisis_nobodys,
            scene.crisis_no_one,
        ]
    )
    assert {c["mentor_id"] for c in body["overdue_crises"]} == {scene.mentor}
    assert {c["hours_open"] for c in body["overdue_crises"]} == {25}
    assert body["debriefs_due"] == [{"mentor_id": scene.mentor, "last_debrief_on": None}]


@pytest.mark.parametrize("role", ["peer_mentor", "auditor", "rrc_staff", "federal_oversight"])
def test_roles_without_the_alerts_are_refused(scene, frozen_at, role):
    frozen_at(RAISED + timedelta(hours=25))
    sub = MENTOR_SUBJECT if role == "peer_mentor" else None
    status, raw, _ = supervision_alerts(scene, role=role, sub=sub)
    assert status == 403, raw
    assert scene.crisis not in raw
