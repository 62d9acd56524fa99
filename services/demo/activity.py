"""A few months of realistic mentoring activity for the demo grantees, as stories of the
demo's history (services/demo/history.py): each act happens on its day.

Weekly meetings, each scheduled a week ahead (one missed, one excused, the next one
tomorrow), and SMART goals with steps, progress, a revision, an achievement and one overdue
goal; what surrounds them is in services/demo/support.py. Added only when the demo's pairings
were just created, so a second `prowd demo` adds nothing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from uuid import UUID

from domain import clock
from domain.facilities import ClassSlot
from domain.goals import GoalDomain, GoalTerms, Horizon
from domain.meetings import Attendance, HeldRecord, NoShow, Topic
from domain.pairings import Location
from services.app.grantee import GranteeApp
from services.demo.history import Calendar, Story
from services.store.ledger import Command

WEEKS = 12
MEETING_HOUR = 23  # UTC: 17:00-18:00 in the demo grantees' zones, outside class time
C = Command
# What a meeting's summary calls its topics.
SPOKEN = {
    Topic.GOALS: "goals",
    Topic.EMPLOYMENT: "work after release",
    Topic.RECOVERY: "staying in recovery",
    Topic.HOUSING: "where to live after release",
    Topic.FAMILY: "family contact",
    Topic.ID_DOCUMENTS: "getting an ID and a birth certificate",
}


def class_hours(app: GranteeApp, cohort_codes: list[str]) -> None:
    """Class time for the cohorts: weekdays 09:00-15:00 (meetings are kept outside it)."""
    slots = [ClassSlot(day, time(9), time(15)) for day in range(1, 6)]
    for code in cohort_codes:
        app.facilities.set_class_hours(C(), code, slots)


def meetings(
    app: GranteeApp,
    cal: Calendar,
    pairing_id: UUID,
    location: Location,
    *,
    skip_recent: int = 0,
    next_tomorrow: bool = False,
) -> Story:
    """A meeting a week for WEEKS weeks (up to `skip_recent` weeks ago), each booked when the
    one before ended, the first at the match; week 5 missed, week 8 cancelled the day before
    (excused). With `next_tomorrow`, the last one books the next for the grantee's tomorrow."""
    weeks = list(range(WEEKS, skip_recent, -1))
    pairing = app.pairings.pairing(pairing_id)
    yield pairing.opened_at + timedelta(hours=1)
    members = app.pairings.pairing(pairing_id).members

    def book(at_: datetime) -> UUID:
        return app.meetings.schedule_meeting(
            C(), pairing_id=pairing_id, scheduled_for=at_, planned_minutes=60, location=location
        ).aggregate.id

    meeting = book(cal.weeks_ago(weeks[0], hour=MEETING_HOUR))
    for i, n in enumerate(weeks):
        at = cal.weeks_ago(n, hour=MEETING_HOUR)
        if n == 8:
            yield at - timedelta(days=1)
            app.meetings.cancel_meeting(
                C(), meeting, "facility count, visits suspended", excused=True
            )
        elif n == 5:
            yield at + timedelta(hours=1)
            app.meetings.miss_meeting(C(), meeting, NoShow.MENTEE, "unit lockdown notice came late")
        else:
            topics = [
                [Topic.GOALS, Topic.EMPLOYMENT],
                [Topic.RECOVERY],
                [Topic.HOUSING, Topic.FAMILY],
                [Topic.ID_DOCUMENTS],
            ][n % 4]
            minutes = 45 + 5 * (n % 4)
            yield at + timedelta(minutes=minutes + 15)
            app.meetings.hold_meeting(
                C(),
                meeting,
                HeldRecord(
                    occurred_at=at,
                    duration_minutes=minutes,
                    location=location,
                    topics=topics,
                    attendance={m: Attendance.PRESENT for m in members} if len(members) > 1 else {},
                    summary=f"Week {WEEKS - n + 1}: talked through "
                    + " and ".join(SPOKEN[t] for t in topics)
                    + ".",
                    confidential_note="Mentee shared worries about family contact;"
                    " coordinator to follow up."
                    if n == 3
                    else "",
                ),
            )
        if i + 1 < len(weeks):
            meeting = book(cal.weeks_ago(weeks[i + 1], hour=MEETING_HOUR))
        elif next_tomorrow:
            # Tomorrow's meeting, the grantee's day: the alerts list reminds of it.
            book(cal.at(cal.today + timedelta(days=1), 17))


def goals(app: GranteeApp, cal: Calendar, mentee: UUID) -> Story:
    """A short-term goal set in a meeting with steps, progress and a revision, and an
    ID-documents goal whose date has passed (the caseload shows it overdue)."""

    def after_meeting(n: int) -> datetime:
        return cal.weeks_ago(n, hour=MEETING_HOUR) + timedelta(hours=2)

    yield after_meeting(6)
    job = app.goals.set_goal(
        C(),
        participant_id=mentee,
        terms=GoalTerms(
            horizon=Horizon.SHORT_TERM,
            domain=GoalDomain.EMPLOYMENT,
            statement="Have a resume and two job leads ready before release",
            measure="resume reviewed by the job developer; leads written down",
            target="1 resume, 2 leads",
            target_date=cal.today + timedelta(days=40),
        ),
    ).aggregate
    first = app.goals.add_goal_step(
        C(), job.id, description="Draft a resume in the education department"
    ).aggregate
    app.goals.add_goal_step(
        C(), job.id, description="Ask the job developer for two employer contacts"
    )
    yield cal.end - timedelta(days=35)
    app.goals.set_goal(
        C(),
        participant_id=mentee,
        terms=GoalTerms(
            horizon=Horizon.SHORT_TERM,
            domain=GoalDomain.ID_DOCUMENTS,
            statement="Request a birth certificate from the state vital records office",
            measure="request mailed",
            target="request sent",
            target_date=clock.today(app.zone) + timedelta(days=21),
        ),
    )
    yield after_meeting(4)
    app.goals.complete_goal_step(C(), job.id, next(iter(first.steps)), "Draft done and printed")
    app.goals.record_goal_progress(
        C(), job.id, note="Resume drafted", evidence="copy in the case file", percent=50
    )
    yield after_meeting(2)
    app.goals.revise_goal(
        C(),
        job.id,
        reason="Release date moved up by a month",
        target_date=cal.today + timedelta(days=10),
    )


def weekly_goal(app: GranteeApp, cal: Calendar, mentee: UUID) -> Story:
    """A weekly goal set in last week's meeting and achieved two days later."""
    yield cal.weeks_ago(1, hour=MEETING_HOUR) + timedelta(hours=2)
    weekly = app.goals.set_goal(
        C(),
        participant_id=mentee,
        terms=GoalTerms(
            horizon=Horizon.WEEKLY,
            domain=GoalDomain.PRO_SOCIAL_SUPPORTS,
            statement="Attend the Thursday recovery meeting",
            measure="attendance sheet",
            target="1 meeting",
            target_date=clock.today(app.zone) + timedelta(days=6),
        ),
    ).aggregate
    yield cal.weeks_ago(1, hour=MEETING_HOUR) + timedelta(days=2, hours=3)
    app.goals.achieve_goal(
        C(), weekly.id, "Went, and spoke for the first time. Celebrated at the next meeting."
    )
