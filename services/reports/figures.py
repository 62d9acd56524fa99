"""The figures of a quarterly report, evaluated from bases (no I/O here).

Figures are counts, sums, means, medians or ratios of bases (services/reports/bases.py), so
totals across grantees are computed from the pooled items, never by averaging averages.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from projections.oversight import Facts
from services.reports.bases import sort_facts
from services.reports.quarterly import Bases, Kind, Quarter, catalogue


@dataclass(frozen=True)
class Value:
    value: int | float | None
    positions: tuple[int, ...]
    # Per counted unit (an item of the first base), the positions that made it count.
    units: tuple[tuple[int, ...], ...] = ()
    # A rate's numerator and denominator (counts), for a reader: "60% (3 of 5)".
    of: tuple[int, int] | None = None


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
        of = None
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
            of = (len(items[0]), len(items[1]))
        else:
            below = math.fsum(a for a, _ in items[1])
            value = _round(math.fsum(amounts) / below, 2) if below else None
        units = tuple(sorted(tuple(sorted(set(ps))) for _, ps in items[0]))
        figures[fig.name] = Value(value, positions, units, of)
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


def grantee_report(
    facts: Facts, quarter: Quarter, through: date | None, zone: ZoneInfo
) -> tuple[Report, Bases]:
    bases = sort_facts(facts, quarter, through, zone)
    return evaluate(quarter, through, bases), bases
