"""The command path (issue 23, point 2), the code before and after in one run.

Each side runs in a child process of its own, on a scratch database of its own, with its code
on PYTHONPATH (`--base`: a worktree of the code before, e.g. `git worktree add /tmp/wp-base
c4e6b21`; the other side is this tree). The child serves the API in process (Litestar's test
client: the request stack's CPU is counted as client CPU on both sides alike), makes 4
grantees with a mentor and a pairing each, and then:
- round trips: with the pool's connections traced (tests/pgtrace.py), after a warm-up, each
  kind of command sent `--traced` times alone: statements and transactions per command;
- CPU: `--threads` threads, each bound to a grantee, looping enrol → move to stage 2 →
  record a held meeting for `--seconds`: the child's CPU (all its threads) and the CPU of its
  pool's PostgreSQL backends (/proc), per command.
Enrolments carry `duplicate_reason` (the duplicate search reads a view first: not the write
path); no Idempotency-Key unless `--idempotency`.

Prints a table and writes JSON to tests/perf/results/. Run:
    uv run python tests/perf/bench_write_path.py --base /tmp/wp-base [--threads 4] [--seconds 15]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2]
KINDS = ("enrol", "move", "meeting")


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """One side: everything measured inside one process over its own database."""
    from litestar.testing import TestClient

    from services.api.app import create_app
    from services.identity.tokens import issue_token
    from services.settings import Settings
    from services.store.database import Database
    from tests.meetings_helpers import World
    from tests.pgtrace import traced

    pool = args.threads + 2
    settings = dataclasses.replace(
        Settings.from_env(),
        database_url=args.url,
        jwt_secret="bench-secret-" + "x" * 40,
        pool_min=pool,
        pool_max=pool,
        rate_limit_token=0,
        rate_limit_ip=0,
        handler_threads=args.threads + 2,
    )
    db = Database(args.url, settings, name="bench-write-path").open()

    def auth(role: str, grantee: str = "*", sub: str | None = None) -> dict[str, str]:
        token = issue_token(settings, subject=sub or f"b-{role}", roles=[role], grantees=[grantee])
        return {"Authorization": f"Bearer {token}"}

    counter = itertools.count()
    with TestClient(create_app(settings, db)) as api:
        worlds = []
        for g in range(4):
            w = World(api, auth, db, "America/Chicago")
            mentor = w.mentor(f"mentor-{g}")
            mentee = w.enrol()
            worlds.append((w, w.pair(mentor, [mentee], "2026-01-05T15:00:00Z")))

        def command(kind: str, w: World, pairing: str, state: dict[str, str]) -> None:
            n = next(counter)
            headers = w.headers()
            if args.idempotency:
                headers = {**headers, "Idempotency-Key": f"k{n}"}
            if kind == "enrol":
                body = {
                    "first_name": f"Bench{n}",
                    "last_name": "Lee",
                    "date_of_birth": "1980-01-01",
                    "program_entry_date": "2025-09-15",
                    "facility": "FCI-A",
                    "cohort": "C1",
                    "duplicate_reason": "benchmark",
                }
                r = api.post(w.base + "/participants", json=body, headers=headers)
                state["participant"] = r.json().get("id", "")
            elif kind == "move":
                r = api.post(
                    f"{w.base}/participants/{state['participant']}/stage-transitions",
                    json={
                        "to_stage": 2,
                        "placement": "rrc",
                        "facility": "RRC-1",
                        "occurred_at": "2026-03-01T09:00:00Z",
                    },
                    headers=headers,
                )
            else:
                # Distinct minutes since the match, all in the past, outside any class hours.
                at = f"2026-02-{1 + (n // 1440) % 28:02d}T{(n // 60) % 24:02d}:{n % 60:02d}:00Z"
                r = api.post(
                    w.base + "/meetings",
                    json={
                        "pairing_id": pairing,
                        "scheduled_for": at,
                        "location": {"kind": "off_site"},
                        "held": {"occurred_at": at, "duration_minutes": 30, "topics": ["goals"]},
                    },
                    headers=headers,
                )
            if r.status_code != 201:
                raise SystemExit(f"{kind}: {r.status_code} {r.text}")

        # Warm-up: every kind once per grantee (the caches of the side that has them).
        for w, pairing in worlds:
            state: dict[str, str] = {}
            for kind in KINDS:
                command(kind, w, pairing, state)

        trips: dict[str, dict[str, float]] = {}
        for kind in KINDS:
            statements = transactions = 0
            for i in range(args.traced):
                w, pairing = worlds[i % 4]
                state = {}
                if kind == "move":
                    command("enrol", w, pairing, state)
                with traced(db, pool) as tx:
                    command(kind, w, pairing, state)
                statements += sum(len(t) for t in tx)
                transactions += len(tx)
            trips[kind] = {
                "round_trips": statements / args.traced,
                "transactions": transactions / args.traced,
            }

        with db.pool.connection() as conn:
            conn.execute("SELECT 1")
        conns = [db.pool.getconn() for _ in range(pool)]
        backends = [c.info.backend_pid for c in conns]
        for c in conns:
            db.pool.putconn(c)

        def server_ticks() -> int:
            total = 0
            for pid in backends:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            return total

        done = [0] * args.threads
        stop = time.monotonic() + args.seconds

        def loop(t: int) -> None:
            w, pairing = worlds[t % 4]
            while time.monotonic() < stop:
                state: dict[str, str] = {}
                for kind in KINDS:
                    command(kind, w, pairing, state)
                done[t] += 3

        cpu0, server0, wall0 = time.process_time(), server_ticks(), time.monotonic()
        threads = [threading.Thread(target=loop, args=(t,)) for t in range(args.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        cpu1, server1, wall1 = time.process_time(), server_ticks(), time.monotonic()
        key_store = _key_store(db, worlds[0][0].schema, args.keys) if args.keys else {}
    db.close()
    commands = sum(done)
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "commands": commands,
        "commands_per_s": commands / (wall1 - wall0),
        "client_cpu_ms": (cpu1 - cpu0) * 1000 / commands,
        "server_cpu_ms": (server1 - server0) / tick * 1000 / commands,
        "trips": trips,
        "key_store": key_store,
    }


def _key_store(db: Any, schema: str, n: int) -> dict[str, float]:
    """The participant key store of this side over `n` participants of one grantee: the first
    use (a cold cache), a cached look-up, and what each side repeats on a timer (the base: a
    bulk reload of up to 20,000 keys once an entry is older than 30 s; now: a check for
    erasures made elsewhere, every second)."""
    import random
    import uuid

    from services.store import keys

    ring = keys.STORE.ring(db)
    pids = [uuid.uuid4() for _ in range(n)]
    rows = [(pid, *ring.wrap(pid, keys.new_data_key())) for pid in pids]
    with db.transaction() as cur:
        cur.execute(
            f'INSERT INTO "{schema}".participant_keys (participant_id, master_key_id, wrapped_key)'
            " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[])",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        )
    store = keys.STORE
    store.attach(db, ring)  # a cold cache

    def wall_ms(call: Any, times: int = 1) -> float:
        t0 = time.perf_counter()
        for _ in range(times):
            call()
        return (time.perf_counter() - t0) * 1000 / times

    first = wall_ms(lambda: store.key(schema, pids[-1]))
    sample = random.Random(7).sample(pids[-min(n, 15_000) :], 2000)
    it = iter(sample * 5)
    hit = wall_ms(lambda: store.key(schema, next(it)), 10_000)
    saved = store.ttl
    store.ttl = 0.0  # what the timer repeats, made due now
    periodic = wall_ms(lambda: store.key(schema, sample[0]), 3)
    store.ttl = saved
    return {
        "participants": n,
        "first_use_ms": first,
        "cached_lookup_ms": hit,
        "timer_work_ms": periodic,
        "timer_seconds": saved,
    }


def _side(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"prowd_wp_{os.getpid()}_{root.name.replace('-', '_')}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "--url",
                make_conninfo(args.database_url, dbname=name),
                "--threads",
                str(args.threads),
                "--seconds",
                str(args.seconds),
                "--traced",
                str(args.traced),
                *(["--idempotency"] if args.idempotency else []),
                *(["--keys", str(args.keys)] if args.keys else []),
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), "PROWD_LOG_LEVEL": "warning"},
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{root}: {out.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, help="a worktree of the code before")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--traced", type=int, default=8)
    parser.add_argument("--idempotency", action="store_true")
    parser.add_argument("--keys", type=int, default=0, help="also time the key store over N")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PROWD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    sides = {"after": HERE}
    if args.base is not None:
        sides = {"before": args.base.resolve(), "after": HERE}
    results = {name: _side(root, args) for name, root in sides.items()}
    print(f"{'':24}" + "".join(f"{name:>12}" for name in results))
    rows = [
        ("commands/s", lambda r: r["commands_per_s"]),
        ("client CPU ms/command", lambda r: r["client_cpu_ms"]),
        ("server CPU ms/command", lambda r: r["server_cpu_ms"]),
        *[
            (f"{kind} round trips", lambda r, k=kind: r["trips"][k]["round_trips"])
            for kind in KINDS
        ],
        *[
            (f"{kind} transactions", lambda r, k=kind: r["trips"][k]["transactions"])
            for kind in KINDS
        ],
    ]
    if args.keys:
        rows += [
            (f"keys: {name}", lambda r, k=key: r["key_store"][k])
            for name, key in (
                ("first use ms", "first_use_ms"),
                ("cached look-up ms", "cached_lookup_ms"),
                ("timer work ms", "timer_work_ms"),
                ("timer every s", "timer_seconds"),
            )
        ]
    for label, get in rows:
        print(f"{label:24}" + "".join(f"{get(r):12.3f}" for r in results.values()))
    from tests.perf.harness.results import stamp, write_json

    path = write_json(
        "write_path",
        {
            "at": stamp(),
            "machine": platform.processor() or platform.machine(),
            "args": {k: str(v) for k, v in vars(args).items()},
            "results": results,
        },
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
