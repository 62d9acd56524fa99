"""Use cases for facilities and cohorts of one grantee."""

from __future__ import annotations

from datetime import date

from domain.facilities import Cohort, Facility, FacilityKind, cohort_id, facility_id
from services.store.ledger import Command, LedgerApplication, Saved


class FacilityCommands(LedgerApplication):
    def register_facility(
        self, command: Command, *, code: str, name: str, kind: FacilityKind
    ) -> Saved[Facility]:
        """Register a BOP institution or RRC under a code unique within the grantee."""
        facility = Facility.register(code=code, name=name, kind=kind)
        return self.record(facility, command, creates=f"facility {code}")

    def facility(self, code: str) -> Facility:
        # A facility never changes after registration, so a loaded one can be kept.
        cache: dict[str, Facility] = self.__dict__.setdefault("_facilities", {})
        facility = cache.get(code)
        if facility is None:
            facility = self.load(Facility, facility_id(code), f"facility {code}")
            if len(cache) < 10_000:
                cache[code] = facility
        return facility

    def start_cohort(
        self, command: Command, *, code: str, name: str, facility_code: str, start_date: date
    ) -> Saved[Cohort]:
        """Start a cohort (a class) at a BOP institution."""
        facility = self.facility(facility_code)
        cohort = Cohort.start(code=code, name=name, facility=facility, start_date=start_date)
        return self.record(cohort, command, creates=f"cohort {code}")

    def cohort(self, code: str) -> Cohort:
        return self.load(Cohort, cohort_id(code), f"cohort {code}")

    def graduate_cohort(self, command: Command, *, code: str, on: date) -> Saved[Cohort]:
        """Record the graduation date of a cohort; its members become eligible mentors."""
        cohort = self.cohort(code)
        cohort.graduate(on)
        return self.record(cohort, command)
