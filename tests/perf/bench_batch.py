"""Batch endpoint benchmark (issue 23 point 4): `POST /v1/grantees/{g}/commands` with 500
commands a request, beside a raw COPY of the same rows into an events table, in one run.

    uv run python tests/perf/bench_batch.py [--batches 16] [--clients 2] [--workers 2]

Needs `PROWD_DATABASE_URL` (the maintenance database: a scratch database is created beside it
and dropped at the end; all traffic to 127.0.0.1). `prowd serve` runs with its projection
worker. Setup over HTTP: a grantee with FCI-A, RRC-1, cohorts, 4 certified mentors with 5
pairings each, and stage-1 participants for the transitions. Each batch then holds the
benchmark mix: 200 enrolments (distinct people, duplicate detection on), 200 stage transitions
1->3 of participants enrolled earlier (not in the batch) and 100 meetings recorded as held.
`--clients` threads send batches at once. The raw COPY writes the events the batches wrote
(same ids, versions, topics and stored bytes, read back from the log) into a plain table of
the same columns, in 500-row COPYs with one commit each. Prints figures and writes
tests/perf/results/batch-<timestamp>.json. Target: at least 5,000 commands/s.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.perf.harness.meters import cpu_sample, cpu_usage, postgres_pids
from tests.perf.harness.postgres import DATABASE_URL, scratch_database
from tests.perf.harness.results import log, machine_info, percentiles_ms, stamp, write_json
from tests.perf.harness.server import Server
from tests.perf.harness.world import COHORT, FACILITY, Tokens, create_grantee

TARGET = 5000.0
SECRET = "bench-" + secrets.token_hex(24)
TOKENS = Tokens(SECRET, "batch")
SLUG = "batch_bench"
BASE = f"/v1/grantees/{SLUG}"
TRAININGS = [
    "communication_skills",
    "crisis_management",
    "cultural_sensitivity",
    "mentoring_techniques",
    "boundaries_and_confidentiality",
    "conflict_resolution",
]


def post(client: httpx.Client, path: str, body: dict[str, Any], role: str = "coordinator") -> Any:
    r = client.post(BASE + path, json=body, headers=TOKENS.auth(role, SLUG))
    if r.status_code >= 300:
        raise SystemExit(f"setup {path}: {r.status_code} {r.text[:300]}")
    return r.json()


def person(n: int, tag: str, cohort: str = COHORT, entry: str = "2026-01-15") -> dict[str, Any]:
    return {
        "first_name": f"{tag}{n}",
        "last_name": f"Bench{tag}{n}",
        "date_of_birth": f"19{60 + n % 40}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "program_entry_date": entry,
        "facility": FACILITY,
        "cohort": cohort,
        "duplicate_reason": "",
    }


def enrol_many(client: httpx.Client, bodies: list[dict[str, Any]], tag: str) -> list[str]:
    """Enrol through batches of 500 (setup): the participants' ids."""
    ids: list[str] = []
    for start in range(0, len(bodies), 500):
        chunk = bodies[start : start + 500]
        items = [
            {"kind": "participant.enrol", "idempotency_key": f"{tag}-{start + i}", "body": b}
            for i, b in enumerate(chunk)
        ]
        out = post(client, "/commands", {"items": items})
        ids.extend(i["id"] for i in out["items"] if i["status"] == 201)
    return ids


