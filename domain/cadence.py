"""Meeting cadence: was each ISO week of a pairing's life met, missed or excused?

Weeks are named `YYYY-Www` in the grantee's time zone (ISO 8601: weeks start on Monday, and
the first week of a year holds its first Thursday, so 2026-W01 starts on 2025-12-29).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

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
