"""What the projection worker sends besides the views' own work (decision 154).

- A sweep asks each grantee with one statement whether its views or its webhook outbox are
  behind the log, and catches up only those that are (a lost notice is still found).
- Whether a checkpoint is due: `sign_if_due` reads a grantee's chain head and its last
  checkpoint in one statement. The worker keeps what that read found and counts the events it
  applies since; while neither rule can be due it does not ask, and it asks again at least
  every `EVERY_SECONDS` whatever it knows.

Statements are counted from libpq's own trace of the worker's connection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from services.audit import checkpoints
from services.projector import live as projector
from services.runners.projection import ProjectionWorker
from services.settings import Settings
from services.store.database import Database
from services.webhooks import outbox
from tests.conftest import SUITE_NOW, FreezeAt
from tests.pgtrace import traced


@pytest.fixture
def one_connection(settings: Settings, database_url: str) -> Iterator[Database]:
    own = dataclasses.replace(settings, pool_min=1, pool_max=1)
    db = Database(database_url, own, name="checkpoint-schedule").open()
    try:
        yield db
    finally:
        db.close()


def _checkpoint_reads(transactions: list[list[str]]) -> int:
    """Reads of the last checkpoint (not the delivery of a new one, read by its position)."""
    return sum(
        1
        for statements in transactions
        for statement in statements
        if ".checkpoints" in statement and "DESC LIMIT 1" in statement
    )


def _signed(db: Database, schema: str) -> list[int]:
    rows = db.fetchall(f'SELECT notification_id FROM "{schema}".checkpoints ORDER BY 1')
    return [int(r[0]) for r in rows]


def test_the_worker_asks_only_when_a_checkpoint_may_be_due(
    one_connection: Database, settings: Settings, db, grantee, enrol, frozen_at: FreezeAt
) -> None:
    fixed = frozen_at(SUITE_NOW + timedelta(days=3))
    schema = f"g_{grantee}"
    enrol()
    worker = ProjectionWorker(one_connection, key=checkpoints.load_key(settings))

    def catch_up() -> int:
        with traced(one_connection, 1) as transactions:
            worker._catch_up(grantee)
        return _checkpoint_reads(transactions)

    # The first catch-up asks (nothing known yet) and signs the head: the first is always due.
    assert catch_up() == 1
    head = projector.lowest_position(db, schema)
    assert _signed(db, schema) == [head]

    # New events, fewer than EVERY_EVENTS, a minute later: not due, and not asked.
    enrol()
    fixed.advance(timedelta(minutes=1))
    assert catch_up() == 0
    # A sweep with nothing new: not asked either.
    assert catch_up() == 0
    assert _signed(db, schema) == [head]

    # Once the checkpoint is EVERY_SECONDS old, the worker asks and signs the new head.
    fixed.advance(timedelta(seconds=checkpoints.EVERY_SECONDS))
    assert catch_up() == 1
    assert _signed(db, schema) == [head, projector.lowest_position(db, schema)]
    assert catch_up() == 0


def test_what_the_worker_did_not_see_waits_at_most_every_seconds(
    one_connection: Database, settings: Settings, db, grantee, enrol, frozen_at: FreezeAt
) -> None:
    """Events applied by another process are not counted, so they are signed at the latest
    when the worker asks again, EVERY_SECONDS after its last read."""
    fixed = frozen_at(SUITE_NOW + timedelta(days=4))
    schema = f"g_{grantee}"
    enrol()
    worker = ProjectionWorker(one_connection, key=checkpoints.load_key(settings))
    worker._catch_up(grantee)
    first = _signed(db, schema)
    enrol()
    projector.drain(db, schema)  # applied elsewhere: the worker's next catch-up finds nothing
    fixed.advance(timedelta(seconds=checkpoints.EVERY_SECONDS - 1))
    worker._catch_up(grantee)
    assert _signed(db, schema) == first
    fixed.advance(timedelta(seconds=1))
    worker._catch_up(grantee)
    assert _signed(db, schema) == [*first, projector.lowest_position(db, schema)]


def test_the_schedule_rules() -> None:
    """Every rule, and its edge, on the schedule alone."""
    now = SUITE_NOW
    schedule = checkpoints.Schedule()
    assert schedule.may_be_due("g_x", 0, now)  # never read: ask
    schedule.read("g_x", 0, now, now)  # just signed
    assert not schedule.may_be_due("g_x", 0, now)
    assert not schedule.may_be_due("g_x", checkpoints.EVERY_EVENTS - 1, now)
    assert schedule.may_be_due("g_x", 1, now)  # the EVERY_EVENTS-th event past it
    schedule.read("g_x", 5, None, now)  # events and no checkpoint at all (no key, say)
    assert schedule.may_be_due("g_x", 0, now)
    schedule.read("g_x", 0, now, now)
    later = now + timedelta(seconds=checkpoints.EVERY_SECONDS)
    assert schedule.may_be_due("g_x", 0, later)  # read too long ago: ask again
    schedule.read("g_x", 0, now - timedelta(hours=1), now)  # old checkpoint, nothing past it
    assert not schedule.may_be_due("g_x", 0, now + timedelta(seconds=1))
    assert schedule.may_be_due("g_x", 1, now + timedelta(seconds=1))


def test_a_sweep_asks_an_idle_grantee_once_and_finds_what_a_lost_notice_left(
    one_connection: Database, db, grantee, enrol
) -> None:
    schema = f"g_{grantee}"
    enrol()
    worker = ProjectionWorker(one_connection)
    worker._catch_up(grantee)
    head = projector.lowest_position(db, schema)

    # Nothing new: one statement in all, in autocommit.
    with traced(one_connection, 1) as transactions:
        worker._catch_up(grantee, sweeping=True)
    assert len(transactions) == 1 and len(transactions[0]) == 1, transactions

    # Events whose notice the worker never heard: the sweep applies them, views and outbox.
    enrol()
    enrol()
    head = max(head, int(db.fetchone(f'SELECT max(notification_id) FROM "{schema}".events')[0]))
    worker._catch_up(grantee, sweeping=True)
    assert projector.lowest_position(db, schema) == head
    assert outbox.position(db, schema) == head

    # The views caught up by another process, the outbox not: the sweep still takes it on.
    enrol()
    projector.drain(db, schema)
    head = projector.lowest_position(db, schema)
    assert outbox.position(db, schema) < head
    worker._catch_up(grantee, sweeping=True)
    assert outbox.position(db, schema) == head
