"""The SMART-goal rules without a database: setting a goal within its horizon, steps, progress,
revisions that keep every earlier version, celebration and abandonment; plus a property test
over random sequences of goal commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import clock
from domain.common import RuleViolation
from domain.facilities import Cohort, Facility, FacilityKind
from domain.goals import (
    HORIZON_DAYS,
    MAX_STEPS,
    Goal,
    GoalDomain,
    GoalStatus,
    GoalTerms,
    Horizon,
    StepStatus,
    check_participant_active,
    goal_overdue,
    step_overdue,
)
from domain.participants import ExitReason, Participant, PersonalDetails
from services.store.mapping import MsgspecMapper

BOP = Facility.register("FCI-A", "FCI Alpha", FacilityKind.BOP_INSTITUTION)
COHORT = Cohort.start("C1", "Class 1", BOP, date(2026, 1, 5))
SET_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SET_ON = SET_AT.date()


def participant(exited: bool = False) -> Participant:
    p = Participant.enroll(
        number="P1",
        program_entry_date=date(2026, 2, 1),
        facility=BOP,
        cohort=COHORT,
        personal=PersonalDetails(first_name="Ann", last_name="Lee", date_of_birth=date(1990, 4, 1)),
    )
    if exited:
        p.exit(exit_date=date(2026, 2, 20), reason=ExitReason.RELOCATED)
    return p


def terms(horizon: Horizon = Horizon.SHORT_TERM, days: int = 30, **changes: Any) -> GoalTerms:
    t = GoalTerms(
        horizon=horizon,
        domain=GoalDomain.ID_DOCUMENTS,
        statement="Get a state ID card",
        measure="ID card issued",
        target="card in hand",
        target_date=SET_ON + timedelta(days=days),
    )
    return msgspec.structs.replace(t, **changes)


def goal(t: GoalTerms | None = None) -> Goal:
    g = Goal.set_for(participant=participant(), terms=t or terms(), at=SET_AT)
    g.collect_events()
    return g


def at(days: int = 1) -> datetime:
    return SET_AT + timedelta(days=days)


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(RuleViolation) as refused:
        call(*args, **kwargs)
    return refused.value.code


# -- setting a goal ---------------------------------------------------------------------------
@pytest.mark.parametrize("horizon", list(Horizon))
def test_a_goal_may_target_the_last_day_of_its_horizon(horizon):
    g = goal(terms(horizon, HORIZON_DAYS[horizon]))
    assert (g.status, g.set_on, g.participant_id) == (GoalStatus.ACTIVE, SET_ON, participant().id)
    assert [r.number for r in g.revisions] == [1]


@pytest.mark.parametrize(
    ("horizon", "days"),
    [
        (Horizon.WEEKLY, 8),
        (Horizon.SHORT_TERM, 91),
        (Horizon.LONG_TERM, 731),
    ],
)
def test_a_target_beyond_the_horizon_is_refused(horizon, days):
    refused = code_of(
        Goal.set_for, participant=participant(), terms=terms(horizon, days), at=SET_AT
    )
    assert refused == "target_beyond_horizon"


def test_a_goal_can_target_the_day_it_is_set_but_not_the_day_before():
    assert goal(terms(days=0)).terms.target_date == SET_ON
    assert (
        code_of(Goal.set_for, participant=participant(), terms=terms(days=-1), at=SET_AT)
        == "target_in_past"
    )


@pytest.mark.parametrize("blank", ["statement", "measure", "target"])
def test_a_goal_is_specific_and_measurable(blank):
    with pytest.raises(RuleViolation) as refused:
        Goal.set_for(participant=participant(), terms=terms(**{blank: "  "}), at=SET_AT)
    assert refused.value.code == "goal_not_specific"
    assert blank in refused.value.detail


def test_goals_belong_to_an_active_participant():
    assert (
        code_of(Goal.set_for, participant=participant(exited=True), terms=terms(), at=SET_AT)
        == "participant_exited"
    )
    check_participant_active(participant())


def test_a_goal_is_never_set_in_the_future():
    future = clock.now() + timedelta(days=2)
    refused = code_of(
        Goal.set_for, participant=participant(), terms=terms(target_date=future.date()), at=future
    )
    assert refused == "in_future"


# -- steps ------------------------------------------------------------------------------------
def test_steps_are_added_completed_and_dropped_each_with_its_status():
    g = goal()
    first = g.add_step("Request a birth certificate", SET_ON + timedelta(days=5), at())
    second = g.add_step("Book a DMV appointment", None, at())
    g.complete_step(first, "arrived by mail", at(2))
    g.drop_step(second, "the RRC books it", at(3))
    assert [(s.status, s.note) for s in g.steps.values()] == [
        (StepStatus.COMPLETED, "arrived by mail"),
        (StepStatus.DROPPED, "the RRC books it"),
    ]
    assert g.steps[first].closed_at == at(2)
    assert g.open_steps == []


@pytest.mark.parametrize(
    ("description", "due", "code"),
    [
        (" ", None, "description_required"),
        ("Call the DMV", SET_ON, "due_in_past"),
        ("Call the DMV", SET_ON + timedelta(days=31), "step_due_after_target"),
    ],
)
def test_a_step_is_described_and_due_between_today_and_the_target(description, due, code):
    g = goal()
    assert code_of(g.add_step, description, due, at()) == code
    assert g.pending_events == []
    g.add_step(description="Call the DMV", due_on=SET_ON + timedelta(days=30), at=at())


def test_a_goal_has_at_most_fifty_steps():
    g = goal()
    for i in range(MAX_STEPS):
        g.add_step(f"step {i}", None, at())
    assert code_of(g.add_step, "one more", None, at()) == "too_many_steps"


def test_only_an_open_step_of_this_goal_is_completed_or_dropped():
    g = goal()
    step = g.add_step("Call the DMV", None, at())
    assert code_of(g.complete_step, uuid4(), "", at()) == "no_such_step"
    assert code_of(g.drop_step, step, " ", at()) == "reason_required"
    g.complete_step(step, "", at())
    assert code_of(g.complete_step, step, "", at()) == "step_closed"
    assert code_of(g.drop_step, step, "changed plans", at()) == "step_closed"


# -- progress ---------------------------------------------------------------------------------
def test_progress_carries_evidence_and_may_fall_after_a_setback():
    g = goal()
    g.record_progress("appointment booked", "confirmation 48213", 60, at())
    g.record_progress("appointment cancelled", "https://dmv.example/notice/1", 30, at(2))
    g.record_progress("called again", "phone log", None, at(3))
    assert [(p.percent, p.evidence) for p in g.progress] == [
        (60, "confirmation 48213"),
        (30, "https://dmv.example/notice/1"),
        (None, "phone log"),
    ]


@pytest.mark.parametrize(
    ("note", "evidence", "percent", "code"),
    [
        (" ", "x", None, "note_required"),
        ("booked", " ", None, "evidence_required"),
        ("booked", "x", -1, "invalid_percent"),
        ("booked", "x", 101, "invalid_percent"),
    ],
)
def test_progress_without_note_or_evidence_or_with_a_wrong_percent_is_refused(
    note,
    evidence,
    percent,
    code,
):
    g = goal()
    assert code_of(g.record_progress, note, evidence, percent, at()) == code
    g.record_progress(note="booked", evidence="x", percent=100, at=at())
    g.record_progress(note="booked", evidence="x", percent=0, at=at())


def test_nothing_is_recorded_before_the_goal_was_set():
    g = goal()
    earlier = SET_AT - timedelta(days=1)
    assert code_of(g.record_progress, "n", "e", None, earlier) == "before_goal_set"


# -- revisions --------------------------------------------------------------------------------
def test_a_revision_keeps_every_earlier_version_with_its_reason():
    g = goal()
    g.revise(terms(target_date=SET_ON + timedelta(days=60)), "DMV closed for a month", at(10))
    g.revise(
        terms(Horizon.LONG_TERM, target_date=SET_ON + timedelta(days=400)),
        "needs a court order first",
        at(20),
    )
    assert [(r.number, r.reason, r.set_on, r.terms.horizon) for r in g.revisions] == [
        (1, "", SET_ON, Horizon.SHORT_TERM),
        (2, "DMV closed for a month", at(10).date(), Horizon.SHORT_TERM),
        (3, "needs a court order first", at(20).date(), Horizon.LONG_TERM),
    ]
    assert g.revisions[0].terms == terms()
    assert (g.terms, g.set_on) == (g.revisions[-1].terms, at(20).date())


def test_a_revision_is_checked_against_the_horizon_from_its_own_day():
    g = goal(terms(Horizon.WEEKLY, 7))
    # Set on day 0 with a week's horizon; revised on day 5, a target on day 12 is in horizon.
    g.revise(terms(Horizon.WEEKLY, 12), "waited for a callback", at(5))
    refused = code_of(g.revise, terms(Horizon.WEEKLY, 20), "more time", at(6))
    assert refused == "target_beyond_horizon"
    assert code_of(g.revise, terms(Horizon.WEEKLY, 5), "earlier", at(6)) == "target_in_past"


def test_a_revision_states_a_reason_changes_something_and_stays_specific():
    g = goal()
    assert code_of(g.revise, terms(days=40), " ", at()) == "reason_required"
    assert code_of(g.revise, terms(), "no change", at()) == "revision_unchanged"
    assert code_of(g.revise, terms(measure=""), "vaguer", at()) == "goal_not_specific"
    assert g.pending_events == []


def test_a_revision_never_leaves_an_open_step_due_after_the_new_target():
    g = goal()
    step = g.add_step("Book the DMV visit", SET_ON + timedelta(days=20), at())
    assert code_of(g.revise, terms(days=10), "sooner", at()) == "step_due_after_target"
    g.drop_step(step, "plan changed", at())
    g.revise(terms(days=10), "sooner", at())


# -- closing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("close", ["achieve", "abandon"])
def test_an_achieved_or_abandoned_goal_accepts_nothing_further(close):
    g = goal()
    step = g.add_step("Call the DMV", None, at())
    getattr(g, close)("got it" if close == "achieve" else "moved away", at(2))
    assert g.status is (GoalStatus.ACHIEVED if close == "achieve" else GoalStatus.ABANDONED)
    assert g.closed_at == at(2)
    refusals = [
        code_of(g.add_step, "x", None, at(3)),
        code_of(g.complete_step, step, "", at(3)),
        code_of(g.drop_step, step, "r", at(3)),
        code_of(g.record_progress, "n", "e", 5, at(3)),
        code_of(g.revise, terms(days=40), "r", at(3)),
        code_of(g.achieve, "n", at(3)),
        code_of(g.abandon, "r", at(3)),
    ]
    assert set(refusals) == {"goal_closed"}


def test_achievement_is_celebrated_with_a_note_and_abandonment_gives_a_reason():
    g = goal()
    assert code_of(g.achieve, " ", at()) == "note_required"
    assert code_of(g.abandon, "", at()) == "reason_required"
    g.achieve("celebrated with the group", at())
    assert g.outcome == "celebrated with the group"


def test_an_active_goal_past_its_target_date_is_overdue():
    g = goal(terms(days=10))
    assert not g.is_overdue(SET_ON + timedelta(days=10))
    assert g.is_overdue(SET_ON + timedelta(days=11))
    g.achieve("done late", at(11))
    assert not g.is_overdue(SET_ON + timedelta(days=11))


def test_overdue_is_an_active_goal_or_open_step_past_its_date_as_of_today():
    day = date(2026, 12, 31)
    assert goal_overdue(GoalStatus.ACTIVE, day, day + timedelta(days=1))
    assert not goal_overdue(GoalStatus.ACTIVE, day, day)
    assert not goal_overdue(GoalStatus.ACHIEVED, day, day + timedelta(days=1))
    assert not goal_overdue(GoalStatus.ABANDONED, day, day + timedelta(days=1))
    assert step_overdue(StepStatus.OPEN, day, day + timedelta(days=1))
    assert not step_overdue(StepStatus.OPEN, day, day)
    assert not step_overdue(StepStatus.OPEN, None, day + timedelta(days=1))
    assert not step_overdue(StepStatus.COMPLETED, day, day + timedelta(days=1))
    assert not step_overdue(StepStatus.DROPPED, day, day + timedelta(days=1))


# -- every sequence of commands ----------------------------------------------------------------
COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["step", "complete", "drop", "progress", "revise", "achieve", "abandon"]),
        st.integers(min_value=0, max_value=9),
        st.integers(min_value=-5, max_value=120),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(COMMANDS)
def test_any_command_sequence_keeps_the_rules_and_replays_to_the_same_goal(commands):
    mapper = MsgspecMapper()
    g = Goal.set_for(participant=participant(), terms=terms(), at=SET_AT)
    stored = [mapper.to_stored_event(e) for e in g.collect_events()]
    for day, (name, pick, n) in enumerate(commands, start=1):
        when = at(day)
        steps = list(g.steps)
        step = steps[pick % len(steps)] if steps else uuid4()
        version, status = g.version, g.status
        try:
            if name == "step":
                g.add_step(f"step {pick}", when.date() + timedelta(days=n), when)
            elif name == "complete":
                g.complete_step(step, "", when)
            elif name == "drop":
                g.drop_step(step, "changed plans", when)
            elif name == "progress":
                g.record_progress("update", "evidence", n, when)
            elif name == "revise":
                g.revise(terms(target_date=when.date() + timedelta(days=n)), "adjust", when)
            else:
                getattr(g, name)("note", when)
        except RuleViolation:
            assert g.version == version and g.pending_events == []
            continue
        assert status is GoalStatus.ACTIVE, "a closed goal accepted a command"
        assert g.terms.target_date >= g.set_on
        assert g.terms.target_date <= g.set_on + timedelta(days=HORIZON_DAYS[g.terms.horizon])
        assert all(s.due_on is None or s.due_on <= g.terms.target_date for s in g.open_steps)
        stored += [mapper.to_stored_event(e) for e in g.collect_events()]
    replayed = None
    for record in stored:
        replayed = mapper.to_domain_event(record).mutate(replayed)
    assert vars(replayed) == vars(g), "the stored events rebuild a different goal"
