"""Who may mentor whom, by the grantee's `MentoringRules` (defaults from the tip sheet).

Stage 1 mentors come from an earlier, graduated cohort; stage 2 mentors are graduates residing
in the mentee's RRC or stage-3 participants; stage 3 mentors are stage-3 participants in good
standing or graduates. A match (domain/pairings.py) is checked by these rules for each member,
and a participant's move re-checks the pairings it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain.common import RuleViolation
from domain.mentors import Mentor, MentorSource
from domain.participants import Placement, Stage, Status
from domain.policy import MentoringRules, MentorKind


@dataclass(frozen=True)
class PersonFacts:
    """What eligibility needs to know of a participant (mentee, or a graduate mentor)."""

    participant_id: UUID
    stage: Stage
    placement: Placement
    facility_code: str | None
    status: Status
    cohort_start: date
    cohort_graduated_on: date | None


def status_counts(person: PersonFacts) -> bool:
    """Whether the person's status can change the kinds of mentor they are (`mentor_kinds`):
    only as an RRC resident or a stage-3 participant; a graduate stays a graduate."""
    return person.status is Status.ACTIVE and (
        person.placement is Placement.RRC or person.stage is Stage.COMMUNITY
    )


def mentor_kinds(
    mentor: Mentor, person: PersonFacts | None, mentee: PersonFacts, today: date
) -> set[MentorKind]:
    """The kinds of mentor this mentor is, relative to this mentee."""
    kinds: set[MentorKind] = set()
    if mentor.source is MentorSource.COMMUNITY_PEER:
        kinds.add(MentorKind.COMMUNITY_PEER)
    if person is None:
        return kinds
    graduated = person.cohort_graduated_on is not None and person.cohort_graduated_on <= today
    if graduated:
        kinds.add(MentorKind.GRADUATE)
        if person.cohort_start < mentee.cohort_start:
            kinds.add(MentorKind.EARLIER_GRADUATE)
        if (
            person.placement is Placement.RRC
            and mentee.placement is Placement.RRC
            and person.facility_code == mentee.facility_code
            and person.status is Status.ACTIVE
        ):
            kinds.add(MentorKind.RRC_RESIDENT_GRADUATE)
    if person.stage is Stage.COMMUNITY and person.status is Status.ACTIVE:
        kinds.add(MentorKind.STAGE3_PARTICIPANT)
    return kinds


def check_eligible(
    rules: MentoringRules,
    mentor: Mentor,
    person: PersonFacts | None,
    mentee: PersonFacts,
    today: date,
) -> None:
    """Refuse a mentor who is not of a kind the rules allow for the mentee's stage."""
    if mentee.status is not Status.ACTIVE:
        raise RuleViolation("the mentee has exited the program", code="mentee_exited")
    if person is not None and person.participant_id == mentee.participant_id:
        raise RuleViolation("a person never mentors themselves", code="self_mentoring")
    allowed = rules.kinds_for(int(mentee.stage))
    has = mentor_kinds(mentor, person, mentee, today)
    if not has & set(allowed):
        raise RuleViolation(
            f"for a stage {int(mentee.stage)} mentee the mentor must be "
            + " or ".join(k.words for k in allowed)
            + "; this mentor is "
            + (" and ".join(k.words for k in sorted(has)) or "none of these"),
            code="mentor_not_eligible_for_stage",
        )
