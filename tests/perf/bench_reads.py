"""The cost of reads (issue 23, point 5; decision 84): the caseload page and the meeting log.

- Caseload page: `GET /v1/grantees/{g}/participants?limit=50` through the API in this process
  (Litestar's test client, no network), over a grantee of `--participants` enrolled
  participants and `--goals` goals: CPU of this process per page (client included, so the
  API's share is at most this), wall time, and the database transactions one page runs,
  counted from libpq's protocol trace of every pooled connection (tests/pgtrace.py).
- Meeting log at each of `--sizes` meetings (20 a pairing): a pairing's first page and a page
  deep in it, and the log across pairings, by the query before decision 84 (ORDER BY the text
  `scheduled_for::text || '|' || meeting_id::text`, over a copy of the table with its primary
  key only, as builds had it) beside the query of the code in the current directory
  (`projections.meetings.meeting_log` over the view's build): the server's execution time
  (`EXPLAIN ANALYZE`) and the wall time of the call, medians of `--repeat`.

Run from the repository root; the code measured is the one in the current directory (run it
from an export of an older commit, with tests/pgtrace.py copied in, for that code's figures):

    uv run python tests/perf/bench_reads.py [--database-url URL] [--sizes 2000,200000]

It makes a database of its own, prints the figures and one JSON line, writes the JSON under
the results folder and drops the database. Not a pytest test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from typing import Any
from uuid import UUID

import psycopg
from litestar.testing import TestClient
from psycopg import sql

sys.path.insert(0, os.getcwd())

from projections.base import Tables
from projections.meetings import MEETING, meeting_log
from services.api.app import create_app
from services.projector import live as projector
from services.settings import Settings
from services.store.database import Database
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import log, machine_info, report, write_json
from tests.perf.harness.world import Tokens, add_goals, create_grantee, enrolment
from tests.pgtrace import traced

CONNECTIONS = 4
SECRET = "bench-reads-secret-0123456789abcdef0123456789"
OLD_KEY = "scheduled_for::text || '|' || meeting_id::text"


def numbered(n: int) -> UUID:
    return UUID(f"00000000-0000-0000-0000-{n:012d}")


def build_of(conn: psycopg.Connection[Any], schema: str, view: str) -> Tables:
    with conn.cursor() as cur:
        build = projector.active_build(cur, schema, view)
    assert build is not None
    return Tables(schema, build)


def caseload(api: TestClient[Any], db: Database, tokens: Tokens, args: Any) -> dict[str, Any]:
    slug = "bench_caseload"
    create_grantee(api, tokens, slug, name="Caseload")
    h = tokens.auth("coordinator", slug)
    for i in range(args.participants):
        body = enrolment(f"First{i}", f"Last{i}")
        api.post(f"/v1/grantees/{slug}/participants", json=body, headers=h).raise_for_status()
    projector.drain(db, f"g_{slug}")
    with psycopg.connect(db.url, autocommit=True) as owner:
        t = build_of(owner, f"g_{slug}", "goals")
        ids = [
            r[0]
            for r in owner.execute(
                sql.SQL("SELECT participant_id FROM {}").format(
                    build_of(owner, f"g_{slug}", "caseload")["caseload"]
                )
            ).fetchall()
        ]
        add_goals(owner, t["goals"], ids, args.goals)
    url = f"/v1/grantees/{slug}/participants?limit=50"
    for _ in range(20):
        api.get(url, headers=h).raise_for_status()
    with traced(db, CONNECTIONS) as transactions:
        for _ in range(20):
            api.get(url, headers=h).raise_for_status()
    walls, cpus = [], []
    for _ in range(args.pages):
        w, c = time.perf_counter(), time.process_time()
        api.get(url, headers=h).raise_for_status()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return {
        "participants": args.participants,
        "goals": args.goals,
        "pages": args.pages,
        "transactions_per_page": len(transactions) / 20,
        "cpu_ms_per_page_mean": round(1000 * statistics.fmean(cpus), 2),
        "wall_ms_p50": round(1000 * statistics.median(walls), 2),
    }


def _timed(
    conn: psycopg.Connection[Any], query: sql.Composable, params: list[Any], repeat: int
) -> dict[str, float]:
    """Median server execution time (EXPLAIN ANALYZE) and wall time of the plain statement."""
    pg, wall = [], []
    for _ in range(repeat):
        (plan,) = conn.execute(
            sql.Composed([sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) "), query]), params
        ).fetchone() or ((),)
        pg.append(plan[0]["Execution Time"])
        start = time.perf_counter()
        conn.execute(query, params).fetchall()
        wall.append(1000 * (time.perf_counter() - start))
    return {"pg_ms": round(statistics.median(pg), 3), "wall_ms": round(statistics.median(wall), 3)}


class Recording:
    """A Reader that runs the statements of a query function and keeps the last one."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.last: tuple[sql.Composable, list[Any]] = (sql.SQL(""), [])

    def fetchall(self, query: Any, params: Any = None) -> list[Any]:
        self.last = (sql.SQL(query) if isinstance(query, str) else query, list(params or []))
        return self.conn.execute(query, params).fetchall()

    def fetchone(self, query: Any, params: Any = None) -> Any:
        return self.conn.execute(query, params).fetchone()


