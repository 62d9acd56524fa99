"""Sorting one grantee's oversight facts into the bases of a quarterly report (no I/O here).

A base is a list of items, each an amount and the log positions that produced it (the
drill-down); services/reports/figures.py turns bases into figures.

The rules (what a service is, the derived 90-day exit, reaching a stage) are those of
domain/definitions.py, shared with the PIRL export and the caseload. A derived exit is counted in
the first quarter at whose end (or report day) the rule holds, and drills down to the
participant's last service event and their entry event.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from domain import definitions as rules
from domain.cadence import WeekStatus, compliance, week_name, week_start
from domain.mentors import REQUIRED_MODULES
from domain.participants import ExitReason
from domain.policy import Cadence
from projections import service
from projections.oversight import Facts
from services.reports.quarterly import Bases, Quarter

RETENTION_DAYS = rules.RETENTION_DAYS


class _Sorter:
    def __init__(self, facts: Facts, quarter: Quarter, through: date, zone: ZoneInfo) -> None:
        self.facts = facts
        self.q = quarter
        self.t = through
        self.zone = zone
        self.bases: Bases = defaultdict(list)

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def in_q(self, day: date) -> bool:
        return self.q.start <= day <= self.t

    def add(self, base: str, amount: float, *positions: int | None) -> None:
        self.bases[base].append((amount, tuple(p for p in positions if p is not None)))


def sort_facts(facts: Facts, quarter: Quarter, through: date | None, zone: ZoneInfo) -> Bases:
    """The bases of one grantee's report; nothing when the quarter has not begun."""
    if through is None:
        return {}
    s = _Sorter(facts, quarter, through, zone)
    _participants(s)
    _meetings_and_cadence(s)
    _mentors(s)
    _goals_escalations_feedback(s)
    _class_sessions(s)
    return dict(s.bases)


def _participants(s: _Sorter) -> None:
    t = s.t
    moves: dict[UUID, list[tuple[datetime, int, str, int, int]]] = defaultdict(list)
    for position, pid, kind, from_stage, to_stage, occurred, _ in s.facts["ov_moves"]:
        moves[pid].append((occurred, position, kind, from_stage, to_stage))
    recorded = {row[0]: row for row in s.facts["ov_exits"]}
    people = service.people(s.facts, s.day)
    first_join: dict[UUID, tuple[datetime, int]] = {}
    open_at_end: dict[UUID, int] = {}
    for position, pid, _, joined, left, _ in s.facts["ov_memberships"]:
        if pid not in first_join or (joined, position) < first_join[pid]:
            first_join[pid] = (joined, position)
        if s.day(joined) <= t and (left is None or s.day(left) > t):
            open_at_end.setdefault(pid, position)
    for pid, entry_date, enrol_pos, _, _ in s.facts["ov_participants"]:
        if entry_date > t:
            continue
        s.add("enrolment.cumulative", 1, enrol_pos)
        if s.in_q(entry_date):
            s.add("enrolment.new", 1, enrol_pos)
        mine = sorted(m for m in moves[pid] if s.day(m[0]) <= t)
        for occurred, position, kind, from_stage, to_stage in mine:
            if not s.in_q(s.day(occurred)):
                continue
            if kind == "return":
                s.add("returned_to_custody.total", 1, position)
                s.add(f"returned_to_custody.from_stage_{from_stage}", 1, position)
            else:
                s.add(f"transitions.{from_stage}_to_{to_stage}", 1, position)
        entered = [m for m in mine if m[2] == "transition"]
        to_stages = [m[4] for m in entered]
        for stage in (2, 3):
            if rules.reached_stage(to_stages, stage):
                first = next(m for m in entered if m[4] == stage)
                s.add(f"funnel.reached_stage_{stage}", 1, first[1])
        if rules.reached_stage(to_stages, 3):
            via = "via_rrc" if rules.passed_through_rrc(to_stages) else "direct"
            s.add(f"funnel.stage_3_{via}", 1, *(m[1] for m in entered if m[4] in (2, 3)))
        # The exit as it stands at the end: recorded, else derived (DOMAIN.md's 90-day rule).
        rec = recorded.get(pid)
        rec_day = rec[2] if rec is not None and rec[2] <= t else None
        exit_position: int | None = None
        completed = False
        if rec is not None and rec_day is not None:
            exit_position = rec[1]
            completed = rec[3] == ExitReason.COMPLETED.value
            if s.in_q(rec_day):
                s.add("exits.total", 1, rec[1])
                s.add(f"exits.{rec[3]}", 1, rec[1])
            if completed:
                s.add("funnel.completed", 1, rec[1])
        else:
            derived = people[pid].derived_exit(t)
            if derived is not None:
                exit_position = derived[1]
                # Counted in the quarter in which the rule first holds at a quarter's end; the
                # unit is the participant: their last service and their entry.
                before = s.q.start - timedelta(days=1)
                if before < entry_date or people[pid].derived_exit(before) is None:
                    s.add("exits.total", 1, derived[1], enrol_pos)
                    s.add("exits.derived_90_day", 1, derived[1], enrol_pos)
        active = exit_position is None
        if active:
            stage = mine[-1][4] if mine else 1
            s.add("enrolment.active", 1, enrol_pos)
            s.add(f"enrolment.stage_{stage}", 1, enrol_pos, mine[-1][1] if mine else None)
            s.add("mentoring.active_participants", 1, enrol_pos)
            if pid in open_at_end:
                s.add("mentoring.paired_participants", 1, open_at_end[pid])
        else:
            s.add("enrolment.exited", 1, exit_position)
        if entry_date <= t - timedelta(days=RETENTION_DAYS):
            s.add("retention.eligible", 1, enrol_pos)
            if active or completed:
                s.add("retention.retained", 1, enrol_pos, exit_position)
        if pid in first_join:
            joined, join_pos = first_join[pid]
            if s.in_q(s.day(joined)):
                s.add(
                    "first_pairing", float((s.day(joined) - entry_date).days), enrol_pos, join_pos
                )


