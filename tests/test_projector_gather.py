"""PROWD_PROJECTOR_GATHER_MS: after a grantee's first notice the projection worker gathers the
notices that follow within the window and applies them as one batch (fewer, larger batches for
a little lag; docs/performance.md measures both)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from services.projector import live as projector
from services.runners.projection import ProjectionWorker
from services.settings import Settings


def _run(worker: ProjectionWorker) -> Iterator[ProjectionWorker]:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert worker.ready.wait(10), "the worker did not start listening"
        yield worker
    finally:
        worker.stop()
        thread.join(10)


@pytest.fixture
def gathering(db, grantee) -> Iterator[ProjectionWorker]:
    # Everything before the test is applied, so the worker's first sweep finds nothing; no sweep
    # comes round during the test.
    projector.drain(db, f"g_{grantee}")
    yield from _run(ProjectionWorker(db, sweep_seconds=600, gather_seconds=3.0))


def _until(check, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the views did not catch up"
        time.sleep(0.02)


def test_notices_within_the_window_are_applied_as_one_batch(
    gathering: ProjectionWorker, db, grantee, enrol
) -> None:
    # The worker's first sweep may have applied other grantees' events of earlier tests.
    batches, processed = gathering.batches, gathering.processed
    for _ in range(3):
        enrol()
    schema = f"g_{grantee}"
    with db.transaction() as cur:
        head = projector.log_head(cur, schema)
    _until(lambda: projector.lowest_position(db, schema) >= head)
    # One catch-up applied the three enrolments, not one catch-up per notice.
    assert (gathering.batches - batches, gathering.processed - processed) == (1, 3)


def test_the_window_is_a_setting_off_by_default() -> None:
    assert Settings.from_env({}).projector_gather_ms == 0
    assert Settings.from_env({"PROWD_PROJECTOR_GATHER_MS": "40"}).projector_gather_ms == 40