def _old_query(
    conn: psycopg.Connection[Any], old: sql.Composable, pairing: UUID | None, skip: int
) -> tuple[sql.Composable, list[Any]]:
    """The meeting log's statement before decision 84 (a page after `skip` rows): its cursor
    was the text key of the last row of the page before."""
    where = sql.SQL("TRUE") if pairing is None else sql.SQL("pairing_id = %s")
    base: list[Any] = [] if pairing is None else [pairing]
    key = sql.SQL(OLD_KEY)
    cond: sql.Composable = sql.SQL("")
    params = list(base)
    if skip:
        row = conn.execute(
            sql.SQL("SELECT {k} FROM {t} WHERE {w} ORDER BY {k} LIMIT 1 OFFSET %s").format(
                k=key, t=old, w=where
            ),
            [*base, skip - 1],
        ).fetchone()
        assert row is not None
        cond = sql.SQL("{k} > %s::text AND ").format(k=key)
        params = [row[0], *base]
    query = sql.SQL("SELECT {k}, {c} FROM {t} WHERE {cond}{w} ORDER BY {k} LIMIT 13").format(
        k=key, c=sql.SQL(MEETING.sql), t=old, cond=cond, w=where
    )
    return query, params


def meetings(
    api: TestClient[Any], db: Database, tokens: Tokens, size: int, repeat: int
) -> dict[str, Any]:
    slug = f"bench_meetings_{size}"
    create_grantee(api, tokens, slug, name="Meetings")
    pairings = max(1, size // 20)
    with psycopg.connect(db.url, autocommit=True) as conn:
        t = build_of(conn, f"g_{slug}", "meetings")
        old = sql.SQL("{}.{}").format(sql.Identifier(f"g_{slug}"), sql.Identifier("meetings_old"))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, PRIMARY KEY (meeting_id))"
            ).format(old, t["meetings"])
        )
        for table in (t["meetings"], old):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (meeting_id, pairing_id, status, scheduled_for, planned_minutes,"
                    " location_kind, week, last_position)"
                    " SELECT md5(i::text)::uuid, ('00000000-0000-0000-0000-' || lpad((i %% %s)::text,"
                    " 12, '0'))::uuid, 'scheduled', timestamptz '2026-01-05 15:00Z' + (i / 7) *"
                    " interval '1 hour', 60, 'remote', '2026-W02', i FROM generate_series(1, %s) i"
                ).format(table),
                (pairings, size),
            )
            conn.execute(sql.SQL("ANALYZE {}").format(table))
        pairing = numbered(pairings // 2)
        reader = Recording(conn)
        out: dict[str, Any] = {"meetings": size, "pairings": pairings}
        # A pairing's log: its first page and its second; across pairings: the first page
        # and the one after 100 pages.
        for case, pid, pages in (("pairing", pairing, 1), ("across", None, 100)):
            first, cursor = meeting_log(reader, t, pid, after="", limit=12)
            new_first = reader.last
            for _ in range(pages):
                assert cursor is not None
                _, cursor = meeting_log(reader, t, pid, after=cursor, limit=12)
            new_deep = reader.last
            out[case] = {
                "rows_first": len(first),
                "before_first": _timed(conn, *_old_query(conn, old, pid, 0), repeat),
                "before_deep": _timed(conn, *_old_query(conn, old, pid, 12 * pages), repeat),
                "after_first": _timed(conn, *new_first, repeat),
                "after_deep": _timed(conn, *new_deep, repeat),
            }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--sizes", default="2000,200000")
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--goals", type=int, default=40000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine_info(args.database_url), "code": os.getcwd()}
    with scratch_database(args.database_url, "prowd_bench_reads") as url:
        settings = dataclasses.replace(
            Settings.from_env(),
            database_url=url,
            jwt_secret=SECRET,
            pool_min=CONNECTIONS,
            pool_max=CONNECTIONS,
            rate_limit_token=0,
            rate_limit_ip=0,
        )
        db = Database(url, settings, name="prowd-bench-reads").open()
        tokens = Tokens(SECRET, "bench")
        try:
            with TestClient(create_app(settings, db)) as api:
                log("caseload page")
                results["caseload"] = caseload(api, db, tokens, args)
                report(f"caseload: {json.dumps(results['caseload'])}")
                results["meeting_log"] = []
                for size in (int(s) for s in args.sizes.split(",")):
                    log(f"meeting log at {size} meetings")
                    figures = meetings(api, db, tokens, size, args.repeat)
                    results["meeting_log"].append(figures)
                    report(f"meeting log: {json.dumps(figures)}")
        finally:
            db.close()
    path = write_json("bench_reads", results)
    print(json.dumps(results))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
