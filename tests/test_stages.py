"""Stage transitions over HTTP: every legal move lands in the log, every illegal one is a 422
problem with a stable code and leaves the log exactly as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import clock
from tests.conftest import count_events

TO_RRC = {
    "to_stage": 2,
    "placement": "rrc",
    "facility": "RRC-1",
    "occurred_at": "2026-03-01T09:00:00Z",
}
TO_HOME = {"to_stage": 2, "placement": "home_confinement", "occurred_at": "2026-03-01T09:00:00Z"}
TO_COMMUNITY = {"to_stage": 3, "occurred_at": "2026-05-01T09:00:00Z"}
TO_CUSTODY = {
    "to_stage": 1,
    "returned_to_custody": True,
    "facility": "FCI-B",
    "occurred_at": "2026-06-01T09:00:00Z",
}
EXIT = {"exit_date": "2026-07-01", "reason": "completed"}
FUTURE = (clock.now() + timedelta(days=2)).isoformat()


@pytest.fixture
def moves(client, auth, grantee, enrol):
    """`moves(*steps)`: a new participant taken through `steps`. Returns its id, `post(id, body)`
    (a move or an exit) and `state(id)`: its version and the length of its history."""
    h = auth("case_manager", grantee)
    base = f"/v1/grantees/{grantee}/participants"

    def post(pid: str, body: dict[str, Any]) -> Any:
        path = "exit" if "exit_date" in body else "stage-transitions"
        return client.post(f"{base}/{pid}/{path}", json=body, headers=h)

    def state(pid: str) -> tuple[int, int]:
        version = client.get(f"{base}/{pid}", headers=h).json()["version"]
        return version, len(client.get(f"{base}/{pid}/history", headers=h).json()["events"])

    def make(*steps: dict[str, Any]) -> tuple[str, Any, Any]:
        pid = enrol()["id"]
        for step in steps:
            r = post(pid, step)
            assert r.status_code == 201, r.text
        return pid, post, state

    return make


@pytest.mark.parametrize(
    ("steps", "expect"),
    [
        (
            [TO_RRC],
            {
                "stage": 2,
                "placement": "rrc",
                "facility": "RRC-1",
                "funding_source": "first_step_act",
            },
        ),
        (
            [TO_HOME],
            {
                "stage": 2,
                "placement": "home_confinement",
                "facility": None,
                "funding_source": "first_step_act",
            },
        ),
        (
            [TO_RRC, {**TO_HOME, "occurred_at": "2026-04-01T00:00:00Z"}],
            {"stage": 2, "placement": "home_confinement", "facility": None},
        ),
        ([TO_RRC, TO_COMMUNITY], {"stage": 3, "placement": "community", "funding_source": "wioa"}),
        (
            [TO_COMMUNITY],
            {"stage": 3, "placement": "community", "facility": None, "funding_source": "wioa"},
        ),
        (
            [TO_RRC, TO_CUSTODY],
            {
                "stage": 1,
                "placement": "bop_institution",
                "facility": "FCI-B",
                "returns_to_custody": 1,
                "funding_source": "first_step_act",
            },
        ),
        (
            [TO_COMMUNITY, TO_CUSTODY],
            {
                "stage": 1,
                "placement": "bop_institution",
                "returns_to_custody": 1,
                "funding_source": "first_step_act",
            },
        ),
        (
            [TO_COMMUNITY, TO_CUSTODY, {**TO_COMMUNITY, "occurred_at": "2026-06-15T00:00:00Z"}],
            {"stage": 3, "returns_to_custody": 1},
        ),
        (
            [EXIT],
            {"status": "exited", "exit_date": "2026-07-01", "exit_reason": "completed", "stage": 1},
        ),
        ([TO_RRC, TO_COMMUNITY, EXIT], {"status": "exited", "stage": 3}),
    ],
    ids=[
        "1-2-rrc",
        "1-2-home",
        "2-2-rrc-to-home",
        "2-3",
        "1-3",
        "2-custody",
        "3-custody",
        "custody-3-again",
        "exit-from-1",
        "exit-from-3",
    ],
)
def test_legal_moves_are_recorded(client, auth, grantee, db, moves, steps, expect):
    pid, _, state = moves(*steps)
    p = client.get(
        f"/v1/grantees/{grantee}/participants/{pid}", headers=auth("case_manager", grantee)
    ).json()
    assert {k: p[k] for k in expect} == expect
    assert state(pid) == (1 + len(steps), 1 + len(steps))


def test_a_move_answers_with_the_new_state_and_its_log_position(client, auth, grantee, enrol):
    pid = enrol()["id"]
    h = auth("case_manager", grantee, sub="cm-7")
    base = f"/v1/grantees/{grantee}/participants/{pid}"
    r = client.post(f"{base}/stage-transitions", json=TO_RRC, headers=h)
    assert r.status_code == 201
    body = r.json()
    assert (body["stage"], body["version"]) == (2, 2)
    # In the grantee's zone (decision 58): compared as an instant.
    assert datetime.fromisoformat(body["stage_started_at"]) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert int(r.headers["x-log-position"]) == body["position"]
    last = client.get(f"{base}/history", headers=h).json()["events"][-1]
    assert last["type"] == "StageTransitioned"
    assert last["position"] == body["position"]
    assert last["recorded_by"] == "cm-7"
    assert (last["data"]["from_stage"], last["data"]["to_stage"]) == (1, 2)


@pytest.mark.parametrize(
    ("steps", "bad", "code"),
    [
        (
            [TO_COMMUNITY],
            {"to_stage": 1, "occurred_at": "2026-06-01T00:00:00Z"},
            "illegal_transition",
        ),
        (
            [TO_RRC],
            {"to_stage": 1, "facility": "FCI-B", "occurred_at": "2026-06-01T00:00:00Z"},
            "illegal_transition",
        ),
        ([TO_COMMUNITY], {**TO_RRC, "occurred_at": "2026-06-01T00:00:00Z"}, "illegal_transition"),
        (
            [TO_COMMUNITY],
            {**TO_COMMUNITY, "occurred_at": "2026-06-01T00:00:00Z"},
            "illegal_transition",
        ),
        ([TO_RRC], TO_RRC | {"occurred_at": "2026-04-01T00:00:00Z"}, "illegal_transition"),
        ([], TO_CUSTODY, "illegal_transition"),
        ([], {**TO_COMMUNITY, "returned_to_custody": True}, "illegal_transition"),
        ([], {**TO_RRC, "facility": "FCI-B"}, "facility_wrong_kind"),
        ([TO_RRC], {**TO_CUSTODY, "facility": "RRC-1"}, "facility_wrong_kind"),
        ([], {**TO_HOME, "facility": "RRC-1"}, "facility_not_allowed"),
        ([], {**TO_COMMUNITY, "facility": "RRC-1"}, "facility_not_allowed"),
        ([], {**TO_RRC, "facility": None}, "facility_required"),
        ([], {**TO_RRC, "placement": "community"}, "placement_mismatch"),
        ([], {**TO_RRC, "placement": None}, "placement_required"),
        ([TO_RRC], {**TO_CUSTODY, "placement": "rrc"}, "placement_mismatch"),
        ([TO_RRC], {**TO_COMMUNITY, "occurred_at": "2026-02-15T00:00:00Z"}, "before_current_stage"),
        ([], {**TO_RRC, "occurred_at": "2026-01-31T23:59:59Z"}, "before_current_stage"),
        ([TO_RRC], {**EXIT, "exit_date": "2026-02-20"}, "before_current_stage"),
        ([], {**TO_RRC, "occurred_at": FUTURE}, "in_future"),
        ([], {**EXIT, "exit_date": FUTURE[:10]}, "in_future"),
        ([], {**TO_RRC, "occurred_at": "2026-03-01T09:00:00"}, "naive_datetime"),
        ([EXIT], TO_RRC | {"occurred_at": "2026-08-01T00:00:00Z"}, "participant_exited"),
        ([EXIT], TO_COMMUNITY | {"occurred_at": "2026-08-01T00:00:00Z"}, "participant_exited"),
        (
            [TO_RRC, EXIT],
            TO_CUSTODY | {"occurred_at": "2026-08-01T00:00:00Z"},
            "participant_exited",
        ),
        ([EXIT], EXIT, "participant_exited"),
    ],
    ids=[
        "3-1-no-custody-flag",
        "2-1-no-custody-flag",
        "3-2",
        "3-3",
        "same-placement",
        "custody-from-1",
        "custody-flag-to-3",
        "rrc-at-bop",
        "custody-at-rrc",
        "home-with-facility",
        "community-with-facility",
        "rrc-without-facility",
        "placement-of-other-stage",
        "stage-2-without-placement",
        "custody-with-rrc-placement",
        "before-stage-2",
        "before-enrolment",
        "exit-before-stage",
        "future-transition",
        "future-exit",
        "naive-time",
        "exited-then-2",
        "exited-then-3",
        "exited-then-custody",
        "exit-twice",
    ],
)
def test_illegal_moves_are_refused_and_append_nothing(client, db, grantee, moves, steps, bad, code):
    pid, post, state = moves(*steps)
    before, events_before = state(pid), count_events(db, grantee)
    r = post(pid, {k: v for k, v in bad.items() if v is not None})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["type"] == f"urn:prowd:problem:{code}"
    assert state(pid) == before
    assert count_events(db, grantee) == events_before


def test_a_move_before_the_stage_began_names_both_times_in_the_callers_offset(moves):
    pid, post, _ = moves(TO_RRC)
    r = post(pid, {**TO_COMMUNITY, "occurred_at": "2026-02-15T08:00:00-05:00"})
    assert r.status_code == 422 and r.json()["code"] == "before_current_stage", r.text
    # Stage 2 began 2026-03-01T09:00:00Z: 04:00 in the offset the caller wrote.
    assert "(2026-03-01T04:00:00-05:00)" in r.json()["detail"], r.text


def test_moving_an_unknown_participant_is_404(client, auth, grantee, db):
    before = count_events(db, grantee)
    r = client.post(
        f"/v1/grantees/{grantee}/participants/00000000-0000-4000-8000-000000000000/stage-transitions",
        json=TO_RRC,
        headers=auth("case_manager", grantee),
    )
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert count_events(db, grantee) == before


def test_moving_to_an_unknown_facility_is_404(moves):
    pid, post, state = moves()
    before = state(pid)
    r = post(pid, {**TO_RRC, "facility": "RRC-NOPE"})
    assert r.status_code == 404
    assert state(pid) == before
