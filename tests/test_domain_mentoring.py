"""The mentoring rules without a database: mentors (screening, the six trainings, clearances,
certification, suspension, retirement), pairings (eligibility per stage, location, caseload and
group sizes, membership, flags, closure) and the program policy; plus a property test over
random mentor lifecycles."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import clock
from domain.certification import MIN_TRAINING_HOURS, expiring_soon, next_expiry
from domain.common import RuleViolation
from domain.eligibility import PersonFacts, check_eligible, mentor_kinds
from domain.mentors import (
    BackgroundDecision,
    Clearance,
    Mentor,
    MentorSource,
    MentorStatus,
    RecruitmentChannel,
    ScreeningStep,
    TrainingModule,
    TrainingRecord,
)
from domain.pairings import (
    Closure,
    ClosureType,
    Commitment,
    Focus,
    Initiator,
    Location,
    LocationKind,
    MatchCriterion,
    Pairing,
    PairingKind,
    check_location,
)
from domain.participants import Placement, Stage, Status
from domain.policy import MentoringRules, MentorKind, ProgramPolicy

DAY = date(2026, 6, 1)
TODAY = clock.today()
FUTURE = TODAY + timedelta(days=30)
NOW = clock.now()
C1_START, C2_START, C3_START = date(2026, 1, 5), date(2026, 7, 6), date(2026, 9, 7)
RULES = MentoringRules()


def refusal(call: Any, *args: Any, **kwargs: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as refused:
        call(*args, **kwargs)
    return refused.value


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    return refusal(call, *args, **kwargs).code


# -- builders -----------------------------------------------------------------------------


def applicant(participant_id: UUID | None = None) -> Mentor:
    if participant_id is None:
        return Mentor.register(
            display_name="Marcus W.",
            source=MentorSource.COMMUNITY_PEER,
            channel=RecruitmentChannel.COMMUNITY_ORGANIZATION,
        )
    return Mentor.register(
        display_name="Marcus W.",
        source=MentorSource.GRADUATE,
        channel=RecruitmentChannel.COHORT_GRADUATION,
        participant_id=participant_id,
    )


def screen(
    m: Mentor, decision: BackgroundDecision = BackgroundDecision.APPROVED, conditions: str = ""
) -> Mentor:
    for step in ScreeningStep:
        m.complete_screening_step(step, DAY, "Dana Cole")
    m.review_background(decision, "Rita Ortiz", DAY, conditions)
    return m


def train(m: Mentor, modules: Any = tuple(TrainingModule), hours: float = 1.0) -> Mentor:
    for module in modules:
        m.complete_training(TrainingRecord(module, DAY, hours, "Lou Brandt"))
    return m


def certified(
    participant_id: UUID | None = None, clearances: tuple[str, ...] = ("FCI-A",)
) -> Mentor:
    m = train(screen(applicant(participant_id)))
    for code in clearances:
        m.grant_clearance(Clearance(code, DAY, DAY + timedelta(days=365)))
    m.certify()
    return m


def person(
    *,
    stage: Stage = Stage.PRE_RELEASE,
    placement: Placement = Placement.BOP_INSTITUTION,
    facility: str | None = "FCI-A",
    status: Status = Status.ACTIVE,
    cohort_start: date = C2_START,
    graduated: date | None = None,
    pid: UUID | None = None,
) -> PersonFacts:
    return PersonFacts(
        participant_id=pid or uuid4(),
        stage=stage,
        placement=placement,
        facility_code=facility,
        status=status,
        cohort_start=cohort_start,
        cohort_graduated_on=graduated,
    )


GRADUATE_C1 = person(cohort_start=C1_START, graduated=DAY)
MENTEE_C2 = person(cohort_start=C2_START)
IN_RRC = {"stage": Stage.REENTRY_CENTER, "placement": Placement.RRC, "facility": "RRC-1"}
IN_COMMUNITY = {"stage": Stage.COMMUNITY, "placement": Placement.COMMUNITY, "facility": None}


def open_pairing(
    mentor: Mentor,
    members: list[UUID],
    *,
    kind: PairingKind = PairingKind.INDIVIDUAL,
    rules: MentoringRules = RULES,
    location: Location | None = None,
    focus: Focus | None = None,
    commitment: Commitment | None = None,
) -> Pairing:
    return Pairing.open(
        kind=kind,
        mentor=mentor,
        members=members,
        rules=rules,
        location=location or Location(kind=LocationKind.OFF_SITE),
        commitment=commitment or Commitment(),
        criteria=[MatchCriterion.SHARED_EXPERIENCE],
        focus=focus,
        opened_at=NOW,
    )


def group(mentor: Mentor, size: int, rules: MentoringRules = RULES) -> Pairing:
    return open_pairing(
        mentor,
        [uuid4() for _ in range(size)],
        kind=PairingKind.GROUP,
        focus=Focus.EMPLOYMENT,
        rules=rules,
    )


# -- mentors: registration, screening, training, clearance ---------------------------------


def test_a_graduate_mentor_is_linked_to_a_participant_and_has_lived_experience():
    pid = uuid4()
    m = Mentor.register(
        display_name="  Marcus W. ",
        source=MentorSource.GRADUATE,
        channel=RecruitmentChannel.COHORT_GRADUATION,
        participant_id=pid,
        lived_experience=False,
    )
    assert (m.display_name, m.participant_id, m.lived_experience, m.status) == (
        "Marcus W.",
        pid,
        True,
        MentorStatus.APPLICANT,
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"source": MentorSource.GRADUATE}, "participant_required"),
        (
            {"source": MentorSource.COMMUNITY_PEER, "participant_id": uuid4()},
            "participant_not_allowed",
        ),
        ({"source": MentorSource.COMMUNITY_PEER, "display_name": "   "}, "missing_name"),
        (
            {"source": MentorSource.COMMUNITY_PEER, "expected_hours_per_month": 0},
            "invalid_time_commitment",
        ),
        (
            {"source": MentorSource.COMMUNITY_PEER, "expected_hours_per_month": 201},
            "invalid_time_commitment",
        ),
    ],
)
def test_registration_refusals_name_the_rule(kwargs, code):
    args = {"display_name": "Marcus W.", "channel": RecruitmentChannel.OTHER, **kwargs}
    assert code_of(Mentor.register, **args) == code


def test_a_background_review_is_a_decision_by_a_named_reviewer():
    m = applicant()
    assert (
        code_of(m.review_background, BackgroundDecision.APPROVED, "   ", DAY) == "reviewer_required"
    )
    assert (
        code_of(m.review_background, BackgroundDecision.APPROVED_WITH_CONDITIONS, "Rita", DAY, " ")
        == "conditions_required"
    )
    assert code_of(m.review_background, BackgroundDecision.APPROVED, "Rita", FUTURE) == "in_future"
    assert m.background is None and not m.pending_events[1:]
    m.review_background(BackgroundDecision.APPROVED_WITH_CONDITIONS, "Rita", DAY, "weekly check-in")
    assert m.background is BackgroundDecision.APPROVED_WITH_CONDITIONS


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (TrainingRecord(TrainingModule.CRISIS_MANAGEMENT, DAY, 0, "Lou"), "invalid_hours"),
        (TrainingRecord(TrainingModule.CRISIS_MANAGEMENT, DAY, 41, "Lou"), "invalid_hours"),
        (TrainingRecord(TrainingModule.CRISIS_MANAGEMENT, DAY, 2, " "), "trainer_required"),
        (TrainingRecord(TrainingModule.CRISIS_MANAGEMENT, FUTURE, 2, "Lou"), "in_future"),
    ],
)
def test_training_records_are_checked(record, code):
    m = applicant()
    assert code_of(m.complete_training, record) == code
    assert m.trainings == {}


def test_a_retaken_module_replaces_its_record():
    m = train(applicant(), [TrainingModule.CRISIS_MANAGEMENT], hours=1.0)
    m.complete_training(TrainingRecord(TrainingModule.CRISIS_MANAGEMENT, DAY, 3.0, "Lou"))
    assert m.training_hours == 3.0 and len(m.trainings) == 1
    assert TrainingModule.CRISIS_MANAGEMENT not in m.missing_modules
    assert len(m.missing_modules) == 5


def test_a_clearance_is_valid_from_its_training_until_its_expiry():
    m = applicant()
    assert code_of(m.grant_clearance, Clearance("FCI-A", DAY, DAY)) == "invalid_expiry"
    assert (
        code_of(m.grant_clearance, Clearance("FCI-A", FUTURE, FUTURE + timedelta(days=1)))
        == "in_future"
    )
    m.grant_clearance(Clearance("FCI-A", DAY, DAY + timedelta(days=90)))
    assert not m.clearance_valid("FCI-A", DAY - timedelta(days=1))
    assert m.clearance_valid("FCI-A", DAY)
    assert m.clearance_valid("FCI-A", DAY + timedelta(days=89))
    assert not m.clearance_valid("FCI-A", DAY + timedelta(days=90))
    assert not m.clearance_valid("FCI-B", DAY)


# -- certification ---------------------------------------------------------------------------


def test_the_next_expiry_is_the_soonest_from_today_and_soon_within_30_days():
    today = date(2026, 12, 30)
    assert next_expiry([date(2026, 12, 29), date(2027, 3, 1), date(2027, 1, 29)], today) == date(
        2027, 1, 29
    )
    assert next_expiry([today], today) == today
    assert next_expiry([date(2026, 12, 29)], today) is None
    assert expiring_soon(date(2027, 1, 29), today)
    assert not expiring_soon(date(2027, 1, 30), today)
    assert not expiring_soon(None, today)


def test_the_mentor_events_keep_their_stored_topics():
    """An event's topic is stored with it: the certification records moved out, the events
    that carry them did not."""
    assert [get_topic(e) for e in (Mentor.TrainingCompleted, Mentor.ClearanceGranted)] == [
        "domain.mentors:Mentor.TrainingCompleted",
        "domain.mentors:Mentor.ClearanceGranted",
    ]


def test_certification_needs_all_six_modules():
    m = screen(train(applicant(), list(TrainingModule)[:5]))
    problem = refusal(m.certify)
    assert problem.code == "training_incomplete"
    assert "conflict_resolution" in problem.detail
    assert m.status is MentorStatus.APPLICANT


def test_certification_needs_the_minimum_training_hours():
    m = screen(train(applicant(), hours=0.25))
    assert m.training_hours < MIN_TRAINING_HOURS
    assert code_of(m.certify) == "training_hours_insufficient"


@pytest.mark.parametrize(
    ("prepare", "says"),
    [
        (lambda m: None, "missing steps: application, interview, references"),
        (
            lambda m: [m.complete_screening_step(s, DAY, "Dana") for s in ScreeningStep],
            "no background review decision",
        ),
        (lambda m: screen(m, BackgroundDecision.NOT_APPROVED), "not_approved"),
        (
            lambda m: [
                m.complete_screening_step(ScreeningStep.APPLICATION, DAY, "Dana"),
                m.review_background(BackgroundDecision.APPROVED, "Rita", DAY),
            ],
            "missing steps: interview, references",
        ),
    ],
)
def test_certification_needs_an_approved_screening(prepare, says):
    m = train(applicant())
    prepare(m)
    m.collect_events()
    problem = refusal(m.certify)
    assert problem.code == "screening_not_approved"
    assert says in problem.detail
    assert m.status is MentorStatus.APPLICANT and not m.pending_events


def test_approval_with_conditions_certifies():
    m = train(
        screen(applicant(), BackgroundDecision.APPROVED_WITH_CONDITIONS, "no contact with victims")
    )
    m.certify()
    assert m.status is MentorStatus.CERTIFIED
    assert code_of(m.certify) == "not_an_applicant"


def test_suspension_reinstatement_and_retirement():
    m = applicant()
    assert code_of(m.suspend, "late") == "not_certified"
    assert code_of(m.check_can_take_pairing) == "mentor_not_certified"
    m = certified()
    m.check_can_take_pairing()
    assert code_of(m.suspend, "  ") == "reason_required"
    assert code_of(m.reinstate) == "not_suspended"
    m.suspend("missed two debriefs")
    assert code_of(m.check_can_take_pairing) == "mentor_suspended"
    m.reinstate("attended the debrief")
    assert m.status is MentorStatus.CERTIFIED
    m.retire("moved away")
    assert code_of(m.check_can_take_pairing) == "mentor_retired"
    m.collect_events()
    for refused, code in (
        (lambda: m.retire("again"), "mentor_retired"),
        (m.reinstate, "not_suspended"),
        (lambda: m.suspend("x"), "not_certified"),
        (m.certify, "not_an_applicant"),
        (lambda: m.assign_coordinator("Kim"), "mentor_retired"),
        (lambda: m.complete_screening_step(ScreeningStep.INTERVIEW, DAY, "Dana"), "mentor_retired"),
        (lambda: m.review_background(BackgroundDecision.APPROVED, "Rita", DAY), "mentor_retired"),
        (lambda: train(m, [TrainingModule.CRISIS_MANAGEMENT]), "mentor_retired"),
        (lambda: m.grant_clearance(Clearance("FCI-B", DAY, FUTURE)), "mentor_retired"),
    ):
        assert code_of(refused) == code
        assert not m.pending_events
    assert m.status is MentorStatus.RETIRED


def test_a_not_approved_review_suspends_a_certified_mentor_until_a_new_approval():
    m = certified()
    m.review_background(BackgroundDecision.NOT_APPROVED, "Rita Ortiz", DAY)
    assert m.status is MentorStatus.SUSPENDED
    assert code_of(m.check_can_take_pairing) == "mentor_suspended"
    assert code_of(m.reinstate) == "screening_not_approved"
    m.review_background(BackgroundDecision.APPROVED, "Rita Ortiz", DAY)
    m.reinstate("cleared on appeal")
    assert m.status is MentorStatus.CERTIFIED


# -- eligibility per stage ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mentor_person", "mentee", "kinds"),
    [
        (GRADUATE_C1, MENTEE_C2, {MentorKind.GRADUATE, MentorKind.EARLIER_GRADUATE}),
        (
            person(cohort_start=C2_START, graduated=DAY),
            MENTEE_C2,
            {MentorKind.GRADUATE},
        ),  # same cohort
        (
            person(cohort_start=C3_START, graduated=DAY),
            MENTEE_C2,
            {MentorKind.GRADUATE},
        ),  # later cohort
        (person(cohort_start=C1_START, graduated=FUTURE), MENTEE_C2, set()),  # not graduated yet
        (
            person(cohort_start=C1_START, graduated=DAY, **IN_RRC),
            person(**IN_RRC),
            {MentorKind.GRADUATE, MentorKind.EARLIER_GRADUATE, MentorKind.RRC_RESIDENT_GRADUATE},
        ),
        (
            person(cohort_start=C1_START, graduated=DAY, **{**IN_RRC, "facility": "RRC-2"}),
            person(**IN_RRC),
            {MentorKind.GRADUATE, MentorKind.EARLIER_GRADUATE},
        ),
        (
            person(cohort_start=C1_START, graduated=DAY, status=Status.EXITED, **IN_RRC),
            person(**IN_RRC),
            {MentorKind.GRADUATE, MentorKind.EARLIER_GRADUATE},
        ),
        (
            person(cohort_start=C1_START, graduated=DAY, **IN_COMMUNITY),
            MENTEE_C2,
            {MentorKind.GRADUATE, MentorKind.EARLIER_GRADUATE, MentorKind.STAGE3_PARTICIPANT},
        ),
    ],
)
def test_the_kinds_of_a_mentor_depend_on_the_mentee(mentor_person, mentee, kinds):
    assert (
        mentor_kinds(applicant(mentor_person.participant_id), mentor_person, mentee, TODAY) == kinds
    )


def test_stage_one_needs_a_graduate_of_an_earlier_cohort():
    mentor = applicant(GRADUATE_C1.participant_id)
    check_eligible(RULES, mentor, GRADUATE_C1, MENTEE_C2, TODAY)
    for same_or_later in (C2_START, C3_START):
        grad = person(cohort_start=same_or_later, graduated=DAY)
        assert (
            code_of(check_eligible, RULES, applicant(grad.participant_id), grad, MENTEE_C2, TODAY)
            == "mentor_not_eligible_for_stage"
        )
    assert (
        code_of(check_eligible, RULES, applicant(), None, MENTEE_C2, TODAY)
        == "mentor_not_eligible_for_stage"
    )


def test_stage_two_needs_a_graduate_in_the_same_rrc_or_a_stage_three_participant():
    mentee = person(**IN_RRC)
    resident = person(cohort_start=C1_START, graduated=DAY, **IN_RRC)
    elsewhere = person(cohort_start=C1_START, graduated=DAY, **{**IN_RRC, "facility": "RRC-2"})
    released = person(cohort_start=C1_START, graduated=DAY, **IN_COMMUNITY)
    for ok in (resident, released):
        check_eligible(RULES, applicant(ok.participant_id), ok, mentee, TODAY)
    for refused in (elsewhere, GRADUATE_C1):
        assert (
            code_of(
                check_eligible, RULES, applicant(refused.participant_id), refused, mentee, TODAY
            )
            == "mentor_not_eligible_for_stage"
        )


def test_stage_three_needs_a_stage_three_participant_or_a_graduate():
    mentee = person(**IN_COMMUNITY)
    check_eligible(RULES, applicant(GRADUATE_C1.participant_id), GRADUATE_C1, mentee, TODAY)
    problem = refusal(check_eligible, RULES, applicant(), None, mentee, TODAY)
    assert problem.code == "mentor_not_eligible_for_stage"
    assert "a stage 3 participant in good standing or a graduate" in problem.detail
    assert "this mentor is a community peer" in problem.detail


def test_a_person_never_mentors_themselves_and_an_exited_mentee_gets_no_mentor():
    me = person(cohort_start=C1_START, graduated=DAY, **IN_COMMUNITY)
    assert (
        code_of(check_eligible, RULES, applicant(me.participant_id), me, me, TODAY)
        == "self_mentoring"
    )
    gone = person(status=Status.EXITED)
    assert code_of(check_eligible, RULES, applicant(), None, gone, TODAY) == "mentee_exited"


def test_the_policy_decides_which_kinds_may_mentor():
    open_door = MentoringRules(stage1=[MentorKind.COMMUNITY_PEER, MentorKind.EARLIER_GRADUATE])
    check_eligible(open_door, applicant(), None, MENTEE_C2, TODAY)
    assert (
        code_of(check_eligible, RULES, applicant(), None, MENTEE_C2, TODAY)
        == "mentor_not_eligible_for_stage"
    )
    strict = MentoringRules(stage3=[MentorKind.STAGE3_PARTICIPANT])
    in_prison = GRADUATE_C1
    assert (
        code_of(
            check_eligible,
            strict,
            applicant(in_prison.participant_id),
            in_prison,
            person(**IN_COMMUNITY),
            TODAY,
        )
        == "mentor_not_eligible_for_stage"
    )


@pytest.mark.parametrize(
    "rules",
    [
        MentoringRules(max_individual_mentees=0),
        MentoringRules(max_individual_mentees=51),
        MentoringRules(group_min=1),
        MentoringRules(group_min=9, group_max=8),
        MentoringRules(group_max=31),
        MentoringRules(stage2=[]),
    ],
)
def test_an_impossible_policy_is_refused(rules):
    assert code_of(rules.check) == "invalid_policy"
    assert code_of(ProgramPolicy.create, rules) == "invalid_policy"


def test_a_policy_change_is_recorded_as_an_event():
    policy = ProgramPolicy.create(MentoringRules())
    assert policy.rules.kinds_for(1) == [MentorKind.EARLIER_GRADUATE]
    assert policy.rules.kinds_for(2) == [
        MentorKind.RRC_RESIDENT_GRADUATE,
        MentorKind.STAGE3_PARTICIPANT,
    ]
    policy.change(MentoringRules(max_individual_mentees=3))
    assert policy.rules.max_individual_mentees == 3
    assert code_of(policy.change, MentoringRules(group_min=0)) == "invalid_policy"
    assert [type(e).__name__ for e in policy.collect_events()] == ["Set", "Changed"]


# -- location -------------------------------------------------------------------------------


def test_meeting_inside_a_facility_needs_an_unexpired_clearance_for_it():
    m = applicant()
    m.grant_clearance(Clearance("FCI-A", DAY, DAY + timedelta(days=30)))
    m.grant_clearance(Clearance("RRC-1", DAY, DAY + timedelta(days=365)))
    check_location(m, Location(kind=LocationKind.BOP_INSTITUTION, facility_code="FCI-A"), DAY)
    check_location(m, Location(kind=LocationKind.RRC, facility_code="RRC-1"), DAY)
    for location, on in (
        (
            Location(kind=LocationKind.BOP_INSTITUTION, facility_code="FCI-A"),
            DAY + timedelta(days=30),
        ),
        (Location(kind=LocationKind.BOP_INSTITUTION, facility_code="FCI-B"), DAY),
        (Location(kind=LocationKind.RRC, facility_code="RRC-2"), DAY),
    ):
        assert code_of(check_location, m, location, on) == "clearance_required"
    assert code_of(check_location, m, Location(kind=LocationKind.RRC), DAY) == "facility_required"
    assert (
        code_of(check_location, m, Location(kind=LocationKind.REMOTE, facility_code="FCI-A"), DAY)
        == "facility_not_allowed"
    )
    for kind in (LocationKind.OFF_SITE, LocationKind.REMOTE):
        check_location(applicant(), Location(kind=kind), DAY)


# -- pairings -------------------------------------------------------------------------------


def test_only_a_certified_mentor_is_matched():
    assert code_of(open_pairing, train(screen(applicant())), [uuid4()]) == "mentor_not_certified"
    m = certified()
    m.suspend("under review")
    assert code_of(open_pairing, m, [uuid4()]) == "mentor_suspended"
    m.reinstate()
    m.retire("moved")
    assert code_of(open_pairing, m, [uuid4()]) == "mentor_retired"


def test_an_individual_caseload_is_limited_by_the_policy():
    m = certified()
    for _ in range(RULES.max_individual_mentees):
        mentee = uuid4()
        p = open_pairing(m, [mentee])
        m.join_pairing(p.id, mentee, NOW)
    problem = refusal(open_pairing, m, [uuid4()])
    assert problem.code == "caseload_limit" and "limit 5" in problem.detail
    open_pairing(m, [uuid4()], rules=MentoringRules(max_individual_mentees=6))
    # groups do not count against the individual caseload
    group(m, 2)
    one = next(iter(m.open_pairings))
    m.leave_pairing(one, next(iter(m.individual_mentees)), NOW)
    open_pairing(m, [uuid4()])


@pytest.mark.parametrize(
    ("members", "kind", "focus", "code"),
    [
        (2, PairingKind.INDIVIDUAL, None, "individual_size"),
        (1, PairingKind.GROUP, Focus.RECOVERY, "group_size"),
        (9, PairingKind.GROUP, Focus.RECOVERY, "group_size"),
        (3, PairingKind.GROUP, None, "focus_required"),
    ],
)
def test_pairing_sizes(members, kind, focus, code):
    ids = [uuid4() for _ in range(members)]
    assert code_of(open_pairing, certified(), ids, kind=kind, focus=focus) == code


def test_a_group_has_between_two_and_eight_members_unless_the_policy_says_otherwise():
    m = certified()
    for size in (2, 8):
        assert len(group(m, size).members) == size
    assert len(group(m, 10, MentoringRules(group_max=10)).members) == 10
    dup = uuid4()
    assert (
        code_of(open_pairing, m, [dup, dup], kind=PairingKind.GROUP, focus=Focus.HOUSING)
        == "duplicate_member"
    )
    assert (
        code_of(open_pairing, m, [uuid4()], commitment=Commitment(minutes_per_meeting=0))
        == "invalid_commitment"
    )
    assert (
        code_of(open_pairing, m, [uuid4()], commitment=Commitment(months=37))
        == "invalid_commitment"
    )


def test_group_membership_stays_within_the_sizes():
    p = group(certified(), 8)
    assert code_of(p.add_member, uuid4(), RULES, NOW) == "group_size"
    assert (
        code_of(p.add_member, p.members[0], MentoringRules(group_max=9), NOW) == "duplicate_member"
    )
    newcomer = uuid4()
    p.add_member(newcomer, MentoringRules(group_max=9), NOW)
    assert newcomer in p.members and len(p.members) == 9
    small = group(certified(), 2)
    assert code_of(small.remove_member, small.members[0], "moved", RULES, NOW) == "group_size"
    assert code_of(small.remove_member, uuid4(), "moved", RULES, NOW) == "not_a_member"
    small.add_member(newcomer, RULES, NOW)
    small.remove_member(newcomer, "moved", RULES, NOW)
    assert len(small.members) == 2
    single = open_pairing(certified(), [uuid4()])
    assert code_of(single.add_member, uuid4(), RULES, NOW) == "not_a_group"
    assert code_of(single.remove_member, single.members[0], "x", RULES, NOW) == "not_a_group"


def test_flags_never_close_a_pairing_and_closure_is_final():
    p = open_pairing(certified(), [uuid4()])
    p.flag("mentee_ineligible", "moved to an RRC")
    p.flag("mentee_ineligible", "again")  # flagged once
    assert p.open_flags == {"mentee_ineligible": "moved to an RRC"} and p.is_open
    assert code_of(p.resolve_flag, "mentor_retired", "n/a") == "no_such_flag"
    p.resolve_flag("mentee_ineligible", "mentor will meet at the RRC")
    assert p.open_flags == {}
    day = p.opened_at.astimezone(UTC).date()
    assert code_of(p.record_first_meeting, day - timedelta(days=1), UTC) == "before_match"
    p.record_first_meeting(day, UTC)
    assert code_of(p.record_first_meeting, day, UTC) == "first_meeting_recorded"
    closure = Closure(
        closure_type=ClosureType.UNPLANNED,
        reason="mentee moved",
        initiator=Initiator.MENTEE,
        exit_interview_on=TODAY,
        rematch_eligible=True,
    )
    assert (
        code_of(
            p.close,
            Closure(closure_type=ClosureType.PLANNED, reason=" ", initiator=Initiator.PROGRAM),
            NOW,
        )
        == "reason_required"
    )
    p.close(closure, NOW)
    assert p.closure == closure and not p.is_open
    p.collect_events()
    p.flag("mentor_retired", "late")
    assert not p.pending_events
    assert code_of(p.close, closure, NOW) == "pairing_closed"
    assert code_of(p.resolve_flag, "x", "y") == "pairing_closed"


# -- property: random mentor lifecycles -----------------------------------------------------

PAST = st.dates(min_value=date(2025, 1, 1), max_value=TODAY)
ANY_DAY = st.one_of(PAST, st.just(FUTURE))
COMMANDS = st.one_of(
    st.tuples(st.just("screen"), st.sampled_from(ScreeningStep), ANY_DAY),
    st.tuples(
        st.just("background"),
        st.sampled_from(BackgroundDecision),
        st.sampled_from(["Rita Ortiz", "  "]),
        st.sampled_from(["", "weekly check-in"]),
    ),
    st.tuples(
        st.just("train"),
        st.sampled_from(TrainingModule),
        st.sampled_from([0.0, 0.25, 1.0, 4.0, 41.0]),
        ANY_DAY,
    ),
    st.tuples(st.just("clear"), st.sampled_from(["FCI-A", "RRC-1"]), ANY_DAY, st.integers(-5, 400)),
    st.tuples(st.just("certify")),
    st.tuples(st.just("suspend"), st.sampled_from(["", "missed debriefs"])),
    st.tuples(st.just("reinstate")),
    st.tuples(st.just("retire")),
)


def run(m: Mentor, command: tuple[Any, ...]) -> None:
    match command:
        case ("screen", step, on):
            m.complete_screening_step(step, on, "Dana Cole")
        case ("background", decision, reviewer, conditions):
            m.review_background(decision, reviewer, DAY, conditions)
        case ("train", module, hours, on):
            m.complete_training(TrainingRecord(module, on, hours, "Lou Brandt"))
        case ("clear", facility, on, days):
            m.grant_clearance(Clearance(facility, on, on + timedelta(days=days)))
        case ("certify",):
            m.certify()
        case ("suspend", reason):
            m.suspend(reason)
        case ("reinstate",):
            m.reinstate()
        case ("retire",):
            m.retire("moved away")


def state(m: Mentor) -> tuple[Any, ...]:
    return (
        m.status,
        dict(m.screening),
        m.background,
        dict(m.trainings),
        dict(m.clearances),
        m.version,
    )


# Half the lifecycles start with a complete, valid preparation, so that certification and
# what may follow it (suspension, a new background review, retirement) are reached often.
PREPARATION = (
    [("screen", step, DAY) for step in ScreeningStep]
    + [
        ("background", BackgroundDecision.APPROVED, "Rita Ortiz", ""),
    ]
    + [("train", module, 1.0, DAY) for module in TrainingModule]
)


@settings(max_examples=800, deadline=None)
@given(st.booleans(), st.lists(COMMANDS, min_size=5, max_size=40))
def test_random_mentor_lifecycles_keep_the_rules(prepared, commands):
    commands = (PREPARATION if prepared else []) + commands
    m = applicant()
    history = list(m.collect_events())
    for command in commands:
        before = state(m)
        was_retired = m.status is MentorStatus.RETIRED
        try:
            run(m, command)
        except RuleViolation:
            assert not m.pending_events, f"{command} was refused but left events"
            assert state(m) == before
            continue
        assert not was_retired, f"a retired mentor accepted {command}"
        new = m.collect_events()
        assert new
        history += new
        if any(isinstance(e, Mentor.Certified) for e in new):
            assert before[0] is MentorStatus.APPLICANT
        if m.status is MentorStatus.CERTIFIED:
            assert m.missing_modules == [] and m.screening_approved
            assert m.training_hours > 0
    replayed = None
    for event in history:
        replayed = event.mutate(replayed)
    assert replayed is not None and state(replayed) == state(m)
