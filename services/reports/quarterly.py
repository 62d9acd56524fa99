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

This module defines the quarter (the PIRL export's too) and the catalogue of figures; the facts
are sorted into bases by services/reports/bases.py and the figures evaluated by
services/reports/figures.py.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.cadence import week_name
from domain.daterange import EARLIEST, LATEST, YEAR_PATTERN
from domain.goals import Horizon
from domain.participants import ExitReason
from domain.supervision import EscalationType
from services.refusals import shown

QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")
# The years a quarter may name, of the reports, the PIRL export and the command line alike: those
# of every date the program takes in (domain/daterange.py). Beyond them a quarter's days and
# the weeks and quarters after it (a report's follow-up) run into the ends of Python's calendar.
YEARS = range(EARLIEST.year, LATEST.year + 1)
# The same, as the path parameters of the reports and exports declare it.
QUARTER_PATTERN = f"^{YEAR_PATTERN}Q[1-4]$"
TRANSITIONS = ("1_to_2", "1_to_3", "2_to_2", "2_to_3")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter `YYYYQn` (Q1 is January to March), of the reports and of the PIRL
    export alike."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str, years: range = YEARS) -> Quarter:
        """`YYYYQn` with the year in `years`; ValueError otherwise."""
        match = QUARTER.fullmatch(text)
        if match is None or int(match.group(1)) not in years:
            raise ValueError(
                f"{shown(text)} is not a quarter of the form YYYYQn from {years.start}Q1 to"
                f" {years.stop - 1}Q4, e.g. 2026Q3"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def name(self) -> str:
        return f"{self.year}Q{self.number}"

    def __str__(self) -> str:
        return self.name

    @property
    def start(self) -> date:
        """The quarter's first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The quarter's last day."""
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    def after(self, n: int) -> Quarter:
        """The quarter `n` quarters later (`n` may be 0)."""
        index = self.year * 4 + self.number - 1 + n
        return Quarter(index // 4, index % 4 + 1)

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


@functools.cache
def catalogue(quarter: Quarter) -> tuple[Figure, ...]:
    """The figures of a quarter's report, in order (made once a quarter: a platform-wide
    report evaluates it for every grantee)."""
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
    add("funnel.stage_3_via_rrc", Kind.COUNT, "of those, passed through an RRC or home confinement")
    add("funnel.stage_3_direct", Kind.COUNT, "of those, released directly from custody")
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
    add("class_sessions.requested", Kind.COUNT, "class sessions requested from facilities")
    add("class_sessions.approved", Kind.COUNT, "class-session requests approved by the facility")
    add("class_sessions.denied", Kind.COUNT, "class-session requests denied by the facility")
    add("class_sessions.revoked", Kind.COUNT, "class-session approvals revoked")
    add(
        "class_sessions.approvals_in_force",
        Kind.COUNT,
        "class-session approvals in force at the end",
    )
    for kind, words in (
        ("class_session", "class sessions"),
        ("graduate_speaker", "graduate speaker sessions"),
    ):
        add(f"class_sessions.{kind}_held", Kind.COUNT, f"{words} held")
        add(
            f"class_sessions.{kind}_hours",
            Kind.SUM,
            f"hours of {words}",
            f"class_sessions.{kind}_held",
        )
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
    return tuple(f)
