"""Meeting cadence: was each ISO week of a pairing's life met, missed or excused?

Weeks are named `YYYY-Www` in the grantee's time zone (ISO 8601: weeks start on Monday, and
the first week of a year holds its first Thursday, so 2026-W01 starts on 2025-12-29).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import msgspec

from domain.policy import Cadence

# How many consecutive weeks one held meeting satisfies, by cadence.
WINDOW = {Cadence.WEEKLY: 1, Cadence.TWICE_MONTHLY: 2, Cadence.MONTHLY: 4}


class WeekStatus(StrEnum):
    MET = "met"
    MISSED = "missed"
    EXCUSED = "excused"
    PENDING = "pending"  # the current week, not yet met


def week_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def iso_week(moment: datetime, zone: ZoneInfo) -> str:
    """The week `moment` falls in, in the grantee's time zone (whatever offset it carries)."""
    return week_name(moment.astimezone(zone).date())


def week_start(name: str) -> date:
    year, week = name.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def weeks_between(first: str, last: str) -> list[str]:
    start, end = week_start(first), week_start(last)
    return [week_name(start + timedelta(weeks=i)) for i in range((end - start).days // 7 + 1)]


def compliance(
    first: str, last: str, current: str, held: set[str], excused: set[str], cadence: Cadence
) -> list[tuple[str, WeekStatus]]:
    """The status of every week from `first` to `last` (inclusive)."""
    window = WINDOW[cadence]
    out: list[tuple[str, WeekStatus]] = []
    weeks = weeks_between(first, last)
    for i, week in enumerate(weeks):
        recent = weeks[max(0, i - window + 1) : i + 1]
        if week in held or (window > 1 and any(w in held for w in recent)):
            status = WeekStatus.MET
        elif week in excused:
            status = WeekStatus.EXCUSED
        elif week == current:
            status = WeekStatus.PENDING
        elif window > 1 and i - window + 1 < 0:
            # Not a whole window since the match yet: nothing is due before it closes.
            status = WeekStatus.PENDING
        else:
            status = WeekStatus.MISSED
        out.append((week, status))
    return out


class WeekTally(msgspec.Struct, frozen=True):
    """What was counted in one week of a pairing: meetings held (and their minutes) and
    excused cancellations."""

    held: int = 0
    minutes: int = 0
    excused: int = 0


class CadenceWeek(msgspec.Struct):
    """One week of a pairing's cadence: its status and what was held in it."""

    week: str
    status: WeekStatus
    held: int
    minutes: int


def cadence_weeks(
    first: str, last: str, current: str, tallies: Mapping[str, WeekTally], cadence: Cadence
) -> list[CadenceWeek]:
    """`compliance` over the weeks' tallies: every week from `first` to `last` with its status
    and what was held in it."""
    statuses = compliance(
        first,
        last,
        current,
        {week for week, tally in tallies.items() if tally.held > 0},
        {week for week, tally in tallies.items() if tally.excused > 0},
        cadence,
    )
    none = WeekTally()
    return [
        CadenceWeek(week, status, tallies.get(week, none).held, tallies.get(week, none).minutes)
        for week, status in statuses
    ]


def alert_weeks(today: date) -> tuple[str, str]:
    """The weeks a cadence alert looks at: the current week and the one before it."""
    return week_name(today), week_name(today - timedelta(days=7))


def lapsed_since(opened_at: datetime, last_kept_week: str | None, zone: ZoneInfo) -> datetime:
    """Since when a pairing has gone without its cadence: the start (midnight in the
    grantee's `zone`) of the week after the last it kept (a meeting held, or a cancellation
    excused), or its match when it kept none."""
    if last_kept_week is None:
        return opened_at
    return datetime.combine(week_start(last_kept_week) + timedelta(days=7), time.min, zone)


def missed_cadence(
    opened_week: str, last_kept_week: str | None, current: str, previous: str
) -> bool:
    """An open pairing missed its cadence when it kept neither the current nor the previous
    week (no meeting held, no cancellation excused); a pairing matched this week is not yet
    due."""
    return (last_kept_week is None or last_kept_week < previous) and opened_week != current
