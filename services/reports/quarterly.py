"""The quarterly oversight report, computed from oversight facts alone (no I/O here).

A quarter is a calendar quarter `YYYYQn` in the grantee's time zone (2026Q3 is 1 July to
30 September 2026): the periods DOL's quarterly reports close on (the program year's first
quarter, July to September, is the calendar's third). Every figure is a point-in-time or
in-quarter count *through* a day: the quarter's last day once it is over, else the day the
report stands at (today, or the day of `as_of`).

The computation first sorts facts into *bases*: lists of items, each an amount and the log
positions that produced it (the drill-down). Figures are then counts, sums, means, medians
or ratios of bases, so totals across grantees are computed from the pooled items, never by
averaging averages.

The derived 90-day exit (PIRL 901, DOMAIN.md), the same rule as the PIRL export
(`services/reports/pirl.py`): on a given day, a participant without a recorded exit has exited when
more than 90 days have passed since their last service (program entry, a held meeting they
attended, their cohort's graduation) and none is planned (their cohort has not graduated, or
they are in an open pairing); the exit date is that last service. It is counted in the first
quarter at whose end (or report day) the rule holds, and drills down to the last service.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.cadence import WeekStatus, compliance, week_name, week_start
from domain.goals import Horizon
from domain.mentors import REQUIRED_MODULES
from domain.participants import ExitReason
from domain.policy import Cadence
from domain.supervision import EscalationType
from projections.oversight import Facts

QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")
NO_SERVICE_DAYS = 90
RETENTION_DAYS = 90


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = QUARTER.fullmatch(text)
        if match is None or not 2000 <= int(match.group(1)) <= 2999:
            raise ValueError(f"{text!r} is not a quarter such as 2026Q3")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def name(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    def weeks(self) -> list[str]:
        """ISO weeks belonging to the quarter: those whose Thursday falls in it."""
        monday = self.start - timedelta(days=self.start.weekday())
        out = []
        while monday <= self.end:
            if self.start <= monday + timedelta(days=3) <= self.end:
                out.append(week_name(monday))
            monday += timedelta(weeks=1)
        return out


class Kind(StrEnum):
    COUNT = "count"  # number of items
    SUM = "sum"  # sum of amounts (rounded to 2 places)
    MEAN = "mean"
    MEDIAN = "median"
    RATE = "rate"  # items of the first base over items of the second (4 places)
    RATIO = "ratio"  # sum of amounts of the first base over that of the second (2 places)


@dataclass(frozen=True)
class Figure:
    name: str
    kind: Kind
    bases: tuple[str, ...]
    label: str


Item = tuple[float, tuple[int, ...]]
Bases = dict[str, list[Item]]


def catalogue(quarter: Quarter) -> list[Figure]:
    f: list[Figure] = []

    def add(name: str, kind: Kind, label: str, *bases: str) -> None:
        f.append(Figure(name, kind, bases or (name,), label))

    add("enrolment.new", Kind.COUNT, "participants enrolled in the quarter")
    add("enrolment.cumulative", Kind.COUNT, "participants enrolled since the start")
    add("enrolment.active", Kind.COUNT, "participants active at the end")
    for stage in (1, 2, 3):
        add(f"enrolment.stage_{stage}", Kind.COUNT, f"active participants in stage {stage}")
    add("enrolment.exited", Kind.COUNT, "participants exited since the start")
    add("funnel.enrolled", Kind.COUNT, "enrolled", "enrolment.cumulative")
    add("funnel.reached_stage_2", Kind.COUNT, "reached stage 2 (RRC or home confinement)")
    add("funnel.reached_stage_3", Kind.COUNT, "reached stage 3 (community)")
    add("funnel.completed", Kind.COUNT, "exited having completed the program")
    for key in TRANSITIONS:
        add(f"transitions.{key}", Kind.COUNT, f"stage transitions {key.replace('_', ' ')}")
    add("returned_to_custody.total", Kind.COUNT, "returns to custody")
    for stage in (2, 3):
        add(f"returned_to_custody.from_stage_{stage}", Kind.COUNT, f"returns from stage {stage}")
    add("exits.total", Kind.COUNT, "exits in the quarter")
    for reason in ExitReason:
        add(f"exits.{reason.value}", Kind.COUNT, f"recorded exits: {reason.value}")
    add("exits.derived_90_day", Kind.COUNT, "derived exits: 90 days without service")
    add("retention.eligible", Kind.COUNT, "participants enrolled 90 days or more")
    add("retention.retained", Kind.COUNT, "of those, active or completed")
    add("retention.rate", Kind.RATE, "retention", "retention.retained", "retention.eligible")
    add("mentoring.active_participants", Kind.COUNT, "active participants at the end")
    add("mentoring.paired_participants", Kind.COUNT, "of those, in an open pairing")
    add(
        "mentoring.coverage_rate",
        Kind.RATE,
        "mentoring coverage",
        "mentoring.paired_participants",
        "mentoring.active_participants",
    )
    add("mentoring.first_pairings", Kind.COUNT, "first pairings in the quarter", "first_pairing")
    add("mentoring.days_to_first_pairing_mean", Kind.MEAN, "days to first pairing", "first_pairing")
    add("mentoring.days_to_first_pairing_median", Kind.MEDIAN, "median days", "first_pairing")
    add("meetings.held", Kind.COUNT, "meetings held")
    add("meetings.hours", Kind.SUM, "hours of meetings held", "meetings.held")
    add("meetings.missed", Kind.COUNT, "meetings missed")
    add("meetings.cancelled_excused", Kind.COUNT, "meetings cancelled, excused")
    for status in ("met", "missed", "excused", "pending"):
        add(f"cadence.weeks_{status}", Kind.COUNT, f"pairing-weeks {status}")
    add("cadence.compliance_rate", Kind.RATE, "weekly cadence", "cadence.weeks_met", "cadence.due")
    for week in quarter.weeks():
        for status in ("met", "missed", "excused"):
            add(f"cadence.week.{week}.{status}", Kind.COUNT, f"pairing-weeks {status} in {week}")
    add("mentors.registered", Kind.COUNT, "mentors registered since the start")
    add("mentors.registered_new", Kind.COUNT, "mentors registered in the quarter")
    add("mentors.certified", Kind.COUNT, "mentors certified since the start")
    add("mentors.certified_new", Kind.COUNT, "mentors certified in the quarter")
    add("mentors.active", Kind.COUNT, "mentors who held a meeting in the quarter")
    add("training.modules_completed", Kind.COUNT, "training modules completed", "training")
    add("training.hours", Kind.SUM, "training hours", "training")
    add("training.mentors_complete", Kind.COUNT, "mentors with all six modules")
    add(
        "training.completion_rate",
        Kind.RATE,
        "training completion",
        "training.mentors_complete",
        "mentors.registered",
    )
    for horizon in Horizon:
        add(f"goals.set.{horizon.value}", Kind.COUNT, f"{horizon.value} goals set")
        add(f"goals.achieved.{horizon.value}", Kind.COUNT, f"{horizon.value} goals achieved")
    add("goals.set.total", Kind.COUNT, "goals set")
    add("goals.achieved.total", Kind.COUNT, "goals achieved")
    for kind in EscalationType:
        add(f"escalations.raised.{kind.value}", Kind.COUNT, f"{kind.value} escalations raised")
        add(
            f"escalations.hours_to_resolve_mean.{kind.value}",
            Kind.MEAN,
            f"hours to resolve {kind.value}",
            f"escalations.resolved.{kind.value}",
        )
    add("escalations.raised.total", Kind.COUNT, "escalations raised")
    add("escalations.resolved.total", Kind.COUNT, "escalations resolved")
    add("escalations.open_at_end", Kind.COUNT, "escalations open at the end")
    add(
        "escalations.hours_to_resolve_mean",
        Kind.MEAN,
        "hours to resolve",
        "escalations.resolved.total",
    )
    add(
        "escalations.hours_to_resolve_median",
        Kind.MEDIAN,
        "median hours to resolve",
        "escalations.resolved.total",
    )
    add("feedback.responses", Kind.COUNT, "feedback given", "feedback.score_count")
    add(
        "feedback.mean_rating",
        Kind.RATIO,
        "mean feedback rating (1-5)",
        "feedback.score_sum",
        "feedback.score_count",
    )
    return f


TRANSITIONS = ("1_to_2", "1_to_3", "2_to_2", "2_to_3")


@dataclass(frozen=True)
class Value:
    value: int | float | None
    positions: tuple[int, ...]


@dataclass(frozen=True)
class Report:
    quarter: Quarter
    through: date | None
    figures: dict[str, Value]
    labels: dict[str, str]
    # The quarter is over as the report stands (its last day has passed, not merely begun).
    complete: bool = False


@dataclass(frozen=True)
class Stand:
    """Where a report stands in the log: the last event it includes and when it was recorded."""

    position: int
    recorded_at: datetime | None


@dataclass(frozen=True)
class GranteeReport:
    slug: str
    time_zone: str
    stand: Stand
    report: Report


def _round(x: float, places: int) -> float:
    # Half up, at a fixed number of places: the same figure prints the same everywhere.
    scale = float(10**places)
    return math.floor(x * scale + 0.5) / scale


def evaluate(quarter: Quarter, through: date | None, bases: Bases) -> Report:
    figures: dict[str, Value] = {}
    labels: dict[str, str] = {}
    for fig in catalogue(quarter):
        items = [bases.get(b, []) for b in fig.bases]
        amounts = [a for a, _ in items[0]]
        positions = tuple(sorted({p for group in items for _, ps in group for p in ps}))
        value: int | float | None
        if fig.kind is Kind.COUNT:
            value = len(items[0])
        elif fig.kind is Kind.SUM:
            value = _round(math.fsum(amounts), 2)
        elif fig.kind is Kind.MEAN:
            value = _round(math.fsum(amounts) / len(amounts), 2) if amounts else None
        elif fig.kind is Kind.MEDIAN:
            value = _round(float(statistics.median(amounts)), 2) if amounts else None
        elif fig.kind is Kind.RATE:
            value = _round(len(items[0]) / len(items[1]), 4) if items[1] else None
        else:
            below = math.fsum(a for a, _ in items[1])
            value = _round(math.fsum(amounts) / below, 2) if below else None
        figures[fig.name] = Value(value, positions)
        labels[fig.name] = fig.label
    return Report(quarter, through, figures, labels)


def pool(all_bases: Iterable[Bases]) -> Bases:
    """The items of several grantees together (their positions are no longer meaningful)."""
    out: Bases = defaultdict(list)
    for bases in all_bases:
        for name, items in bases.items():
            out[name].extend((a, ()) for a, _ in items)
    return dict(out)


def through_day(quarter: Quarter, today: date) -> date | None:
    """The last day a report of `quarter` covers, seen from `today` (None: not begun)."""
    if today < quarter.start:
        return None
    return min(quarter.end, today)


# -- sorting facts into bases ---------------------------------------------------------------


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
    return dict(s.bases)


@dataclass
class _Person:
    """What the derived exit of one participant depends on."""

    entry: tuple[date, int]
    graduation: tuple[date, int] | None
    contacts: list[tuple[date, int]]
    spans: list[tuple[date, date | None]]

    def derived_exit(self, day: date) -> tuple[date, int] | None:
        """(exit date, position of the last service) when, on `day`, the participant has had
        no service for more than 90 days and none is planned; else None."""
        services = [self.entry, *[c for c in self.contacts if c[0] <= day]]
        if self.graduation is not None and self.graduation[0] <= day:
            services.append(self.graduation)
        last = max(services)
        in_class = self.graduation is None or self.graduation[0] > day
        paired = any(j <= day and (left is None or left > day) for j, left in self.spans)
        if (day - last[0]).days > NO_SERVICE_DAYS and not in_class and not paired:
            return last
        return None


def _people(s: _Sorter) -> dict[UUID, _Person]:
    graduations = {
        code: (on, position)
        for _, code, _, on, position in s.facts["ov_cohorts"]
        if on is not None and position is not None
    }
    people = {
        pid: _Person((entry, position), graduations.get(cohort), [], [])
        for pid, entry, position, _, cohort in s.facts["ov_participants"]
    }
    for _, pid, _, joined, left, _ in s.facts["ov_memberships"]:
        if pid in people:
            people[pid].spans.append((s.day(joined), None if left is None else s.day(left)))
    for row in s.facts["ov_meetings"]:
        status, occurred, attendees, positions = row[6], row[8], row[11], row[12]
        if status == "held" and occurred is not None:
            for pid in attendees:
                if pid in people:
                    people[pid].contacts.append(
                        (s.day(occurred), positions[-1] if positions else 0)
                    )
    return people


def _participants(s: _Sorter) -> None:
    t = s.t
    moves: dict[UUID, list[tuple[datetime, int, str, int, int]]] = defaultdict(list)
    for position, pid, kind, from_stage, to_stage, occurred, _ in s.facts["ov_moves"]:
        moves[pid].append((occurred, position, kind, from_stage, to_stage))
    recorded = {row[0]: row for row in s.facts["ov_exits"]}
    people = _people(s)
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
        for stage in (2, 3):
            reached = [m for m in mine if m[2] == "transition" and m[4] >= stage]
            if reached:
                s.add(f"funnel.reached_stage_{stage}", 1, reached[0][1])
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
                # Counted in the quarter in which the rule first holds at a quarter's end.
                before = s.q.start - timedelta(days=1)
                if before < entry_date or people[pid].derived_exit(before) is None:
                    s.add("exits.total", 1, derived[1])
                    s.add("exits.derived_90_day", 1, derived[1])
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
    for mentor_id, position, registered_at, certified_at, certified_pos in s.facts["ov_mentors"]:
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


def grantee_report(
    facts: Facts, quarter: Quarter, through: date | None, zone: ZoneInfo
) -> tuple[Report, Bases]:
    bases = sort_facts(facts, quarter, through, zone)
    return evaluate(quarter, through, bases), bases
