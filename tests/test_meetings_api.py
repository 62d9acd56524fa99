"""Meetings over HTTP with PostgreSQL: the life of a meeting, its rules (each accepted and
refused: a 422 problem with a stable code and nothing appended), confidential notes, class
hours, weekly cadence in the grantee's time zone, alerts, the first meeting, projections and
the OpenAPI document. Today is 2026-11-26 (UTC), in 2026-W48."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import clock
from domain.cadence import week_name
from services.projector import live as projector
from services.projector import rebuilds
from tests.meetings_helpers import NOTE, REMOTE, World, held, inside


@pytest.fixture
def world(client: Any, auth: Any, db: Any) -> World:
    return World(client, auth, db, "America/Chicago")


def make_world(client: Any, auth: Any, db: Any, tz: str) -> World:
    return World(client, auth, db, tz)


def solo(
    w: World, opened_at: str = "2026-10-01T15:00:00Z", subject: str = "mentor-a", **kw: Any
) -> tuple[str, str, str]:
    """(mentor id, mentee id, pairing id) of a new individual pairing."""
    mentor = w.mentor(subject, **kw)
    mentee = w.enrol()
    return mentor, mentee, w.pair(mentor, [mentee], opened_at)


# -- the life of a meeting --


def test_a_meeting_recorded_as_held_plans_what_it_took_unless_told(world: World) -> None:
    """A held meeting posted without `planned_minutes` records its duration as its plan, not
    an invented hour (decision 108); a plan given is kept; a meeting only scheduled without
    one is planned for the documented 60 minutes."""
    w = world
    _, _, pid = solo(w)
    held_45 = w.meet(pid, "2026-11-03T18:00:00-06:00", 45)
    assert (held_45["planned_minutes"], held_45["held"]["duration_minutes"]) == (45, 45)
    body = w.meeting_body(
        pid, "2026-11-10T18:00:00-06:00", record=held("2026-11-10T18:00:00-06:00", 30)
    )
    planned = w.post("/meetings", {**body, "planned_minutes": 90})
    assert (planned["planned_minutes"], planned["held"]["duration_minutes"]) == (90, 30)
    assert w.schedule(pid, "2026-11-17T18:00:00-06:00")["planned_minutes"] == 60


def test_a_meeting_is_scheduled_then_held_missed_or_cancelled(world: World) -> None:
    w = world
    _, mentee, pid = solo(w)
    m = w.schedule(pid, "2026-11-03T18:00:00-06:00")
    assert (m["status"], m["week"]) == ("scheduled", "2026-W45")
    assert "held" not in m

    h = w.post(
        f"/meetings/{m['id']}/held",
        held(
            "2026-11-03T18:10:00-06:00",
            50,
            ["employment", "housing"],
            summary="resume",
            attendance={mentee: "present"},
        ),
    )
    assert h["status"] == "held"
    assert h["held"]["duration_minutes"] == 50 and h["held"]["topics"] == ["employment", "housing"]
    assert h["held"]["attendance"] == {mentee: "present"}
    assert (
        h["held"]["location"]["kind"] == "off_site" and h["held"]["has_confidential_note"] is False
    )
    w.refused(
        f"/meetings/{m['id']}/held", held("2026-11-03T18:10:00-06:00"), "meeting_not_scheduled"
    )
    w.refused(f"/meetings/{m['id']}/missed", {"no_show_by": "mentee"}, "meeting_not_scheduled")
    w.refused(f"/meetings/{m['id']}/cancellation", {"reason": "late"}, "meeting_not_scheduled")

    missed = w.schedule(pid, "2026-11-10T18:00:00-06:00")
    out = w.post(f"/meetings/{missed['id']}/missed", {"no_show_by": "mentee", "note": "no call"})
    assert out["status"] == "missed"
    w.refused(f"/meetings/{missed['id']}/missed", {"no_show_by": "mentor"}, "meeting_not_scheduled")

    excused = w.schedule(pid, "2026-11-17T18:00:00-06:00")
    assert (
        w.post(
            f"/meetings/{excused['id']}/cancellation",
            {"reason": "facility lockdown", "excused": True},
        )["status"]
        == "cancelled"
    )
    unexcused = w.schedule(pid, "2026-10-20T18:00:00-05:00")
    w.post(f"/meetings/{unexcused['id']}/cancellation", {"reason": "mentor busy"})
    w.refused(
        f"/meetings/{unexcused['id']}/held",
        held("2026-10-20T18:00:00-05:00"),
        "meeting_not_scheduled",
    )

    # A scheduled meeting cannot be missed before its time.
    future = w.schedule(pid, "2027-01-05T18:00:00-06:00")
    w.refused(f"/meetings/{future['id']}/missed", {"no_show_by": "both"}, "in_future")

    log = w.log(pid)
    rows = {r["id"]: r for r in log}
    # Rendered in the grantee's zone (decision 58): an evening meeting stays on its own day.
    assert [r["scheduled_for"][:10] for r in log] == [
        "2026-10-20",
        "2026-11-03",
        "2026-11-10",
        "2026-11-17",
        "2027-01-05",
    ]
    assert rows[m["id"]]["status"] == "held" and rows[m["id"]]["duration_minutes"] == 50
    assert rows[m["id"]]["summary"] == "resume"
    assert rows[missed["id"]]["status"] == "missed" and rows[missed["id"]]["no_show_by"] == "mentee"
    assert rows[excused["id"]]["excused"] is True
    assert rows[excused["id"]]["cancel_reason"] == "facility lockdown"
    assert rows[unexcused["id"]]["excused"] is False
    assert rows[future["id"]]["status"] == "scheduled"
    assert [r["id"] for r in w.log(pid, only="held")] == [m["id"]]

    weeks = w.cadence(pid, weeks=10)
    assert weeks["2026-W43"] == "missed"  # cancelled, not excused
    assert weeks["2026-W45"] == "met"
    assert weeks["2026-W46"] == "missed"  # a no-show
    assert weeks["2026-W47"] == "excused"


def test_held_meeting_rules_are_refused_and_the_limits_accepted(world: World) -> None:
    w = world
    _, mentee, pid = solo(w)
    other = w.enrol(name="Bo")

    def attempt(code: str, **record: Any) -> None:
        rec = {**held("2026-11-05T10:00:00-06:00"), **record}
        w.refused("/meetings", w.meeting_body(pid, "2026-11-05T10:00:00-06:00", record=rec), code)

    attempt("in_future", occurred_at="2026-12-25T10:00:00-06:00")
    for minutes in (0, -15, 481):
        # The schema declares 1-480 (`invalid_duration` is the domain's guard behind it).
        rec = {**held("2026-11-05T10:00:00-06:00"), "duration_minutes": minutes}
        before = w.events()
        w.post(
            "/meetings", w.meeting_body(pid, "2026-11-05T10:00:00-06:00", record=rec), status=400
        )
        assert w.events() == before
    attempt("not_a_member", attendance={other: "present"})
    attempt("nobody_attended", attendance={mentee: "absent"})
    attempt("before_match", occurred_at="2026-09-30T10:00:00-05:00")
    scheduled = w.schedule(pid, "2026-11-12T10:00:00-06:00")
    before = w.events()
    r = w.client.post(
        f"{w.base}/meetings/{scheduled['id']}/held",
        json=held("2027-11-12T10:00:00-06:00"),
        headers=w.headers(),
    )
    assert r.status_code == 422 and r.json()["code"] == "in_future" and w.events() == before

    assert w.meet(pid, "2026-11-05T10:00:00-06:00", 480)["held"]["duration_minutes"] == 480
    assert w.meet(pid, "2026-11-06T10:00:00-06:00", 1)["held"]["duration_minutes"] == 1
    # A minute ago is not the future.
    w.post(
        f"/meetings/{scheduled['id']}/held",
        held("2026-11-12T10:00:00-06:00", 30, attendance={mentee: "present"}),
    )


def test_a_group_meeting_records_attendance_for_every_member(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-g")
    a, b, outsider = w.enrol(name="Ada"), w.enrol(name="Bea"), w.enrol(name="Cy")
    pid = w.pair(mentor, [a, b], "2026-10-01T15:00:00Z", kind="group")
    at = "2026-11-19T17:00:00-06:00"

    def attempt(attendance: dict[str, str], code: str) -> None:
        w.refused(
            "/meetings", w.meeting_body(pid, at, record=held(at, attendance=attendance)), code
        )

    attempt({}, "attendance_required")
    attempt({a: "present"}, "attendance_required")
    attempt({a: "present", b: "present", outsider: "present"}, "not_a_member")
    attempt({a: "present", outsider: "present"}, "not_a_member")
    attempt({a: "absent", b: "absent"}, "nobody_attended")
    m = w.meet(pid, at, attendance={a: "present", b: "absent"})
    assert m["held"]["attendance"] == {a: "present", b: "absent"}
    row = w.log(pid)[0]
    assert row["attendance"] == {a: "present", b: "absent"}

    # Individual meetings: attendance is optional, but if given it names the mentee only.
    _, mentee, solo_pid = solo(w, subject="mentor-s")
    w.refused(
        "/meetings",
        w.meeting_body(solo_pid, at, record=held(at, attendance={a: "present"})),
        "not_a_member",
    )
    assert w.meet(solo_pid, at)["status"] == "held"
    assert (
        w.meet(solo_pid, "2026-11-20T17:00:00-06:00", attendance={mentee: "present"})["status"]
        == "held"
    )


def test_no_meeting_on_a_closed_pairing(world: World) -> None:
    w = world
    _, _, pid = solo(w)
    pending = w.schedule(pid, "2026-11-10T10:00:00-06:00")
    first = w.meet(pid, "2026-11-03T10:00:00-06:00")
    w.close(pid)
    w.refused("/meetings", w.meeting_body(pid, "2026-11-11T10:00:00-06:00"), "pairing_closed")
    w.refused(
        "/meetings",
        w.meeting_body(pid, "2026-11-11T10:00:00-06:00", record=held("2026-11-11T10:00:00-06:00")),
        "pairing_closed",
    )
    w.refused(
        f"/meetings/{pending['id']}/held", held("2026-11-10T10:00:00-06:00"), "pairing_closed"
    )
    # A held meeting of a closed pairing can still be corrected (even to an earlier date).
    out = w.post(
        f"/meetings/{first['id']}/amendments",
        {"reason": "date", "record": held("2026-10-27T10:00:00-05:00")},
    )
    assert out["amendments"] == 1
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-11-03"


def test_a_meeting_inside_a_facility_needs_the_mentors_unexpired_clearance(world: World) -> None:
    w = world
    # Cleared for FCI-B until 2026-03-01 (exclusive) only.
    _, _, pid = solo(w, "2026-01-15T15:00:00Z", clearances=(("FCI-B", "2025-08-01", "2026-03-01"),))

    def attempt(at: str, location: dict[str, Any], code: str) -> None:
        w.refused("/meetings", w.meeting_body(pid, at, location=location, record=held(at)), code)

    attempt("2026-02-10T10:00:00-06:00", inside("FCI-A"), "clearance_required")  # never cleared
    attempt("2026-02-10T10:00:00-06:00", inside("RRC-1", "rrc"), "clearance_required")
    attempt("2026-10-06T10:00:00-05:00", inside("FCI-B"), "clearance_required")  # expired
    # 2026-03-01 12:00 UTC is 1 March in Chicago too: the clearance has expired.
    attempt("2026-03-01T12:00:00Z", inside("FCI-B"), "clearance_required")
    attempt("2026-02-10T10:00:00-06:00", {"kind": "bop_institution"}, "facility_required")
    attempt(
        "2026-02-10T10:00:00-06:00",
        {"kind": "off_site", "facility": "FCI-B"},
        "facility_not_allowed",
    )
    assert w.meet(pid, "2026-02-10T10:00:00-06:00", location=inside("FCI-B"))["status"] == "held"
    # 03:00 UTC on 1 March is still 28 February in Chicago: the clearance holds that day.
    out = w.meet(pid, "2026-03-01T03:00:00Z", location=inside("FCI-B"))
    assert out["held"]["location"] == inside("FCI-B")
    assert w.meet(pid, "2026-10-06T10:00:00-05:00", location=REMOTE)["status"] == "held"

    # Scheduling checks the place as holding does: the mentor learns of it when planning.
    w.refused(
        "/meetings",
        w.meeting_body(pid, "2026-10-13T10:00:00-05:00", location=inside("FCI-B")),
        "clearance_required",
    )
    w.refused(
        "/meetings",
        w.meeting_body(pid, "2026-10-13T10:00:00-05:00", location={"kind": "rrc"}),
        "facility_required",
    )
    w.refused(
        "/meetings",
        w.meeting_body(
            pid, "2026-10-13T10:00:00-05:00", location={"kind": "remote", "facility": "FCI-A"}
        ),
        "facility_not_allowed",
    )
    # A meeting planned before the match is refused when planned, too.
    w.refused("/meetings", w.meeting_body(pid, "2020-12-10T18:00:00-06:00"), "before_match")
    # Holding a scheduled meeting checks the held location.
    m = w.schedule(pid, "2026-10-13T10:00:00-05:00", location=REMOTE)
    w.refused(
        f"/meetings/{m['id']}/held",
        held("2026-10-13T10:00:00-05:00", location=inside("FCI-B")),
        "clearance_required",
    )
    assert (
        w.post(f"/meetings/{m['id']}/held", held("2026-10-13T10:00:00-05:00", location=REMOTE))[
            "status"
        ]
        == "held"
    )


# -- amendments --


def test_amendments_are_new_events_and_move_the_meetings_week(world: World) -> None:
    w = world
    _, _, pid = solo(w)
    m = w.meet(pid, "2026-11-10T18:00:00-06:00", 60, summary="first draft")
    assert m["week"] == "2026-W46"
    before = w.cadence(pid)
    assert (before["2026-W46"], before["2026-W45"]) == ("met", "missed")

    # Refusals: not held, a bad record, no reason.
    scheduled = w.schedule(pid, "2026-11-24T18:00:00-06:00")
    body = {"reason": "wrong date", "record": held("2026-11-03T18:00:00-06:00", 45)}
    w.refused(f"/meetings/{scheduled['id']}/amendments", body, "meeting_not_held")
    cancelled = w.schedule(pid, "2026-11-25T18:00:00-06:00")
    w.post(f"/meetings/{cancelled['id']}/cancellation", {"reason": "ill"})
    w.refused(f"/meetings/{cancelled['id']}/amendments", body, "meeting_not_held")
    w.post(
        f"/meetings/{m['id']}/amendments",
        {"reason": "x", "record": held("2026-11-03T18:00:00-06:00", 481)},
        status=400,
    )
    w.refused(
        f"/meetings/{m['id']}/amendments",
        {"reason": "x", "record": held("2026-12-30T18:00:00-06:00")},
        "in_future",
    )
    w.refused(f"/meetings/{m['id']}/amendments", {**body, "reason": "   "}, "reason_required")

    amended = w.post(
        f"/meetings/{m['id']}/amendments",
        {
            "reason": "wrong date",
            "record": held("2026-11-03T18:00:00-06:00", 45, summary="corrected"),
        },
    )
    assert (amended["amendments"], amended["week"]) == (1, "2026-W45")
    assert amended["held"]["summary"] == "corrected" and amended["held"]["duration_minutes"] == 45
    got = w.get(f"/meetings/{m['id']}")
    assert got["amendments"] == 1 and got["held"]["occurred_at"] == "2026-11-03T18:00:00-06:00"
    # The history keeps both records.
    assert w.topics_of(m["id"]) == ["Scheduled", "Held", "Amended"]
    assert w.topics_of(scheduled["id"]) == ["Scheduled"]
    row = next(r for r in w.log(pid) if r["id"] == m["id"])
    assert (row["amendments"], row["week"], row["summary"], row["duration_minutes"]) == (
        1,
        "2026-W45",
        "corrected",
        45,
    )

    out = w.view(f"/pairings/{pid}/cadence", weeks=12)
    weeks = {x["week"]: x for x in out["weeks"]}
    assert weeks["2026-W45"]["status"] == "met"
    assert (weeks["2026-W45"]["held"], weeks["2026-W45"]["minutes"]) == (1, 45)
    assert weeks["2026-W46"]["status"] == "missed"
    assert (weeks["2026-W46"]["held"], weeks["2026-W46"]["minutes"]) == (0, 0)

    # A second amendment within the same week keeps the count at one.
    w.post(
        f"/meetings/{m['id']}/amendments",
        {"reason": "duration", "record": held("2026-11-05T18:00:00-06:00", 30)},
    )
    weeks = {x["week"]: x for x in w.view(f"/pairings/{pid}/cadence", weeks=12)["weeks"]}
    assert (weeks["2026-W45"]["held"], weeks["2026-W45"]["minutes"]) == (1, 30)
    assert w.topics_of(m["id"]) == ["Scheduled", "Held", "Amended", "Amended"]


# -- confidential notes and who reads what --


def test_a_confidential_note_reaches_only_its_author_and_coordinators(world: World) -> None:
    w = world
    _, mentee, pid = solo(w, subject="mentor-a")
    solo(w, subject="mentor-b")
    at = "2026-11-17T18:00:00-06:00"
    m = w.post(
        "/meetings",
        w.meeting_body(
            pid,
            at,
            record=held(
                at,
                summary="shared summary",
                confidential_note=NOTE,
                attendance={mentee: "present"},
            ),
        ),
        role="peer_mentor",
        sub="mentor-a",
    )
    assert m["held"]["confidential_note"] == NOTE  # the author's own response
    path = f"/meetings/{m['id']}"

    for role, sub in (
        ("peer_mentor", "mentor-a"),
        ("coordinator", "coord-1"),
        ("coordinator", "coord-2"),
    ):
        got = w.get(path, role=role, sub=sub)
        assert got["held"]["confidential_note"] == NOTE, (role, sub)
        assert got["held"]["has_confidential_note"] is True

    for role, sub in (("case_manager", "cm-1"), ("auditor", "aud-1"), ("grantee_admin", "ga-1")):
        status, text = w.get_text(path, role=role, sub=sub)
        assert status == 200, text
        assert NOTE not in text
        assert '"confidential_note"' not in text
        got = w.get(path, role=role, sub=sub)
        assert got["held"]["has_confidential_note"] is True
        assert got["held"]["summary"] == "shared summary"

    # Another peer mentor does not even find the meeting.
    status, text = w.get_text(path, role="peer_mentor", sub="mentor-b")
    assert status == 404 and NOTE not in text

    # The meeting log never carries the note, whoever reads it.
    projector.drain(w.db, w.schema)
    for role, sub in (
        ("peer_mentor", "mentor-a"),
        ("coordinator", "coord-1"),
        ("case_manager", "cm-1"),
        ("auditor", "aud-1"),
    ):
        status, text = w.get_text("/meetings", role=role, sub=sub, pairing_id=pid)
        assert status == 200, text
        assert NOTE not in text
        [row] = w.get("/meetings", role=role, sub=sub, pairing_id=pid)["items"]
        assert row["has_confidential_note"] is True and "confidential_note" not in row

    # A note written by a coordinator: the pairing's own peer mentor sees only that one exists.
    at2 = "2026-11-10T18:00:00-06:00"
    c = w.post(
        "/meetings",
        w.meeting_body(pid, at2, record=held(at2, confidential_note=NOTE)),
        sub="coord-1",
    )
    status, text = w.get_text(f"/meetings/{c['id']}", role="peer_mentor", sub="mentor-a")
    assert status == 200 and NOTE not in text
    assert (
        w.get(f"/meetings/{c['id']}", role="peer_mentor", sub="mentor-a")["held"][
            "has_confidential_note"
        ]
        is True
    )
    assert w.get(f"/meetings/{c['id']}", sub="coord-2")["held"]["confidential_note"] == NOTE
    # A case manager who writes a note is its author and reads it back.
    at3 = "2026-11-03T18:00:00-06:00"
    cm = w.post(
        "/meetings",
        w.meeting_body(pid, at3, record=held(at3, confidential_note="cm note")),
        role="case_manager",
        sub="cm-1",
    )
    assert (
        w.get(f"/meetings/{cm['id']}", role="case_manager", sub="cm-1")["held"]["confidential_note"]
        == "cm note"
    )
    status, text = w.get_text(f"/meetings/{cm['id']}", role="case_manager", sub="cm-2")
    assert status == 200 and "cm note" not in text

    # Amending as a coordinator without changing the note keeps the author.
    w.post(
        f"{path}/amendments",
        {
            "reason": "summary",
            "record": held(
                at,
                summary="shared summary v2",
                confidential_note=NOTE,
                attendance={mentee: "present"},
            ),
        },
        sub="coord-1",
    )
    assert w.get(path, role="peer_mentor", sub="mentor-a")["held"]["confidential_note"] == NOTE
    status, text = w.get_text(path, role="case_manager", sub="cm-1")
    assert NOTE not in text


def test_peer_mentors_record_and_read_only_their_own_pairings(world: World) -> None:
    w = world
    _, _, mine = solo(w, subject="mentor-a")
    _, _, theirs = solo(w, subject="mentor-b")
    at = "2026-11-17T18:00:00-06:00"
    mine_m = w.post(
        "/meetings", w.meeting_body(mine, at, record=held(at)), role="peer_mentor", sub="mentor-a"
    )
    theirs_m = w.meet(theirs, at)
    w.refused(
        "/meetings",
        w.meeting_body(theirs, at, record=held(at)),
        "not_found",
        role="peer_mentor",
        sub="mentor-a",
        status=404,
    )
    sched = w.schedule(theirs, "2026-11-18T18:00:00-06:00")
    for action, body in (
        ("held", held("2026-11-18T18:00:00-06:00")),
        ("missed", {"no_show_by": "mentee"}),
        ("cancellation", {"reason": "x", "excused": True}),
    ):
        w.refused(
            f"/meetings/{sched['id']}/{action}",
            body,
            "not_found",
            role="peer_mentor",
            sub="mentor-a",
            status=404,
        )
    w.refused(
        f"/meetings/{theirs_m['id']}/amendments",
        {"reason": "x", "record": held(at)},
        "not_found",
        role="peer_mentor",
        sub="mentor-a",
        status=404,
    )
    projector.drain(w.db, w.schema)
    for path, params in (
        (f"/meetings/{theirs_m['id']}", {}),
        ("/meetings", {"pairing_id": theirs}),
        (f"/pairings/{theirs}/cadence", {}),
    ):
        w.get(path, role="peer_mentor", sub="mentor-a", status=404, **params)
    assert (
        w.get(f"/meetings/{mine_m['id']}", role="peer_mentor", sub="mentor-a")["id"] == mine_m["id"]
    )
    assert (
        len(w.get("/meetings", role="peer_mentor", sub="mentor-a", pairing_id=mine)["items"]) == 1
    )
    assert w.get(f"/pairings/{mine}/cadence", role="peer_mentor", sub="mentor-a")["weeks"]
    # Peer mentors do not read the grantee's alerts.
    w.get("/cadence-alerts", role="peer_mentor", sub="mentor-a", status=403)


# -- class hours --


def test_class_periods_of_one_weekday_must_not_overlap(world: World) -> None:
    w = world
    r = w.refused(
        "/cohorts/C1/class-hours",
        {
            "slots": [
                {"weekday": 1, "start": "09:00", "end": "12:00"},
                {"weekday": 1, "start": "11:00", "end": "13:00"},
            ]
        },
        "overlapping_class_hours",
    )
    assert "09:00-12:00" in r["detail"] and "11:00-13:00" in r["detail"], r
    assert w.get("/cohorts/C1")["class_hours"] == []  # nothing was set
    # Back to back on one day, or the same hours on two days, do not overlap.
    cohort = w.post(
        "/cohorts/C1/class-hours",
        {
            "slots": [
                {"weekday": 1, "start": "09:00", "end": "12:00"},
                {"weekday": 1, "start": "12:00", "end": "13:00"},
                {"weekday": 2, "start": "11:00", "end": "13:00"},
            ]
        },
    )
    assert len(cohort["class_hours"]) == 3


def test_the_documented_class_hours_example_is_accepted(world: World, client: Any) -> None:
    doc = client.get("/schema/openapi.json").json()
    op = doc["paths"]["/v1/grantees/{grantee}/cohorts/{code}/class-hours"]["post"]
    media = op["requestBody"]["content"]["application/json"]
    # A body-level example (not one made of the fields' examples, 09:00 to 09:00) ...
    values = [e["value"] for e in (media.get("examples") or {}).values()]
    [example] = values or media["schema"].get("examples", [])
    # ... that the API accepts.
    assert world.post("/cohorts/C1/class-hours", example)["class_hours"]


def test_stage_one_meetings_avoid_class_hours_unless_the_policy_flags_them(world: World) -> None:
    w = world
    _, _, pid = solo(w)
    w.refused(
        "/cohorts/C1/class-hours",
        {"slots": [{"weekday": 2, "start": "12:00", "end": "09:00"}]},
        "invalid_class_hours",
    )
    cohort = w.post(
        "/cohorts/C1/class-hours",
        {
            "slots": [
                {"weekday": 2, "start": "09:00", "end": "12:00"},
                {"weekday": 4, "start": "13:00", "end": "15:00"},
            ]
        },
    )
    assert cohort["code"] == "C1"
    # The cohort's own read gives its class hours (the console names them in a refusal); the
    # list, from the directory view, does not.
    periods = [
        {"weekday": 2, "start": "09:00", "end": "12:00"},
        {"weekday": 4, "start": "13:00", "end": "15:00"},
    ]
    assert cohort["class_hours"] == periods and w.get("/cohorts/C1")["class_hours"] == periods
    listed = w.view("/cohorts")["items"]
    assert {c["code"]: c["class_hours"] for c in listed}["C1"] is None

    def attempt(at: str, minutes: int = 60) -> None:
        w.refused(
            "/meetings", w.meeting_body(pid, at, record=held(at, minutes)), "during_class_hours"
        )

    attempt("2026-11-24T11:30:00-06:00")  # Tuesday 11:30-12:30 local overlaps 09:00-12:00
    attempt("2026-11-24T08:30:00-06:00")  # 08:30-09:30
    attempt("2026-11-24T15:30:00Z")  # 09:30 in Chicago, though 15:30 in UTC
    attempt("2026-11-19T12:30:00-06:00", 45)  # Thursday 12:30-13:15 overlaps 13:00
    # Outside the periods: accepted, not flagged.
    ok = [
        w.meet(pid, "2026-11-24T12:00:00-06:00", 60),  # starts as class ends
        w.meet(pid, "2026-11-24T08:00:00-06:00", 60),  # ends as class starts
        w.meet(pid, "2026-11-25T10:00:00-06:00", 60),  # Wednesday
        w.meet(pid, "2026-11-24T10:00:00Z", 60),  # 04:00 in Chicago
    ]
    assert all(m["held"]["during_class_hours"] is False for m in ok)
    scheduled = w.schedule(pid, "2026-11-17T10:00:00-06:00")
    w.refused(
        f"/meetings/{scheduled['id']}/held", held("2026-11-17T10:00:00-06:00"), "during_class_hours"
    )
    w.refused(
        f"/meetings/{ok[0]['id']}/amendments",
        {"reason": "time", "record": held("2026-11-24T10:00:00-06:00")},
        "during_class_hours",
    )

    w.policy(class_hours_rule="flag")
    assert w.get("/policy")["rules"]["class_hours_rule"] == "flag"
    # 10:30-11:30, in class hours; not over the 12:00 meeting (decision 146).
    flagged = w.meet(pid, "2026-11-24T10:30:00-06:00")
    assert flagged["held"]["during_class_hours"] is True
    held_now = w.post(f"/meetings/{scheduled['id']}/held", held("2026-11-17T10:00:00-06:00"))
    assert held_now["held"]["during_class_hours"] is True
    rows = {r["id"]: r for r in w.log(pid)}
    assert rows[flagged["id"]]["during_class_hours"] is True
    assert rows[ok[2]["id"]]["during_class_hours"] is False


def test_class_hours_do_not_apply_after_stage_one(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-3")
    mentee = w.enrol()
    w.post("/cohorts/C1/class-hours", {"slots": [{"weekday": 2, "start": "09:00", "end": "12:00"}]})
    w.post(
        f"/participants/{mentee}/stage-transitions",
        {"to_stage": 3, "placement": "community", "occurred_at": "2026-09-01T12:00:00Z"},
    )
    w.policy(stage3=["graduate"])
    pid = w.pair(mentor, [mentee], "2026-10-01T15:00:00Z")
    assert w.meet(pid, "2026-11-24T10:00:00-06:00")["held"]["during_class_hours"] is False


# -- cadence --


def test_cadence_crosses_the_year_end_in_the_grantees_time_zone(
    client: Any, auth: Any, db: Any
) -> None:
    moments = ["2025-12-29T02:00:00+00:00", "2026-01-04T23:30:00-06:00"]
    expected = {
        # Sunday 28 Dec 20:00 and Sunday 4 Jan 23:30 local.
        "America/Chicago": ["2025-W52", "2026-W01"],
        # Monday 29 Dec 02:00 and Monday 5 Jan 05:30.
        "Europe/London": ["2026-W01", "2026-W02"],
        "UTC": ["2026-W01", "2026-W02"],
    }
    for tz, weeks in expected.items():
        w = make_world(client, auth, db, tz)
        _, _, pid = solo(w, "2025-12-01T15:00:00Z")
        got = [w.meet(pid, at)["week"] for at in moments]
        assert got == weeks, tz
        out = w.view(f"/pairings/{pid}/cadence", weeks=156)
        assert out["time_zone"] == tz and out["cadence"] == "weekly"
        statuses = {x["week"]: x["status"] for x in out["weeks"]}
        names = [x["week"] for x in out["weeks"]]
        assert names[0] == "2025-W49"  # the week the pairing was opened
        assert names.index("2026-W01") == names.index("2025-W52") + 1  # no gap, no W53 in 2025
        assert "2025-W53" not in names
        assert all(statuses[wk] == "met" for wk in weeks), (tz, statuses)
        assert {wk for wk, s in statuses.items() if s == "met"} == set(weeks)
        assert statuses["2025-W51"] == "missed"
        # The current week is pending, the last of the list.
        assert out["weeks"][-1]["status"] == "pending"
        assert len(names) == len(set(names)) == 52
        last = w.view(f"/pairings/{pid}/cadence", weeks=3)["weeks"]
        assert [x["week"] for x in last] == names[-3:]


def test_excused_weeks_and_the_stage_two_cadence_from_the_policy(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-2")
    mentee = w.enrol()
    w.post(
        f"/participants/{mentee}/stage-transitions",
        {
            "to_stage": 2,
            "placement": "rrc",
            "facility": "RRC-1",
            "occurred_at": "2026-09-01T12:00:00Z",
        },
    )
    w.policy(stage2=["graduate"])
    pid = w.pair(mentor, [mentee], "2026-10-05T15:00:00Z")  # 2026-W41
    w.meet(pid, "2026-10-06T10:00:00-05:00")  # W41
    ex = w.schedule(pid, "2026-10-20T10:00:00-05:00")  # W43
    w.post(f"/meetings/{ex['id']}/cancellation", {"reason": "RRC lockdown", "excused": True})
    no = w.schedule(pid, "2026-10-27T10:00:00-05:00")  # W44
    w.post(f"/meetings/{no['id']}/cancellation", {"reason": "forgot"})
    w.meet(pid, "2026-11-03T10:00:00-06:00")  # W45
    weekly = w.cadence(pid)
    assert list(weekly) == [f"2026-W{n}" for n in range(41, 49)]
    assert weekly == {
        "2026-W41": "met",
        "2026-W42": "missed",
        "2026-W43": "excused",
        "2026-W44": "missed",
        "2026-W45": "met",
        "2026-W46": "missed",
        "2026-W47": "missed",
        "2026-W48": "pending",
    }
    w.policy(stage2=["graduate"], stage2_cadence="twice_monthly")
    out = w.view(f"/pairings/{pid}/cadence")
    assert out["cadence"] == "twice_monthly"
    assert {x["week"]: x["status"] for x in out["weeks"]} == {
        "2026-W41": "met",
        "2026-W42": "met",
        "2026-W43": "excused",
        "2026-W44": "missed",
        "2026-W45": "met",
        "2026-W46": "met",
        "2026-W47": "missed",
        "2026-W48": "pending",
    }
    w.policy(stage2=["graduate"], stage2_cadence="monthly")
    monthly = w.cadence(pid)
    assert [monthly[f"2026-W{n}"] for n in range(41, 49)] == [
        "met",
        "met",
        "met",
        "met",
        "met",
        "met",
        "met",
        "met",
    ]


# -- alerts and the first meeting --


def test_cadence_alerts_list_open_pairings_without_a_recent_meeting(world: World) -> None:
    w = world
    mentor = w.mentor("mentor-a")
    mentees = [w.enrol(name=f"M{i}") for i in range(5)]
    silent = w.pair(mentor, [mentees[0]], "2026-10-01T15:00:00Z")
    lapsed = w.pair(mentor, [mentees[1]], "2026-10-01T15:00:00Z")
    recent = w.pair(mentor, [mentees[2]], "2026-10-01T15:00:00Z")
    this_week = w.pair(mentor, [mentees[3]], "2026-11-23T15:00:00Z")  # Monday of 2026-W48
    closed = w.pair(mentor, [mentees[4]], "2026-10-01T15:00:00Z")
    w.meet(lapsed, "2026-11-05T10:00:00-06:00")  # W45
    w.meet(recent, "2026-11-18T10:00:00-06:00")  # W47: the previous week
    w.close(closed)
    out = w.view("/cadence-alerts")
    current = out["current_week"]
    assert current == w.view(f"/pairings/{silent}/cadence", weeks=1)["weeks"][0]["week"]
    items = {i["pairing_id"]: i for i in out["items"]}
    assert set(items) == {silent, lapsed}
    assert items[silent]["last_held_week"] is None
    assert items[lapsed]["last_held_week"] == "2026-W45"
    assert items[lapsed]["kind"] == "missed_cadence" and items[lapsed]["mentor_id"] == mentor
    # A meeting recorded now clears the alert; moving it back by amendment raises it again.
    m = w.meet(silent, "2026-11-16T10:00:00-06:00")
    assert silent not in {i["pairing_id"] for i in w.view("/cadence-alerts")["items"]}
    w.post(
        f"/meetings/{m['id']}/amendments",
        {"reason": "date", "record": held("2026-11-02T10:00:00-06:00")},
    )
    items = {i["pairing_id"]: i for i in w.view("/cadence-alerts")["items"]}
    assert set(items) == {silent, lapsed} and items[silent]["last_held_week"] == "2026-W45"
    assert this_week not in items
    w.get("/cadence-alerts", role="auditor", status=403)
    assert w.get("/cadence-alerts", role="case_manager")["current_week"] == current


def test_first_meeting_on_is_the_earliest_held_meeting_even_out_of_order(world: World) -> None:
    w = world
    _, _, pid = solo(w)
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] is None
    w.schedule(pid, "2026-10-02T10:00:00-05:00")  # scheduled, never held: does not count
    w.meet(pid, "2026-11-10T10:00:00-06:00")
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-11-10"
    w.meet(pid, "2026-10-20T10:00:00-05:00")  # recorded later, happened earlier
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-10-20"
    w.meet(pid, "2026-11-17T10:00:00-06:00")
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-10-20"
    # Local date: 03:00 UTC on 13 October is the evening of 12 October in Chicago.
    m = w.schedule(pid, "2026-10-13T03:00:00Z")
    w.post(f"/meetings/{m['id']}/held", held("2026-10-13T03:00:00Z"))
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-10-12"
    listed = {p["id"]: p for p in w.view("/pairings")["items"]}
    assert listed[pid]["first_meeting_on"] == "2026-10-12"
    # An amendment that moves a meeting earlier makes it the first; one that moves a meeting
    # later leaves the first alone.
    later = w.meet(pid, "2026-11-18T10:00:00-06:00")
    w.post(
        f"/meetings/{later['id']}/amendments",
        {"reason": "date", "record": held("2026-10-08T10:00:00-05:00")},
    )
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-10-08"
    w.post(
        f"/meetings/{later['id']}/amendments",
        {"reason": "date", "record": held("2026-11-19T10:00:00-06:00")},
    )
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-10-08"


def test_a_meeting_on_the_local_evening_of_a_late_match_is_accepted(world: World) -> None:
    """Opened at 02:00 UTC on 1 October (the evening of 30 September in Chicago): a meeting
    half an hour later is after the match, and its local date is 30 September."""
    w = world
    _, _, pid = solo(w, "2026-10-01T02:00:00Z")
    out = w.meet(pid, "2026-09-30T21:30:00-05:00")
    assert out["status"] == "held" and out["week"] == "2026-W40"
    # The first meeting's date is its date in the grantee's zone, as the match's is.
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-09-30"
    # A meeting before the match is still refused.
    w.refused(
        "/meetings",
        w.meeting_body(pid, "2026-09-30T20:30:00-05:00", record=held("2026-09-30T20:30:00-05:00")),
        "before_match",
    )


def test_an_evening_meeting_of_an_evening_match_is_dated_that_evening(
    world: World, frozen_at: Any
) -> None:
    """Matched at 22:02 in Chicago (04:02 UTC the next day) and met at 22:30 the same evening:
    the first meeting is dated that evening's day, not the UTC day after."""
    frozen_at(datetime(2026, 12, 6, 4, 40, tzinfo=UTC))
    w = world
    _, _, pid = solo(w, "2026-12-05T22:02:00-06:00")
    w.meet(pid, "2026-12-05T22:30:00-06:00")
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == "2026-12-05"
    # Recorded by hand, the evening's date is accepted too (not "before the match").
    again = solo(w, "2026-12-05T22:02:00-06:00", subject="mentor-b")[2]
    w.post(f"/pairings/{again}/first-meeting", {"met_on": "2026-12-05"})
    assert w.get(f"/pairings/{again}")["first_meeting_on"] == "2026-12-05"


