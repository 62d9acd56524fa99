"""The participant's rules, without a database: fast unit tests and a property test over random
sequences of commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import clock
from domain.common import RuleViolation
from domain.facilities import Cohort, Facility, FacilityKind
from domain.participants import (
    ExitReason,
    FundingSource,
    Participant,
    PersonalDetails,
    Placement,
    Stage,
    Status,
)
from domain.stages import placement_of_move

BOP = Facility.register("FCI-A", "FCI Alpha", FacilityKind.BOP_INSTITUTION)
BOP_B = Facility.register("FCI-B", "FCI Beta", FacilityKind.BOP_INSTITUTION)
RRC = Facility.register("RRC-1", "RRC One", FacilityKind.RRC)
COHORT = Cohort.start("C1", "Class 1", BOP, date(2025, 1, 6))
ENTRY = date(2025, 2, 1)
START = datetime(2025, 2, 1, tzinfo=UTC)


def enroll() -> Participant:
    return Participant.enroll(
        number="P1",
        program_entry_date=ENTRY,
        facility=BOP,
        cohort=COHORT,
        personal=PersonalDetails(first_name="Ann", last_name="Lee", date_of_birth=date(1990, 4, 1)),
    )


def enrolled() -> Participant:
    p = enroll()
    p.collect_events()
    return p


def at(days: int) -> datetime:
    return START + timedelta(days=days)


def test_enrolment_starts_in_stage_1_at_the_institution():
    p = enrolled()
    assert (p.stage, p.placement, p.facility_code) == (
        Stage.PRE_RELEASE,
        Placement.BOP_INSTITUTION,
        "FCI-A",
    )
    assert (p.funding_source, p.status, p.stage_started_at) == (
        FundingSource.FIRST_STEP_ACT,
        Status.ACTIVE,
        START,
    )


@pytest.mark.parametrize(
    ("facility", "code"),
    [(RRC, "facility_wrong_kind"), (BOP_B, "cohort_at_other_facility")],
)
def test_enrolment_needs_the_cohorts_bop_institution(facility, code):
    with pytest.raises(RuleViolation) as e:
        Participant.enroll(
            number="P2",
            program_entry_date=ENTRY,
            facility=facility,
            cohort=COHORT,
            personal=PersonalDetails(first_name="A", last_name="B", date_of_birth=date(1990, 1, 1)),
        )
    assert e.value.code == code


def test_rrc_then_community_then_custody_then_exit():
    p = enrolled()
    p.transition(placement=Placement.RRC, facility=RRC, occurred_at=at(10))
    assert (p.stage, p.facility_code) == (Stage.REENTRY_CENTER, "RRC-1")
    p.transition(placement=Placement.COMMUNITY, facility=None, occurred_at=at(40))
    assert (p.stage, p.funding_source) == (Stage.COMMUNITY, FundingSource.WIOA)
    p.return_to_custody(facility=BOP_B, occurred_at=at(50))
    assert (p.stage, p.facility_code, p.returns_to_custody) == (Stage.PRE_RELEASE, "FCI-B", 1)
    p.exit(exit_date=at(60).date(), reason=ExitReason.INSTITUTIONALIZED)
    assert p.status is Status.EXITED
    assert [type(e).__name__ for e in p.collect_events()] == [
        "StageTransitioned",
        "StageTransitioned",
        "ReturnedToCustody",
        "Exited",
    ]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (
            lambda p: p.transition(placement=Placement.RRC, facility=BOP, occurred_at=at(1)),
            "facility_wrong_kind",
        ),
        (
            lambda p: p.transition(placement=Placement.RRC, facility=None, occurred_at=at(1)),
            "facility_required",
        ),
        (
            lambda p: p.transition(
                placement=Placement.HOME_CONFINEMENT, facility=RRC, occurred_at=at(1)
            ),
            "facility_not_allowed",
        ),
        (
            lambda p: p.transition(
                placement=Placement.BOP_INSTITUTION, facility=BOP, occurred_at=at(1)
            ),
            "illegal_transition",
        ),
        (lambda p: p.return_to_custody(facility=None, occurred_at=at(1)), "illegal_transition"),
        (
            lambda p: p.transition(
                placement=Placement.COMMUNITY, facility=None, occurred_at=at(-1)
            ),
            "before_current_stage",
        ),
        (
            lambda p: p.transition(
                placement=Placement.COMMUNITY,
                facility=None,
                occurred_at=clock.now() + timedelta(hours=1),
            ),
            "in_future",
        ),
        (
            lambda p: p.exit(exit_date=clock.today() + timedelta(days=2), reason=ExitReason.OTHER),
            "in_future",
        ),
    ],
)
def test_refused_commands_leave_no_events(command, code):
    p = enrolled()
    with pytest.raises(RuleViolation) as e:
        command(p)
    assert e.value.code == code
    assert (p.version, p.pending_events) == (1, [])


def test_stage_3_never_goes_back_to_stage_2():
    p = enrolled()
    p.transition(placement=Placement.COMMUNITY, facility=None, occurred_at=at(5))
    with pytest.raises(RuleViolation, match="not a legal transition"):
        p.transition(placement=Placement.RRC, facility=RRC, occurred_at=at(6))


@pytest.mark.parametrize(
    ("to_stage", "placement", "returned", "goes_to"),
    [
        (Stage.COMMUNITY, None, False, Placement.COMMUNITY),
        (Stage.REENTRY_CENTER, Placement.HOME_CONFINEMENT, False, Placement.HOME_CONFINEMENT),
        (Stage.PRE_RELEASE, None, True, Placement.BOP_INSTITUTION),
        (Stage.PRE_RELEASE, Placement.BOP_INSTITUTION, True, Placement.BOP_INSTITUTION),
    ],
)
def test_a_requested_move_goes_to_a_placement_of_its_stage(to_stage, placement, returned, goes_to):
    assert placement_of_move(to_stage, placement, returned_to_custody=returned) is goes_to


@pytest.mark.parametrize(
    ("to_stage", "placement", "returned", "code"),
    [
        (Stage.REENTRY_CENTER, None, False, "placement_required"),
        (Stage.PRE_RELEASE, None, False, "illegal_transition"),
        (Stage.COMMUNITY, None, True, "illegal_transition"),
        (Stage.PRE_RELEASE, Placement.RRC, True, "placement_mismatch"),
        (Stage.COMMUNITY, Placement.RRC, False, "placement_mismatch"),
    ],
)
def test_a_requested_move_is_refused_by_name(to_stage, placement, returned, code):
    with pytest.raises(RuleViolation) as e:
        placement_of_move(to_stage, placement, returned_to_custody=returned)
    assert e.value.code == code


def test_the_participant_events_keep_their_stored_topics():
    """An event's topic is stored with it: the stage rules moved out, the events did not."""
    topics = [
        get_topic(event)
        for event in (
            Participant.Enrolled,
            Participant.StageTransitioned,
            Participant.ReturnedToCustody,
            Participant.Exited,
            Participant.Erased,
        )
    ]
    assert topics == [
        "domain.participants:Participant.Enrolled",
        "domain.participants:Participant.StageTransitioned",
        "domain.participants:Participant.ReturnedToCustody",
        "domain.participants:Participant.Exited",
        "domain.participants:Participant.Erased",
    ]


