"""PROWD_PROJECTOR_SPACING_MS (decision 152): the least time between two catch-ups of one
grantee on its notices. News after a quiet spell is applied at once; news that follows a
catch-up closer than the spacing waits for the rest of it and goes with what arrives meanwhile,
as one batch (under a stream of commands: fewer, larger batches, docs/performance.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from services.projector import live as projector
from services.runners.projection import ProjectionWorker
from services.settings import Settings
from tests.test_projector_gather import _run, _until

SPACING = 4.0


@pytest.fixture
def spaced(db, grantee) -> Iterator[ProjectionWorker]:
    # Everything before the test is applied, so the worker's first sweep finds nothing of this
    # grantee; no sweep comes round during the test.
    projector.drain(db, f"g_{grantee}")
    yield from _run(ProjectionWorker(db, sweep_seconds=600, spacing_seconds=SPACING))


def test_news_after_a_quiet_spell_at_once_news_soon_after_waits_and_goes_together(
    spaced: ProjectionWorker, db, grantee, enrol
) -> None:
    schema = f"g_{grantee}"

    def head() -> int:
        with db.transaction() as cur:
            return projector.log_head(cur, schema)

    def applied(position: int) -> bool:
        return projector.lowest_position(db, schema) >= position

    # The first notice of the grantee: applied without waiting for the spacing.
    started = time.monotonic()
    enrol()
    first = head()
    _until(lambda: applied(first), seconds=SPACING)

    # Two more within the spacing: not applied at once, but no sooner than the spacing after
    # the first catch-up began (the worker's other grantees may have had news meanwhile).
    enrol()
    enrol()
    last = head()
    time.sleep(1.0)
    assert not applied(last)
    _until(lambda: applied(last))
    assert time.monotonic() - started >= SPACING


def test_the_spacing_is_a_setting_off_by_default() -> None:
    assert Settings.from_env({}).projector_spacing_ms == 0
    assert Settings.from_env({"PROWD_PROJECTOR_SPACING_MS": "150"}).projector_spacing_ms == 150
