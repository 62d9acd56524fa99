"""The demo's mentors, one at each stage of the lifecycle, and their pairings.

The two certified graduates get an individual and a group pairing with a few months of
activity (services/demo/activity.py); an applicant, a suspended community peer and a retired
graduate complete the roster.
"""

from __future__ import annotations

from datetime import date, timedelta

from domain import clock
from domain.casework import ContactMode
from domain.common import NotFound, natural_id
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
    Commitment,
    Focus,
    Frequency,
    Location,
    LocationKind,
    MatchCriterion,
    PairingKind,
)
from services.app.grantee import GranteeApp
from services.demo import activity
from services.demo.keys import demo_participant, mentor_subject, quietly
from services.store.ledger import Command

# The demo mentor whose token `print_tokens` prints for the peer_mentor role: a certified
# graduate with an individual pairing, so the peer mentor's caseload is not empty.
PEER_MENTOR = "Marcus W."
# The day the graduates' cohort graduated (services/demo/data.py).
GRADUATED = date(2025, 12, 12)
# Their case-management contacts, every 45 days, begin 45 days after this day (after their entry).
KEEP_IN_TOUCH_FROM = date(2025, 7, 1)


def add_mentors(app: GranteeApp, prefix: str, bop: str, bop2: str, rrc: str) -> None:
    """Mentors at every stage of the lifecycle, with an individual and a group pairing."""
    C = Command
    day = date(2026, 1, 5)

    def register(n: int | None, name: str, source: MentorSource) -> Mentor | None:
        """The new mentor, or None when an earlier run registered it (nothing is added)."""
        mentor_id = natural_id("demo-mentor", f"{prefix}:{name}")
        try:
            app.mentors.mentor(mentor_id)
            return None
        except NotFound:
            pass
        saved = quietly(
            app.mentors.register_mentor,
            C(),
            display_name=name,
            source=source,
            channel=RecruitmentChannel.COHORT_GRADUATION
            if n is not None
            else RecruitmentChannel.COMMUNITY_ORGANIZATION,
            participant_id=demo_participant(prefix, n) if n is not None else None,
            subject=mentor_subject(prefix, name),
            mentor_id=mentor_id,
        )
        return None if saved is None else saved.aggregate

    def certify(m: Mentor, clear_at: list[str]) -> None:
        for step in ScreeningStep:
            app.mentors.complete_screening_step(
                C(), m.id, step=step, on=day, staff="demo-coordinator"
            )
        app.mentors.review_background(
            C(), m.id, decision=BackgroundDecision.APPROVED, reviewer="demo-coordinator", on=day
        )
        for module in TrainingModule:
            app.mentors.complete_training(
                C(), m.id, TrainingRecord(module, day + timedelta(days=7), 1.5, "Program trainer")
            )
        for code in clear_at:
            # The RRC clearances run out within 30 days of whatever day the demo is loaded on,
            # so the roster and the alerts show an upcoming expiry (DESIGN D10).
            expires = clock.today() + timedelta(days=20 if code == rrc else 300)
            app.mentors.grant_clearance(
                C(), m.id, Clearance(code, day + timedelta(days=10), expires)
            )
        app.mentors.assign_coordinator(C(), m.id, "demo-coordinator")
        app.mentors.certify_mentor(C(), m.id)

    commitment = Commitment(frequency=Frequency.WEEKLY, minutes_per_meeting=60, months=6)
    matched_at = activity.weeks_ago(activity.WEEKS, hour=12) - timedelta(days=1)
    one = register(0, PEER_MENTOR, MentorSource.GRADUATE)
    two = register(3, "Denise R.", MentorSource.GRADUATE)
    if one is not None and two is not None:
        certify(one, [bop])
        certify(two, [bop2, rrc])
        # Until their first pairing the two graduates kept in touch with their case manager
        # (they left stage 1 before their cohort graduated, which ended their class hours):
        # without service for more than 90 days they would have exited, and a derived exit
        # stands once it has taken effect (domain/definitions.py).
        for n in (0, 3):
            on = KEEP_IN_TOUCH_FROM
            while (on := on + timedelta(days=45)) < matched_at.date():
                app.participants.record_case_contact(
                    C(), demo_participant(prefix, n), on=on, mode=ContactMode.PHONE
                )
        activity.class_hours(app, [f"{prefix}C-2026A", f"{prefix}C-2026B"])
        inside = Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop)
        individual = app.pairings.open_pairing(
            C(),
            kind=PairingKind.INDIVIDUAL,
            mentor_id=one.id,
            member_ids=[demo_participant(prefix, 25)],
            location=inside,
            commitment=commitment,
            opened_at=matched_at,
            criteria=[MatchCriterion.SHARED_EXPERIENCE, MatchCriterion.SHARED_GOALS],
        ).aggregate
        group = app.pairings.open_pairing(
            C(),
            kind=PairingKind.GROUP,
            mentor_id=two.id,
            member_ids=[demo_participant(prefix, 26), demo_participant(prefix, 29)],
            location=Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop2),
            commitment=commitment,
            criteria=[MatchCriterion.SHARED_GOALS],
            focus=Focus.EMPLOYMENT,
            opened_at=matched_at,
        ).aggregate
        held = activity.meetings(app, individual.id, inside)
        # The group has not met for the last two weeks: the alerts list shows it.
        activity.meetings(
            app,
            group.id,
            Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop2),
            skip_recent=2,
        )
        activity.goals(app, demo_participant(prefix, 25))
        activity.supervision(
            app, one.id, two.id, demo_participant(prefix, 25), demo_participant(prefix, 26)
        )
        activity.evaluation(
            app, individual.id, demo_participant(prefix, 25), demo_participant(prefix, 10)
        )
        activity.referrals(app, demo_participant(prefix, 25), held)
    applicant = register(6, "Luis G.", MentorSource.GRADUATE)
    if applicant is not None:
        app.mentors.complete_screening_step(
            C(), applicant.id, step=ScreeningStep.APPLICATION, on=day, staff="demo-coordinator"
        )
        app.mentors.complete_training(
            C(),
            applicant.id,
            TrainingRecord(TrainingModule.COMMUNICATION_SKILLS, day, 2.0, "Program trainer"),
        )
    peer = register(None, "Angela T.", MentorSource.COMMUNITY_PEER)
    if peer is not None:
        certify(peer, [rrc])
        app.mentors.suspend_mentor(C(), peer.id, "missed two supervision debriefs")
    retired = register(9, "Kevin H.", MentorSource.GRADUATE)
    if retired is not None:
        certify(retired, [])
        app.mentors.retire_mentor(C(), retired.id, "moved out of state")