def _meetings_and_cadence(s: _Sorter) -> None:
    t = s.t
    held_weeks: dict[UUID, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    excused: dict[UUID, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    active_mentors: dict[UUID, list[int]] = defaultdict(list)
    for row in s.facts["ov_meetings"]:
        (_, pairing_id, mentor_id, _, _, sched_for, status, status_pos, occurred, minutes) = row[
            :10
        ]
        week, positions, was_excused = row[10], row[12], row[13]
        if status == "held" and occurred is not None:
            day = s.day(occurred)
            if day > t:
                continue
            held_weeks[pairing_id][week].extend(positions)
            if s.in_q(day):
                s.add("meetings.held", (minutes or 0) / 60, *positions)
                if mentor_id is not None:
                    active_mentors[mentor_id].extend(positions)
        elif s.day(sched_for) <= t:
            if status == "missed" and s.in_q(s.day(sched_for)):
                s.add("meetings.missed", 1, status_pos)
            if status == "cancelled" and was_excused:
                excused[pairing_id][week].append(status_pos or 0)
                if s.in_q(s.day(sched_for)):
                    s.add("meetings.cancelled_excused", 1, status_pos)
    for mentor_positions in active_mentors.values():
        s.add("mentors.active", 1, *mentor_positions)
    weeks = set(s.q.weeks())
    current = week_name(t)
    for pairing_id, position, _, opened_at, closed_at, _, _ in s.facts["ov_pairings"]:
        opened = s.day(opened_at)
        if opened > t:
            continue
        end = t if closed_at is None or s.day(closed_at) > t else s.day(closed_at)
        statuses = compliance(
            week_name(opened),
            week_name(end),
            current,
            set(held_weeks[pairing_id]),
            set(excused[pairing_id]),
            Cadence.WEEKLY,
        )
        for week, status in statuses:
            if week not in weeks or week_start(week) > t:
                continue
            if status is WeekStatus.MET:
                cause = held_weeks[pairing_id][week] or [position]
            elif status is WeekStatus.EXCUSED:
                cause = excused[pairing_id][week]
            else:
                cause = [position]
            s.add(f"cadence.weeks_{status.value}", 1, *cause)
            if status in (WeekStatus.MET, WeekStatus.MISSED):
                s.add("cadence.due", 1, *cause)
            if status is not WeekStatus.PENDING:
                s.add(f"cadence.week.{week}.{status.value}", 1, *cause)


def _mentors(s: _Sorter) -> None:
    t = s.t
    done: dict[UUID, dict[str, int]] = defaultdict(dict)
    for position, mentor_id, module, completed_on, hours in s.facts["ov_trainings"]:
        if completed_on > t:
            continue
        done[mentor_id][module] = position
        if s.in_q(completed_on):
            s.add("training", float(hours), position)
    required = {m.value for m in REQUIRED_MODULES}
    for mentor_id, position, registered_at, certified_at, certified_pos, _ in s.facts["ov_mentors"]:
        if s.day(registered_at) > t:
            continue
        s.add("mentors.registered", 1, position)
        if s.in_q(s.day(registered_at)):
            s.add("mentors.registered_new", 1, position)
        if certified_at is not None and s.day(certified_at) <= t:
            s.add("mentors.certified", 1, certified_pos)
            if s.in_q(s.day(certified_at)):
                s.add("mentors.certified_new", 1, certified_pos)
        if required <= set(done[mentor_id]):
            s.add("training.mentors_complete", 1, *sorted(done[mentor_id].values()))


def _goals_escalations_feedback(s: _Sorter) -> None:
    t = s.t
    for _, position, set_at, horizon, status, closed_at, close_pos in s.facts["ov_goals"]:
        if s.in_q(s.day(set_at)):
            s.add(f"goals.set.{horizon}", 1, position)
            s.add("goals.set.total", 1, position)
        if status == "achieved" and closed_at is not None and s.in_q(s.day(closed_at)):
            s.add(f"goals.achieved.{horizon}", 1, close_pos)
            s.add("goals.achieved.total", 1, close_pos)
    for _, position, kind, raised_at, resolved_at, resolve_pos in s.facts["ov_escalations"]:
        raised = s.day(raised_at)
        if raised > t:
            continue
        if s.in_q(raised):
            s.add(f"escalations.raised.{kind}", 1, position)
            s.add("escalations.raised.total", 1, position)
        if resolved_at is not None and s.day(resolved_at) <= t:
            if s.in_q(s.day(resolved_at)):
                hours = (resolved_at - raised_at).total_seconds() / 3600
                s.add(f"escalations.resolved.{kind}", hours, position, resolve_pos)
                s.add("escalations.resolved.total", hours, position, resolve_pos)
        else:
            s.add("escalations.open_at_end", 1, position)
    for _, position, given_on, score_sum, score_count in s.facts["ov_feedback"]:
        if s.in_q(given_on):
            s.add("feedback.score_sum", float(score_sum), position)
            s.add("feedback.score_count", float(score_count), position)


def _class_sessions(s: _Sorter) -> None:
    """Requests to facilities and their decisions, and the sessions held under approvals
    (domain/definitions.py: class-session approval, class session, graduate speaker)."""
    t = s.t
    for row in s.facts["ov_class_requests"]:
        _, position, requested_on, status, decided_on, decide_pos, approved_on, revoked_on = row[:8]
        revoke_pos = row[8]
        if s.in_q(requested_on):
            s.add("class_sessions.requested", 1, position)
        if decided_on is not None and s.in_q(decided_on):
            decision = "denied" if status == "denied" else "approved"
            s.add(f"class_sessions.{decision}", 1, decide_pos)
        if revoked_on is not None and s.in_q(revoked_on):
            s.add("class_sessions.revoked", 1, revoke_pos)
        if rules.approval_in_force(t, approved_on, revoked_on):
            s.add("class_sessions.approvals_in_force", 1, decide_pos)
    for _, position, session, occurred_at, minutes in s.facts["ov_sessions"]:
        if s.in_q(s.day(occurred_at)):
            s.add(f"class_sessions.{session}_held", minutes / 60, position)
