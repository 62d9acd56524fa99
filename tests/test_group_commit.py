"""Group commit: concurrent writes to one log share a transaction, each caller gets its own
positions, and one command's failure fails that command only (services/store/groupcommit.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import OperationalError

from domain.common import Conflict
from domain.participants import PersonalDetails, Placement
from services.app.tenancy import Tenancy
from services.store.database import Database
from services.store.ledger import Command, Saved
from tests.conftest import race
from tests.people import birth_date

PERSON = PersonalDetails(first_name="Gia", last_name="Moss", date_of_birth=date(1991, 5, 2))


def enrol_call(app: Any) -> Any:
    return lambda: app.participants.enroll_participant(
        Command(),
        personal=PERSON,
        program_entry_date=date(2026, 2, 1),
        facility_code="FCI-A",
        cohort_code="C1",
    )


def transactions_of(db: Database, slug: str, positions: list[int]) -> set[int]:
    """The ids of the transactions that wrote these log positions (as the owner)."""
    with psycopg.connect(db.url, autocommit=True) as owner:
        rows = owner.execute(
            f'SELECT xmin::text::bigint FROM "g_{slug}".events WHERE notification_id = ANY(%s)',
            (positions,),
        ).fetchall()
    assert len(rows) == len(positions)
    return {r[0] for r in rows}


def stats(db: Database, slug: str) -> Any:
    group = db.commit_group(f"g_{slug}")
    assert group is not None
    return group.stats


def test_concurrent_writes_commit_together_and_each_gets_its_own_position(db, grantee, enrol):
    enrol()  # the grantee's facility and cohort exist
    app = Tenancy(db).app(grantee)
    before = stats(db, grantee).batches
    saved: list[Saved[Any]] = race(db, grantee, *[enrol_call(app) for _ in range(8)])
    positions = [s.position for s in saved]
    assert len(set(positions)) == 8
    for s in saved:
        # Each caller's position holds its own aggregate's event.
        (position, event), *_ = app.ledger.history_with_positions(s.aggregate.id)
        assert position == s.position and event.originator_id == s.aggregate.id
    # One write led alone while the log was locked; the seven that queued behind it committed
    # in one transaction.
    assert stats(db, grantee).batches - before == 2
    assert len(transactions_of(db, grantee, positions)) == 2


def test_a_conflict_in_a_batch_fails_that_command_only(db, grantee, enrol):
    pid = UUID(enrol()["id"])
    app = Tenancy(db).app(grantee)
    when = datetime(2026, 3, 1, tzinfo=UTC)

    def move(placement: Placement, facility: str | None) -> Any:
        def call() -> Any:
            p = app.participants.participant(pid)
            p.transition(
                placement=placement,
                facility=app.facilities.facility(facility) if facility else None,
                occurred_at=when,
            )
            try:
                return app.ledger.record(p, Command())
            except Conflict as e:
                return e

        return call

    fallbacks = stats(db, grantee).fallbacks
    results = race(
        db,
        grantee,
        enrol_call(app),
        move(Placement.RRC, "RRC-1"),
        move(Placement.COMMUNITY, None),
        enrol_call(app),
    )
    first, a, b, last = results
    # The two moves were decided from the same version: exactly one of them wins.
    assert sorted(isinstance(r, Conflict) for r in (a, b)) == [False, True]
    assert isinstance(first, Saved) and isinstance(last, Saved)
    # Whichever write led, the other three met in one batch that failed on the conflict and
    # were committed one by one.
    assert stats(db, grantee).fallbacks == fallbacks + 1
    history = app.ledger.history_with_positions(pid)
    assert [type(e).__name__ for _, e in history] == ["Enrolled", "StageTransitioned"]
    won = a if isinstance(a, Saved) else b
    assert history[-1][0] == won.position
    for s in (first, last):
        assert app.participants.participant(s.aggregate.id).version == 1


def test_http_commands_in_one_batch_answer_with_their_own_records(client, auth, grantee, enrol, db):
    h = auth("coordinator", grantee)
    enrol()

    url = f"/v1/grantees/{grantee}/participants"
    bodies = [
        {
            "first_name": f"Batch{n}",
            "last_name": "Lee",
            "date_of_birth": birth_date(),
            "program_entry_date": "2026-02-01",
            "facility": "FCI-A",
            "cohort": "C1",
        }
        for n in range(6)
    ]
    keys = [{**h, "Idempotency-Key": f"gc-{grantee}-{n}"} for n in range(6)]

    def post(n: int) -> Any:
        return lambda: client.post(url, json=bodies[n], headers=keys[n])

    answers = race(db, grantee, *[post(n) for n in range(6)])
    assert [r.status_code for r in answers] == [201] * 6
    positions = [int(r.headers["x-log-position"]) for r in answers]
    assert len(set(positions)) == 6
    assert len(transactions_of(db, grantee, positions)) < 6
    for n, r in enumerate(answers):
        assert r.json()["first_name"] == f"Batch{n}"
        # The idempotency record of each command names its own position: a retry answers
        # with the same record.
        again = client.post(url, json=bodies[n], headers=keys[n])
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["x-log-position"] == r.headers["x-log-position"]
        assert again.json()["id"] == r.json()["id"]


def test_group_commit_can_be_turned_off(settings, database_url, grantee, enrol):
    enrol()
    off = Database(
        database_url, replace(settings, group_commit_max=1), name="prowd-test-off"
    ).open()
    try:
        app = Tenancy(off).app(grantee)
        saved = race(off, grantee, *[enrol_call(app) for _ in range(3)])
        positions = [s.position for s in saved]
        assert len(transactions_of(off, grantee, positions)) == 3
        assert off.commit_group(f"g_{grantee}") is None
    finally:
        off.close()


def test_a_batch_whose_connection_breaks_fails_as_a_whole(db, grantee, enrol):
    """Whether a broken batch's COMMIT landed is unknown: every write in it is told so (and
    retries with its idempotency key); none is committed alone behind its back."""
    enrol()
    app = Tenancy(db).app(grantee)
    table = f'"g_{grantee}".events'
    waiting = "SELECT pid FROM pg_locks WHERE relation = %s::regclass AND NOT granted"
    group = db.commit_group(f"g_{grantee}")
    assert group is not None

    def until(check: Any) -> Any:
        for _ in range(600):
            found = check()
            if found:
                return found
            time.sleep(0.005)
        raise AssertionError("timed out")

    def run(call: Any) -> Any:
        try:
            return call()
        except Exception as e:  # the outcome under test
            return e

    before = db.fetchone(f"SELECT count(*) FROM {table}")[0]
    fallbacks = group.stats.fallbacks
    with (
        ThreadPoolExecutor(3) as pool,
        psycopg.connect(db.url, autocommit=True) as owner,
        owner.transaction(),
    ):
        owner.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        first = pool.submit(run, enrol_call(app))
        leader = until(lambda: db.fetchone(waiting, (table,)))[0]
        rest = [pool.submit(run, enrol_call(app)) for _ in range(2)]
        until(lambda: group.waiting == 2)
        owner.execute("SELECT pg_terminate_backend(%s)", (leader,))
        assert isinstance(first.result(timeout=10), OperationalError)
        # The two queued writes now form one batch, waiting on the lock in turn.
        batch = until(lambda: (row := db.fetchone(waiting, (table,))) and row[0] != leader and row)[
            0
        ]
        owner.execute("SELECT pg_terminate_backend(%s)", (batch,))
        outcomes = [f.result(timeout=10) for f in rest]
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert group.stats.fallbacks == fallbacks
    assert db.fetchone(f"SELECT count(*) FROM {table}")[0] == before
