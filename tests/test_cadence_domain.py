"""Pure rules, no database: ISO weeks in a time zone (domain/cadence.py), cadence compliance per
week, and the meeting aggregate's rules (domain/meetings.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.cadence import (
    WINDOW,
    CadenceWeek,
    WeekStatus,
    WeekTally,
    alert_weeks,
    cadence_weeks,
    compliance,
    iso_week,
    missed_cadence,
    week_name,
    week_start,
    weeks_between,
)
from domain.common import RuleViolation, actor, utcnow
from domain.meetings import (
    MAX_MINUTES,
    Attendance,
    HeldRecord,
    Meeting,
    MeetingStatus,
    NoShow,
    NoteReader,
    NoteWithheld,
    Topic,
)
from domain.mentors import (
    BackgroundDecision,
    Clearance,
    Mentor,
    MentorSource,
    RecruitmentChannel,
    ScreeningStep,
    TrainingModule,
    TrainingRecord,
)
from domain.pairings import (
    Closure,
    ClosureType,
    Commitment,
    Focus,
    Initiator,
    Location,
    LocationKind,
    Pairing,
    PairingKind,
)
from domain.policy import Cadence, ClassHoursRule, MentoringRules

CHICAGO = ZoneInfo("America/Chicago")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
CST = timezone(timedelta(hours=-6))
OFF_SITE = Location(kind=LocationKind.OFF_SITE)
M, X, E, P = WeekStatus.MET, WeekStatus.MISSED, WeekStatus.EXCUSED, WeekStatus.PENDING


# -- ISO weeks --


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (date(2025, 12, 28), "2025-W52"),  # Sunday: the last day of 2025's last week
        (date(2025, 12, 29), "2026-W01"),  # Monday: 2026-W01 starts in December 2025
        (date(2026, 1, 4), "2026-W01"),
        (date(2026, 1, 5), "2026-W02"),
        (date(2026, 12, 31), "2026-W53"),  # 2026 has 53 ISO weeks
        (date(2027, 1, 3), "2026-W53"),  # January 2027 days in 2026's last week
        (date(2027, 1, 4), "2027-W01"),
        (date(2021, 1, 1), "2020-W53"),
        (date(2026, 11, 26), "2026-W48"),
    ],
)
def test_week_name_follows_iso_8601_across_year_ends(day: date, week: str) -> None:
    assert week_name(day) == week


def test_week_start_is_the_monday_and_round_trips() -> None:
    assert week_start("2026-W01") == date(2025, 12, 29)
    assert week_start("2026-W53") == date(2026, 12, 28)
    assert week_start("2025-W52") == date(2025, 12, 22)
    day = date(2025, 11, 3)
    for _ in range(120):  # more than two years of weeks, across two year ends
        assert week_start(week_name(day)) == day
        day += timedelta(weeks=1)


def test_weeks_between_crosses_year_boundaries_without_gaps() -> None:
    assert weeks_between("2025-W51", "2026-W02") == ["2025-W51", "2025-W52", "2026-W01", "2026-W02"]
    assert weeks_between("2026-W52", "2027-W01") == ["2026-W52", "2026-W53", "2027-W01"]
    assert weeks_between("2026-W10", "2026-W10") == ["2026-W10"]
    assert len(weeks_between("2025-W49", "2026-W48")) == 4 + 48


@pytest.mark.parametrize(
    ("moment", "zone", "week"),
    [
        # Sunday evening in Chicago is Monday morning in UTC: the local week counts.
        (datetime(2026, 1, 4, 23, 30, tzinfo=CST), CHICAGO, "2026-W01"),
        (datetime(2026, 1, 4, 23, 30, tzinfo=CST), UTC_ZONE, "2026-W02"),
        (datetime(2026, 1, 4, 23, 30, tzinfo=CST), LONDON, "2026-W02"),
        # 02:00 UTC on Monday 29 December 2025 is Sunday evening in the Americas.
        (datetime(2025, 12, 29, 2, 0, tzinfo=UTC), CHICAGO, "2025-W52"),
        (datetime(2025, 12, 29, 2, 0, tzinfo=UTC), NEW_YORK, "2025-W52"),
        (datetime(2025, 12, 29, 2, 0, tzinfo=UTC), LONDON, "2026-W01"),
        (datetime(2025, 12, 29, 2, 0, tzinfo=UTC), UTC_ZONE, "2026-W01"),
        # Into 2026-W53 / 2027-W01 the same way.
        (datetime(2027, 1, 4, 3, 0, tzinfo=UTC), CHICAGO, "2026-W53"),
        (datetime(2027, 1, 4, 3, 0, tzinfo=UTC), LONDON, "2027-W01"),
    ],
)
def test_iso_week_is_counted_in_the_grantee_time_zone(
    moment: datetime, zone: ZoneInfo, week: str
) -> None:
    assert iso_week(moment, zone) == week


def test_iso_week_does_not_depend_on_the_offset_the_moment_was_written_with() -> None:
    same = [
        datetime(2026, 1, 5, 5, 30, tzinfo=UTC),
        datetime(2026, 1, 4, 23, 30, tzinfo=CST),
        datetime(2026, 1, 5, 14, 30, tzinfo=timezone(timedelta(hours=9))),
    ]
    assert {iso_week(m, CHICAGO) for m in same} == {"2026-W01"}
    assert {iso_week(m, LONDON) for m in same} == {"2026-W02"}


# -- compliance --


def statuses(
    first: str,
    last: str,
    current: str,
    held: set[str],
    excused: frozenset[str] = frozenset(),
    cadence: Cadence = Cadence.WEEKLY,
) -> list[WeekStatus]:
    return [s for _, s in compliance(first, last, current, held, set(excused), cadence)]


def test_weekly_compliance_met_missed_excused_pending_across_a_year_end() -> None:
    out = compliance(
        "2025-W51",
        "2026-W03",
        "2026-W03",
        held={"2025-W52", "2026-W02"},
        excused={"2026-W01"},
        cadence=Cadence.WEEKLY,
    )
    assert out == [
        ("2025-W51", X),
        ("2025-W52", M),
        ("2026-W01", E),
        ("2026-W02", M),
        ("2026-W03", P),
    ]


def test_held_beats_excused_and_the_current_week_once_met_is_met() -> None:
    assert statuses(
        "2026-W10", "2026-W11", "2026-W11", {"2026-W10", "2026-W11"}, frozenset({"2026-W10"})
    ) == [M, M]
    assert statuses("2026-W10", "2026-W11", "2026-W11", set(), frozenset({"2026-W11"})) == [X, E]


def test_a_closed_pairing_has_no_pending_week() -> None:
    # The last week is not the current one: an unmet last week is missed.
    assert statuses("2026-W10", "2026-W12", "2026-W40", {"2026-W10"}) == [M, X, X]


def test_twice_monthly_one_meeting_covers_two_weeks() -> None:
    weeks = weeks_between("2026-W40", "2026-W47")
    out = statuses(
        weeks[0], weeks[-1], "2026-W47", {"2026-W40", "2026-W44"}, cadence=Cadence.TWICE_MONTHLY
    )
    # W40 met, W41 covered by W40, W42 and W43 nothing in their window, W44-W45 covered,
    # W46 nothing in W45-W46, W47 is the current week.
    assert out == [M, M, X, X, M, M, X, P]
    weekly = statuses(weeks[0], weeks[-1], "2026-W47", {"2026-W40", "2026-W44"})
    assert weekly == [M, X, X, X, M, X, X, P]


def test_twice_monthly_is_not_due_before_the_first_window_closes() -> None:
    assert statuses("2026-W40", "2026-W41", "2026-W41", set(), cadence=Cadence.TWICE_MONTHLY) == [
        P,
        P,
    ]
    assert statuses("2026-W40", "2026-W42", "2026-W42", set(), cadence=Cadence.TWICE_MONTHLY) == [
        P,
        X,
        P,
    ]


def test_twice_monthly_window_spans_the_year_end() -> None:
    out = compliance("2025-W51", "2026-W02", "2026-W10", {"2025-W52"}, set(), Cadence.TWICE_MONTHLY)
    assert out == [("2025-W51", P), ("2025-W52", M), ("2026-W01", M), ("2026-W02", X)]


def test_monthly_one_meeting_covers_four_weeks() -> None:
    weeks = weeks_between("2026-W01", "2026-W09")
    out = statuses(weeks[0], weeks[-1], "2026-W30", {"2026-W02"}, cadence=Cadence.MONTHLY)
    assert out == [P, M, M, M, M, X, X, X, X]
    assert WINDOW == {Cadence.WEEKLY: 1, Cadence.TWICE_MONTHLY: 2, Cadence.MONTHLY: 4}


def test_cadence_weeks_carry_what_was_held_in_each_week() -> None:
    tallies = {
        "2026-W01": WeekTally(held=2, minutes=90),
        "2026-W02": WeekTally(excused=1),
        "2026-W03": WeekTally(held=0, minutes=0, excused=0),
    }
    weeks = cadence_weeks("2025-W52", "2026-W04", "2026-W04", tallies, Cadence.WEEKLY)
    assert weeks == [
        CadenceWeek("2025-W52", X, 0, 0),
        CadenceWeek("2026-W01", M, 2, 90),
        CadenceWeek("2026-W02", E, 0, 0),
        CadenceWeek("2026-W03", X, 0, 0),
        CadenceWeek("2026-W04", P, 0, 0),
    ]


def test_cadence_alerts_look_at_this_week_and_the_one_before_across_a_year_end() -> None:
    assert alert_weeks(date(2026, 1, 2)) == ("2026-W01", "2025-W52")
    current, previous = "2026-W01", "2025-W52"
    assert missed_cadence("2025-W40", None, current, previous)
    assert missed_cadence("2025-W40", "2025-W51", current, previous)
    assert not missed_cadence("2025-W40", previous, current, previous)
    assert not missed_cadence("2025-W40", current, current, previous)
    # Matched this week: not yet due, with or without a meeting.
    assert not missed_cadence(current, None, current, previous)


def test_stage_one_is_always_weekly_stages_two_and_three_follow_the_policy() -> None:
    rules = MentoringRules(stage2_cadence=Cadence.TWICE_MONTHLY, stage3_cadence=Cadence.MONTHLY)
    assert rules.cadence_for(1) is Cadence.WEEKLY
    assert rules.cadence_for(2) is Cadence.TWICE_MONTHLY
    assert rules.cadence_for(3) is Cadence.MONTHLY
    assert MentoringRules().cadence_for(2) is Cadence.WEEKLY
    assert MentoringRules().class_hours_rule is ClassHoursRule.REFUSE


# -- the meeting aggregate --


def certified_mentor() -> Mentor:
    mentor = Mentor.register(
        display_name="Gil Graduate",
        source=MentorSource.COMMUNITY_PEER,
        channel=RecruitmentChannel.COMMUNITY_ORGANIZATION,
    )
    for step in ScreeningStep:
        mentor.complete_screening_step(step, date(2025, 7, 1), "Dana Cole")
    mentor.review_background(BackgroundDecision.APPROVED, "Rita Ortiz", date(2025, 7, 1))
    for module in TrainingModule:
        mentor.complete_training(TrainingRecord(module, date(2025, 7, 2), 1.0, "Lou Brandt"))
    mentor.grant_clearance(Clearance("FCI-A", date(2025, 8, 1), date(2027, 8, 1)))
    mentor.certify()
    return mentor


def open_pairing(members: list[UUID], kind: PairingKind = PairingKind.INDIVIDUAL) -> Pairing:
    return Pairing.open(
        kind=kind,
        mentor=certified_mentor(),
        members=members,
        rules=MentoringRules(),
        location=OFF_SITE,
        commitment=Commitment(),
        criteria=[],
        focus=None if kind is PairingKind.INDIVIDUAL else Focus.EMPLOYMENT,
        opened_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
    )


def record(at: datetime | None = None, minutes: int = 60, **kw: object) -> HeldRecord:
    return HeldRecord(
        occurred_at=at or datetime(2026, 11, 10, 18, tzinfo=UTC),
        duration_minutes=minutes,
        location=OFF_SITE,
        topics=kw.pop("topics", [Topic.GOALS]),
        **kw,  # type: ignore[arg-type]
    )


def scheduled(pairing: Pairing, at: datetime | None = None) -> Meeting:
    at = at or datetime(2026, 11, 10, 18, tzinfo=UTC)
    return Meeting.schedule(
        pairing=pairing,
        scheduled_for=at,
        planned_minutes=60,
        location=OFF_SITE,
        week=week_name(at.date()),
    )


def refused(code: str, call: object, *args: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        call(*args)  # type: ignore[operator]
    assert caught.value.code == code, caught.value.detail


def names(meeting: Meeting) -> list[str]:
    return [type(e).__name__ for e in meeting.collect_events()]


def test_scheduled_then_held_once() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    assert meeting.status is MeetingStatus.SCHEDULED
    meeting.hold(record(), pairing, "2026-W46")
    assert meeting.status is MeetingStatus.HELD and meeting.week == "2026-W46"
    refused("meeting_not_scheduled", meeting.hold, record(), pairing, "2026-W46")
    refused("meeting_not_scheduled", meeting.miss, NoShow.MENTEE, "", "2026-W46")
    refused("meeting_not_scheduled", meeting.cancel, "lockdown", True, "2026-W46")
    assert names(meeting) == ["Scheduled", "Held"]


def test_missed_and_cancelled_meetings() -> None:
    pairing = open_pairing([uuid4()])
    missed = scheduled(pairing)
    missed.miss(NoShow.MENTOR, "called in sick", "2026-W46")
    assert missed.status is MeetingStatus.MISSED
    refused("meeting_not_scheduled", missed.hold, record(), pairing, "2026-W46")

    future = scheduled(pairing, utcnow() + timedelta(days=2))
    refused("in_future", future.miss, NoShow.BOTH, "", "2026-W49")
    refused("reason_required", future.cancel, "   ", True, "2026-W49")
    future.cancel(" facility lockdown ", True, "2026-W49")
    assert future.status is MeetingStatus.CANCELLED
    event = future.collect_events()[-1]
    assert isinstance(event, Meeting.Cancelled)
    assert (event.reason, event.excused, event.week) == ("facility lockdown", True, "2026-W49")
    refused("meeting_not_scheduled", future.cancel, "again", False, "2026-W49")


def test_a_held_record_is_checked() -> None:
    mentee = uuid4()
    pairing = open_pairing([mentee])
    meeting = scheduled(pairing)
    refused("in_future", meeting.hold, record(utcnow() + timedelta(hours=1)), pairing, "w")
    refused("naive_datetime", meeting.hold, record(datetime(2026, 11, 10, 18)), pairing, "w")
    for minutes in (0, -30, MAX_MINUTES + 1):
        refused("invalid_duration", meeting.hold, record(minutes=minutes), pairing, "w")
    refused("topics_required", meeting.hold, record(topics=[]), pairing, "w")
    refused(
        "not_a_member", meeting.hold, record(attendance={uuid4(): Attendance.PRESENT}), pairing, "w"
    )
    refused(
        "nobody_attended",
        meeting.hold,
        record(attendance={mentee: Attendance.ABSENT}),
        pairing,
        "w",
    )
    assert meeting.status is MeetingStatus.SCHEDULED  # nothing was triggered
    meeting.hold(record(minutes=MAX_MINUTES, attendance={mentee: Attendance.PRESENT}), pairing, "w")
    assert meeting.record is not None and meeting.record.duration_minutes == 480


def test_a_group_meeting_records_attendance_for_every_member() -> None:
    a, b = uuid4(), uuid4()
    pairing = open_pairing([a, b], PairingKind.GROUP)
    meeting = scheduled(pairing)
    refused("attendance_required", meeting.hold, record(), pairing, "w")
    refused(
        "attendance_required",
        meeting.hold,
        record(attendance={a: Attendance.PRESENT}),
        pairing,
        "w",
    )
    refused(
        "not_a_member",
        meeting.hold,
        record(
            attendance={a: Attendance.PRESENT, b: Attendance.PRESENT, uuid4(): Attendance.PRESENT}
        ),
        pairing,
        "w",
    )
    refused(
        "nobody_attended",
        meeting.hold,
        record(attendance={a: Attendance.ABSENT, b: Attendance.ABSENT}),
        pairing,
        "w",
    )
    meeting.hold(record(attendance={a: Attendance.PRESENT, b: Attendance.ABSENT}), pairing, "w")
    assert meeting.status is MeetingStatus.HELD


def test_no_meeting_on_a_closed_pairing() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    pairing.close(
        Closure(closure_type=ClosureType.PLANNED, reason="done", initiator=Initiator.PROGRAM),
        datetime(2026, 11, 20, tzinfo=UTC),
    )
    refused("pairing_closed", meeting.hold, record(), pairing, "w")
    refused("pairing_closed", scheduled, pairing)


def test_schedule_needs_an_offset_and_a_sane_duration() -> None:
    pairing = open_pairing([uuid4()])
    refused(
        "naive_datetime",
        lambda: Meeting.schedule(
            pairing=pairing,
            scheduled_for=datetime(2026, 11, 10, 18),
            planned_minutes=60,
            location=OFF_SITE,
            week="w",
        ),
    )
    refused(
        "invalid_duration",
        lambda: Meeting.schedule(
            pairing=pairing,
            scheduled_for=datetime(2026, 11, 10, 18, tzinfo=UTC),
            planned_minutes=0,
            location=OFF_SITE,
            week="w",
        ),
    )


def test_an_amendment_is_a_new_event_and_carries_both_weeks() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    refused("meeting_not_held", meeting.amend, "typo", record(), pairing, "2026-W46")
    token = actor.set("mentor-sub")
    try:
        meeting.hold(record(confidential_note="private"), pairing, "2026-W46")
    finally:
        actor.reset(token)
    assert meeting.note_author == "mentor-sub"
    refused("reason_required", meeting.amend, "  ", record(), pairing, "2026-W47")
    refused("invalid_duration", meeting.amend, "typo", record(minutes=481), pairing, "2026-W47")
    moved = record(datetime(2026, 11, 17, 18, tzinfo=UTC), 45, confidential_note="private")
    token = actor.set("coordinator-sub")
    try:
        meeting.amend("wrong date", moved, pairing, "2026-W47")
    finally:
        actor.reset(token)
    # The same note keeps its author; the original record stays in the history.
    assert meeting.note_author == "mentor-sub"
    assert meeting.amendments == 1 and meeting.week == "2026-W47" and meeting.record == moved
    events = meeting.collect_events()
    assert [type(e).__name__ for e in events] == ["Scheduled", "Held", "Amended"]
    assert events[1].record.occurred_at == datetime(2026, 11, 10, 18, tzinfo=UTC)  # type: ignore[attr-defined]
    amended = events[2]
    assert isinstance(amended, Meeting.Amended)
    assert (amended.previous_week, amended.week, amended.reason) == (
        "2026-W46",
        "2026-W47",
        "wrong date",
    )


def test_a_new_confidential_note_belongs_to_whoever_wrote_it() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    token = actor.set("mentor-sub")
    try:
        meeting.hold(record(), pairing, "2026-W46")
    finally:
        actor.reset(token)
    assert meeting.note_author is None
    token = actor.set("coordinator-sub")
    try:
        meeting.amend("add a note", record(confidential_note="new"), pairing, "2026-W46")
        assert meeting.note_author == "coordinator-sub"
        meeting.amend("drop the note", record(), pairing, "2026-W46")
        assert meeting.note_author is None
    finally:
        actor.reset(token)


def test_a_confidential_note_reaches_its_author_and_the_coordinator_only() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    token = actor.set("mentor-sub")
    try:
        meeting.hold(record(confidential_note="private"), pairing, "2026-W46")
    finally:
        actor.reset(token)
    assert meeting.note_readable_by(NoteReader("mentor-sub", coordinator=False))
    assert meeting.note_readable_by(NoteReader("anyone", coordinator=True))
    assert not meeting.note_readable_by(NoteReader("case-manager-sub", coordinator=False))


def test_an_amendment_keeps_what_it_leaves_out_and_a_note_changes_only_for_its_readers() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    token = actor.set("mentor-sub")
    try:
        meeting.hold(
            record(summary="s", summary_part2=True, confidential_note="private"),
            pairing,
            "2026-W46",
        )
    finally:
        actor.reset(token)
    author = NoteReader("mentor-sub", coordinator=False)
    other = NoteReader("case-manager-sub", coordinator=False)
    kept = meeting.amendment(record(summary="t"), other, keep_part2=True, keep_note=True)
    assert (kept.summary, kept.summary_part2, kept.confidential_note) == ("t", True, "private")
    given = meeting.amendment(record(), author, keep_part2=False, keep_note=False)
    assert (given.summary_part2, given.confidential_note) == (False, "")
    with pytest.raises(NoteWithheld) as caught:
        meeting.amendment(record(), other, keep_part2=True, keep_note=False)
    assert caught.value.code == "forbidden"


def test_an_amendment_of_a_meeting_without_a_note_may_write_one() -> None:
    pairing = open_pairing([uuid4()])
    meeting = scheduled(pairing)
    meeting.hold(record(), pairing, "2026-W46")
    other = NoteReader("case-manager-sub", coordinator=False)
    amended = meeting.amendment(
        record(confidential_note="new"), other, keep_part2=True, keep_note=False
    )
    assert (amended.summary_part2, amended.confidential_note) == (False, "new")
