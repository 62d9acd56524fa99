"""A plain day (a program entry date, an imported stage date, an exit date) is that day in the
grantee's zone everywhere (decision 95): it is recorded as the day's first instant there, and
an event stored before as the day's UTC midnight, which is not rewritten, reads as the same day.

Until decision 95 a plain day was recorded as its UTC midnight: west of UTC the evening before,
so the stage showed as begun the day before and an imported move dated on a quarter's first
day counted in the quarter before (the first two tests pinned that defect as strict xfails).
East of UTC, today's date was refused as lying in the future until UTC reached it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from domain.participants import Participant, PersonalDetails, Placement
from domain.plaindays import utc_midnight
from services.projector import live as projector
from services.projector import rebuilds
from services.store.ledger import Command
from tests.conftest import FreezeAt
from tests.meetings_helpers import World
from tests.mentoring_helpers import Api
from tests.people import birth_date

IMPORT_HEADER = (
    b"first_name,last_name,date_of_birth,bop_register_number,program_entry_date,facility,"
    b"cohort,stage,placement,stage_facility,stage_date\n"
)


@pytest.fixture
def api(client, auth, grantee, db) -> Api:
    return Api(client, auth, grantee, db)


def test_a_plain_day_reads_as_that_day_in_the_grantees_zone(api: Api, enrol: Any) -> None:
    p = enrol(first_name="Ann", program_entry_date="2026-07-01")
    projector.drain(api.db, f"g_{api.slug}")
    person = api.get(f"/participants/{p['id']}")
    assert person["program_entry_date"] == "2026-07-01"
    # The grantee is in America/New_York: the stage began on the entry day there.
    assert person["stage_started_at"][:10] == "2026-07-01", person["stage_started_at"]


def test_an_imported_stage_date_counts_in_its_own_quarter(api: Api) -> None:
    data = IMPORT_HEADER + b"Ann,Lee,1980-01-01,,2026-02-02,FCI-A,C1,3,,,2026-07-01\n"
    r = api.client.post(
        api.base + "/imports",
        content=data,
        params={"kind": "participants"},
        headers={**api.headers(), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    projector.drain(api.db, f"g_{api.slug}")

    def moved(quarter: str) -> int:
        report = api.get(f"/reports/quarterly/{quarter}")
        return int(report["figures"]["transitions.1_to_3"]["value"])

    assert (moved("2026Q2"), moved("2026Q3")) == (0, 1)


def moves_in(w: World, quarter: str, **params: str) -> int:
    """Stage 1 to 3 transitions in the grantee's quarterly report (live, or `as_of`)."""
    projector.drain(w.db, w.schema)
    figures = w.get(f"/reports/quarterly/{quarter}", **params)["figures"]
    return int(figures["transitions.1_to_3"]["value"])


def import_rows(w: World, *rows: bytes) -> None:
    r = w.client.post(
        w.base + "/imports",
        content=IMPORT_HEADER + b"".join(rows),
        params={"kind": "participants"},
        headers={**w.headers(), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["created"] == len(rows), r.text


# (zone, the offset of its 1 July 2026): west and east of UTC.
ZONES = [
    pytest.param("America/Los_Angeles", "-07:00", id="los-angeles"),
    pytest.param("Pacific/Guam", "+10:00", id="guam"),
]


@pytest.mark.parametrize(("zone", "offset"), ZONES)
def test_the_entry_day_is_itself_west_and_east_of_utc(
    zone: str, offset: str, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    frozen_at(datetime(2026, 11, 26, 9, tzinfo=ZoneInfo(zone)), tick=True)
    w = World(client, auth, db, zone)
    pid = w.enrol("C1", "2026-07-01")
    person = w.view(f"/participants/{pid}")
    assert person["program_entry_date"] == "2026-07-01"
    assert person["stage_started_at"] == f"2026-07-01T00:00:00{offset}"
    # The command's own answer (the aggregate) says the same as the view.
    exited = w.post(f"/participants/{pid}/exit", {"exit_date": "2026-07-01", "reason": "relocated"})
    assert exited["stage_started_at"] == person["stage_started_at"]
    assert exited["exit_date"] == "2026-07-01"
    history = w.get(f"/participants/{pid}/history")["events"]
    assert [e["occurred_at"] for e in history] == [f"2026-07-01T00:00:00{offset}"] * 2
    import_rows(w, b"Bo,Ray,1981-02-03,,2026-02-02,FCI-A,C1,3,,,2026-07-01\n")
    assert (moves_in(w, "2026Q2"), moves_in(w, "2026Q3")) == (0, 1)


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        # 08:00 on 26 November in Guam is still the 25th in UTC.
        pytest.param("Pacific/Guam", datetime(2026, 11, 26, 8), id="guam-morning"),
        # 20:00 on 26 November in Los Angeles is already the 27th in UTC.
        pytest.param("America/Los_Angeles", datetime(2026, 11, 26, 20), id="los-angeles-evening"),
    ],
)
def test_today_is_not_the_future_and_tomorrow_is_on_the_grantees_calendar(
    zone: str, local: datetime, frozen_at: FreezeAt, client: Any, auth: Any, db: Any
) -> None:
    frozen_at(local.replace(tzinfo=ZoneInfo(zone)), tick=True)
    w = World(client, auth, db, zone)
    w.enrol("C1", "2026-11-26")
    w.refused("/participants", enrolment("2026-11-27"), "in_future")
    pid = w.enrol("C1", "2026-11-20", "Cy")
    w.refused(
        f"/participants/{pid}/exit", {"exit_date": "2026-11-27", "reason": "other"}, "in_future"
    )
    w.post(f"/participants/{pid}/exit", {"exit_date": "2026-11-26", "reason": "other"})


def enrolment(entry: str) -> dict[str, str]:
    return {
        "first_name": "Di",
        "last_name": "Fox",
        "date_of_birth": birth_date(),
        "program_entry_date": entry,
        "facility": "FCI-A",
        "cohort": "C1",
    }


def store_the_old_way(app: Any, w: World) -> UUID:
    """A participant imported before decision 95, stored as the code then stored it: enrolled
    on 2 February 2026 at that day's UTC midnight (the domain's UTC calendar), and moved to
    stage 3 on 1 July 2026 by a version-1 `StageTransitioned` at that day's UTC midnight and
    without a `stage_date`, written to the log directly."""
    tenant = app.state.tenancy.app(w.slug)
    personal = PersonalDetails(
        first_name="Old", last_name="Way", date_of_birth=date.fromisoformat(birth_date())
    )
    person = Participant.enroll(
        number="OLDWAY1",
        personal=personal,
        program_entry_date=date(2026, 2, 2),
        facility=tenant.facilities.facility("FCI-A"),
        cohort=tenant.facilities.cohort("C1"),
        zone=UTC,
    )
    tenant.ledger.record(person, Command())
    person.transition(
        placement=Placement.COMMUNITY, facility=None, occurred_at=utc_midnight(date(2026, 7, 1))
    )
    [move] = person.collect_events()
    stored = tenant.ledger.mapper.to_stored_event(move)
    state = msgspec.json.decode(stored.state)
    assert state.pop("class_version") == 2 and state.pop("stage_date") is None
    v1 = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, msgspec.json.encode(state)
    )
    tenant.ledger.recorder.insert_events([v1])
    return UUID(str(person.id))