def setup(client: httpx.Client, transitions: int) -> tuple[list[str], list[str]]:
    """(pairing ids, stage-1 participant ids to move 1->3)."""
    create_grantee(client, TOKENS, SLUG, name="Batch bench")
    post(client, "/cohorts", {"code": "C0", "facility": FACILITY, "start_date": "2025-01-05"})
    graduates = enrol_many(
        client, [person(i, "Grad", "C0", "2025-01-10") for i in range(4)], "grad"
    )
    post(client, "/cohorts/C0/graduation", {"graduated_on": "2025-06-01"})
    mentees = enrol_many(client, [person(i, "Mentee") for i in range(20)], "mentee")
    pairings = []
    for m, graduate in enumerate(graduates):
        mentor = post(
            client,
            "/mentors",
            {
                "display_name": f"Mentor {m}",
                "source": "graduate",
                "channel": "cohort_graduation",
                "participant_id": graduate,
                "subject": f"mentor-{m}",
            },
        )["id"]
        for step in ("application", "interview", "references"):
            post(
                client,
                f"/mentors/{mentor}/screening-steps",
                {"step": step, "completed_on": "2025-07-01", "staff": "Dana Cole"},
            )
        post(
            client,
            f"/mentors/{mentor}/background-review",
            {"decision": "approved", "reviewer": "Rita Ortiz", "reviewed_on": "2025-07-01"},
        )
        for module in TRAININGS:
            post(
                client,
                f"/mentors/{mentor}/trainings",
                {"module": module, "completed_on": "2025-07-02", "hours": 1, "trainer": "Lou"},
            )
        post(
            client,
            f"/mentors/{mentor}/clearances",
            {"facility": FACILITY, "trained_on": "2025-08-01", "expires_on": "2027-08-01"},
        )
        post(client, f"/mentors/{mentor}/certification", {})
        for mentee in mentees[m * 5 : m * 5 + 5]:
            pairing = {
                "kind": "individual",
                "mentor_id": mentor,
                "members": [mentee],
                "location": {"kind": "off_site"},
                "criteria": ["shared_experience"],
                "opened_at": "2026-10-01T15:00:00Z",
            }
            pairings.append(post(client, "/pairings", pairing)["id"])
    movers = enrol_many(client, [person(i, "Mover") for i in range(transitions)], "mover")
    return pairings, movers


def batch_items(
    number: int, movers: list[str], pairings: list[str], enrolments: int, meetings: int
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i in range(enrolments):
        body = person(number * 1000 + i, "New")
        items.append(
            {"kind": "participant.enrol", "idempotency_key": f"e-{number}-{i}", "body": body}
        )
    for i, mover in enumerate(movers):
        items.append(
            {
                "kind": "participant.stage_transition",
                "idempotency_key": f"t-{number}-{i}",
                "target": mover,
                "body": {"to_stage": 3, "occurred_at": "2026-06-01T09:00:00-05:00"},
            }
        )
    first = datetime(2026, 11, 1, 18, 0, tzinfo=timezone(timedelta(hours=-6)))
    for i in range(meetings):
        # A minute apart across every batch: a pairing meets once at an instant (decision 96).
        at = (first + timedelta(minutes=number * meetings + i)).isoformat()
        items.append(
            {
                "kind": "meeting.schedule",
                "idempotency_key": f"m-{number}-{i}",
                "body": {
                    "pairing_id": pairings[i % len(pairings)],
                    "scheduled_for": at,
                    "location": {"kind": "off_site"},
                    "held": {"occurred_at": at, "duration_minutes": 45, "topics": ["goals"]},
                },
            }
        )
    return items


def run_batches(
    base: str, plans: list[list[dict[str, Any]]], clients: int
) -> tuple[float, list[float], list[dict[str, Any]]]:
    """Send every planned batch, `clients` at once: (wall seconds, latencies, answers)."""
    latencies: list[float] = []
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()
    queue = list(enumerate(plans))
    headers = {**TOKENS.auth("coordinator", SLUG), "Content-Type": "application/json"}

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=300) as c:
            while True:
                with lock:
                    if not queue:
                        return
                    _, items = queue.pop(0)
                t = time.perf_counter()
                r = c.post(BASE + "/commands", json={"items": items}, headers=headers)
                elapsed = time.perf_counter() - t
                if r.status_code != 200:
                    raise SystemExit(f"batch answered {r.status_code}: {r.text[:300]}")
                with lock:
                    latencies.append(elapsed)
                    answers.append(r.json())

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, answers


