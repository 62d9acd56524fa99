"""Which mentors may take this participant, asked before pairing (decision 112): each of the
grantee's certified mentors eligible or not, with the codes POST /pairings refuses with, run at
the frozen clock's instant over HTTP against the real application; the list and the command
agree; pages eligible first, then by name; the console's pairing form shows the refused
mentors disabled with the reason in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.console_helpers import sign_in
from tests.meetings_helpers import MODULES, OFF_SITE, World

# A Tuesday, 09:00 in Chicago (the world's zone).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
MATCH_ON = "2026-03-09T15:00:00Z"


@pytest.fixture
def world(client: Any, auth: Any, db: Any, frozen_at: FreezeAt) -> World:
    frozen_at(NOW, tick=True)
    return World(client, auth, db)


def community_peer(world: World, name: str) -> str:
    """A certified community peer (no participant record: of no graduate kind)."""
    mentor_id = str(
        world.post(
            "/mentors",
            {"display_name": name, "source": "community_peer", "channel": "peer_referral"},
        )["id"]
    )
    for step in ("application", "interview", "references"):
        world.post(
            f"/mentors/{mentor_id}/screening-steps",
            {"step": step, "completed_on": "2025-07-01", "staff": "Dana Cole"},
        )
    world.post(
        f"/mentors/{mentor_id}/background-review",
        {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": "2025-07-01"},
    )
    for module in MODULES:
        world.post(
            f"/mentors/{mentor_id}/trainings",
            {"module": module, "completed_on": "2025-07-02", "hours": 1, "trainer": "Lou Brandt"},
        )
    assert world.post(f"/mentors/{mentor_id}/certification", {})["status"] == "certified"
    return mentor_id


def options_of(world: World, pid: str, role: str = "case_manager", **params: Any) -> Any:
    projector.drain(world.db, world.schema)
    return world.get(f"/participants/{pid}/mentor-options", role=role, **params)


def by_id(page: Any) -> dict[str, Any]:
    return {o["mentor_id"]: o for o in page["items"]}


def codes(option: dict[str, Any]) -> list[str]:
    return [r["code"] for r in option["reasons"]]


def match(mentor_id: str, pid: str) -> dict[str, Any]:
    return {
        "kind": "individual",
        "mentor_id": mentor_id,
        "members": [pid],
        "location": OFF_SITE,
        "criteria": ["shared_experience"],
        "opened_at": MATCH_ON,
    }


def test_a_stage_1_mentee_sees_a_community_peer_refused_and_the_command_agrees(world):
    pid = world.enrol(name="Odalys")
    ada = world.mentor("ada")
    peer = community_peer(world, "Cal Peer")

    page = options_of(world, pid)
    assert page["participant_id"] == pid and page["next_cursor"] is None
    found = by_id(page)
    assert set(found) == {ada, peer}
    assert found[ada]["eligible"] is True and found[ada]["reasons"] == []
    assert found[ada]["kinds"] == ["earlier_graduate", "graduate"]
    assert found[ada]["cleared_for"] == ["FCI-A"]
    assert (found[ada]["individual_mentees"], found[ada]["caseload_limit"]) == (0, 5)
    assert found[peer]["eligible"] is False
    assert found[peer]["kinds"] == ["community_peer"]
    (reason,) = found[peer]["reasons"]
    assert reason == {
        "code": "mentor_not_eligible_for_stage",
        "detail": "for a stage 1 mentee the mentor must be an earlier graduate (from an earlier"
        " cohort); this mentor is a community peer",
    }
    # Eligible first.
    assert [o["mentor_id"] for o in page["items"]] == [ada, peer]

    # The command refuses the one the list refuses, with the same code and sentence...
    problem = world.refused("/pairings", match(peer, pid), "mentor_not_eligible_for_stage")
    assert problem["detail"] == reason["detail"]
    # ...and takes the one it says is eligible.
    world.post("/pairings", match(ada, pid))
    after = by_id(options_of(world, pid))
    assert after[ada]["individual_mentees"] == 1 and after[ada]["open_pairings"] == 1
    # Now paired: every mentor is refused for a second individual pairing, as the command is.
    assert codes(after[ada]) == ["mentee_already_paired"]
    assert codes(after[peer]) == ["mentor_not_eligible_for_stage", "mentee_already_paired"]
    world.refused("/pairings", match(ada, pid), "mentee_already_paired")


def test_a_mentor_at_the_caseload_limit_is_refused_as_the_command_refuses(world):
    first, second = world.enrol(name="Odalys"), world.enrol(name="Pia")
    ada = world.mentor("ada")
    world.policy(max_individual_mentees=1)
    world.post("/pairings", match(ada, first))

    option = by_id(options_of(world, second))[ada]
    assert option["eligible"] is False
    assert (option["individual_mentees"], option["caseload_limit"]) == (1, 1)
    assert option["reasons"] == [
        {
            "code": "caseload_limit",
            "detail": "the mentor already has 1 individual mentees (limit 1)",
        }
    ]
    world.refused("/pairings", match(ada, second), "caseload_limit")


def test_a_mentor_is_never_an_option_for_themselves(client, auth, db, frozen_at):
    # Weeks after cohort C0 graduated: its graduates are still in the program (no derived
    # exit yet), so a graduate mentor's own record is a mentee one might choose them for.
    frozen_at(datetime(2025, 7, 20, 15, 0, tzinfo=UTC), tick=True)
    world = World(client, auth, db)
    ada = world.mentor("ada", clearances=())
    bo = world.mentor("bo", clearances=())
    own = world.get(f"/mentors/{ada}")["participant_id"]

    found = by_id(options_of(world, own))
    assert codes(found[ada])[0] == "self_mentoring"
    # Bo graduated with Ada: not of an earlier cohort than her.
    assert codes(found[bo]) == ["mentor_not_eligible_for_stage"]
    world.refused(
        "/pairings", {**match(ada, own), "opened_at": "2025-07-20T15:00:00Z"}, "self_mentoring"
    )


def test_a_meeting_place_checks_each_mentors_clearance(world):
    pid = world.enrol(name="Odalys")
    ada = world.mentor("ada")
    inside_b = by_id(options_of(world, pid, facility="FCI-B"))[ada]
    assert codes(inside_b) == ["clearance_required"]
    assert inside_b["reasons"][0]["detail"] == (
        "the mentor has no unexpired volunteer clearance for FCI-B"
    )
    body = {**match(ada, pid), "location": {"kind": "bop_institution", "facility": "FCI-B"}}
    world.refused("/pairings", body, "clearance_required")
    assert by_id(options_of(world, pid, facility="FCI-A"))[ada]["eligible"] is True
    status, text = world.get_text(
        f"/participants/{pid}/mentor-options", role="case_manager", facility="FCI-Z"
    )
    assert status == 404, text


def test_pages_go_eligible_first_then_by_name_and_filter_by_eligibility(world):
    pid = world.enrol(name="Odalys")
    zed = world.mentor("zed")  # "Mentor zed"
    abe = world.mentor("abe")
    peers = [community_peer(world, name) for name in ("Bea Peer", "Ari Peer")]

    seen, cursor = [], ""
    while True:
        page = options_of(world, pid, limit=1, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["mentor_id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [abe, zed, peers[1], peers[0]]

    only = options_of(world, pid, eligible="true")
    assert [o["mentor_id"] for o in only["items"]] == [abe, zed]
    refused = options_of(world, pid, eligible="false", limit=1)
    assert [o["mentor_id"] for o in refused["items"]] == [peers[1]]
    rest = options_of(world, pid, eligible="false", cursor=refused["next_cursor"])
    assert [o["mentor_id"] for o in rest["items"]] == [peers[0]]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "invalid_request"),
        ({"limit": 501}, "invalid_request"),
        ({"cursor": "garbage"}, "invalid_cursor"),
        ({"cursor": "~bm90IGEga2V5"}, "invalid_cursor"),
        ({"eligible": "perhaps"}, "invalid_request"),
        ({"lookup": "x"}, "unknown_parameter"),
    ],
)
def test_bad_parameters_are_problems(world, params, code):
    pid = world.enrol(name="Odalys")
    r = world.client.get(
        f"{world.base}/participants/{pid}/mentor-options",
        params=params,
        headers=world.headers("case_manager"),
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


def test_an_unknown_participant_is_not_found_and_only_staff_who_pair_may_ask(world):
    r = world.client.get(
        f"{world.base}/participants/3f2c1a9e-8d7b-4c6a-9e0f-1a2b3c4d5e6f/mentor-options",
        headers=world.headers("coordinator"),
    )
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    pid = world.enrol(name="Odalys")
    for role in ("peer_mentor", "auditor", "rrc_staff"):
        status, _ = world.get_text(f"/participants/{pid}/mentor-options", role=role)
        assert status == 403, role
    for role in ("case_manager", "coordinator", "grantee_admin"):
        assert options_of(world, pid, role=role)["items"] == []


# -- the console ------------------------------------------------------------------------------


def test_the_pairing_form_shows_a_refused_mentor_disabled_with_the_reason(browser, world):
    pid = world.enrol(name="Odalys")
    ada = world.mentor("ada")
    peer = community_peer(world, "Cal Peer")
    projector.drain(world.db, world.schema)
    sign_in(browser, "case_manager", world.slug)

    form = browser.get(f"/console/participants/{pid}/pairing")
    assert form.status_code == 200
    select = form.text.split('<select id="mentor_id"')[1].split("</select>")[0]
    # The eligible mentor first and choosable; the refused one after, disabled, with why.
    assert re.findall(r'<option value="([^"]*)"', select) == ["", ada, peer]
    assert f'<option value="{ada}">Mentor ada</option>' in select
    refused = re.search(rf'<option value="{peer}" disabled>([^<]*)</option>', select)
    assert refused is not None
    assert refused.group(1) == (
        "Cal Peer: for a stage 1 mentee the mentor must be an earlier graduate (from an"
        " earlier cohort); this mentor is a community peer."
    )
    assert '<optgroup label="Not allowed now (the reason follows the name)">' in select
