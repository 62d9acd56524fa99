"""A derived exit (more than 90 days without service, none planned: decision 85) on the write
side and in the RRC view (decision 97), over HTTP with PostgreSQL on a frozen clock.

Cohort C1 graduated on 2026-06-01 (its graduates' last service, their class hours). On
2026-09-15 a graduate with nothing since has exited, dated 2026-06-01 (in effect from 08-31);
one with a case-management contact on 08-20 has not. Every command a recorded exit refuses is
refused alike for the first, with the same code and status, and appends nothing; the second
is served. A command that is allowed answers with the participant as the GET shows them. An
RRC lists a derived-exited resident no longer, and discloses nothing of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.projector import live as projector
from tests.conftest import FreezeAt
from tests.mentoring_helpers import Api, graduates_and_newcomers

EXITED_ON = "2026-06-01"
GROUP = {"kind": "group", "focus": "employment"}


class Scene:
    """`gone` (stage 1) and `rrc_gone` (at RRC-1) have had no service since the graduation;
    `served` (stage 1) and `rrc_served` (at RRC-1) had a contact on 08-20. A group pairing of
    `served` and a newcomer in class, a goal of `gone` set while they were active, a listed resource."""

    def __init__(self, api: Api, frozen_at: FreezeAt) -> None:
        self.api = api
        clock = frozen_at(datetime(2026, 8, 25, 15, 0, tzinfo=UTC), tick=True)
        (self.gone, self.served, self.rrc_gone, self.rrc_served), (newcomer,) = (
            graduates_and_newcomers(api, 4, 1)
        )
        for who in (self.rrc_gone, self.rrc_served):
            api.move(who, 2, placement="rrc", facility="RRC-1", at="2026-06-15T15:00:00Z")
        for who in (self.served, self.rrc_served):
            api.post(
                f"/participants/{who}/case-contacts",
                {"contacted_on": "2026-08-20", "mode": "phone"},
            )
        # A community peer may mentor in stage 1 here (the default asks for a graduate).
        api.policy(stage1=["earlier_graduate", "community_peer"])
        self.mentor = api.certified("Pat Peer")
        self.group = api.pair(self.mentor, [self.served, newcomer], **GROUP)["id"]
        self.goal = api.post(
            "/goals",
            {
                "participant_id": self.gone,
                "horizon": "short_term",
                "domain": "id_documents",
                "statement": "Get a state ID card",
                "measure": "ID card issued by the DMV",
                "target": "card in hand",
                "target_date": "2026-10-30",
            },
        )["id"]
        self.resource = api.post("/resources", {"name": "Staffing", "category": "job_placement"})[
            "id"
        ]
        clock.set(datetime(2026, 9, 15, 15, 0, tzinfo=UTC))
        projector.drain(api.db, f"g_{api.slug}")

    def commands(self, who: str) -> list[tuple[str, dict[str, Any], str]]:
        """Every command a recorded exit of `who` refuses: (path, body, code)."""
        return [
            ("/pairings", self.api.pairing_body(self.mentor, [who]), "mentee_exited"),
            (f"/pairings/{self.group}/members", {"participant_id": who}, "mentee_exited"),
            (
                f"/participants/{who}/stage-transitions",
                {"to_stage": 3, "occurred_at": "2026-09-14T15:00:00Z"},
                "participant_exited",
            ),
            (
                f"/participants/{who}/exit",
                {"exit_date": "2026-09-14", "reason": "completed"},
                "participant_exited",
            ),
            (
                "/goals",
                {
                    "participant_id": who,
                    "horizon": "short_term",
                    "domain": "employment",
                    "statement": "Find work",
                    "measure": "an offer",
                    "target": "a job",
                    "target_date": "2026-11-30",
                },
                "participant_exited",
            ),
            (
                "/referrals",
                {"participant_id": who, "resource_id": self.resource, "need": "a job"},
                "participant_exited",
            ),
        ]


@pytest.fixture
def scene(client: Any, auth: Any, grantee: str, db: Any, frozen_at: FreezeAt) -> Scene:
    return Scene(Api(client, auth, grantee, db), frozen_at)


def test_every_command_a_recorded_exit_refuses_is_refused_after_a_derived_exit(
    scene: Scene,
) -> None:
    api = scene.api
    assert api.get(f"/participants/{scene.gone}")["exit_derived"] is True
    for path, body, code in [
        *scene.commands(scene.gone),
        (f"/goals/{scene.goal}/steps", {"description": "book the DMV"}, "participant_exited"),
    ]:
        problem = api.refused(path, body, code)
        assert "derived exit" in problem["detail"] and EXITED_ON in problem["detail"], path
        assert "90 days without service" in problem["detail"]
    # Nothing changed: the participant is exited as before, the group has one member.
    assert api.get(f"/participants/{scene.gone}")["exit_reason"] == "no_service_90_days"
    assert scene.gone not in api.get(f"/pairings/{scene.group}")["members"]


def test_the_same_commands_are_refused_with_the_same_codes_after_a_recorded_exit(
    scene: Scene,
) -> None:
    api = scene.api
    api.post(f"/participants/{scene.served}/exit", {"exit_date": "2026-09-01", "reason": "other"})
    for path, body, code in scene.commands(scene.served):
        assert "derived" not in api.refused(path, body, code)["detail"]


def test_a_participant_served_recently_is_not_refused(scene: Scene) -> None:
    api = scene.api
    # (`served` is a member of the group already: the individual match stands for both.)
    (pairing, _member, move, exit_, goal, referral) = scene.commands(scene.served)
    api.post(*pairing[:2])
    api.post(*goal[:2])
    api.post(*referral[:2])
    api.post(*move[:2])
    assert api.get(f"/participants/{scene.served}")["stage"] == 3
    api.post(*exit_[:2])
    recorded = api.get(f"/participants/{scene.served}")
    assert (recorded["exit_reason"], recorded.get("exit_derived", False)) == ("completed", False)


def test_a_commands_answer_shows_the_participant_as_the_get_does(scene: Scene) -> None:
    api = scene.api
    answer = api.post(
        f"/participants/{scene.gone}/assignments", {"duty": "case_manager", "staff": "cm-1"}
    )
    shown = api.get(f"/participants/{scene.gone}")
    assert (answer["status"], answer["exit_date"], answer["exit_reason"]) == (
        "exited",
        EXITED_ON,
        "no_service_90_days",
    )
    assert answer["exit_derived"] is True
    assert {k: v for k, v in answer.items() if k != "position"} == {
        k: v for k, v in shown.items() if k != "position"
    }


def test_the_rrc_view_leaves_a_derived_exited_resident_out(scene: Scene) -> None:
    api = scene.api
    desk = api.auth("rrc_staff", api.slug, sub="rrc-desk", rrc="RRC-1")
    r = api.client.get(f"{api.base}/rrc/RRC-1/residents", headers=desk)
    assert r.status_code == 200, r.text
    assert [i["participant_id"] for i in r.json()["items"]] == [scene.rrc_served]
    one = api.client.get(f"{api.base}/rrc/RRC-1/residents/{scene.rrc_gone}", headers=desk)
    assert one.status_code == 404
    # Only the resident shown was disclosed.
    assert api.get(f"/participants/{scene.rrc_gone}/disclosures")["items"] == []
    shown = api.get(f"/participants/{scene.rrc_served}/disclosures")["items"]
    assert [d["information"] for d in shown] == ["stage"]


def test_a_fact_dated_before_the_exit_took_effect_is_history_within_the_enrolment(
    scene: Scene,
) -> None:
    """`gone`'s exit took effect on 08-31: a release dated 08-20, recorded on 09-15, is accepted
    (what happened while they were in the program), one dated 09-14 is refused; the exit still
    stands after it, so the participant reads as exited all the same."""
    api = scene.api
    api.refused(
        f"/participants/{scene.gone}/stage-transitions",
        {"to_stage": 3, "occurred_at": "2026-09-14T15:00:00Z"},
        "participant_exited",
    )
    moved = api.post(
        f"/participants/{scene.gone}/stage-transitions",
        {"to_stage": 3, "occurred_at": "2026-08-20T15:00:00Z"},
    )
    assert moved["stage"] == 3 and moved.get("exit_derived") is True
    # A recorded exit dated before the derived one took effect replaces it.
    out = api.post(
        f"/participants/{scene.gone}/exit", {"exit_date": "2026-08-25", "reason": "completed"}
    )
    assert (out["status"], out["exit_reason"], out.get("exit_derived", False)) == (
        "exited",
        "completed",
        False,
    )


def test_a_fact_dated_in_the_future_is_refused_as_such_not_as_an_exit(scene: Scene) -> None:
    """A participant served recently would have exited by a day months ahead, when nothing is
    planned for them: a move, a return or an exit dated then is refused for its date, not with
    an exit that has not happened (found in the console: a move mistyped a year ahead said the
    participant had exited)."""
    api = scene.api
    ahead = "2027-09-14T15:00:00Z"
    api.refused(
        f"/participants/{scene.served}/stage-transitions",
        {"to_stage": 3, "occurred_at": ahead},
        "in_future",
    )
    api.refused(
        f"/participants/{scene.rrc_served}/stage-transitions",
        {"to_stage": 1, "returned_to_custody": True, "occurred_at": ahead},
        "in_future",
    )
    api.refused(
        f"/participants/{scene.served}/exit",
        {"exit_date": "2027-09-14", "reason": "completed"},
        "in_future",
    )