def test_a_just_held_meeting_is_accepted_where_the_local_date_is_ahead_of_utc(
    client: Any,
    auth: Any,
    db: Any,
) -> None:
    """In Kiritimati (UTC+14) the local date is ahead of the UTC date from 10:00 UTC on: a
    meeting held half an hour ago is not in the future, whatever the local date says."""
    w = make_world(client, auth, db, "Pacific/Kiritimati")
    _, _, pid = solo(w, "2026-10-01T15:00:00Z")
    now = clock.now()
    at = (now - timedelta(minutes=30)).replace(microsecond=0)
    out = w.meet(pid, at.isoformat())
    assert out["status"] == "held"
    local = at.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    assert out["week"] == week_name(local)
    assert w.get(f"/pairings/{pid}")["first_meeting_on"] == local.isoformat()


# -- projections --


def test_live_views_equal_a_rebuild_from_the_log(world: World) -> None:
    from projections.registry import PROJECTIONS

    w = world
    mentor, mentee, pid = solo(w)
    m1 = w.meet(
        pid, "2026-11-03T10:00:00-06:00", confidential_note=NOTE, attendance={mentee: "present"}
    )
    w.post(
        f"/meetings/{m1['id']}/amendments",
        {"reason": "date", "record": held("2026-11-10T10:00:00-06:00", 75)},
    )
    m2 = w.schedule(pid, "2026-11-17T10:00:00-06:00")
    w.post(f"/meetings/{m2['id']}/missed", {"no_show_by": "mentor"})
    m3 = w.schedule(pid, "2026-11-24T10:00:00-06:00")
    w.post(f"/meetings/{m3['id']}/cancellation", {"reason": "ill", "excused": True})
    w.schedule(pid, "2027-01-05T10:00:00-06:00")
    a, b = w.enrol(name="Ga"), w.enrol(name="Gb")
    group = w.pair(mentor, [a, b], "2026-10-01T15:00:00Z", kind="group")
    w.meet(group, "2026-11-19T10:00:00-06:00", attendance={a: "present", b: "absent"})
    w.post("/cohorts/C1/class-hours", {"slots": [{"weekday": 1, "start": "09:00", "end": "10:00"}]})

    projector.drain(w.db, w.schema)
    live = projector.digests(w.db, w.schema)
    assert "meetings" in live
    assert {p.name for p in PROJECTIONS} <= set(live)
    cadence = w.view(f"/pairings/{pid}/cadence")
    for projection in PROJECTIONS:
        rebuilds.rebuild(w.db, w.schema, projection.name)
    assert projector.digests(w.db, w.schema) == live
    assert w.view(f"/pairings/{pid}/cadence") == cadence
    rows = w.db.fetchall(
        f'SELECT week, held, minutes, missed, excused FROM "{w.schema}".meeting_weeks_b'
        f"{_active(w, 'meetings')} WHERE pairing_id = %s ORDER BY week",
        (pid,),
    )
    assert [tuple(r) for r in rows] == [
        ("2026-W45", 0, 0, 0, 0),
        ("2026-W46", 1, 75, 0, 0),
        ("2026-W47", 0, 0, 1, 0),
        ("2026-W48", 0, 0, 0, 1),
    ]


