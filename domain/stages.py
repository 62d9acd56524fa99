"""The three PROWD stages: placements, the facility each placement needs, the funding source.

Stage 1 is pre-release inside a BOP institution, stage 2 an RRC or home confinement, stage 3
the community after full release. Stages 1 and 2 are funded by the First Step Act, stage 3 by
WIOA. The participant aggregate (domain/participants.py) moves between them by these rules,
and leaves them by an exit, with its reason (PIRL element 923).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from domain.common import RuleViolation
from domain.facilities import Facility, FacilityKind


class Stage(IntEnum):
    PRE_RELEASE = 1
    REENTRY_CENTER = 2
    COMMUNITY = 3


class Placement(StrEnum):
    BOP_INSTITUTION = "bop_institution"
    RRC = "rrc"
    HOME_CONFINEMENT = "home_confinement"
    COMMUNITY = "community"

    @property
    def in_words(self) -> str:
        """The placement as a sentence says it: "a BOP institution", "an RRC", "home
        confinement", "the community"."""
        return _PLACEMENT_WORDS[self]


_PLACEMENT_WORDS = {
    Placement.BOP_INSTITUTION: "a BOP institution",
    Placement.RRC: "an RRC",
    Placement.HOME_CONFINEMENT: "home confinement",
    Placement.COMMUNITY: "the community",
}


class FundingSource(StrEnum):
    FIRST_STEP_ACT = "first_step_act"
    WIOA = "wioa"


class ExitReason(StrEnum):
    COMPLETED = "completed"
    NO_SERVICE_90_DAYS = "no_service_90_days"
    INSTITUTIONALIZED = "institutionalized"
    HEALTH_MEDICAL = "health_medical"
    DECEASED = "deceased"
    RELOCATED = "relocated"
    DECLINED_SERVICES = "declined_services"
    OTHER = "other"


class Status(StrEnum):
    ACTIVE = "active"
    EXITED = "exited"


STAGE_OF_PLACEMENT = {
    Placement.BOP_INSTITUTION: Stage.PRE_RELEASE,
    Placement.RRC: Stage.REENTRY_CENTER,
    Placement.HOME_CONFINEMENT: Stage.REENTRY_CENTER,
    Placement.COMMUNITY: Stage.COMMUNITY,
}

# Which placement needs which kind of facility; None means the placement has no facility.
FACILITY_OF_PLACEMENT: dict[Placement, FacilityKind | None] = {
    Placement.BOP_INSTITUTION: FacilityKind.BOP_INSTITUTION,
    Placement.RRC: FacilityKind.RRC,
    Placement.HOME_CONFINEMENT: None,
    Placement.COMMUNITY: None,
}


def funding_for(stage: Stage) -> FundingSource:
    """Stages 1 and 2 are funded by the First Step Act, stage 3 by WIOA."""
    return FundingSource.WIOA if stage is Stage.COMMUNITY else FundingSource.FIRST_STEP_ACT


def placement_of_move(
    to_stage: Stage, placement: Placement | None, *, returned_to_custody: bool
) -> Placement:
    """The placement a requested move goes to. A move to stage 3 is to the community and a
    return to custody to a BOP institution unless they say otherwise; a move to stage 2 names
    its placement. Stage 1 is reached only by a return to custody, and the placement must
    belong to the stage moved to."""
    if placement is None:
        if to_stage is Stage.COMMUNITY:
            placement = Placement.COMMUNITY
        elif to_stage is Stage.PRE_RELEASE:
            placement = Placement.BOP_INSTITUTION
        else:
            raise RuleViolation(
                "a move to stage 2 names its placement: an RRC or home confinement",
                code="placement_required",
            )
    if returned_to_custody and to_stage is not Stage.PRE_RELEASE:
        raise RuleViolation(
            "a return to custody moves the participant back to stage 1: choose stage 1",
            code="illegal_transition",
        )
    if to_stage is Stage.PRE_RELEASE and not returned_to_custody:
        raise RuleViolation(
            "a participant goes back to stage 1 only on a return to custody: mark the move"
            " as a return to custody",
            code="illegal_transition",
        )
    if STAGE_OF_PLACEMENT[placement] != to_stage:
        raise RuleViolation(
            f"a placement in {placement.in_words} belongs to stage"
            f" {int(STAGE_OF_PLACEMENT[placement])}, not stage {int(to_stage)}",
            code="placement_mismatch",
        )
    return placement


def check_facility(
    placement: Placement, facility: Facility | None, *, required: bool = True
) -> str | None:
    """The code of the facility a placement is at: one of the kind the placement needs (none
    for home confinement and the community); `required` unless a return to custody."""
    kind = FACILITY_OF_PLACEMENT[placement]
    if kind is None:
        if facility is not None:
            raise RuleViolation(
                f"a placement in {placement.in_words} has no facility: leave the facility empty",
                code="facility_not_allowed",
            )
        return None
    if facility is None:
        if required:
            raise RuleViolation(
                f"a placement in {placement.in_words} needs its facility: choose {kind.in_words}",
                code="facility_required",
            )
        return None
    if facility.kind is not kind:
        raise RuleViolation(
            f"facility {facility.code} is {facility.kind.in_words}, but a placement in"
            f" {placement.in_words} needs {kind.in_words}: choose {kind.in_words}",
            code="facility_wrong_kind",
        )
    return facility.code
