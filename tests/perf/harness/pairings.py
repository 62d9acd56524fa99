"""Pairings for the command benchmark's held meetings, made through the application layer.

Each grantee gets community-peer mentors (its policy lets them mentor stage-3 participants,
up to 50 individual mentees each), certified the way staff certify them, and individual
pairings of stage-3 participants that meet off site. The wrk load then records held meetings
on these pairings (tests/perf/commands.lua).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from uuid import UUID

import msgspec

from domain.mentors import (
    BackgroundDecision,
    MentorSource,
    RecruitmentChannel,
    ScreeningStep,
    TrainingModule,
    TrainingRecord,
)
from domain.pairings import Commitment, Location, LocationKind, MatchCriterion, PairingKind
from domain.policy import MentorKind
from domain.stages import Placement
from services.app.grantee import GranteeApp
from services.app.tenancy import Tenancy
from services.store.ledger import Command

MENTEES_PER_MENTOR = 50
OFF_SITE = Location(kind=LocationKind.OFF_SITE)


def certified_mentor(app: GranteeApp, n: int, day: date) -> UUID:
    """A community peer, screened, approved, trained in every module and certified."""
    mentor = app.mentors.register_mentor(
        Command(),
        display_name=f"Bench Mentor {n}",
        source=MentorSource.COMMUNITY_PEER,
        channel=RecruitmentChannel.COMMUNITY_ORGANIZATION,
    ).aggregate
    for step in ScreeningStep:
        app.mentors.complete_screening_step(Command(), mentor.id, step=step, on=day, staff="bench")
    app.mentors.review_background(
        Command(), mentor.id, decision=BackgroundDecision.APPROVED, reviewer="bench", on=day
    )
    for module in TrainingModule:
        app.mentors.complete_training(
            Command(), mentor.id, TrainingRecord(module, day, 1.5, "Bench trainer")
        )
    app.mentors.assign_coordinator(Command(), mentor.id, "bench")
    app.mentors.certify_mentor(Command(), mentor.id)
    return mentor.id


def pair_in_community(
    app: GranteeApp, participants: list[UUID], *, moved_at: datetime, opened_at: datetime
) -> list[UUID]:
    """Move each participant to stage 3 and pair them with a certified community peer."""
    rules = app.policy.rules()
    kinds = [*rules.stage3, MentorKind.COMMUNITY_PEER]
    app.policy.set_rules(
        Command(),
        msgspec.structs.replace(rules, stage3=kinds, max_individual_mentees=MENTEES_PER_MENTOR),
    )
    out: list[UUID] = []
    mentor: UUID | None = None
    for i, pid in enumerate(participants):
        if i % MENTEES_PER_MENTOR == 0:
            mentor = certified_mentor(app, i // MENTEES_PER_MENTOR, moved_at.date())
        assert mentor is not None
        app.participants.transition_stage(
            Command(), pid, placement=Placement.COMMUNITY, facility_code=None, occurred_at=moved_at
        )
        pairing = app.pairings.open_pairing(
            Command(),
            kind=PairingKind.INDIVIDUAL,
            mentor_id=mentor,
            member_ids=[pid],
            location=OFF_SITE,
            commitment=Commitment(),
            criteria=[MatchCriterion.SHARED_GOALS],
            opened_at=opened_at,
        ).aggregate
        out.append(pairing.id)
    return out


def pairings_for_meetings(
    tenancy: Tenancy,
    participants: dict[str, list[UUID]],
    *,
    moved_at: datetime,
    opened_at: datetime,
) -> dict[str, list[str]]:
    """For each grantee (a thread each), pairings of its `participants`: the pairing ids."""
    out: dict[str, list[str]] = {slug: [] for slug in participants}
    errors: list[BaseException] = []

    def run(slug: str) -> None:
        try:
            app = tenancy.app(slug)
            ids = pair_in_community(app, participants[slug], moved_at=moved_at, opened_at=opened_at)
            out[slug] = [str(p) for p in ids]
        except BaseException as e:  # reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=run, args=(slug,), daemon=True) for slug in participants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def meetings_from(now: datetime) -> datetime:
    """Where the load's meeting times start: 90 days back (they step a minute at a time)."""
    return now - timedelta(days=90)