def _active(w: World, view: str) -> int:
    row = w.db.fetchone(f'SELECT version FROM "{w.schema}".active_views WHERE view = %s', (view,))
    assert row is not None
    return int(row[0])


# -- the OpenAPI document --


def test_every_meetings_operation_is_documented(client: Any) -> None:
    doc = client.get("/schema/openapi.json").json()
    ops = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "meetings" in op.get("tags", [])
    ]
    expected_posts = {
        "/v1/grantees/{grantee}/meetings": {
            "pairing_closed",
            "in_future",
            "invalid_duration",
            "clearance_required",
            "during_class_hours",
        },
        "/v1/grantees/{grantee}/meetings/{meeting_id}/held": {
            "meeting_not_scheduled",
            "in_future",
            "clearance_required",
        },
        "/v1/grantees/{grantee}/meetings/{meeting_id}/missed": {"meeting_not_scheduled"},
        "/v1/grantees/{grantee}/meetings/{meeting_id}/cancellation": {"meeting_not_scheduled"},
        "/v1/grantees/{grantee}/meetings/{meeting_id}/amendments": {
            "meeting_not_held",
            "invalid_duration",
        },
        "/v1/grantees/{grantee}/cohorts/{code}/class-hours": {
            "invalid_class_hours",
            "overlapping_class_hours",
        },
    }
    posts = {path: op for path, method, op in ops if method == "post"}
    assert set(posts) == set(expected_posts)
    gets = {path for path, method, _ in ops if method == "get"}
    assert gets == {
        "/v1/grantees/{grantee}/meetings",
        "/v1/grantees/{grantee}/meetings/{meeting_id}",
        "/v1/grantees/{grantee}/pairings/{pairing_id}/cadence",
        "/v1/grantees/{grantee}/cadence-alerts",
    }
    for path, method, op in ops:
        assert op.get("description", "").strip(), (method, path)
    for path, op in posts.items():
        problem = op["responses"]["422"]["content"]["application/problem+json"]
        examples = problem["examples"]
        codes = {e["value"]["code"] for e in examples.values()}
        assert expected_posts[path] <= codes, (path, codes)
        for example in examples.values():
            assert example["value"]["status"] == 422
            assert example["value"]["type"] == f"urn:prowd:problem:{example['value']['code']}"
    body = posts["/v1/grantees/{grantee}/meetings"]["requestBody"]["content"]["application/json"]
    # Litestar puts a body example on the schema (JSON Schema `examples`).
    examples = list(body.get("examples", {}).values()) or [
        {"value": v} for v in body["schema"].get("examples", [])
    ]
    assert examples, body
    value = examples[0]["value"]
    assert {"pairing_id", "scheduled_for", "location", "held"} <= set(value)
