"""The demo's mentors, one at each stage of the lifecycle, and their pairings, as stories of
the demo's history (services/demo/history.py).

The two certified graduates (participant records of the earliest cohort, which graduated before
any other began) get an individual and a group pairing with a few months of activity
(services/demo/activity.py, services/demo/support.py); an applicant, a suspended community
peer and a retired graduate complete the roster.
"""

from __future__ import annotations

from datetime import date, timedelta

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
from services.demo import activity, support
from services.demo.history import Calendar, History, Story
from services.demo.keys import demo_participant, mentor_subject, quietly
from services.store.ledger import Command

# The demo mentor whose token `print_tokens` prints for the peer_mentor role: a certified
# graduate with an individual pairing, so the peer mentor's caseload is not empty.
PEER_MENTOR = "Marcus W."
# The participants (services/demo/data.py) whose records the graduate mentors are: all of the
# graduated cohort that came first, all released since.
MARCUS, DENISE, LUIS, KEVIN = 3, 9, 15, 21
GRADUATE_RECORDS = (MARCUS, DENISE, LUIS, KEVIN)
# The day the mentors' screening began (registered three days before).
SCREENED = date(2026, 1, 5)
C = Command


def add_mentors(
    app: GranteeApp, history: History, cal: Calendar, prefix: str, bop: str, bop2: str, rrc: str
) -> None:
    """Mentors at every stage of the lifecycle, with an individual and a group pairing."""
    history.add(_graduates(app, history, cal, prefix, bop, bop2, rrc))
    history.add(_applicant(app, cal, prefix))
    history.add(_suspended_peer(app, cal, prefix, rrc))
    history.add(_retired(app, cal, prefix))


def _register(app: GranteeApp, prefix: str, n: int | None, name: str) -> Mentor | None:
    """The new mentor (a graduate: participant `n`'s record; None: a community peer), or
    None when an earlier run registered it (nothing is added)."""
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
        source=MentorSource.GRADUATE if n is not None else MentorSource.COMMUNITY_PEER,
        channel=RecruitmentChannel.COHORT_GRADUATION
        if n is not None
        else RecruitmentChannel.COMMUNITY_ORGANIZATION,
        participant_id=demo_participant(prefix, n) if n is not None else None,
        subject=mentor_subject(prefix, name),
        mentor_id=mentor_id,
    )
    return None if saved is None else saved.aggregate


def _certify(
    app: GranteeApp, cal: Calendar, rrc: str, mentors: list[tuple[Mentor, list[str]]]
) -> Story:
    """Screening and background check, training a week later, then the clearances (for the
    facilities listed with each mentor) and certification."""
    day = SCREENED
    yield cal.at(day, 10)
    for m, _ in mentors:
        for step in ScreeningStep:
            app.mentors.complete_screening_step(
                C(), m.id, step=step, on=day, staff="demo-coordinator"
            )
        app.mentors.review_background(
            C(), m.id, decision=BackgroundDecision.APPROVED, reviewer="demo-coordinator", on=day
        )
    yield cal.at(day + timedelta(days=7), 16)
    for m, _ in mentors:
        for module in TrainingModule:
            app.mentors.complete_training(
                C(), m.id, TrainingRecord(module, day + timedelta(days=7), 1.5, "Program trainer")
            )
    yield cal.at(day + timedelta(days=10), 10)
    for m, clear_at in mentors:
        for code in clear_at:
            # The RRC clearances run out within 30 days of whatever day the demo is loaded on,
            # so the roster and the alerts show an upcoming expiry (DESIGN D10).
            expires = cal.today + timedelta(days=20 if code == rrc else 300)
            app.mentors.grant_clearance(
                C(), m.id, Clearance(code, day + timedelta(days=10), expires)
            )
        app.mentors.assign_coordinator(C(), m.id, "demo-coordinator")
        app.mentors.certify_mentor(C(), m.id)


