"""Demo data: two grantees with facilities, cohorts and participants across the stages.

Idempotent: every item has a natural key (slug, code, participant number), so a second run
finds each one already there and adds nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from domain import clock, common
from domain.common import AlreadyExists, NotFound, natural_id
from domain.facilities import FacilityKind
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
from domain.participants import ExitReason, PersonalDetails, Placement, participant_id
from services.app.grantee import GranteeApp
from services.app.tenancy import Tenancy
from services.demo import activity as activity
from services.identity.access import Role
from services.identity.tokens import issue_token
from services.settings import Settings
from services.store.ledger import Command

T = TypeVar("T")

GRANTEES = [
    ("northside_works", "Northside Reentry Works", "FS-38211-22-60-A-17", "America/Chicago"),
    ("harbor_bridge", "Harbor Bridge Partners", "FS-38247-22-60-A-36", "America/New_York"),
]
FIRST = [
    "James",
    "Maria",
    "Darnell",
    "Luis",
    "Keisha",
    "Robert",
    "Tanya",
    "Andre",
    "Carlos",
    "Denise",
    "Marcus",
    "Angela",
    "Tyrone",
    "Rosa",
    "Kevin",
    "Shanice",
]
LAST = [
    "Johnson",
    "Garcia",
    "Williams",
    "Martinez",
    "Brown",
    "Davis",
    "Lopez",
    "Wilson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Young",
    "Allen",
]
PER_GRANTEE = 30


def _quietly(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run a creating command; None when its natural key exists already (a second run)."""
    try:
        return fn(*args, **kwargs)
    except AlreadyExists:
        return None


def load_demo(tenancy: Tenancy) -> int:
    """Create the demo grantees and their data; returns the number of participants added."""
    common.actor.set("demo-loader")
    added = 0
    for index, (slug, name, grant, tz) in enumerate(GRANTEES):
        _quietly(
            tenancy.platform.registry.register_grantee,
            Command(),
            slug=slug,
            name=name,
            grant_number=grant,
            time_zone=tz,
        )
        app = tenancy.app(slug)
        prefix = slug[:1].upper()
        bop, bop2, rrc = f"FCI-{prefix}1", f"FCI-{prefix}2", f"RRC-{prefix}1"
        for code, fname, kind in (
            (bop, "Federal Correctional Institution (demo)", FacilityKind.BOP_INSTITUTION),
            (bop2, "Federal Prison Camp (demo)", FacilityKind.BOP_INSTITUTION),
            (rrc, "Residential Reentry Center (demo)", FacilityKind.RRC),
        ):
            _quietly(app.facilities.register_facility, Command(), code=code, name=fname, kind=kind)
        cohorts = [
            (f"{prefix}C-2025A", bop, date(2025, 6, 2)),
            (f"{prefix}C-2026A", bop, date(2026, 1, 12)),
            (f"{prefix}C-2026B", bop2, date(2026, 3, 2)),
        ]
        for code, facility, start in cohorts:
            _quietly(
                app.facilities.start_cohort,
                Command(),
                code=code,
                name=code,
                facility_code=facility,
                start_date=start,
            )
        cohort = app.facilities.cohort(cohorts[0][0])
        if cohort.graduated_on is None:
            app.facilities.graduate_cohort(Command(), code=cohorts[0][0], on=date(2025, 12, 12))
        rng = random.Random(index)
        for n in range(PER_GRANTEE):
            code, facility, start = cohorts[n % 3]
            entry = start + timedelta(days=rng.randint(0, 20))
            saved = _quietly(
                app.participants.enroll_participant,
                Command(),
                number=f"{prefix}DEMO{n:04d}",
                personal=PersonalDetails(
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    date_of_birth=date(
                        1965 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28)
                    ),
                    bop_register_number=f"{rng.randint(10000, 99999)}-{rng.randint(100, 999)}",
                ),
                program_entry_date=entry,
                facility_code=facility,
                cohort_code=code,
            )
            if saved is None:
                continue
            added += 1
            if n < STAY_IN_STAGE_1:
                _advance(app, saved.aggregate.id, entry, n, rrc, bop)
        _mentors(app, prefix, bop, bop2, rrc)
    return added


STAY_IN_STAGE_1 = 24  # participants numbered from here on stay in stage 1, to be mentored
# The demo mentor whose token `print_tokens` prints for the peer_mentor role: a certified
# graduate with an individual pairing, so the peer mentor's caseload is not empty.
PEER_MENTOR = "Marcus W."


def mentor_subject(prefix: str, name: str) -> str:
    """The token subject of a demo mentor (`Mentor.subject`)."""
    return f"demo-mentor-{prefix.lower()}-{name.split()[0].lower()}"


def _pid(prefix: str, n: int) -> UUID:
    pid: UUID = participant_id(f"{prefix}DEMO{n:04d}")
    return pid