# --- property test --------------------------------------------------------------------------

LEGAL_STEPS = {
    ("StageTransitioned", 1, 2),
    ("StageTransitioned", 1, 3),
    ("StageTransitioned", 2, 2),
    ("StageTransitioned", 2, 3),
    ("ReturnedToCustody", 2, 1),
    ("ReturnedToCustody", 3, 1),
}
BY_CODE = {None: None, "FCI-A": BOP, "FCI-B": BOP_B, "RRC-1": RRC}
RIGHT = {Placement.RRC: "RRC-1", Placement.BOP_INSTITUTION: "FCI-A"}
# Codes, not aggregates (those are not hashable); "right" is the facility the placement needs.
FACILITIES = st.sampled_from(["right", "right", *BY_CODE])
# Days after the current stage began (a few before it), or (31) an instant in the future.
WHEN = st.integers(-3, 31).map(lambda d: "future" if d == 31 else d)
COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["transition"] * 4 + ["custody"] * 2 + ["exit"]),
        st.sampled_from(list(Placement)),
        FACILITIES,
        st.sampled_from(list(ExitReason)),
        WHEN,
    ),
    max_size=12,
)


def run(p: Participant, command: tuple) -> None:
    kind, placement, facility, reason, when = command
    placement = Placement.BOP_INSTITUTION if kind == "custody" else placement
    future = clock.now() + timedelta(days=2)
    moment = future if when == "future" else p.stage_started_at + timedelta(days=when)
    if kind == "exit":
        p.exit(exit_date=moment.date(), reason=reason)
        return
    code = RIGHT.get(placement) if facility == "right" else facility
    if kind == "custody":
        p.return_to_custody(facility=BY_CODE[code], occurred_at=moment)
    else:
        p.transition(placement=placement, facility=BY_CODE[code], occurred_at=moment)


@settings(max_examples=300, deadline=None)
@given(COMMANDS)
def test_any_sequence_of_commands_keeps_the_invariants(commands):
    p = enroll()
    recorded = list(p.collect_events())
    for command in commands:
        before = (p.stage, p.status, p.stage_started_at, p.version)
        try:
            run(p, command)
        except RuleViolation:
            assert (p.stage, p.status, p.stage_started_at, p.version) == before
            assert p.pending_events == []
            continue
        assert before[1] is Status.ACTIVE, "an exited participant accepted a command"
        (event,) = p.collect_events()
        recorded.append(event)
        if command[0] != "exit":
            step = (type(event).__name__, int(before[0]), int(p.stage))
            assert step in LEGAL_STEPS
        else:
            assert (type(event).__name__, p.stage, p.status) == ("Exited", before[0], Status.EXITED)
        assert p.stage_started_at >= before[2]
        assert p.funding_source is (
            FundingSource.WIOA if p.stage is Stage.COMMUNITY else FundingSource.FIRST_STEP_ACT
        )
    replayed = None
    for event in recorded:
        replayed = event.mutate(replayed)
    assert vars(replayed) == vars(p), "the stored events rebuild a different participant"
