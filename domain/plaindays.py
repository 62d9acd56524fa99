"""Plain days: dates without a time of day (a program entry date, an exit date, the day a
training was completed or a debrief held) that an event also records as its `occurred_at`.

A plain day is the grantee's day: as an instant it is the first instant of that day in the
grantee's time zone (`start_of_day`), so a grantee west of UTC does not see it as the evening
before nor count it in the quarter before (decision 95). Midnight is that first instant, except
on a day whose midnight a daylight-saving change skips, where the day begins at the change
(`fold=0` reads a skipped time at the offset before the change).

Events stored before decision 95 recorded a plain day as its midnight in UTC. They are not
rewritten: each event that records a plain day names it (`plain_day()`), and a reader that
knows the grantee's zone reads such an instant as the day's start there (`as_recorded`). The
old instant is recognised exactly, being the UTC midnight of the day the event itself carries;
an event recorded since is already at the day's start in the zone, and reads unchanged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo


def start_of_day(day: date, zone: tzinfo = UTC) -> datetime:
    """The first instant of `day` in `zone` (the grantee's), in UTC. Without a zone, UTC's
    calendar: the domain's unit tests, and grantees in UTC."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def utc_midnight(day: date) -> datetime:
    """How an event stored before decision 95 recorded the plain day `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def utc_day(moment: datetime) -> date | None:
    """The day of which `moment` is the UTC midnight, if it is one."""
    at = moment.astimezone(UTC)
    return at.date() if at.time() == time.min else None


def as_recorded(occurred_at: datetime, day: date, zone: tzinfo) -> datetime:
    """The instant an event recording the plain day `day` at `occurred_at` stands for, in a
    grantee in `zone`: the day's start there when it was stored as the day's UTC midnight."""
    if occurred_at == utc_midnight(day):
        return start_of_day(day, zone)
    return occurred_at


def local_day(moment: datetime, zone: tzinfo = UTC) -> date:
    """The day `moment` falls on in `zone`."""
    return moment.astimezone(zone).date()
