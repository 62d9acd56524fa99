"""Plain days without a database (domain/plaindays.py, decision 95): the first instant of a day
in a grantee's zone, on ordinary days, daylight-saving change days and a day whose midnight a
change skips; today is never the future, in any zone at any instant; events stored as a day's
UTC midnight (before decision 95) read, through the mapper, as the day's start in the zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import clock
from domain.common import check_date_not_future, check_not_future
from domain.facilities import Cohort, Facility, FacilityKind
from domain.participants import Participant, PersonalDetails, Placement
from domain.plaindays import as_recorded, start_of_day, utc_midnight
from services.store.mapping import MsgspecMapper

NEW_YORK, LOS_ANGELES, GUAM = (
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Los_Angeles"),
    ZoneInfo("Pacific/Guam"),
)
# West and east of UTC, the date line's both sides, half-hour offsets, and zones whose
# daylight-saving change happens at midnight.
ZONES = [
    UTC,
    NEW_YORK,
    LOS_ANGELES,
    GUAM,
    ZoneInfo("Pacific/Kiritimati"),
    ZoneInfo("Pacific/Pago_Pago"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("America/Santiago"),
    ZoneInfo("America/Havana"),
]


@pytest.mark.parametrize(
    ("day", "zone", "instant"),
    [
        (date(2026, 7, 1), NEW_YORK, datetime(2026, 7, 1, 4, tzinfo=UTC)),
        (date(2026, 7, 1), LOS_ANGELES, datetime(2026, 7, 1, 7, tzinfo=UTC)),
        (date(2026, 7, 1), GUAM, datetime(2026, 6, 30, 14, tzinfo=UTC)),
        (date(2026, 7, 1), UTC, datetime(2026, 7, 1, tzinfo=UTC)),
        # US changes happen at 02:00: the day of the change still begins at the old offset.
        (date(2027, 3, 14), LOS_ANGELES, datetime(2027, 3, 14, 8, tzinfo=UTC)),
        (date(2027, 11, 7), LOS_ANGELES, datetime(2027, 11, 7, 7, tzinfo=UTC)),
        # Santiago skipped 00:00-01:00 on 11 September 2022: the day began at 01:00 (-03:00).
        (date(2022, 9, 11), ZoneInfo("America/Santiago"), datetime(2022, 9, 11, 4, tzinfo=UTC)),
    ],
)
def test_a_plain_day_starts_at_its_first_instant_in_the_zone(day, zone, instant):
    assert start_of_day(day, zone) == instant
    assert start_of_day(day, zone).tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.sampled_from(ZONES))
def test_the_start_is_the_days_first_instant_in_the_zone(day, zone):
    start = start_of_day(day, zone)
    assert start.astimezone(zone).date() == day
    assert (start - timedelta(microseconds=1)).astimezone(zone).date() == day - timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
)
def test_today_is_never_the_future_in_any_zone(now, zone):
    with clock.using(clock.FixedClock(now)):
        today = clock.today(zone)
        check_not_future(start_of_day(today, zone), "today")
        check_date_not_future(today, "today", zone)


def test_a_stored_utc_midnight_reads_as_the_days_start_and_nothing_else_moves():
    day = date(2026, 7, 1)
    assert as_recorded(utc_midnight(day), day, NEW_YORK) == datetime(2026, 7, 1, 4, tzinfo=UTC)
    assert as_recorded(utc_midnight(day), day, GUAM) == datetime(2026, 6, 30, 14, tzinfo=UTC)
    # Recorded since decision 95 (the start in the zone), or any other instant: as stored.
    assert as_recorded(start_of_day(day, NEW_YORK), day, NEW_YORK) == start_of_day(day, NEW_YORK)
    later = datetime(2026, 7, 1, 13, 30, tzinfo=UTC)
    assert as_recorded(later, day, NEW_YORK) == later


BOP = Facility.register("FCI-A", "FCI Alpha", FacilityKind.BOP_INSTITUTION)
COHORT = Cohort.start("C1", "Class 1", BOP, date(2026, 1, 5))
NOW = clock.FixedClock(datetime(2026, 11, 26, 15, tzinfo=UTC))


def enrolled_in_utc() -> Participant:
    """Enrolled on 2 February 2026 on UTC's calendar: as every enrolment before decision 95."""
    with clock.using(NOW):
        return Participant.enroll(
            number="P1",
            personal=PersonalDetails(first_name="A", last_name="B", date_of_birth=date(1990, 1, 1)),
            program_entry_date=date(2026, 2, 2),
            facility=BOP,
            cohort=COHORT,
        )


def moved(p: Participant, on: datetime) -> list[StoredEvent]:
    """`p` moved to stage 3 at `on` (as the API records a move), its events as stored."""
    with clock.using(NOW):
        p.transition(placement=Placement.COMMUNITY, facility=None, occurred_at=on)
    return [MsgspecMapper().to_stored_event(e) for e in p.collect_events()]


def as_version_1(stored: StoredEvent, **changes: str) -> StoredEvent:
    """A move's state as stored before decision 95: no version, no `stage_date`."""
    state = msgspec.json.decode(stored.state)
    del state["class_version"], state["stage_date"]
    state.update(changes)
    return StoredEvent(stored.originator_id, 2, stored.topic, msgspec.json.encode(state))


def test_the_mapper_reads_old_plain_days_in_the_grantees_zone():
    """Enrolled on 2 February and imported in stage 3 from 1 July 2026, stored as before
    decision 95: the days' UTC midnights, the move without `stage_date`."""
    enrolled, move = moved(enrolled_in_utc(), utc_midnight(date(2026, 7, 1)))
    stored = [enrolled, as_version_1(move)]
    read = [MsgspecMapper(zone=NEW_YORK).to_domain_event(s) for s in stored]
    assert [e.occurred_at for e in read] == [
        datetime(2026, 2, 2, 5, tzinfo=UTC),
        datetime(2026, 7, 1, 4, tzinfo=UTC),
    ]
    assert read[1].stage_date == date(2026, 7, 1)
    as_stored = [MsgspecMapper().to_domain_event(s) for s in stored]
    assert [e.occurred_at for e in as_stored] == [
        datetime(2026, 2, 2, tzinfo=UTC),
        datetime(2026, 7, 1, tzinfo=UTC),
    ]


def test_a_move_given_as_an_instant_is_never_read_as_a_day():
    """Since version 2 a move says whether it is a plain day: one given at 00:00 UTC stays
    there. An old move at any other instant than a UTC midnight is no plain day either."""
    _, given = moved(enrolled_in_utc(), utc_midnight(date(2026, 7, 1)))
    assert b'"class_version":2' in given.state
    read = MsgspecMapper(zone=NEW_YORK).to_domain_event(given)
    assert (read.occurred_at, read.stage_date) == (utc_midnight(date(2026, 7, 1)), None)
    old = as_version_1(given, occurred_at="2026-07-01T13:30:00Z")
    read = MsgspecMapper(zone=NEW_YORK).to_domain_event(old)
    assert (read.occurred_at, read.stage_date) == (datetime(2026, 7, 1, 13, 30, tzinfo=UTC), None)
