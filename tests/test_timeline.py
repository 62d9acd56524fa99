"""The participant timeline over HTTP, on the real app and PostgreSQL: every fact about a
participant in the order they happened (enrolment to escalation; a fact recorded late takes its
place in time), never another participant's, paged by `next_cursor`; confidential notes,
escalation descriptions and feedback comments never leave the log; feedback and escalation rows
only for the roles that may read them; peer mentors see their own mentees only; and the live
views equal a rebuild from the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain import clock
from projections.registry import PROJECTIONS
from services.projector import live as projector
from services.projector import rebuilds
from tests.meetings_helpers import NOTE, OFF_SITE, World, held
from tests.mentoring_helpers import Api

MENTOR_SUB = "pm-marcus"
OTHER_SUB = "pm-rosa"
AMENDED_NOTE = "Disclosed a relapse worry to the mentor only; do not share."
DESCRIPTION = "Mentee voiced thoughts of self-harm after a family call."
OTHER_DESCRIPTION = "Mentor feels out of depth with a hostile stranger."
COMMENT = "Marcus is the first person who listened to me."
OTHER_COMMENT = "Rosa helped me find a bus pass."
NAMES = (
    "Quenby",
    "Farthingale",
    "Ysolde",
    "Brackenridge",
    "Odalric",
    "Pemberthy",
    "Isembard",
    "Wolstenholme",
)
SECRETS = (NOTE, AMENDED_NOTE, DESCRIPTION, OTHER_DESCRIPTION, COMMENT, OTHER_COMMENT)

CASE_KINDS = [
    "participant.Enrolled",
    "participant.PairingJoined",
    "participant.StageTransitioned",
    "pairing.FlaggedForReview",
    "pairing.FlagResolved",
    "meeting.Scheduled",
    "meeting.Held",
    "pairing.FirstMeetingRecorded",
    "meeting.Scheduled",
    "meeting.Missed",
    "meeting.Scheduled",
    "meeting.Cancelled",
    "meeting.Amended",
    "goal.Set",
    "goal.StepAdded",
    "goal.ProgressRecorded",
    "goal.Revised",
    "goal.StepCompleted",
    "goal.Achieved",
    "referral.Made",
    "referral.Connected",
    "outcomes.EmploymentStarted",
]
FEEDBACK_KINDS = ["feedback.Given"]
ESCALATION_KINDS = ["escalation.Raised", "escalation.Acknowledged", "escalation.Resolved"]
ALL_KINDS = CASE_KINDS + FEEDBACK_KINDS + ESCALATION_KINDS


def now() -> datetime:
    return clock.now()


def ago(**delta: float) -> str:
    return (now() - timedelta(**delta)).isoformat()


def day(offset: int) -> str:
    return (now().date() + timedelta(days=offset)).isoformat()


@dataclass
class Case:
    api: Api
    mentee: str  # paired with `mentor` (subject pm-marcus); the timeline under test
    other: str  # paired with `other_mentor` (subject pm-rosa); has records of their own
    mentor: str
    other_mentor: str
    pairing: str
    other_pairing: str
    held_meeting: str
    other_ids: set[str]  # ids of the records about `other` only
    last: int  # the position of the last write

    def path(self, participant: str | None = None) -> str:
        return f"{self.api.base}/participants/{participant or self.mentee}/timeline"

    def read(
        self,
        participant: str | None = None,
        *,
        role: str = "coordinator",
        sub: str | None = None,
        **params: Any,
    ) -> tuple[int, str, Any]:
        """GET the timeline at `last`; (status, raw body, parsed body)."""
        projector.drain(self.api.db, f"g_{self.api.slug}")
        r = self.api.client.get(
            self.path(participant),
            params={"min_position": self.last, **params},
            headers=self.api.headers(role, sub),
        )
        return r.status_code, r.text, r.json()


def build_case(api: Api) -> Case:
    grad = api.enrol("C1", first_name=NAMES[0], last_name=NAMES[1])
    other_grad = api.enrol("C1", first_name=NAMES[6], last_name=NAMES[7])
    api.graduate("C1", "2026-06-01")
    api.cohort("C2", "2026-07-06")
    mentee = api.enrol("C2", "2026-07-06", first_name=NAMES[2], last_name=NAMES[3])
    other = api.enrol("C2", "2026-07-06", first_name=NAMES[4], last_name=NAMES[5])
    mentor = api.certified("Marcus W.", participant_id=grad, subject=MENTOR_SUB)
    other_mentor = api.certified("Rosa P.", participant_id=other_grad, subject=OTHER_SUB)
    pairing = api.pair(mentor, [mentee], opened_at=ago(days=20))["id"]
    other_pairing = api.pair(other_mentor, [other], opened_at=ago(days=20))["id"]

    # A move to the RRC makes the graduate mentor ineligible: the pairing is flagged, then resolved.
    api.move(mentee, 2, placement="rrc", facility="RRC-1", at=ago(days=15))
    flagged = api.get(f"/pairings/{pairing}")["open_flags"]
    assert set(flagged) == {"mentee_ineligible"}
    api.post(
        f"/pairings/{pairing}/flag-resolutions",
        {"flag": "mentee_ineligible", "resolution": "meets off site until a rematch"},
    )

    off_site = {"kind": "off_site"}
    r = api.client.post(
        api.base + "/meetings",
        json={
            "pairing_id": pairing,
            "scheduled_for": ago(days=6),
            "location": off_site,
            "held": held(ago(days=6), summary="Worked on a resume.", confidential_note=NOTE),
        },
        headers=api.headers("peer_mentor", MENTOR_SUB),
    )
    assert r.status_code == 201, r.text
    held_meeting = r.json()["id"]
    missed = api.post(
        "/meetings", {"pairing_id": pairing, "scheduled_for": ago(days=4), "location": off_site}
    )["id"]
    api.post(f"/meetings/{missed}/missed", {"no_show_by": "mentee", "note": "no call"})
    cancelled = api.post(
        "/meetings", {"pairing_id": pairing, "scheduled_for": ago(days=2), "location": off_site}
    )["id"]
    api.post(f"/meetings/{cancelled}/cancellation", {"reason": "RRC lockdown", "excused": True})
    api.post(
        f"/meetings/{held_meeting}/amendments",
        {
            "reason": "wrong duration",
            "record": held(
                ago(days=6), 45, summary="Worked on a resume.", confidential_note=AMENDED_NOTE
            ),
        },
    )

    goal = api.post(
        "/goals",
        {
            "participant_id": mentee,
            "horizon": "short_term",
            "domain": "id_documents",
            "statement": "Get a state ID card",
            "measure": "ID card issued by the DMV",
            "target": "card in hand",
            "target_date": day(60),
        },
    )["id"]
    step = api.post(f"/goals/{goal}/steps", {"description": "book a DMV slot"})["steps"][0][
        "step_id"
    ]
    api.post(f"/goals/{goal}/progress", {"note": "slot booked", "evidence": "email", "percent": 40})
    api.post(f"/goals/{goal}/revisions", {"reason": "DMV backlog", "target_date": day(45)})
    api.post(f"/goals/{goal}/steps/{step}/completion", {"note": "done"})
    api.post(f"/goals/{goal}/achievement", {"note": "card in hand"})

    resource = api.post(
        "/resources", {"name": "Second Chance Staffing", "category": "job_placement"}
    )["id"]
    referral = api.post(
        "/referrals",
        {
            "participant_id": mentee,
            "resource_id": resource,
            "need": "a fair-chance employer",
            "meeting_id": held_meeting,
        },
    )["id"]
    api.post(
        f"/referrals/{referral}/connection", {"connected_on": day(0), "note": "interview Monday"}
    )
    api.post(
        f"/participants/{mentee}/outcomes/employment",
        {
            "employer": "Tri-County Logistics",
            "started_on": day(-1),
            "wage": "18.50",
            "wage_unit": "hourly",
            "hours_per_week": 40,
            "job_title": "forklift operator",
        },
    )
    api.post(
        "/feedback",
        {
            "pairing_id": pairing,
            "participant_id": mentee,
            "given_on": day(0),
            "ratings": [{"question": "trust", "score": 5}],
            "comment": COMMENT,
        },
    )
    crisis = api.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "participant_id": mentee,
            "type": "crisis",
            "severity": "high",
            "description": DESCRIPTION,
            "raised_at": ago(hours=5),
        },
    )["id"]
    api.post(f"/escalations/{crisis}/acknowledgement", {"acknowledged_at": ago(hours=4)})
    api.post(f"/escalations/{crisis}/resolution", {"resolution": "safety plan agreed"})
    # An escalation about no participant reaches nobody's timeline.
    api.post(
        "/escalations",
        {
            "mentor_id": mentor,
            "type": "boundary_concern",
            "severity": "low",
            "description": OTHER_DESCRIPTION,
        },
    )

    # The other participant's own records.
    other_ids = {other_pairing}
    other_meeting = api.post(
        "/meetings",
        {
            "pairing_id": other_pairing,
            "scheduled_for": ago(days=3),
            "location": off_site,
            "held": held(ago(days=3), confidential_note=NOTE),
        },
    )["id"]
    other_ids.add(other_meeting)
    other_goal = api.post(
        "/goals",
        {
            "participant_id": other,
            "horizon": "short_term",
            "domain": "employment",
            "statement": "Apply to three jobs",
            "measure": "applications sent",
            "target": "3",
            "target_date": day(30),
        },
    )["id"]
    other_ids.add(other_goal)
    other_feedback = api.post(
        "/feedback",
        {
            "pairing_id": other_pairing,
            "participant_id": other,
            "given_on": day(0),
            "ratings": [{"question": "overall", "score": 4}],
            "comment": OTHER_COMMENT,
        },
    )["id"]
    other_ids.add(other_feedback)
    last = api.post(
        "/escalations",
        {
            "mentor_id": other_mentor,
            "participant_id": other,
            "type": "safety",
            "severity": "medium",
            "description": OTHER_DESCRIPTION,
        },
    )
    other_ids.add(last["id"])
    return Case(
        api,
        mentee,
        other,
        mentor,
        other_mentor,
        pairing,
        other_pairing,
        held_meeting,
        other_ids,
        last["position"],
    )


@pytest.fixture
def case(client, auth, grantee, db) -> Case:
    return build_case(Api(client, auth, grantee, db))


def kinds(page: Any) -> list[str]:
    """The page's kinds in log order (the order they were recorded); the page itself is in
    time order (`in_time_order`)."""
    return [e["kind"] for e in sorted(page["items"], key=position)]


def position(entry: dict[str, Any]) -> int:
    return int(entry["position"])


def in_time_order(page: Any) -> bool:
    keys = [(datetime.fromisoformat(e["occurred_at"]), e["position"]) for e in page["items"]]
    return keys == sorted(keys)


def assert_no_secrets(raw: str) -> None:
    for text in SECRETS + NAMES:
        assert text not in raw, f"{text!r} leaked into a timeline response"
    assert 'confidential_note"' not in raw.replace('has_confidential_note"', "")


# -- content and order ----------------------------------------------------------------------
def test_the_timeline_lists_every_fact_about_the_participant_in_time_order(case):
    status, raw, page = case.read()
    assert status == 200, raw
    assert page["participant_id"] == case.mentee and page["next_cursor"] is None
    assert kinds(page) == ALL_KINDS and in_time_order(page)
    positions = [e["position"] for e in page["items"]]
    # The case records facts late (meetings held days before the flag recorded before them).
    assert positions != sorted(positions) and len(set(positions)) == len(positions)
    assert max(positions) <= case.last
    items = page["items"]
    assert items[0]["subject_id"] == case.mentee
    assert {e["subject_id"] for e in items if e["kind"].startswith("pairing.")} == {case.pairing}
    held_row = next(e for e in items if e["kind"] == "meeting.Held")
    assert held_row["subject_id"] == case.held_meeting
    assert held_row["recorded_by"] == MENTOR_SUB
    assert held_row["detail"]["record"]["has_confidential_note"] is True
    assert "confidential_note" not in held_row["detail"]["record"]
    assert held_row["detail"]["record"]["summary"] == "Worked on a resume."
    amended = next(e for e in items if e["kind"] == "meeting.Amended")
    assert amended["detail"]["record"]["has_confidential_note"] is True
    assert amended["detail"]["record"]["duration_minutes"] == 45
    joined = next(e for e in items if e["kind"] == "participant.PairingJoined")
    assert joined["detail"]["pairing_id"] == case.pairing
    audiences = {e["kind"]: e["audience"] for e in items}
    assert audiences["feedback.Given"] == "evaluation"
    assert {audiences[k] for k in ESCALATION_KINDS} == {"supervision"}
    assert {audiences[k] for k in CASE_KINDS} == {"case"}
    # Nothing lies in the future.
    for e in items:
        assert datetime.fromisoformat(e["occurred_at"]) <= now()
        assert datetime.fromisoformat(e["recorded_at"]) <= now()


def test_entries_about_other_participants_never_appear(case):
    _, _, mine = case.read()
    _, raw_other, theirs = case.read(case.other)
    mine_ids = {e["subject_id"] for e in mine["items"]}
    their_ids = {e["subject_id"] for e in theirs["items"]}
    assert not mine_ids & case.other_ids
    assert case.other not in mine_ids and case.other not in str(mine)
    assert case.other_ids <= their_ids | {case.other_pairing}
    assert not their_ids & (mine_ids - {case.mentee}) and case.mentee not in raw_other
    assert kinds(theirs) == [
        "participant.Enrolled",
        "participant.PairingJoined",
        "meeting.Scheduled",
        "meeting.Held",
        "pairing.FirstMeetingRecorded",
        "goal.Set",
        "feedback.Given",
        "escalation.Raised",
    ]
    # The escalation about no participant is in no timeline.
    assert OTHER_DESCRIPTION not in raw_other
    assert sum(k == "escalation.Raised" for k in kinds(mine)) == 1


def test_pages_follow_next_cursor_to_the_same_list(case):
    _, _, whole = case.read()
    seen: list[dict[str, Any]] = []
    cursor = ""
    pages = 0
    while True:
        status, raw, page = case.read(limit=4, cursor=cursor)
        assert status == 200, raw
        assert len(page["items"]) <= 4
        seen += page["items"]
        pages += 1
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == whole["items"]
    assert pages == -(-len(ALL_KINDS) // 4)
    # An exact fit gives no further cursor.
    _, _, exact = case.read(limit=len(ALL_KINDS))
    assert exact["next_cursor"] is None and exact["items"] == whole["items"]
    status, raw, _ = case.read(limit=0)
    assert status == 400, raw


def test_a_member_who_leaves_a_group_hears_no_more_of_it(client, auth, grantee, db):
    api = Api(client, auth, grantee, db)
    grad = api.enrol("C1", first_name=NAMES[0], last_name=NAMES[1])
    api.graduate("C1", "2026-06-01")
    api.cohort("C2", "2026-07-06")
    a, b, c = (api.enrol("C2", "2026-07-06", first_name=n) for n in NAMES[2:5])
    mentor = api.certified("Marcus W.", participant_id=grad, subject=MENTOR_SUB)
    group = api.pair(mentor, [a, b, c], kind="group", opened_at=ago(days=10))["id"]

    def meeting(at: str, members: list[str] | None = None) -> str:
        body: dict[str, Any] = {"pairing_id": group, "scheduled_for": at, "location": OFF_SITE}
        if members is not None:
            body["held"] = held(at, attendance={m: "present" for m in members})
        return str(api.post("/meetings", body)["id"])

    together = meeting(ago(days=5), [a, b, c])
    pending = meeting(ago(days=3))  # scheduled while b is a member, held after b left
    api.post(f"/pairings/{group}/member-removals", {"participant_id": b, "reason": "moved away"})
    api.post(f"/meetings/{pending}/held", held(ago(days=3), attendance={a: "present", c: "absent"}))
    api.post(
        f"/meetings/{together}/amendments",
        {
            "reason": "wrong duration",
            "record": held(ago(days=5), 40, attendance={a: "present", c: "present"}),
        },
    )
    later = meeting(ago(days=1), [a, c])
    projector.drain(db, f"g_{grantee}")

    def rows(pid: str) -> list[tuple[str, str]]:
        r = client.get(f"{api.base}/participants/{pid}/timeline", headers=api.headers())
        assert r.status_code == 200, r.text
        assert in_time_order(r.json())
        return [(e["kind"], e["subject_id"]) for e in sorted(r.json()["items"], key=position)]

    left = rows(b)
    assert [k for k, _ in left] == [
        "participant.Enrolled",
        "participant.PairingJoined",
        "meeting.Scheduled",
        "meeting.Held",
        "pairing.FirstMeetingRecorded",
        "meeting.Scheduled",
        "participant.PairingLeft",
        "meeting.Amended",
    ]
    assert ("meeting.Held", pending) not in left and later not in {s for _, s in left}
    stayed = rows(a)
    assert ("meeting.Held", pending) in stayed and ("meeting.Held", later) in stayed
    assert ("meeting.Amended", together) in stayed
    # b re-joins: the group's new meetings reach b again.
    api.post(f"/pairings/{group}/members", {"participant_id": b})
    again = meeting(ago(hours=2), [a, b, c])
    projector.drain(db, f"g_{grantee}")
    assert ("meeting.Held", again) in rows(b)


# -- redaction by role ----------------------------------------------------------------------
@pytest.mark.parametrize("role", ["coordinator", "grantee_admin", "auditor"])
def test_coordinator_side_roles_see_feedback_and_escalations_without_their_text(case, role):
    status, raw, page = case.read(role=role)
    assert status == 200, raw
    assert kinds(page) == ALL_KINDS
    assert_no_secrets(raw)
    raised = next(e for e in page["items"] if e["kind"] == "escalation.Raised")
    assert (raised["detail"]["type"], raised["detail"]["severity"]) == ("crisis", "high")
    assert "description" not in raised["detail"]
    given = next(e for e in page["items"] if e["kind"] == "feedback.Given")
    assert "comment" not in given["detail"] and given["detail"]["ratings"]


def test_a_case_manager_sees_the_case_but_no_feedback_or_escalations(case):
    status, raw, page = case.read(role="case_manager")
    assert status == 200, raw
    assert kinds(page) == CASE_KINDS
    assert {e["audience"] for e in page["items"]} == {"case"}
    assert_no_secrets(raw)
    # Pages count only the visible rows.
    status, _, first = case.read(role="case_manager", limit=len(CASE_KINDS) - 1)
    assert status == 200 and first["next_cursor"] is not None
    status, _, rest = case.read(role="case_manager", cursor=first["next_cursor"])
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert first["items"] + rest["items"] == page["items"]


def test_a_peer_mentor_sees_their_own_mentees_case_rows_only(case):
    status, raw, page = case.read(role="peer_mentor", sub=MENTOR_SUB)
    assert status == 200, raw
    assert kinds(page) == CASE_KINDS
    assert_no_secrets(raw)
    # Not their mentee: not found, with no data.
    for participant, sub in (
        (case.other, MENTOR_SUB),
        (case.mentee, OTHER_SUB),
        (case.mentee, "pm-nobody"),
    ):
        status, raw, body = case.read(participant, role="peer_mentor", sub=sub)
        assert status == 404, raw
        assert "items" not in body and "kind" not in raw
        assert_no_secrets(raw)
    status, _, theirs = case.read(case.other, role="peer_mentor", sub=OTHER_SUB)
    assert status == 200 and "feedback.Given" not in kinds(theirs)


@pytest.mark.parametrize("role", ["platform_admin", "federal_oversight", "rrc_staff"])
def test_roles_without_the_right_to_read_participants_are_forbidden(case, role):
    status, raw, body = case.read(role=role)
    assert status == 403, raw
    assert "items" not in body
    assert_no_secrets(raw)


def test_another_grantees_token_finds_nothing(case, make_grantee, auth):
    elsewhere = make_grantee()
    for role in ("coordinator", "auditor", "grantee_admin"):
        r = case.api.client.get(
            case.path(), params={"min_position": case.last}, headers=auth(role, elsewhere)
        )
        assert r.status_code == 404, r.text
        assert "items" not in r.json() and "kind" not in r.text
        assert_no_secrets(r.text)
    # Nor does the other grantee's own path know this participant.
    r = case.api.client.get(
        f"/v1/grantees/{elsewhere}/participants/{case.mentee}/timeline",
        headers=auth("coordinator", elsewhere),
    )
    assert r.status_code == 404, r.text
    assert "items" not in r.json()


def test_an_unknown_participant_is_not_found(case):
    status, raw, _ = case.read("6e25b1f4-3b2a-4a96-91e5-9f67672a017e")
    assert status == 404, raw


def test_the_meeting_itself_still_shows_that_a_confidential_note_exists(case):
    r = case.api.client.get(
        f"{case.api.base}/meetings/{case.held_meeting}", headers=case.api.headers("case_manager")
    )
    assert r.status_code == 200, r.text
    assert r.json()["held"]["has_confidential_note"] is True
    assert AMENDED_NOTE not in r.text


# -- rebuild ----------------------------------------------------------------------------------
def test_the_live_views_equal_a_rebuild_from_the_log(case):
    api = case.api
    schema = f"g_{api.slug}"
    projector.drain(api.db, schema)
    before = {p: case.read(p)[2] for p in (case.mentee, case.other)}
    live = projector.digests(api.db, schema)
    assert sorted(live) == sorted(p.name for p in PROJECTIONS)
    assert "timeline" in live
    for view in live:
        assert rebuilds.rebuild(api.db, schema, view) >= 2
    assert projector.digests(api.db, schema) == live
    assert {p: case.read(p)[2] for p in (case.mentee, case.other)} == before
    # The rebuilt timeline goes on live.
    extra = api.post(
        "/goals",
        {
            "participant_id": case.mentee,
            "horizon": "short_term",
            "domain": "housing",
            "statement": "Find a room",
            "measure": "lease signed",
            "target": "1 lease",
            "target_date": day(40),
        },
    )
    case.last = extra["position"]
    status, _, page = case.read()
    assert status == 200 and kinds(page) == [*ALL_KINDS, "goal.Set"] and in_time_order(page)
    assert max(e["position"] for e in page["items"]) == extra["position"]
    projector.drain(api.db, schema)
    live = projector.digests(api.db, schema)
    assert rebuilds.rebuild(api.db, schema, "timeline") >= 3
    assert projector.digests(api.db, schema) == live


# -- time order ------------------------------------------------------------------------------
def at(entry: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(entry["occurred_at"]), entry["position"]


def test_a_fact_recorded_late_takes_its_place_in_time(client, auth, db):
    """A meeting held in November but recorded after one held in December comes first; pages
    follow the same order, whatever their size."""
    w = World(client, auth, db)
    pid = w.enrol(name="Odalys")
    pairing = w.pair(w.mentor("mentor-zed"), [pid], "2025-10-01T15:00:00Z")
    december = w.meet(pairing, "2025-12-05T16:00:00Z")["id"]
    november = w.meet(pairing, "2025-11-03T16:00:00Z")["id"]
    projector.drain(db, w.schema)
    path = f"{w.base}/participants/{pid}/timeline"
    r = client.get(path, headers=w.headers())
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    held_ids = [e["subject_id"] for e in items if e["kind"] == "meeting.Held"]
    assert held_ids == [november, december], items
    assert [at(e) for e in items] == sorted(at(e) for e in items)
    positions = [e["position"] for e in items]
    assert positions != sorted(positions) and len(set(positions)) == len(positions)
    for limit in (1, 2, 3):
        seen: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = client.get(path, params={"limit": limit, "cursor": cursor}, headers=w.headers())
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == items, limit
    r = client.get(path, params={"cursor": "not-a-cursor"}, headers=w.headers())
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", r.text
