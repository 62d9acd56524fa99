"""A few months of realistic mentoring activity for the demo grantees.

Weekly meetings (one missed, one excused), SMART goals with steps, progress, a revision, an
achievement and one overdue goal, debriefs, escalations (one crisis still open), feedback, an
employment outcome, a resource directory and a referral made in a meeting. Runs only when the
demo's pairings were just created, so a second `prowd demo` adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from domain import clock
from domain.evaluation import Employment, FeedbackQuestion, Rating, WageUnit
from domain.facilities import ClassSlot
from domain.goals import Goal, GoalDomain, GoalTerms, Horizon
from domain.meetings import Attendance, HeldRecord, NoShow, Topic
from domain.pairings import Location
from domain.resources import Contact, ResourceCategory
from domain.supervision import DebriefTopic, EscalationType, Severity, Wellbeing, WellbeingCheck
from services.app.grantee import GranteeApp
from services.store.ledger import Command

WEEKS = 12
C = Command


def weeks_ago(n: int, *, hour: int = 0) -> datetime:
    """Tuesday `n` weeks back, at `hour` UTC (evening hours fall outside class time)."""
    today = clock.now().date()
    tuesday = today - timedelta(days=(today.weekday() - 1) % 7 + 7 * n)
    return datetime.combine(tuesday, time(hour), tzinfo=UTC)


def class_hours(app: GranteeApp, cohort_codes: list[str]) -> None:
    """Class time for the cohorts: weekdays 09:00-15:00 (meetings are kept outside it)."""
    slots = [ClassSlot(day, time(9), time(15)) for day in range(1, 6)]
    for code in cohort_codes:
        app.facilities.set_class_hours(C(), code, slots)


def meetings(
    app: GranteeApp, pairing_id: UUID, location: Location, *, skip_recent: int = 0
) -> UUID | None:
    """A meeting a week for WEEKS weeks; week 5 missed, week 8 excused. Returns one held id."""
    members = app.pairings.pairing(pairing_id).members
    kept: UUID | None = None
    for n in range(WEEKS, skip_recent, -1):
        at = weeks_ago(n, hour=23)  # 17:00-18:00 in the demo grantees' zones
        if n == 5:
            saved = app.meetings.schedule_meeting(
                C(), pairing_id=pairing_id, scheduled_for=at, planned_minutes=60, location=location
            )
            app.meetings.miss_meeting(
                C(), saved.aggregate.id, NoShow.MENTEE, "unit lockdown notice came late"
            )
            continue
        if n == 8:
            saved = app.meetings.schedule_meeting(
                C(), pairing_id=pairing_id, scheduled_for=at, planned_minutes=60, location=location
            )
            app.meetings.cancel_meeting(
                C(), saved.aggregate.id, "facility count, visits suspended", excused=True
            )
            continue
        topics = [
            [Topic.GOALS, Topic.EMPLOYMENT],
            [Topic.RECOVERY],
            [Topic.HOUSING, Topic.FAMILY],
            [Topic.ID_DOCUMENTS],
        ][n % 4]
        record = HeldRecord(
            occurred_at=at,
            duration_minutes=45 + 5 * (n % 4),
            location=location,
            topics=topics,
            attendance={m: Attendance.PRESENT for m in members} if len(members) > 1 else {},
            summary=f"Week {WEEKS - n + 1}: talked through {', '.join(t.value for t in topics)}.",
            confidential_note="Mentee shared worries about family contact; coordinator to follow up."
            if n == 3
            else "",
        )
        saved = app.meetings.schedule_meeting(
            C(),
            pairing_id=pairing_id,
            scheduled_for=at,
            planned_minutes=60,
            location=location,
            held=record,
        )
        if n == 4:
            kept = saved.aggregate.id
    return kept


def goals(app: GranteeApp, mentee: UUID) -> None:
    """A short-term goal with steps, progress and a revision, an achieved weekly goal and an
    overdue one."""
    today = clock.today(app.zone)  # the grantee's day
    job = app.goals.set_goal(
        C(),
        participant_id=mentee,
        terms=GoalTerms(
            horizon=Horizon.SHORT_TERM,
            domain=GoalDomain.EMPLOYMENT,
            statement="Have a resume and two job leads ready before release",
            measure="resume reviewed by the job developer; leads written down",
            target="1 resume, 2 leads",
            target_date=today + timedelta(days=60),
        ),
    ).aggregate
    first = app.goals.add_goal_step(
        C(), job.id, description="Draft a resume in the education department"
    ).aggregate
    app.goals.add_goal_step(
        C(), job.id, description="Ask the job developer for two employer contacts"
    )
    app.goals.complete_goal_step(C(), job.id, next(iter(first.steps)), "Draft done and printed")
    app.goals.record_goal_progress(
        C(), job.id, note="Resume drafted", evidence="copy in the case file", percent=50
    )
    app.goals.revise_goal(
        C(),
        job.id,
        reason="Release date moved up by a month",
        target_date=today + timedelta(days=30),
    )
    weekly = app.goals.set_goal(
        C(),
        participant_id=mentee,
        terms=GoalTerms(
            horizon=Horizon.WEEKLY,
            domain=GoalDomain.PRO_SOCIAL_SUPPORTS,
            statement="Attend the Thursday recovery meeting",
            measure="attendance sheet",
            target="1 meeting",
            target_date=today + timedelta(days=6),
        ),
    ).aggregate
    app.goals.achieve_goal(
        C(), weekly.id, "Went, and spoke for the first time. Celebrated at the next meeting."
    )
    # An ID-documents goal set five weeks ago whose date has passed: the caseload shows it overdue.
    set_at = clock.now() - timedelta(days=35)
    overdue = Goal.set_for(
        participant=app.participants.participant(mentee),
        terms=GoalTerms(
            horizon=Horizon.SHORT_TERM,
            domain=GoalDomain.ID_DOCUMENTS,
            statement="Request a birth certificate from the state vital records office",
            measure="request mailed",
            target="request sent",
            target_date=set_at.date() + timedelta(days=21),
        ),
        at=set_at,
    )
    app.ledger.record(overdue, C())


def supervision(app: GranteeApp, one: UUID, two: UUID, mentee: UUID, group_member: UUID) -> None:
    """Two debriefs (one mentor strained), a resolved relapse-risk escalation and an open crisis."""
    today = clock.today(app.zone)  # the grantee's day
    app.supervision.record_debrief(
        C(),
        mentor_ids=[one],
        held_on=today - timedelta(days=12),
        topics=[DebriefTopic.MENTEE_PROGRESS, DebriefTopic.BOUNDARIES, DebriefTopic.SELF_CARE],
        checks=[WellbeingCheck(mentor_id=one, wellbeing=Wellbeing.STEADY)],
    )
    app.supervision.record_debrief(
        C(),
        mentor_ids=[two],
        held_on=today - timedelta(days=45),
        topics=[DebriefTopic.PEER_LEARNING],
        checks=[
            WellbeingCheck(
                mentor_id=two,
                wellbeing=Wellbeing.STRAINED,
                work_life_balance_ok=False,
                support_offered="Lighter caseload offered until January",
            )
        ],
    )
    raised = app.supervision.raise_escalation(
        C(),
        mentor_id=one,
        participant_id=mentee,
        type=EscalationType.RELAPSE_RISK,
        severity=Severity.MEDIUM,
        description="Mentee mentioned cravings after a family visit.",
        raised_at=clock.now() - timedelta(days=20),
    ).aggregate
    app.supervision.acknowledge_escalation(
        C(), raised.id, at=clock.now() - timedelta(days=20) + timedelta(hours=3)
    )
    app.supervision.resolve_escalation(
        C(),
        raised.id,
        resolution="Connected with the RDAP counselor; plan agreed.",
        at=clock.now() - timedelta(days=18),
    )
    app.supervision.raise_escalation(
        C(),
        mentor_id=two,
        participant_id=group_member,
        type=EscalationType.CRISIS,
        severity=Severity.HIGH,
        description="Group member in acute distress after news from home.",
        raised_at=clock.now() - timedelta(hours=30),
    )


def evaluation(app: GranteeApp, pairing_id: UUID, mentee: UUID, working: UUID) -> None:
    """Anonymous feedback from the mentee and an employment outcome for another participant."""
    today = clock.today(app.zone)  # the grantee's day
    app.evaluation.record_feedback(
        C(),
        pairing_id=pairing_id,
        participant_id=mentee,
        given_on=today - timedelta(days=7),
        ratings=[
            Rating(question=q, score=s)
            for q, s in (
                (FeedbackQuestion.TRUST, 5),
                (FeedbackQuestion.LISTENING, 5),
                (FeedbackQuestion.HELPS_WITH_GOALS, 4),
                (FeedbackQuestion.OVERALL, 5),
            )
        ],
        comment="He has been where I am.",
        anonymous_to_mentor=True,
    )
    app.evaluation.record_employment(
        C(),
        working,
        Employment(
            employer="Lakeside Distribution",
            started_on=today - timedelta(days=20),
            wage=Decimal("17.50"),
            wage_unit=WageUnit.HOURLY,
            hours_per_week=40,
            job_title="Warehouse associate",
        ),
    )


def referrals(app: GranteeApp, mentee: UUID, meeting_id: UUID | None) -> None:
    """A small resource directory and a referral made in a meeting, already connected."""
    ids = app.referrals.list_resource(
        C(),
        name="County vital records walk-in clinic",
        category=ResourceCategory.ID_DOCUMENTS,
        contact=Contact(phone="555-0142"),
    ).aggregate.id
    app.referrals.list_resource(
        C(),
        name="Second Chance Staffing",
        category=ResourceCategory.JOB_PLACEMENT,
        contact=Contact(website="https://example.org/jobs"),
    )
    app.referrals.list_resource(
        C(), name="Thursday recovery circle", category=ResourceCategory.RECOVERY
    )
    referral = app.referrals.make_referral(
        C(),
        participant_id=mentee,
        resource_id=ids,
        need="Birth certificate for the ID application",
        meeting_id=meeting_id,
    ).aggregate
    app.referrals.connect_referral(
        C(), referral.id, on=clock.today(app.zone), note="Appointment booked"
    )
