"""A grantee's program policy: who may mentor whom at each stage, caseload and group sizes.

Defaults come from the tip sheet; a grantee may change them (the change is an event too).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from domain.common import ProwdAggregate, RuleViolation, natural_id, utcnow


class MentorKind(StrEnum):
    EARLIER_GRADUATE = "earlier_graduate"  # graduated from an earlier cohort than the mentee's
    RRC_RESIDENT_GRADUATE = "rrc_resident_graduate"  # a graduate residing in the mentee's RRC
    STAGE3_PARTICIPANT = "stage3_participant"  # an active stage-3 participant in good standing
    GRADUATE = "graduate"  # any graduate of a cohort
    COMMUNITY_PEER = "community_peer"  # a peer with lived experience from outside the program

    @property
    def words(self) -> str:
        """The kind as a refusal says it ("an earlier graduate")."""
        return _KIND_WORDS[self]


_KIND_WORDS = {
    MentorKind.EARLIER_GRADUATE: "an earlier graduate (from an earlier cohort)",
    MentorKind.RRC_RESIDENT_GRADUATE: "a graduate living in the mentee's RRC",
    MentorKind.STAGE3_PARTICIPANT: "a stage 3 participant in good standing",
    MentorKind.GRADUATE: "a graduate",
    MentorKind.COMMUNITY_PEER: "a community peer",
}


class Cadence(StrEnum):
    """How often a pairing is expected to meet."""

    WEEKLY = "weekly"
    TWICE_MONTHLY = "twice_monthly"
    MONTHLY = "monthly"


class ClassHoursRule(StrEnum):
    """What happens to a stage-1 meeting during the mentee's cohort class hours."""

    REFUSE = "refuse"
    FLAG = "flag"


# The bounds `check` enforces, declared on the fields too (the API's schema shows them).
Kinds = Annotated[list[MentorKind], msgspec.Meta(min_length=1)]
GroupSize = Annotated[int, msgspec.Meta(ge=2, le=30)]


class MentoringRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    stage1: Kinds = msgspec.field(default_factory=lambda: [MentorKind.EARLIER_GRADUATE])
    stage2: Kinds = msgspec.field(
        default_factory=lambda: [MentorKind.RRC_RESIDENT_GRADUATE, MentorKind.STAGE3_PARTICIPANT]
    )
    stage3: Kinds = msgspec.field(
        default_factory=lambda: [MentorKind.STAGE3_PARTICIPANT, MentorKind.GRADUATE]
    )
    max_individual_mentees: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    group_min: GroupSize = 2
    group_max: GroupSize = 8
    # Stage 1 meets at least weekly (tip sheet); stages 2 and 3 are the grantee's choice.
    stage2_cadence: Cadence = Cadence.WEEKLY
    stage3_cadence: Cadence = Cadence.WEEKLY
    class_hours_rule: ClassHoursRule = ClassHoursRule.REFUSE
    # Whether a held meeting in which a participant served as peer mentor (a graduate mentor
    # registered with their participant record) is a participation-level service, and an open
    # pairing they mentor planned service (domain/definitions.py; the tip sheet: mentoring by
    # graduates retains them). On by default; the setting in force applies to every figure.
    mentoring_is_service: bool = True

    def cadence_for(self, stage: int) -> Cadence:
        return {1: Cadence.WEEKLY, 2: self.stage2_cadence, 3: self.stage3_cadence}[stage]

    def kinds_for(self, stage: int) -> list[MentorKind]:
        return {1: self.stage1, 2: self.stage2, 3: self.stage3}[stage]

    def check(self) -> None:
        if not 1 <= self.max_individual_mentees <= 50:
            raise RuleViolation("max_individual_mentees must be 1-50", code="invalid_policy")
        if not 2 <= self.group_min <= self.group_max <= 30:
            raise RuleViolation(
                "group sizes need 2 <= group_min <= group_max <= 30", code="invalid_policy"
            )
        for stage in (1, 2, 3):
            if not self.kinds_for(stage):
                raise RuleViolation(
                    f"stage {stage} needs at least one kind of mentor", code="invalid_policy"
                )


POLICY_ID = natural_id("policy", "program")


class ProgramPolicy(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        rules: MentoringRules

    class Set(ProwdAggregate.Created):
        rules: MentoringRules

        def apply(self, p: Any) -> None:
            p.rules = self.rules

    class Changed(ProwdAggregate.Event):
        rules: MentoringRules

        def apply(self, p: Any) -> None:
            p.rules = self.rules

    @classmethod
    def create(cls, rules: MentoringRules) -> ProgramPolicy:
        rules.check()
        policy: ProgramPolicy = cls._create(
            cls.Set, id=POLICY_ID, rules=rules, occurred_at=utcnow()
        )
        return policy

    def change(self, rules: MentoringRules) -> None:
        rules.check()
        self.trigger_event(self.Changed, rules=rules, occurred_at=utcnow())
