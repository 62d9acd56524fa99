"""A case manager's `open_crisis` alerts (decision 129), over HTTP on the real app and
PostgreSQL with a frozen clock: a crisis about a participant they hold (as `assigned_to=me`
reads it) shows after 24 hours and not before, never one about another case manager's
participant or about no participant, and never the escalation's text, who raised it or the
mentor; what the supervision roles see is unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.projector import live as projector
from tests.mentoring_helpers import Api

# Thursday 2026-11-26, 15:00 UTC: the crises are raised then.
RAISED = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CM, OTHER_CM = "cm-ines", "cm-oskar"
# What the supervision records hold that a case manager's alert must never carry.
SECRET = "said he would hurt himself tonight"
OTHER_SECRET = "lost her bed at the shelter"
MENTOR_SUBJECT = "pm-whitlow"
NAMES = (
    "Quisenberry",
    "Vanterpool",
    "Okonkwo-Baird",
    "Castellanos",
    "Marcus Whitlow",
    "Hieronymus",
)


@dataclass
class World:
    api: Api
    mentor: str
    mine: str  # case manager: CM
    coordinated: str  # CM holds the coordinator duty (no case manager)
    theirs: str  # case manager: OTHER_CM
    nobodys: str  # no one assigned
    crisis: str  # about `mine`
    crisis_coordinated: str
    crisis_theirs: str
    crisis_nobodys: str
    crisis_no_one: str  # about no participant
    last: int

    def alerts(
        self, role: str = "case_manager", sub: str | None = CM, **params: Any
    ) -> tuple[int, str, dict[str, Any]]:
        projector.drain(self.api.db, f"g_{self.api.slug}")
        r = self.api.client.get(
            self.api.base + "/alerts",
            params={"min_position": self.last, **params},
            headers=self.api.headers(role, sub),
        )
        return r.status_code, r.text, r.json()

    def crises(self, role: str = "case_manager", sub: str | None = CM, **params: Any) -> Any:
        status, raw, body = self.alerts(role, sub, kind="open_crisis", **params)
        assert status == 200, raw
        return {a["subject_id"]: a for a in body["items"]}

    def post(self, path: str, body: dict[str, Any]) -> Any:
        out = self.api.post(path, body)
        self.last = out["position"]
        return out


def assign(api: Api, participant: str, duty: str, staff: str | None) -> int:
    body = {"duty": duty, "staff": staff}
    return int(api.post(f"/participants/{participant}/assignments", body)["position"])


def raise_crisis(api: Api, mentor: str, participant: str | None, text: str, **extra: Any) -> Any:
    body = {
        "mentor_id": mentor,
        "type": "crisis",
        "severity": "high",
        "description": text,
        "raised_at": RAISED.isoformat(),
        **extra,
    }
    if participant is not None:
        body["participant_id"] = participant
    return api.post("/escalations", body)


@pytest.fixture
def w(client, auth, grantee, db, frozen_at) -> World:
    frozen_at(RAISED)
    api = Api(client, auth, grantee, db)
    # The mentor is a graduate of an earlier cohort, as a stage 1 mentee's must be.
    grad = api.enrol("C1", first_name="Eli", last_name=NAMES[5])
    api.graduate("C1", "2026-06-01")
    api.cohort("C2", "2026-07-06")
    mine, coordinated, theirs, nobodys = (
        api.enrol("C2", "2026-07-06", first_name=first, last_name=last)
        for first, last in zip(("Ada", "Ben", "Cleo", "Dov"), NAMES, strict=False)
    )
    mentor = api.certified(NAMES[4], participant_id=grad, subject=MENTOR_SUBJECT)
    for person in (mine, coordinated, theirs, nobodys):
        api.pair(mentor, [person], opened_at=(RAISED - timedelta(days=3)).isoformat())
    assign(api, mine, "case_manager", CM)
    assign(api, coordinated, "coordinator", CM)
    assign(api, theirs, "case_manager", OTHER_CM)
    crisis = raise_crisis(api, mentor, mine, SECRET, severity="critical")["id"]
    crisis_coordinated = raise_crisis(api, mentor, coordinated, SECRET)["id"]
    crisis_theirs = raise_crisis(api, mentor, theirs, OTHER_SECRET)["id"]
    crisis_nobodys = raise_crisis(api, mentor, nobodys, OTHER_SECRET)["id"]
    crisis_no_one = raise_crisis(api, mentor, None, OTHER_SECRET)["id"]
    # An old escalation about the case manager's own participant that is not a crisis.
    last = api.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "participant_id": mine,
            "type": "safety",
            "severity": "high",
            "description": SECRET,
            "raised_at": (RAISED - timedelta(days=2)).isoformat(),
        },
    )["position"]
    return World(
        api,
        mentor,
        mine,
        coordinated,
        theirs,
        nobodys,
        crisis,
        crisis_coordinated,
        crisis_theirs,
        crisis_nobodys,
        crisis_no_one,
        last,
    )


def assert_nothing_confidential(raw: str, w: World) -> None:
    for text in (SECRET, OTHER_SECRET, MENTOR_SUBJECT, w.mentor, "test-coordinator", *NAMES):
        assert text not in raw, f"{text!r} in a case manager's alerts"


def test_a_case_manager_sees_a_crisis_about_their_participant_after_24_hours_not_before(
    w, frozen_at
):
    frozen_at(RAISED + timedelta(hours=23, minutes=59))
    assert w.crises() == {}
    assert w.crises(role="coordinator", sub=None) == {}

    frozen_at(RAISED + timedelta(hours=25))
    status, raw, body = w.alerts()
    assert status == 200, raw
    crises = {a["subject_id"]: a for a in body["items"] if a["kind"] == "open_crisis"}
    # Theirs (as case manager, and as coordinator: `assigned_to=me`), never another case
    # manager's participant's, an unassigned participant's or one about no participant.
    assert set(crises) == {w.crisis, w.crisis_coordinated}
    assert body["counts"]["open_crisis"] == 2
    alert = crises[w.crisis]
    assert alert == {
        "kind": "open_crisis",
        "subject": "escalation",
        "subject_id": w.crisis,
        "since": alert["since"],
        "detail": "critical crisis unresolved for 25 h, raised with the coordinators,"
        " not acknowledged yet",
        "mentor_id": None,
        "participant_id": w.mine,
        "pairing_id": None,
    }
    assert datetime.fromisoformat(alert["since"]) == RAISED
    # No description, no mentor, no one who raised it, no name: only what the alert says.
    assert_nothing_confidential(raw, w)
    # The escalation itself stays the supervision roles'.
    r = w.api.client.get(
        w.api.base + f"/escalations/{w.crisis}", headers=w.api.headers("case_manager", CM)
    )
    assert r.status_code == 403 and SECRET not in r.text


def test_another_case_manager_sees_only_theirs_and_a_reassignment_moves_the_alert(w, frozen_at):
    frozen_at(RAISED + timedelta(hours=30))
    assert set(w.crises(sub=OTHER_CM)) == {w.crisis_theirs}
    # A case manager with nobody assigned sees no crisis at all.
    assert w.crises(sub="cm-new") == {}
    # Asking for another case manager's participants never shows their crises.
    assert w.crises(assigned_to=OTHER_CM) == {}
    assert set(w.crises(assigned_to="me")) == {w.crisis, w.crisis_coordinated}
    # The participant changes hands: the alert follows the assignment.
    w.last = assign(w.api, w.mine, "case_manager", OTHER_CM)
    assert set(w.crises()) == {w.crisis_coordinated}
    assert set(w.crises(sub=OTHER_CM)) == {w.crisis, w.crisis_theirs}
    w.last = assign(w.api, w.mine, "case_manager", None)
    assert w.crisis not in w.crises(sub=OTHER_CM) and w.crisis not in w.crises()


def test_the_alert_says_who_holds_the_crisis_and_goes_when_it_is_resolved(w, frozen_at):
    frozen_at(RAISED + timedelta(hours=26))
    w.post(
        f"/escalations/{w.crisis}/acknowledgement",
        {"acknowledged_at": (RAISED + timedelta(hours=1)).isoformat(), "note": SECRET},
    )
    status, raw, _ = w.alerts(kind="open_crisis")
    assert status == 200, raw
    assert w.crises()[w.crisis]["detail"] == (
        "critical crisis unresolved for 26 h, held by test-coordinator (acknowledged)"
    )
    assert SECRET not in raw
    # The supervision roles' detail is as it has always been.
    assert w.crises(role="coordinator", sub=None)[w.crisis]["detail"] == (
        "critical crisis unresolved for 26 h"
    )
    w.post(f"/escalations/{w.crisis}/resolution", {"resolution": OTHER_SECRET})
    assert w.crisis not in w.crises()
    assert w.crisis not in w.crises(role="coordinator", sub=None)


@pytest.mark.parametrize("role", ["coordinator", "grantee_admin"])
def test_the_supervision_roles_see_every_crisis_as_before(w, frozen_at, role):
    frozen_at(RAISED + timedelta(hours=25))
    crises = w.crises(role=role, sub=None)
    assert set(crises) == {
        w.crisis,
        w.crisis_coordinated,
        w.crisis_theirs,
        w.crisis_nobodys,
        w.crisis_no_one,
    }
    alert = crises[w.crisis]
    assert (alert["mentor_id"], alert["participant_id"]) == (w.mentor, w.mine)
    assert alert["detail"] == "critical crisis unresolved for 25 h, not acknowledged"
    assert crises[w.crisis_no_one]["participant_id"] is None
    # And their debriefs due, which a case manager never sees.
    assert w.alerts(role=role, sub=None)[2]["counts"]["debrief_due"] == 1
    assert "debrief_due" not in w.alerts()[2]["counts"]


@pytest.mark.parametrize("role", ["peer_mentor", "auditor", "rrc_staff", "federal_oversight"])
def test_roles_without_the_alerts_see_no_crisis(w, frozen_at, role):
    """A peer mentor raises escalations and reads no alerts (decision 129); the others read no
    alerts either."""
    frozen_at(RAISED + timedelta(hours=25))
    sub = MENTOR_SUBJECT if role == "peer_mentor" else None
    status, raw, _ = w.alerts(role=role, sub=sub)
    assert status == 403, raw
    assert SECRET not in raw and w.crisis not in raw