def test_events_stored_as_utc_midnight_read_as_their_days(
    frozen_at: FreezeAt, client: Any, auth: Any, db: Any, app: Any
) -> None:
    clock = frozen_at(datetime(2026, 11, 26, 10, tzinfo=ZoneInfo("America/New_York")), tick=True)
    w = World(client, auth, db, "America/New_York")
    pid = store_the_old_way(app, w)
    # A move given as an instant since is read as given: 00:00 UTC is 20:00 on 30 June here.
    given = w.enrol("C1", "2026-02-02", "Given")
    w.post(
        f"/participants/{given}/stage-transitions",
        {"to_stage": 3, "occurred_at": "2026-07-01T00:00:00Z"},
    )
    person = w.view(f"/participants/{pid}")
    assert (person["stage"], person["stage_started_at"]) == (3, "2026-07-01T00:00:00-04:00")
    history = w.get(f"/participants/{pid}/history")["events"]
    assert [e["occurred_at"] for e in history] == [
        "2026-02-02T00:00:00-05:00",
        "2026-07-01T00:00:00-04:00",
    ]
    # The aggregate, as a command loads it from the log.
    loaded = app.state.tenancy.app(w.slug).participants.participant(pid)
    assert loaded.stage_started_at == datetime(2026, 7, 1, 4, tzinfo=UTC)
    # The old imported move counts in the quarter of its day, live, replayed (`as_of`) and
    # after a rebuild of the views; the move given at 00:00 UTC in the quarter before.
    as_of = clock.now().isoformat()
    for params in ({}, {"as_of": as_of}):
        assert (moves_in(w, "2026Q2", **params), moves_in(w, "2026Q3", **params)) == (1, 1)
    live = projector.digests(db, w.schema)
    rebuilds.rebuild_views(db, w.schema)
    assert projector.digests(db, w.schema) == live
    assert w.get(f"/participants/{pid}")["stage_started_at"] == "2026-07-01T00:00:00-04:00"
    # The auditor's stream reads the events as every reader does (the oracle of the report
    # recomputes it from the stream); the log itself is as it was stored, and intact.
    r = client.get(f"{w.base}/audit/events", headers=w.headers("auditor"))
    assert r.status_code == 200, r.text
    lines = [msgspec.json.decode(line) for line in r.content.splitlines()]
    mine = [x for x in lines if x["originator_id"] == str(pid)]
    assert [x["event"]["occurred_at"] for x in mine] == [
        "2026-02-02T05:00:00Z",
        "2026-07-01T04:00:00Z",
    ]
    stored = db.fetchall(
        f'SELECT state FROM "{w.schema}".events WHERE originator_id = %s'
        " ORDER BY originator_version",
        (pid,),
    )
    instants = [msgspec.json.decode(bytes(s))["occurred_at"] for (s,) in stored]
    assert instants == ["2026-02-02T00:00:00Z", "2026-07-01T00:00:00Z"]
    verified = w.get("/audit/verification", role="auditor")
    assert verified["intact"] is True, verified
