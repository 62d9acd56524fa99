"""Demo data: two grantees with facilities, cohorts and participants across the stages.

Everything is a story of the demo's history (services/demo/history.py): the grantee opens two
years back, each participant enrols on their entry day and moves on later, and the history
ends at the real now, so what the log records happened on the days it says.

Idempotent: every item has a natural key (services/demo/keys.py), so a second run
finds each one already there and adds nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from uuid import UUID
from zoneinfo import ZoneInfo

from domain import clock, common
from domain.casework import ContactMode
from domain.facilities import FacilityKind
from domain.participants import ExitReason, PersonalDetails, Placement
from services.app.grantee import GranteeApp
from services.app.tenancy import Tenancy
from services.demo import activity
from services.demo.history import Calendar, History, Story, acts
from services.demo.keys import participant_number, quietly
from services.demo.mentors import GRADUATE_RECORDS, add_mentors
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
# The day the demo grantees register, before their first cohort begins.
OPENED = date(2023, 12, 4)
C = Command
Act = tuple[datetime, Callable[[], object]]


def load_demo(tenancy: Tenancy) -> int:
    """Create the demo grantees and their data; returns the number of participants added."""
    common.actor.set("demo-loader")
    history = History(clock.now())
    added: list[UUID] = []
    for index, grantee in enumerate(GRANTEES):
        history.add(_grantee(tenancy, history, index, *grantee, added))
    history.play()
    return len(added)


def _grantee(
    tenancy: Tenancy,
    history: History,
    index: int,
    slug: str,
    name: str,
    grant: str,
    tz: str,
    added: list[UUID],
) -> Story:
    """A grantee opens with its facilities; its cohorts, participants and mentors follow."""
    cal = Calendar(history.end, ZoneInfo(tz))
    yield cal.at(OPENED, 9)
    quietly(
        tenancy.platform.registry.register_grantee,
        C(),
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
        quietly(app.facilities.register_facility, C(), code=code, name=fname, kind=kind)
    # The graduate mentors' cohort, graduated before the others began; one graduated since,
    # two in class (with class hours).
    mentors_cohort = (f"{prefix}C-2024A", bop, date(2024, 1, 8), date(2024, 3, 1))
    cohorts = [
        (f"{prefix}C-2025A", bop, date(2025, 6, 2), date(2025, 12, 12)),
        (f"{prefix}C-2026A", bop, date(2026, 1, 12), None),
        (f"{prefix}C-2026B", bop2, date(2026, 3, 2), None),
    ]
    for cohort in (mentors_cohort, *cohorts):
        history.add(_cohort(app, cal, *cohort))
    rng = random.Random(index)
    for n in range(PER_GRANTEE):
        code, facility, start, _ = mentors_cohort if n in GRADUATE_RECORDS else cohorts[n % 3]
        entry = start + timedelta(days=rng.randint(0, 20))
        personal = PersonalDetails(
            first_name=rng.choice(FIRST),
            last_name=rng.choice(LAST),
            date_of_birth=date(1965 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28)),
            bop_register_number=f"{rng.randint(10000, 99999)}-{rng.randint(100, 999)}",
        )
        history.add(
            _participant(
                app,
                cal,
                n,
                participant_number(prefix, n),
                personal,
                entry,
                facility,
                code,
                rrc,
                bop,
                added,
            )
        )
    add_mentors(app, history, cal, prefix, bop, bop2, rrc)


def _cohort(
    app: GranteeApp, cal: Calendar, code: str, facility: str, start: date, graduated: date | None
) -> Story:
    """A cohort announced four weeks before it starts (with class hours while in class), and
    its graduation."""
    yield cal.at(start - timedelta(days=28), 9)
    started = quietly(
        app.facilities.start_cohort,
        C(),
        code=code,
        name=code,
        facility_code=facility,
        start_date=start,
    )
    if started is not None and graduated is None:
        activity.class_hours(app, [code])
    if graduated is None:
        return
    yield cal.at(graduated, 15)
    if app.facilities.cohort(code).graduated_on is None:
        app.facilities.graduate_cohort(C(), code=code, on=graduated)


def _participant(
    app: GranteeApp,
    cal: Calendar,
    n: int,
    number: str,
    personal: PersonalDetails,
    entry: date,
    facility: str,
    cohort: str,
    rrc: str,
    bop: str,
    added: list[UUID],
) -> Story:
    """Participant `n` enrols on their entry day, then moves on and keeps in touch."""
    yield cal.at(entry, 10)
    saved = quietly(
        app.participants.enroll_participant,
        C(),
        number=number,
        personal=personal,
        program_entry_date=entry,
        facility_code=facility,
        cohort_code=cohort,
    )
    if saved is None:
        return
    pid = saved.aggregate.id
    added.append(pid)
    moves = _moves(app, cal, pid, entry, n, rrc, bop) if n < STAY_IN_STAGE_1 else []
    exits = n < STAY_IN_STAGE_1 and n % 12 == 4
    yield from acts(*moves, *([] if exits else _keep_in_touch(app, cal, pid, n, entry)))


def _moves(
    app: GranteeApp, cal: Calendar, pid: UUID, entry: date, n: int, rrc: str, bop: str
) -> list[Act]:
    """Spread participants over the stages: some in an RRC, some home, some out, a few
    exited; each move recorded an hour after it took place."""
    at = datetime.combine(entry, datetime.min.time(), tzinfo=UTC)
    step = n % 6
    p = app.participants
    moved: list[Act] = []

    def move(days: int, placement: Placement, facility: str | None) -> None:
        occurred = at + timedelta(days=days)
        moved.append(
            (
                occurred + timedelta(hours=1),
                partial(
                    p.transition_stage,
                    C(),
                    pid,
                    placement=placement,
                    facility_code=facility,
                    occurred_at=occurred,
                ),
            )
        )

    if step in (1, 3, 5):
        move(60, Placement.RRC, rrc)
    if step == 2:
        move(45, Placement.HOME_CONFINEMENT, None)
    if step in (3, 4, 5):
        move(120, Placement.COMMUNITY, None)
    if step == 5 and n % 12 == 5:
        back = at + timedelta(days=150)
        moved.append(
            (
                back + timedelta(hours=1),
                partial(p.return_to_custody, C(), pid, facility_code=bop, occurred_at=back),
            )
        )
    if step == 4 and n % 12 == 4:
        exit_date = entry + timedelta(days=160)
        moved.append(
            (
                cal.at(exit_date, 16),
                partial(
                    p.exit_participant,
                    C(),
                    pid,
                    exit_date=exit_date,
                    reason=ExitReason.COMPLETED,
                ),
            )
        )
    return moved


def _keep_in_touch(app: GranteeApp, cal: Calendar, pid: UUID, n: int, entry: date) -> list[Act]:
    """Case-management contacts every 60 days from entry up to a recent one, dated from today,
    so that the caseload is mostly active on whatever day the demo is loaded (a derived exit,
    once it has taken effect, stands: decision 85). A few are left without contacts (their 90
    days pass: derived exits) and a few were last seen 80 days ago (an exit approaching)."""
    if n % 10 == 7:
        return []
    last = cal.today - timedelta(days=80 if n % 10 == 8 else 3 + n % 25)
    days = []
    on = entry + timedelta(days=60)
    while on < last:
        days.append((on, ContactMode.IN_PERSON))
        on += timedelta(days=60)
    if last >= entry:
        days.append((last, ContactMode.PHONE))
    return [
        (
            cal.at(day, 14),
            partial(app.participants.record_case_contact, C(), pid, on=day, mode=mode),
        )
        for day, mode in days
    ]
