"""The live projector's catch-up, statement by statement against write-back (issue 23 point 1).

Run from the repository root:

    uv run python tests/perf/bench_projector_live.py [--events 6000] [--batches 20,500]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

One synthetic grantee (the mix of tests/perf/bench_rebuild.py: enrolments, transitions,
pairings, meetings, supervision, goals, referrals) is generated into a scratch database. Then,
in the same run and on the same log, every view is given a new empty build and caught up
from the start, and the webhook outbox from position 0, by:
  - old: the path before decision 90: each event applied to each view by `SqlWriter` (one
    statement per row operation), one tracking UPDATE per view, then the outbox reading and
    decoding the log again (`outbox.drain`);
  - new: `live.drain` with the outbox fed in the same pass (`outbox.Follower`).
For each batch size (events per catch-up transaction: a backlog is read 500 at a time, a
projector keeping up with commands sees a few to a few tens), it prints events/s, the CPU of
this process (client) and of the one server backend per event, and the statements per event
(a separate run over the first events, counted from libpq's trace), and writes them as JSON
to tests/perf/results/projector-live-<UTC timestamp>.json.

Not a pytest test: the file name does not match test_*.py and it defines no test_ function.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from psycopg import sql

from projections.base import Tables
from projections.registry import PROJECTIONS
from services.projector import live
from services.settings import Settings
from services.store.database import Database
from services.webhooks import outbox
from tests.perf.bench_rebuild import generate
from tests.perf.harness.meters import ticks
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import log, stamp, write_json
from tests.perf.harness.results import machine_info as machine
from tests.pgtrace import traced

SCHEMA = "g_bench_01"
# A phase: caught up with batches of `batch` events, to the head or for `rounds` batches.
Runner = Callable[[Database, int, int | None], None]
OUTBOX_TABLES = (
    "webhook_deliveries",
    "webhook_routes",
    "webhook_placements",
    "webhook_pairings",
    "webhook_meetings",
)


def old_catch_up(db: Database, schema: str, batch: int) -> int:
    """One batch the way the live projector applied it before decision 90."""
    with db.transaction() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (live.lock_key(schema),))
        cur.execute(
            sql.SQL(
                "SELECT a.view, a.version, t.position FROM {s}.active_views a"
                " JOIN {s}.tracking t ON t.view = a.view AND t.version = a.version"
            ).format(s=sql.Identifier(schema))
        )
        positions = {v: (b, p) for v, b, p in cur.fetchall()}
        views = [(p, *positions[p.name]) for p in PROJECTIONS if p.name in positions]
        after = min(tracked for _, _, tracked in views)
        topics = sorted({t for p, _, _ in views for t in p.topics})
        cleaned: dict[int, list[str]] = {}
        rows = live.read_events(cur, schema, after, batch, topics, cleaned=cleaned)
        if rows:
            live.by_statements(cur, schema, views, rows)
            for projection, build, _ in views:
                cur.execute(
                    sql.SQL(
                        "UPDATE {}.tracking SET position = greatest(position, %s)"
                        " WHERE view = %s AND version = %s"
                    ).format(sql.Identifier(schema)),
                    (rows[-1][0], projection.name, build),
                )
        return len(rows)


def old_views(db: Database, batch: int, rounds: int | None) -> None:
    n = 0
    while old_catch_up(db, SCHEMA, batch) == batch and (rounds is None or (n := n + 1) < rounds):
        pass


def old_outbox(db: Database, batch: int, rounds: int | None) -> None:
    if rounds is None:
        outbox.drain(db, SCHEMA, batch=batch)
        return
    for _ in range(rounds):
        outbox.catch_up(db, SCHEMA, batch=batch)


def new_fused(db: Database, batch: int, rounds: int | None) -> None:
    """Every view caught up with the outbox fed in the same pass."""
    follower = outbox.Follower(db)
    if rounds is None:
        live.drain(db, SCHEMA, batch=batch, follower=follower)
    else:
        for _ in range(rounds):
            live.catch_up(db, SCHEMA, batch=batch, follower=follower)
    if not follower.current:
        raise RuntimeError("the outbox was not fed by the views' pass")


def new_views(db: Database, batch: int, rounds: int | None) -> None:
    if rounds is None:
        live.drain(db, SCHEMA, batch=batch)
        return
    for _ in range(rounds):
        live.catch_up(db, SCHEMA, batch=batch)


# Each path as its phases, run one after the other on the same log.
PATHS: dict[str, list[tuple[str, Runner]]] = {
    "old": [("views", old_views), ("outbox", old_outbox)],
    "new": [("views+outbox", new_fused)],
    "new_views_only": [("views", new_views)],
}


def reset(db: Database) -> None:
    """New empty builds of every view at position 0, and the outbox at 0 with no state."""
    s = sql.Identifier(SCHEMA)
    with db.owner_connection() as conn, conn.transaction(), conn.cursor() as cur:
        for projection in PROJECTIONS:
            cur.execute(
                sql.SQL("SELECT coalesce(max(version), 0) FROM {}.tracking WHERE view = %s").format(
                    s
                ),
                (projection.name,),
            )
            row = cur.fetchone()
            build = int(row[0] if row else 0) + 1
            projection.create(cur, Tables(SCHEMA, build))
            cur.execute(
                sql.SQL("INSERT INTO {}.tracking VALUES (%s, %s, 0)").format(s),
                (projection.name, build),
            )
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.active_views VALUES (%s, %s)"
                    " ON CONFLICT (view) DO UPDATE SET version = EXCLUDED.version"
                ).format(s),
                (projection.name, build),
            )
        cur.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{}.{}").format(s, sql.Identifier(t)) for t in OUTBOX_TABLES
                )
            )
        )
        cur.execute(sql.SQL("UPDATE {}.webhook_outbox SET position = 0").format(s))


def measure(
    db: Database, phases: list[tuple[str, Runner]], batch: int, events: int
) -> dict[str, Any]:
    """Wall time and CPU (this process, the one server backend) of each phase and in all."""
    reset(db)
    row = db.fetchone("SELECT pg_backend_pid()")
    backend = int(row[0]) if row else 0
    hz = os.sysconf("SC_CLK_TCK")
    out: dict[str, Any] = {}
    total = {"wall": 0.0, "client": 0.0, "server": 0.0}
    for name, run in phases:
        server0, client0, t0 = ticks(backend) or 0, time.process_time(), time.perf_counter()
        run(db, batch, None)
        wall = time.perf_counter() - t0
        client = time.process_time() - client0
        server = ((ticks(backend) or 0) - server0) / hz
        out[name] = {
            "client_us_per_event": round(client / events * 1e6),
            "server_us_per_event": round(server / events * 1e6),
            "wall_s": round(wall, 2),
        }
        for key, v in (("wall", wall), ("client", client), ("server", server)):
            total[key] += v
    out["events_per_s"] = round(events / total["wall"])
    out["client_us_per_event"] = round(total["client"] / events * 1e6)
    out["server_us_per_event"] = round(total["server"] / events * 1e6)
    return out


def statements(
    url: str, settings: Settings, phases: list[tuple[str, Runner]], batch: int, first: int
) -> dict[str, float]:
    """Statements per event over the first events (libpq's trace of a new connection, whose
    statements are all seen prepared): those on the outbox's tables, the others, and all."""
    db = Database(url, settings, name="prowd-bench-live-count").open()
    try:
        reset(db)
        rounds = max(1, first // batch)
        with traced(db, 1) as transactions:
            for _, run in phases:
                run(db, batch, rounds)
    finally:
        db.close()
    sent = [s for t in transactions for s in t]
    hooks = sum("webhook_" in s for s in sent)
    n = rounds * batch
    return {
        "views": round((len(sent) - hooks) / n, 2),
        "outbox": round(hooks / n, 2),
        "all": round(len(sent) / n, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--batches", default="20,500")
    parser.add_argument("--count", type=int, default=1000, help="events of the counting run")
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    with scratch_database(args.database_url, prefix="prowd_bench_live") as url:
        generated = generate(url, args.events, 1)
        events = int(generated["events"])
        log(f"generated {events} events in {generated['seconds']} s")
        settings = dataclasses.replace(Settings.from_env(), pool_min=1, pool_max=1)
        db = Database(url, settings, name="prowd-bench-live").open()
        results: dict[str, Any] = {"events": events, "machine": machine(url), "batches": {}}
        try:
            for batch in batches:
                figures: dict[str, Any] = {}
                for name, phases in PATHS.items():
                    figures[name] = measure(db, phases, batch, events)
                    figures[name]["statements_per_event"] = statements(
                        url, settings, phases, batch, min(args.count, events)
                    )
                    log(f"batch {batch} {name}: {figures[name]}")
                results["batches"][str(batch)] = figures
        finally:
            db.close()
    path = write_json(f"projector-live-{stamp()}.json", results)
    for batch, figures in results["batches"].items():
        old, new = figures["old"], figures["new"]
        print(
            f"batch {batch:>4}: events/s {old['events_per_s']:>6} -> {new['events_per_s']:>6};"
            f" client µs/event {old['client_us_per_event']:>4} -> {new['client_us_per_event']:>4};"
            f" server µs/event {old['server_us_per_event']:>4} -> {new['server_us_per_event']:>4};"
            f" statements/event {old['statements_per_event']['all']}"
            f" -> {new['statements_per_event']['all']}"
        )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