def raw_copy(url: str, after: int) -> dict[str, Any]:
    """The events the batches wrote, COPYed 500 rows a transaction into a plain table."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f'SELECT originator_id, originator_version, topic, state FROM "g_{SLUG}".events'
            " WHERE notification_id > %s ORDER BY notification_id",
            (after,),
        ).fetchall()
        conn.execute(
            "CREATE TABLE bench_copy (notification_id bigserial PRIMARY KEY,"
            " originator_id uuid NOT NULL, originator_version int NOT NULL, topic text NOT NULL,"
            " state bytea NOT NULL, UNIQUE (originator_id, originator_version))"
        )
        conn.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), 500):
            with conn.cursor().copy(
                "COPY bench_copy (originator_id, originator_version, topic, state) FROM STDIN"
            ) as copy:
                for row in rows[start : start + 500]:
                    copy.write_row(row)
            conn.commit()
        seconds = time.perf_counter() - started
    return {
        "rows": len(rows),
        "seconds": round(seconds, 3),
        "rows_per_s": round(len(rows) / seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database-url", default=DATABASE_URL)
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--enrolments", type=int, default=200)
    ap.add_argument("--transitions", type=int, default=200)
    ap.add_argument("--meetings", type=int, default=100)
    ap.add_argument("--profile", default="", help="py-spy the serve processes into this file")
    args = ap.parse_args()
    result: dict[str, Any] = {"parameters": vars(args) | {"database_url": None}}
    result["machine"] = machine_info(args.database_url)
    with scratch_database(args.database_url) as url, tempfile.TemporaryDirectory() as tmp:
        server = Server(url, SECRET, Path(tmp) / "server.log", workers=args.workers)
        try:
            log(f"prowd serve ready in {server.wait_ready()} s")
            with httpx.Client(base_url=server.base, timeout=300) as client:
                pairings, movers = setup(client, args.batches * args.transitions)
                log(f"setup: {len(pairings)} pairings, {len(movers)} participants to move")
                with psycopg.connect(url) as conn:
                    row = conn.execute(f'SELECT max(notification_id) FROM "g_{SLUG}".events')
                    head = int(row.fetchone()[0])  # type: ignore[index]
            per = args.transitions
            plans = [
                batch_items(
                    n, movers[n * per : (n + 1) * per], pairings, args.enrolments, args.meetings
                )
                for n in range(args.batches)
            ]
            spy = None
            if args.profile:
                spy = subprocess.Popen(
                    [
                        *("py-spy", "record", "--subprocesses", "--nonblocking", "--format", "raw"),
                        *("--rate", "100", "-o", args.profile, "--pid", str(server.proc.pid)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(2)
            groups = dict(server.processes())
            with psycopg.connect(url) as conn:
                groups |= {pid: "postgresql (shared)" for pid in postgres_pids(conn)}
            before = cpu_sample(groups)
            seconds, latencies, answers = run_batches(server.base, plans, args.clients)
            usage = cpu_usage(before, cpu_sample(groups), other="other processes")
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            errors = server.errors()
        finally:
            server.stop()
        commands = sum(len(p) for p in plans)
        accepted = sum(a["accepted"] for a in answers)
        result["batch"] = {
            "batches": len(plans),
            "commands": commands,
            "accepted": accepted,
            "refused": sum(a["refused"] for a in answers),
            "refusal_codes": sorted(
                {i["problem"]["code"] for a in answers for i in a["items"] if "problem" in i}
            ),
            "attempts": [a["attempts"] for a in answers],
            "seconds": round(seconds, 2),
            "commands_per_s": round(commands / seconds),
            "request_ms": percentiles_ms(latencies),
            "server_errors": errors[:5],
            "load_average": list(before.load),
            # CPU milliseconds per command, by process group (cores x seconds / commands).
            "cpu_ms_per_command": {
                group: round(cores * usage.seconds * 1000 / commands, 3)
                for group, cores in usage.cores.items()
            },
        }
        result["raw_copy"] = raw_copy(url, head)
    batch, copy = result["batch"], result["raw_copy"]
    log(
        f"batch endpoint: {batch['commands']} commands in {batch['batches']} requests of"
        f" {len(plans[0])}, {batch['seconds']} s: {batch['commands_per_s']} commands/s"
        f" (target {TARGET:.0f}); per request {batch['request_ms']}; accepted"
        f" {batch['accepted']}, refused {batch['refused']} {batch['refusal_codes']}"
    )
    log(f"CPU ms per command: {batch['cpu_ms_per_command']} (load {batch['load_average']})")
    log(f"raw COPY of the same {copy['rows']} events: {copy['rows_per_s']} rows/s")
    path = write_json(f"batch-{stamp()}.json", result)
    log(f"written {path}")


if __name__ == "__main__":
    main()
