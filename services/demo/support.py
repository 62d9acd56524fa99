"""What surrounds the demo's mentoring, as stories of its history (services/demo/history.py):
the mentors' debriefs and escalations (one crisis still open), the mentee's feedback, an
employment outcome, a resource directory and a referral made in a meeting.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from domain import clock
from domain.evaluation import Employment, FeedbackQuestion, Rating, WageUnit
from domain.resources import Contact, ResourceCategory
from domain.supervision import DebriefTopic, EscalationType, Severity, Wellbeing, WellbeingCheck
from services.app.grantee import GranteeApp
from services.demo.activity import MEETING_HOUR
from services.demo.history import Calendar, Story, acts
from services.store.ledger import Command

C = Command


def supervision(
    app: GranteeApp, cal: Calendar, one: UUID, two: UUID, mentee: UUID, group_member: UUID
) -> Story:
    """Two debriefs (one mentor strained), a resolved relapse-risk escalation and an open crisis."""
    raised = cal.end - timedelta(days=20)
    escalation: list[UUID] = []

    def raise_relapse_risk() -> None:
        escalation.append(
            app.supervision.raise_escalation(
                C(),
                mentor_id=one,
                participant_id=mentee,
                type=EscalationType.RELAPSE_RISK,
                severity=Severity.MEDIUM,
                description="Mentee mentioned cravings after a family visit.",
                raised_at=clock.now(),
            ).aggregate.id
        )

    yield from acts(
        (
            cal.days_ago(45, hour=16),
            lambda: app.supervision.record_debrief(
                C(),
                mentor_ids=[two],
                held_on=clock.today(app.zone),
                topics=[DebriefTopic.PEER_LEARNING],
                checks=[
                    WellbeingCheck(
                        mentor_id=two,
                        wellbeing=Wellbeing.STRAINED,
                        work_life_balance_ok=False,
                        support_offered="Lighter caseload offered until January",
                    )
                ],
            ),
        ),
        (raised, raise_relapse_risk),
        (
            raised + timedelta(hours=3),
            lambda: app.supervision.acknowledge_escalation(C(), escalation[0], at=clock.now()),
        ),
        (
            cal.end - timedelta(days=18),
            lambda: app.supervision.resolve_escalation(
                C(),
                escalation[0],
                resolution="Connected with the RDAP counselor; plan agreed.",
                at=clock.now(),
            ),
        ),
        (
            cal.days_ago(12, hour=16),
            lambda: app.supervision.record_debrief(
                C(),
                mentor_ids=[one],
                held_on=clock.today(app.zone),
                topics=[
                    DebriefTopic.MENTEE_PROGRESS,
                    DebriefTopic.BOUNDARIES,
                    DebriefTopic.SELF_CARE,
                ],
                checks=[WellbeingCheck(mentor_id=one, wellbeing=Wellbeing.STEADY)],
            ),
        ),
        (
            cal.end - timedelta(hours=30),
            lambda: app.supervision.raise_escalation(
                C(),
                mentor_id=two,
                participant_id=group_member,
                type=EscalationType.CRISIS,
                severity=Severity.HIGH,
                description="Group member in acute distress after news from home.",
                raised_at=clock.now(),
            ),
        ),
    )


def evaluation(
    app: GranteeApp, cal: Calendar, pairing_id: UUID, mentee: UUID, working: UUID
) -> Story:
    """An employment outcome for a participant and anonymous feedback from the mentee."""
    yield cal.days_ago(18, hour=10)
    app.evaluation.record_employment(
        C(),
        working,
        Employment(
            employer="Lakeside Distribution",
            started_on=clock.today(app.zone) - timedelta(days=2),
            wage=Decimal("17.50"),
            wage_unit=WageUnit.HOURLY,
            hours_per_week=40,
            job_title="Warehouse associate",
        ),
    )
    yield cal.days_ago(7, hour=19)
    app.evaluation.record_feedback(
        C(),
        pairing_id=pairing_id,
        participant_id=mentee,
        given_on=clock.today(app.zone),
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


def referrals(app: GranteeApp, cal: Calendar, pairing_id: UUID, mentee: UUID) -> Story:
    """A small resource directory, then a referral made in week 9's meeting (about ID
    documents), connected two days later."""
    yield app.pairings.pairing(pairing_id).opened_at + timedelta(hours=2)
    clinic = app.referrals.list_resource(
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
    met = cal.weeks_ago(4, hour=MEETING_HOUR)
    yield met + timedelta(hours=2)
    referral = app.referrals.make_referral(
        C(),
        participant_id=mentee,
        resource_id=clinic,
        need="Birth certificate for the ID application",
        meeting_id=app.pairings.pairing(pairing_id).meeting_at(met),
    ).aggregate
    yield met + timedelta(days=2, hours=-6)
    app.referrals.connect_referral(
        C(), referral.id, on=clock.today(app.zone), note="Appointment booked"
    )
