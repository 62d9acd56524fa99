"""Facilities (BOP institutions and Residential Reentry Centers) and cohorts (classes)."""

from __future__ import annotations

import re
from datetime import UTC, date, time, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from domain.common import ProwdAggregate, RuleViolation, natural_id, utcnow
from domain.plaindays import local_day, start_of_day

CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,15}$")
# A participant may be enrolled a little before their cohort's first class (intake), not months.
ENTRY_GRACE_DAYS = 30


class FacilityKind(StrEnum):
    BOP_INSTITUTION = "bop_institution"
    RRC = "rrc"

    @property
    def in_words(self) -> str:
        """The kind as a sentence says it, with its article: "a BOP institution", "an RRC"."""
        return "a BOP institution" if self is FacilityKind.BOP_INSTITUTION else "an RRC"


def check_code(code: str, what: str) -> None:
    if not CODE.fullmatch(code):
        raise RuleViolation(
            f"a {what} code is 2-16 upper-case letters, digits and dashes", code="invalid_code"
        )


def facility_id(code: str) -> UUID:
    return natural_id("facility", code)


def cohort_id(code: str) -> UUID:
    return natural_id("cohort", code)


class Facility(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        code: str
        name: str
        kind: FacilityKind

    class Registered(ProwdAggregate.Created):
        code: str
        name: str
        kind: FacilityKind

        def apply(self, aggregate: Any) -> None:
            aggregate.code = self.code
            aggregate.name = self.name
            aggregate.kind = self.kind

    @classmethod
    def register(cls, code: str, name: str, kind: FacilityKind) -> Facility:
        check_code(code, "facility")
        if not name.strip():
            raise RuleViolation("a facility needs a name", code="missing_name")
        facility: Facility = cls._create(
            cls.Registered,
            id=facility_id(code),
            code=code,
            name=name.strip(),
            kind=kind,
            occurred_at=utcnow(),
        )
        return facility


class ClassSlot(msgspec.Struct, frozen=True):
    """A weekly class period in the grantee's local time (ISO weekday 1 = Monday)."""

    weekday: int
    start: time
    end: time


def _hours(slot: ClassSlot) -> str:
    return f"{slot.start:%H:%M}-{slot.end:%H:%M}"


def check_no_overlap(slots: list[ClassSlot]) -> None:
    """Two periods of one weekday may meet end to start but not overlap: overlapping periods
    are one period entered twice, or a mistake in one of them."""
    ordered = sorted(slots, key=lambda s: (s.weekday, s.start, s.end))
    for before, after in pairwise(ordered):
        if before.weekday == after.weekday and after.start < before.end:
            raise RuleViolation(
                f"class periods {_hours(before)} and {_hours(after)} on weekday "
                f"{before.weekday} overlap; make them one period or move one",
                code="overlapping_class_hours",
            )


class Cohort(ProwdAggregate):
    if TYPE_CHECKING:  # state set by the events' apply(); not dataclass fields
        code: str
        name: str
        facility_code: str
        start_date: date
        graduated_on: date | None
        class_hours: list[ClassSlot]

    class Started(ProwdAggregate.Created):
        code: str
        name: str
        facility_code: str
        start_date: date

        def apply(self, aggregate: Any) -> None:
            aggregate.code = self.code
            aggregate.name = self.name
            aggregate.facility_code = self.facility_code
            aggregate.start_date = self.start_date
            aggregate.graduated_on = None
            aggregate.class_hours = []

        def plain_day(self) -> date:
            return self.start_date

    class Graduated(ProwdAggregate.Event):
        graduated_on: date

        def apply(self, aggregate: Any) -> None:
            aggregate.graduated_on = self.graduated_on

        def plain_day(self) -> date:
            return self.graduated_on

    class ClassHoursSet(ProwdAggregate.Event):
        slots: list[ClassSlot]

        def apply(self, aggregate: Any) -> None:
            aggregate.class_hours = list(self.slots)

    @classmethod
    def start(
        cls, code: str, name: str, facility: Facility, start_date: date, zone: tzinfo = UTC
    ) -> Cohort:
        """A cohort starting on `start_date`, a day of `zone` (the grantee's time zone)."""
        check_code(code, "cohort")
        if facility.kind is not FacilityKind.BOP_INSTITUTION:
            raise RuleViolation(
                "a cohort is a class held at a BOP institution, not at an RRC",
                code="cohort_facility_not_bop",
            )
        cohort: Cohort = cls._create(
            cls.Started,
            id=cohort_id(code),
            code=code,
            name=name.strip() or code,
            facility_code=facility.code,
            start_date=start_date,
            occurred_at=start_of_day(start_date, zone),
        )
        return cohort

    def set_class_hours(self, slots: list[ClassSlot]) -> None:
        """Set the weekly class periods; stage-1 mentoring happens outside them."""
        for slot in slots:
            if not 1 <= slot.weekday <= 7:
                raise RuleViolation(
                    "weekday is 1 (Monday) to 7 (Sunday)", code="invalid_class_hours"
                )
            if slot.end <= slot.start:
                raise RuleViolation(
                    "a class period ends after it starts", code="invalid_class_hours"
                )
        check_no_overlap(slots)
        self.trigger_event(self.ClassHoursSet, slots=slots, occurred_at=utcnow())

    def in_class(self, weekday: int, start: time, end: time) -> bool:
        """Whether a local time span on `weekday` overlaps a class period."""
        return any(
            s.weekday == weekday and start < s.end and s.start < end for s in self.class_hours
        )

    def graduate(self, on: date, zone: tzinfo = UTC) -> None:
        """The cohort graduated on `on`, a day of `zone` (the grantee's time zone)."""
        if self.graduated_on is not None:
            raise RuleViolation(
                f"cohort {self.code} already graduated on {self.graduated_on}",
                code="cohort_already_graduated",
            )
        if on < self.start_date:
            raise RuleViolation(
                "a cohort cannot graduate before it started", code="graduation_before_start"
            )
        if on > local_day(utcnow(), zone):
            raise RuleViolation("a graduation date cannot lie in the future", code="in_future")
        self.trigger_event(
            self.Graduated,
            graduated_on=on,
            occurred_at=start_of_day(on, zone),
        )


def check_entry_date(cohort: Cohort, entry: date) -> None:
    """An entry date fits the cohort: not more than the grace before it began, not after it
    graduated."""
    earliest = cohort.start_date - timedelta(days=ENTRY_GRACE_DAYS)
    if entry < earliest:
        raise RuleViolation(
            f"cohort {cohort.code} began on {cohort.start_date}: an entry date before {earliest}"
            f" ({ENTRY_GRACE_DAYS} days earlier) is not plausible, not {entry}",
            code="entry_before_cohort",
        )
    if cohort.graduated_on is not None and cohort.graduated_on < entry:
        raise RuleViolation(
            f"cohort {cohort.code} graduated on {cohort.graduated_on}, before this entry date",
            code="cohort_graduated",
        )
