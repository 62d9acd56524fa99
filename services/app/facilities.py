"""Use cases for facilities and cohorts of one grantee (and a cohort's class hours)."""

from __future__ import annotations

from datetime import date

from domain.facilities import ClassSlot, Cohort, Facility, FacilityKind, cohort_id, facility_id
from services.refusals import shown
from services.store.ledger import Command, LedgerApplication, Saved


class Facilities:
    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger
        # A facility never changes after registration, so a loaded one can be kept.
        self._facilities: dict[str, Facility] = {}

    def register_facility(
        self, command: Command, *, code: str, name: str, kind: FacilityKind
    ) -> Saved[Facility]:
        """Register a BOP institution or RRC under a code unique within the grantee."""
        facility = Facility.register(code=code, name=name, kind=kind)
        return self.ledger.record(facility, command, creates=f"facility {shown(code)}")

    def facility(self, code: str) -> Facility:
        facility = self._facilities.get(code)
        if facility is None:
            facility = self.ledger.load(Facility, facility_id(code), f"facility {shown(code)}")
            if len(self._facilities) < 10_000:
                self._facilities[code] = facility
        return facility

    def start_cohort(
        self, command: Command, *, code: str, name: str, facility_code: str, start_date: date
    ) -> Saved[Cohort]:
        """Start a cohort (a class) at a BOP institution."""
        facility = self.facility(facility_code)
        cohort = Cohort.start(
            code=code, name=name, facility=facility, start_date=start_date, zone=self.ledger.zone
        )
        return self.ledger.record(cohort, command, creates=f"cohort {shown(code)}")

    def cohort(self, code: str) -> Cohort:
        return self.ledger.load(Cohort, cohort_id(code), f"cohort {shown(code)}")

    def graduate_cohort(self, command: Command, *, code: str, on: date) -> Saved[Cohort]:
        """Record the graduation date of a cohort; its members become eligible mentors."""
        cohort = self.cohort(code)
        cohort.graduate(on, self.ledger.zone)
        return self.ledger.record(cohort, command)

    def set_class_hours(self, command: Command, code: str, slots: list[ClassSlot]) -> Saved[Cohort]:
        """Set a cohort's weekly class periods (local time); stage-1 mentoring avoids them."""
        cohort = self.cohort(code)
        cohort.set_class_hours(slots)
        return self.ledger.record(cohort, command)
