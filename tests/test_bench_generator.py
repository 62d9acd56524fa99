"""The rebuild benchmark's history generator (tests/perf/bench_rebuild.py `generate`) at a tiny
size, so that a change of the domain it no longer follows fails here rather than at the next
measurement (decision 142): the real grantee application accepts every command in memory, the
events reach the grantee's log through `append_events`, every view takes them without a
projection fault, and the hash chain verifies. Run on a day on which the generator was once
refused (its clearances expired by then): the history ends where it says, whatever the day.
"""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime

from services.audit.verify import verify
from services.projector import live as projector
from services.projector.faults import live as live_faults
from tests.conftest import count_events
from tests.perf.bench_rebuild import generate

EVENTS = 600


def test_the_rebuild_benchmarks_generator_makes_a_history_the_service_takes(
    db, database_url, frozen_at
):
    frozen_at(datetime(2027, 6, 1, 15, 0, tzinfo=UTC), tick=True)

    # In a context of its own: the generator sets the actor and grantee as a command does.
    made = contextvars.copy_context().run(generate, database_url, EVENTS, 1)

    assert made["events"] == EVENTS == count_events(db, "bench_01")
    schema = "g_bench_01"
    assert projector.drain(db, schema) > 0
    assert live_faults(db, schema) == []
    verdict = verify(db, schema)
    assert verdict.intact and verdict.checked == EVENTS, verdict
    # Its kinds of records reached the views: participants, mentors, pairings and meetings.
    for view, table in [
        ("caseload", "caseload"),
        ("mentor_roster", "mentors"),
        ("pairings", "pairings"),
        ("meetings", "meetings"),
    ]:
        (build,) = db.fetchone(
            f"SELECT version FROM {schema}.active_views WHERE view = %s", (view,)
        )
        (rows,) = db.fetchone(f"SELECT count(*) FROM {schema}.{table}_b{build}")
        assert rows > 0, view