def _graduates(
    app: GranteeApp, history: History, cal: Calendar, prefix: str, bop: str, bop2: str, rrc: str
) -> Story:
    """The two certified graduates, their pairings and what happened in them."""
    yield cal.at(SCREENED - timedelta(days=3), 10)
    one = _register(app, prefix, MARCUS, PEER_MENTOR)
    two = _register(app, prefix, DENISE, "Denise R.")
    if one is None or two is None:
        return
    yield from _certify(app, cal, rrc, [(one, [bop]), (two, [bop2, rrc])])
    matched_at = cal.weeks_ago(activity.WEEKS, hour=12) - timedelta(days=1)
    yield matched_at
    commitment = Commitment(frequency=Frequency.WEEKLY, minutes_per_meeting=60, months=6)
    inside = Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop)
    inside2 = Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop2)
    mentee, group_member = demo_participant(prefix, 25), demo_participant(prefix, 26)
    individual = app.pairings.open_pairing(
        C(),
        kind=PairingKind.INDIVIDUAL,
        mentor_id=one.id,
        member_ids=[mentee],
        location=inside,
        commitment=commitment,
        opened_at=matched_at,
        criteria=[MatchCriterion.SHARED_EXPERIENCE, MatchCriterion.SHARED_GOALS],
    ).aggregate
    group = app.pairings.open_pairing(
        C(),
        kind=PairingKind.GROUP,
        mentor_id=two.id,
        member_ids=[group_member, demo_participant(prefix, 29)],
        location=inside2,
        commitment=commitment,
        criteria=[MatchCriterion.SHARED_GOALS],
        focus=Focus.EMPLOYMENT,
        opened_at=matched_at,
    ).aggregate
    history.add(activity.meetings(app, cal, individual.id, inside, next_tomorrow=True))
    # The group has not met for the last two weeks: the alerts list shows it.
    history.add(activity.meetings(app, cal, group.id, inside2, skip_recent=2))
    history.add(activity.goals(app, cal, mentee))
    history.add(activity.weekly_goal(app, cal, mentee))
    history.add(support.supervision(app, cal, one.id, two.id, mentee, group_member))
    history.add(support.evaluation(app, cal, individual.id, mentee, demo_participant(prefix, 10)))
    history.add(support.referrals(app, cal, individual.id, mentee))


def _applicant(app: GranteeApp, cal: Calendar, prefix: str) -> Story:
    """A graduate part-way through screening and training."""
    yield cal.at(SCREENED - timedelta(days=3), 10)
    applicant = _register(app, prefix, LUIS, "Luis G.")
    if applicant is None:
        return
    yield cal.at(SCREENED, 14)
    app.mentors.complete_screening_step(
        C(), applicant.id, step=ScreeningStep.APPLICATION, on=SCREENED, staff="demo-coordinator"
    )
    app.mentors.complete_training(
        C(),
        applicant.id,
        TrainingRecord(TrainingModule.COMMUNICATION_SKILLS, SCREENED, 2.0, "Program trainer"),
    )


def _suspended_peer(app: GranteeApp, cal: Calendar, prefix: str, rrc: str) -> Story:
    """A certified community peer, suspended six weeks ago."""
    yield cal.at(SCREENED - timedelta(days=3), 10)
    peer = _register(app, prefix, None, "Angela T.")
    if peer is None:
        return
    yield from _certify(app, cal, rrc, [(peer, [rrc])])
    yield cal.days_ago(40, hour=11)
    app.mentors.suspend_mentor(C(), peer.id, "missed two supervision debriefs")


def _retired(app: GranteeApp, cal: Calendar, prefix: str) -> Story:
    """A certified graduate who retired two months ago."""
    yield cal.at(SCREENED - timedelta(days=3), 10)
    retired = _register(app, prefix, KEVIN, "Kevin H.")
    if retired is None:
        return
    yield from _certify(app, cal, "", [(retired, [])])
    yield cal.days_ago(60, hour=11)
    app.mentors.retire_mentor(C(), retired.id, "moved out of state")