def _mentors(app: GranteeApp, prefix: str, bop: str, bop2: str, rrc: str) -> None:
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
        saved = _quietly(
            app.mentors.register_mentor,
            C(),
            display_name=name,
            source=source,
            channel=RecruitmentChannel.COHORT_GRADUATION
            if n is not None
            else RecruitmentChannel.COMMUNITY_ORGANIZATION,
            participant_id=_pid(prefix, n) if n is not None else None,
            subject=mentor_subject(prefix, name),
            mentor_id=mentor_id,
        )
        return None if saved is None else saved.aggregate

    def certify(m: Mentor, clear_at: list[str]) -> None:
        for step in ScreeningStep:
            app.mentors.complete_screening_step(C(), m.id, step=step, on=day, staff="demo-coordinator")
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
            app.mentors.grant_clearance(C(), m.id, Clearance(code, day + timedelta(days=10), expires))
        app.mentors.assign_coordinator(C(), m.id, "demo-coordinator")
        app.mentors.certify_mentor(C(), m.id)

    commitment = Commitment(frequency=Frequency.WEEKLY, minutes_per_meeting=60, months=6)
    matched_at = activity.weeks_ago(activity.WEEKS, hour=12) - timedelta(days=1)
    one = register(0, PEER_MENTOR, MentorSource.GRADUATE)
    two = register(3, "Denise R.", MentorSource.GRADUATE)
    if one is not None and two is not None:
        certify(one, [bop])
        certify(two, [bop2, rrc])
        activity.class_hours(app, [f"{prefix}C-2026A", f"{prefix}C-2026B"])
        inside = Location(kind=LocationKind.BOP_INSTITUTION, facility_code=bop)
        individual = app.pairings.open_pairing(
            C(),
            kind=PairingKind.INDIVIDUAL,
            mentor_id=one.id,
            member_ids=[_pid(prefix, 25)],
            location=inside,
            commitment=commitment,
            opened_at=matched_at,
            criteria=[MatchCriterion.SHARED_EXPERIENCE, MatchCriterion.SHARED_GOALS],
        ).aggregate
        group = app.pairings.open_pairing(
            C(),
            kind=PairingKind.GROUP,
            mentor_id=two.id,
            member_ids=[_pid(prefix, 26), _pid(prefix, 29)],
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
        activity.goals(app, _pid(prefix, 25))
        activity.supervision(app, one.id, two.id, _pid(prefix, 25), _pid(prefix, 26))
        activity.evaluation(app, individual.id, _pid(prefix, 25), _pid(prefix, 10))
        activity.referrals(app, _pid(prefix, 25), held)
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


def _advance(app: GranteeApp, pid: UUID, entry: date, n: int, rrc: str, bop: str) -> None:
    """Spread participants over the stages: some in an RRC, some home, some out, a few exited."""
    at = datetime.combine(entry, datetime.min.time(), tzinfo=UTC)
    step = n % 6
    if step == 0:
        return
    if step in (1, 3, 5):
        app.participants.transition_stage(
            Command(),
            pid,
            placement=Placement.RRC,
            facility_code=rrc,
            occurred_at=at + timedelta(days=60),
        )
    if step == 2:
        app.participants.transition_stage(
            Command(),
            pid,
            placement=Placement.HOME_CONFINEMENT,
            facility_code=None,
            occurred_at=at + timedelta(days=45),
        )
    if step in (3, 4, 5):
        app.participants.transition_stage(
            Command(),
            pid,
            placement=Placement.COMMUNITY,
            facility_code=None,
            occurred_at=at + timedelta(days=120),
        )
    if step == 5 and n % 12 == 5:
        app.participants.return_to_custody(
            Command(), pid, facility_code=bop, occurred_at=at + timedelta(days=150)
        )
    if step == 4 and n % 12 == 4:
        app.participants.exit_participant(
            Command(), pid, exit_date=entry + timedelta(days=160), reason=ExitReason.COMPLETED
        )


def print_tokens(settings: Settings, *, host: str, port: int) -> None:
    print("\nPROWD Ledger demo: development tokens (valid 8 hours)\n")
    print(
        "platform_admin (all grantees):\n  "
        + issue_token(
            settings, subject="demo-platform-admin", roles=["platform_admin"], grantees=["*"]
        )
        + "\n"
    )
    slug = GRANTEES[0][0]
    for role in Role:
        if role is Role.PLATFORM_ADMIN:
            continue
        grantees = ["*"] if role is Role.FEDERAL_OVERSIGHT else [slug]
        # RRC staff see one RRC of one grantee: the demo grantee's RRC.
        rrc = f"RRC-{slug[:1].upper()}1" if role is Role.RRC_STAFF else None
        # The peer mentor speaks as a demo mentor, so their own mentees show.
        subject = (
            mentor_subject(slug[:1].upper(), PEER_MENTOR)
            if role is Role.PEER_MENTOR
            else f"demo-{role.value}"
        )
        token = issue_token(
            settings, subject=subject, roles=[role.value], grantees=grantees, rrc=rrc
        )
        scope = ", ".join(grantees) + (f", RRC {rrc}" if rrc else "")
        who = f", mentor {PEER_MENTOR}" if role is Role.PEER_MENTOR else ""
        print(f"{role.value} ({scope}{who}):\n  {token}\n")
    print(
        f"Try: curl -H 'Authorization: Bearer <coordinator token>' http://{host}:{port}/v1/grantees/{slug}/participants\n"
    )
