"""The demo's history, acted out in order: each act is recorded with the clock at its instant.

A story is a generator that yields the instant of its next act, then performs it when resumed.
`History.play` runs the acts of all its stories in the order of their instants, with the clock
(domain/clock.py `using`) set to each before it is done, so the times the log records, the
participants' timelines and an as-of replay agree with the simulated days (DESIGN D10). The
clock never goes back: an act due before one already done is recorded just after it, and one
due after `end` (the real now when loading began) at `end`. The clock ticks on from each
instant, so the events of one act follow each other too.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain import clock

Story = Iterator[datetime]


class History:
    """The stories of the demo, played in the order of their acts' instants up to `end`."""

    def __init__(self, end: datetime) -> None:
        self.end = end
        self._due: list[tuple[datetime, int, Story]] = []
        self._order = itertools.count()

    def add(self, story: Story) -> None:
        """Queue a story; an act may add others while the history plays."""
        self._next(story)

    def _next(self, story: Story) -> None:
        at = next(story, None)  # runs the story's act up to its next instant
        if at is not None:
            heapq.heappush(self._due, (min(at, self.end), next(self._order), story))

    def play(self) -> None:
        """Act every story out, the earliest act first."""
        if not self._due:
            return
        simulated = clock.FixedClock(self._due[0][0], tick=True)
        with clock.using(simulated):
            while self._due:
                at, _, story = heapq.heappop(self._due)
                simulated.set(max(at, simulated.now()))
                self._next(story)


def acts(*items: tuple[datetime, Callable[[], object]]) -> Story:
    """A story of acts independent of each other, each done at its instant."""
    for at, act in sorted(items, key=lambda item: item[0]):
        yield at
        act()


@dataclass(frozen=True)
class Calendar:
    """A grantee's days in the demo: the history ends at `end`, on the grantee's day `today`."""

    end: datetime
    zone: ZoneInfo

    @property
    def today(self) -> date:
        return self.end.astimezone(self.zone).date()

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """The instant of `hour`:`minute` on `day` in the grantee's zone."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone).astimezone(UTC)

    def days_ago(self, days: int, hour: int) -> datetime:
        """`hour` o'clock on the grantee's day `days` before today."""
        return self.at(self.today - timedelta(days=days), hour)

    def weeks_ago(self, n: int, *, hour: int = 0) -> datetime:
        """The Tuesday of the grantee's calendar week `n` weeks back (ISO weeks, Monday to
        Sunday, as the cadence counts them), at `hour` UTC (evening hours fall outside class
        time). `weeks_ago(1)` is always last week's: counted from the latest Tuesday instead, a
        Monday's `weeks_ago(1)` fell two weeks back and the demo's pairings missed last week."""
        tuesday = self.today - timedelta(days=self.today.weekday() - 1 + 7 * n)
        return datetime.combine(tuesday, time(hour), tzinfo=UTC)
