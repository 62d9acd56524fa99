"""Demo data: two grantees with facilities, cohorts and participants across the stages.

Idempotent: every item has a natural key (services/demo/keys.py), so a second run
finds each one already there and adds nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from domain import clock, common
from domain.casework import ContactMode
from domain.facilities import FacilityKind
from domain.participants import ExitReason, PersonalDetails, Placement
from services.app.grantee import GranteeApp
from services.app.tenancy import Tenancy
from services.demo.keys import participant_number, quietly
from services.demo.mentors import GRADUATED, add_mentors
from services.store.ledger import Command

GRANTEES = [
    ("northside_works", "Northside Reentry Works", "FS-38211-22-60-A-17", "America/Chicago"),
    ("harbor_bridge", "Harbor Bridge Partners", "FS-38247-22-60-A-36", "America/New_York"),
]
FIRST = [
    "James",
    "Maria",
    "Darnell",
    "Luis",
    "Keisha",
    "Robert",
    "Tanya",
    "Andre",
    "Carlos",
    "Denise",
    "Marcus",
    "Angela",
    "Tyrone",
    "Rosa",
    "Kevin",
    "Shanice",
]
LAST = [
    "Johnson",
    "Garcia",
    "Williams",
    "Martinez",
    "Brown",
    "Davis",
    "Lopez",
    "Wilson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Young",
    "Allen",
]
PER_GRANTEE = 30
STAY_IN_STAGE_1 = 24  # participants numbered from here on stay in stage 1, to be mentored


def load_demo(tenancy: Tenancy) -> int:
    """Create the demo grantees and their data; returns the number of participants added."""
    common.actor.set("demo-loader")
    added = 0
    for index, (slug, name, grant, tz) in enumerate(GRANTEES):
        quietly(
            tenancy.platform.registry.register_grantee,
            Command(),
            slug=slug,
            name=name,
            grant_number=grant,
            time_zone=tz,
        )
        app = tenancy.app(slug)
        prefix = slug[:1].upper()
        bop, bop2, rrc = f"FCI-{prefix}1", f"FCI-{prefix}2", f"RRC-{prefix}1"
        for code, fname, kind in (
            (bop, "Federal Correctional Institution (demo)", FacilityKind.BOP_INSTITUTION),
            (bop2, "Federal Prison Camp (demo)", FacilityKind.BOP_INSTITUTION),
            (rrc, "Residential Reentry Center (demo)", FacilityKind.RRC),
        ):
            quietly(app.facilities.register_facility, Command(), code=code, name=fname, kind=kind)
        cohorts = [
            (f"{prefix}C-2025A", bop, date(2025, 6, 2)),
            (f"{prefix}C-2026A", bop, date(2026, 1, 12)),
            (f"{prefix}C-2026B", bop2, date(2026, 3, 2)),
        ]
        for code, facility, start in cohorts:
            quietly(
                app.facilities.start_cohort,
                Command(),
                code=code,
                name=code,
                facility_code=facility,
                start_date=start,
            )
        cohort = app.facilities.cohort(cohorts[0][0])
        if cohort.graduated_on is None:
            app.facilities.graduate_cohort(Command(), code=cohorts[0][0], on=GRADUATED)
        rng = random.Random(index)
        for n in range(PER_GRANTEE):
            code, facility, start = cohorts[n % 3]
            entry = start + timedelta(days=rng.randint(0, 20))
            saved = quietly(
                app.participants.enroll_participant,
                Command(),
                number=participant_number(prefix, n),
                personal=PersonalDetails(
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    date_of_birth=date(
                        1965 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28)
                    ),
                    bop_register_number=f"{rng.randint(10000, 99999)}-{rng.randint(100, 999)}",
                ),
                program_entry_date=entry,
                facility_code=facility,
                cohort_code=code,
            )
            if saved is None:
                continue
            added += 1
            if n < STAY_IN_STAGE_1:
                _advance(app, saved.aggregate.id, entry, n, rrc, bop)
            _keep_in_touch(app, saved.aggregate.id, n, clock.today(ZoneInfo(tz)))
        add_mentors(app, prefix, bop, bop2, rrc)
    return added


def _advance(app: GranteeApp, pid: UUID, entry: date, n: int, rrc: str, bop: str) -> None:
    """Spread participants over the stages: some in an RRC, some home, some out, a few exited."""
    at = datetime.combine(entry, datetime.min.time(), tzinfo=UTC)
    step = n % 6
    if step == 0:
        return
    if step in (1, 3, 5):
        app.participants.transition_stage(
            Command(),
            pid,
            placement=Placement.RRC,
            facility_code=rrc,
            occurred_at=at + timedelta(days=60),
        )
    if step == 2:
        app.participants.transition_stage(
            Command(),
            pid,
            placement=Placement.HOME_CONFINEMENT,
            facility_code=None,
            occurred_at=at + timedelta(days=45),
        )
    if step in (3, 4, 5):
        app.participants.transition_stage(
            Command(),
            pid,
            placement=Placement.COMMUNITY,
            facility_code=None,
            occurred_at=at + timedelta(days=120),
        )
    if step == 5 and n % 12 == 5:
        app.participants.return_to_custody(
            Command(), pid, facility_code=bop, occurred_at=at + timedelta(days=150)
        )
    if step == 4 and n % 12 == 4:
        app.participants.exit_participant(
            Command(), pid, exit_date=entry + timedelta(days=160), reason=ExitReason.COMPLETED
        )


def _keep_in_touch(app: GranteeApp, pid: UUID, n: int, today: date) -> None:
    """Case-management contacts every 60 days from entry up to a recent one, dated from today,
    so that the caseload is mostly active on whatever day the demo is loaded (a derived exit,
    once it has taken effect, stands: decision 85). A few are left without contacts (their 90
    days pass: derived exits) and a few were last seen 80 days ago (an exit approaching)."""
    participant = app.participants.participant(pid)
    if participant.exit_date is not None or n % 10 == 7:
        return
    last = today - timedelta(days=80 if n % 10 == 8 else 3 + n % 25)
    on = participant.program_entry_date + timedelta(days=60)
    while on < last:
        app.participants.record_case_contact(Command(), pid, on=on, mode=ContactMode.IN_PERSON)
        on += timedelta(days=60)
    if last >= participant.program_entry_date:
        app.participants.record_case_contact(Command(), pid, on=last, mode=ContactMode.PHONE)
