"""Crash safety: kill -9 the API, the projection worker and the webhook dispatcher at random
moments under command load, 20 times, then check that nothing acknowledged was lost or doubled
and nothing unacknowledged was half-applied, that the views converge to a rebuild, and that the
webhook outbox lost and doubled nothing.

    uv run python tests/perf/crash_kill.py [--rounds 20] [--clients 8] [--seed 11]

Runs `prowd serve` (API in 2 processes + worker + dispatcher) against a scratch database on the
server named by --database-url (default: the local PostgreSQL), created and dropped here. All
traffic goes to 127.0.0.1. Every command carries an Idempotency-Key and an X-Request-ID; the
events of a command carry its request id, which is how the log is matched with the answers.
The load enrols participants and moves each acknowledged one to RRC-1 (`participant.arrived_at_rrc`
for the webhook endpoint registered at the start, which points at a receiver in this process;
see `HookReceiver` and `webhook_check`).
Prints a summary and writes JSON to tests/perf/results/crash-<timestamp>.json.
Not a pytest test (no test_ prefix).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402

from services import projector  # noqa: E402
from services.identity.tokens import issue_token  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.store.database import Database  # noqa: E402
from services.webhooks import batch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SLUG = "crash_g1"
SECRET = "crash-secret-" + "x" * 40
RRC = "RRC-1"
# What the load produces for an endpoint of RRC-1: every acknowledged enrolment is moved there.
HOOK_TYPES = ["participant.arrived_at_rrc"]
PARTICIPANTS = f"/v1/grantees/{SLUG}/participants"
MOVE = {"to_stage": 2, "placement": "rrc", "facility": RRC, "occurred_at": "2026-03-02T09:00:00Z"}
LOAD_TOPICS = ["%Participant.Enrolled", "%Participant.StageTransitioned"]


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prowd() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "prowd"
    return [str(venv)] if venv.exists() else ["uv", "run", "--project", str(ROOT), "prowd"]


class Server:
    def __init__(self, url: str, port: int, data_dir: Path, log_file: Path | None = None) -> None:
        """`prowd serve` in a process group of its own; its output appended to `log_file`
        (default: `server.log` in the data directory), read when a run fails."""
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": SECRET,
            "PROWD_DATA_DIR": str(data_dir),
            "PROWD_LOG_LEVEL": "warning",
            "PROWD_RATE_LIMIT_TOKEN": "0",
            "PROWD_RATE_LIMIT_IP": "0",
            # The webhook receiver of this script listens on loopback.
            "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        }
        self.base = f"http://127.0.0.1:{port}"
        self.log_file = log_file or data_dir / "server.log"
        out = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            [*prowd(), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own process group: one killpg reaches every child
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()  # the child keeps its own copy

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds until /ready answers 200 (a loaded 2-core machine needs up to a minute)."""
        started = time.monotonic()
        while time.monotonic() < started + timeout:
            try:
                if httpx.get(self.base + "/ready", timeout=1).status_code == 200:
                    return round(time.monotonic() - started, 1)
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"the server did not become ready (its output: {self.log_file})")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill9()


class Load:
    """Clients sending commands until stopped: each enrols a participant and, once that is
    acknowledged, moves them to RRC-1. Every command's body and outcome are recorded (by its
    Idempotency-Key, which is also its request id), so what got no answer can be retried."""

    timeout = 10.0

    def __init__(self, base: str, clients: int, headers: dict[str, str], prefix: str) -> None:
        self.base = base
        self.headers = headers
        self.prefix = prefix
        self.stop = threading.Event()
        self.outcomes: dict[str, Any] = {}
        self.commands: dict[str, tuple[str, dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(clients)
        ]

    def run(self, client_no: int) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=self.timeout) as http:
            while not self.stop.is_set():
                n += 1
                key = f"{self.prefix}-c{client_no}-{n}-{secrets.token_hex(3)}"
                r = self.command(http, key, PARTICIPANTS, enrolment(key))
                if r is not None and r.status_code == 201:
                    path = f"{PARTICIPANTS}/{r.json()['id']}/stage-transitions"
                    self.command(http, key + "-m", path, MOVE)

    def command(
        self, http: httpx.Client, key: str, path: str, body: dict[str, Any]
    ) -> httpx.Response | None:
        with self.lock:
            self.commands[key] = (path, body)
        started = time.monotonic()
        response: httpx.Response | None = None
        try:
            response = http.post(
                path,
                json=body,
                headers={**self.headers, "Idempotency-Key": key, "X-Request-ID": key},
            )
            outcome: Any = response.status_code
        except httpx.HTTPError as e:
            outcome = type(e).__name__
        self.record(key, outcome, response, started)
        return response

    def record(
        self, key: str, outcome: Any, response: httpx.Response | None, started: float
    ) -> None:
        with self.lock:
            self.outcomes[key] = outcome

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def acked(outcome: Any) -> bool:
    return isinstance(outcome, int) and outcome < 300


def retry_unanswered(
    base: str,
    headers: dict[str, str],
    outcomes: dict[str, Any],
    commands: dict[str, tuple[str, dict[str, Any]]],
    timeout: float = 10,
    attempts: int = 10,
) -> tuple[list[str], Counter[str]]:
    """Send again, with its key, every command that got no 2xx; each must end applied once.
    The retry carries request id `<key>-retry`, so a retry that applies it is told apart. Like
    any client it tries again (at most `attempts` times) while the answer is a 503 (after its
    `Retry-After`) or none at all: only a final answer settles a command."""
    unanswered = [k for k, v in outcomes.items() if not acked(v)]
    retried: Counter[str] = Counter()
    with httpx.Client(base_url=base, timeout=timeout) as http:
        for key in unanswered:
            path, body = commands[key]
            final = "no answer"
            for _ in range(attempts):
                try:
                    r = http.post(
                        path,
                        json=body,
                        headers={**headers, "Idempotency-Key": key, "X-Request-ID": key + "-retry"},
                    )
                except httpx.HTTPError:
                    retried["retry_again"] += 1
                    time.sleep(1)
                    continue
                final = "replayed" if r.headers.get("idempotent-replayed") else str(r.status_code)
                if r.status_code != 503:
                    break
                retried["retry_again"] += 1
                time.sleep(min(float(r.headers.get("retry-after") or 1), 5))
            retried[final] += 1
    return unanswered, retried


def enrolment(key: str) -> dict[str, Any]:
    return {
        "first_name": "Crash",
        "last_name": key[:40],
        "date_of_birth": "1990-01-01",
        "program_entry_date": "2026-02-01",
        "facility": "FCI-A",
        "cohort": "C1",
    }


def setup(base: str, headers: dict[str, str], hook_url: str | None = None) -> dict[str, Any]:
    """The grantee, FCI-A, RRC-1, cohort C1 and, with `hook_url`, a webhook endpoint of RRC-1
    subscribed to HOOK_TYPES (its answer, with the secret, is returned)."""
    admin = {"Authorization": "Bearer " + token("platform_admin", "*")}
    r = httpx.post(
        base + "/v1/grantees",
        json={"slug": SLUG, "name": "Crash test", "grant_number": "FS-0000-26"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    for body in (
        {"code": "FCI-A", "name": "FCI Alpha", "kind": "bop_institution"},
        {"code": "RRC-1", "name": "RRC One", "kind": "rrc"},
    ):
        assert (
            httpx.post(
                f"{base}/v1/grantees/{SLUG}/facilities", json=body, headers=headers
            ).status_code
            == 201
        )
    r = httpx.post(
        f"{base}/v1/grantees/{SLUG}/cohorts",
        json={"code": "C1", "name": "Cohort 1", "facility": "FCI-A", "start_date": "2026-01-05"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    if hook_url is None:
        return {}
    r = httpx.post(
        f"{base}/v1/grantees/{SLUG}/webhook-endpoints",
        json={"url": hook_url, "facility": RRC, "event_types": HOOK_TYPES},
        headers={"Authorization": "Bearer " + token("grantee_admin", SLUG)},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def token(role: str, grantee: str) -> str:
    return issue_token(
        Settings(jwt_secret=SECRET), subject=f"crash-{role}", roles=[role], grantees=[grantee]
    )


def request_counts(url: str) -> Counter[str]:
    """Enrolment and stage-transition events in the log per request id."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT convert_from(state, 'UTF8')::json->>'request_id' FROM g_{SLUG}.events"
            " WHERE topic LIKE ANY(%s)",
            (LOAD_TOPICS,),
        ).fetchall()
    return Counter(r[0] for r in rows)


# -- webhooks ----------------------------------------------------------------------------------


def signature_ok(
    secret: str, msg_id: str, timestamp: str, body: bytes, header: str, tolerance: int = 300
) -> bool:
    """Standard Webhooks verification, written here from the specification rather than with
    services/webhooks/signing.py, so a signing bug cannot verify itself: HMAC-SHA256 keyed with
    the base64 part of `whsec_…` over `id.timestamp.body`; any `v1,` signature may match; the
    timestamp within `tolerance` seconds of this clock."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    return any(
        part.startswith("v1,") and hmac.compare_digest(part[3:], expected)
        for part in header.split()
    )


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection a killed dispatcher dropped half-way is expected here: not printed."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class HookReceiver:
    """An RRC system on 127.0.0.1 in this process: checks every request's signature, records
    (webhook-id, body) of each verified one and answers 200; an unverified one gets 400 and is
    counted. It outlives the service's kills (another process), so it sees every delivery."""

    def __init__(self) -> None:
        self.secret = ""
        self.lock = threading.Lock()
        self.received: list[tuple[str, bytes]] = []
        self.rejected = 0
        self.truncated = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                msg_id = self.headers.get("webhook-id", "")
                if len(body) < length:
                    # The sender died half-way through the body: nothing was delivered.
                    with receiver.lock:
                        receiver.truncated += 1
                    return
                ok = bool(receiver.secret) and signature_ok(
                    receiver.secret,
                    msg_id,
                    self.headers.get("webhook-timestamp", ""),
                    body,
                    self.headers.get("webhook-signature", ""),
                )
                with receiver.lock:
                    if ok:
                        receiver.received.append((msg_id, body))
                    else:
                        receiver.rejected += 1
                text = b"ok" if ok else b"signature rejected"
                try:
                    self.send_response(200 if ok else 400)
                    self.send_header("content-length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the dispatcher was killed before it read the answer

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> tuple[list[tuple[str, bytes]], int, int]:
        with self.lock:
            return list(self.received), self.rejected, self.truncated

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _outbox_state(conn: psycopg.Connection[Any], endpoint_id: str) -> tuple[int, int]:
    """(the outbox consumer's position, the endpoint's deliveries not yet final)."""
    s = sql.Identifier(f"g_{SLUG}")
    pos = conn.execute(sql.SQL("SELECT position FROM {}.webhook_outbox").format(s)).fetchone()
    pending = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {}.webhook_deliveries WHERE endpoint_id = %s AND status = 'pending'"
        ).format(s),
        (endpoint_id,),
    ).fetchone()
    return (int(pos[0]) if pos else 0), (int(pending[0]) if pending else 0)


def wait_webhooks_drained(url: str, endpoint_id: str, timeout: float = 240) -> dict[str, Any]:
    """Poll until the outbox has read the whole log and nothing of the endpoint is pending.
    Bounded: a delivery claimed by a killed dispatcher waits out its 60 s lease first."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(f"SELECT max(notification_id) FROM g_{SLUG}.events").fetchone()
            head = int(row[0]) if row and row[0] else 0
            position, pending = _outbox_state(conn, endpoint_id)
            drained = position >= head and pending == 0
            if drained or time.monotonic() - started > timeout:
                return {
                    "drained": drained,
                    "drain_wait_s": round(time.monotonic() - started, 1),
                    "outbox_position": position,
                    "log_head": head,
                    "pending_left": pending,
                }
            time.sleep(0.5)


def expected_positions(conn: psycopg.Connection[Any], after: int) -> list[int]:
    """Log positions (after the endpoint's creation at `after`) of the events its subscription
    matches, worked out from the log alone: a stage transition into RRC-1 of a participant who
    was not already there (`participant.arrived_at_rrc`)."""
    rows = conn.execute(
        f"SELECT notification_id, originator_id, topic, convert_from(state, 'UTF8')::json"
        f" FROM g_{SLUG}.events WHERE topic LIKE ANY(%s) ORDER BY notification_id",
        (LOAD_TOPICS,),
    ).fetchall()
    where: dict[Any, tuple[str, str | None]] = {}
    out = []
    for position, participant, topic, state in rows:
        if topic.endswith("Enrolled"):
            where[participant] = ("bop_institution", state.get("facility_code"))
            continue
        now = (state.get("placement"), state.get("facility_code"))
        if now == ("rrc", RRC) and where.get(participant) != now and position > after:
            out.append(position)
        where[participant] = now
    return out


def webhook_check(url: str, endpoint_id: str, receiver: HookReceiver) -> dict[str, Any]:
    """Log vs outbox vs receiver, after the dispatcher drained and the service was stopped.

    outbox: every matching event has exactly one delivery row, with the webhook-id derived
    from (grantee, endpoint, position), and nothing else is in it; deliveries: every row was
    received (verified) at least once, nothing received is outside the outbox, the bodies are
    the stored ones; redeliveries (the same webhook-id again, allowed by at-least-once after a
    crash) are counted apart."""
    schema = f"g_{SLUG}"
    s = sql.Identifier(schema)
    with psycopg.connect(url) as conn:
        created = conn.execute(
            sql.SQL(
                "SELECT created_position FROM {}.webhook_endpoints WHERE endpoint_id = %s"
            ).format(s),
            (endpoint_id,),
        ).fetchone()
        expected = expected_positions(conn, int(created[0]) if created else 0)
        rows = conn.execute(
            sql.SQL(
                "SELECT position, msg_id, status, body, sequence FROM {}.webhook_deliveries"
                " WHERE endpoint_id = %s AND event_type <> 'ping'"
            ).format(s),
            (endpoint_id,),
        ).fetchall()
        succeeded = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {}.webhook_attempts WHERE endpoint_id = %s"
                " AND outcome = 'succeeded'"
            ).format(s),
            (endpoint_id,),
        ).fetchone()
    received, rejected, truncated = receiver.snapshot()
    by_position = Counter(r[0] for r in rows)
    bodies = {r[1]: bytes(r[3]) for r in rows}
    eid = UUID(endpoint_id)
    got = Counter(msg_id for msg_id, _ in received)
    statuses = Counter(r[2] for r in rows)
    sequences = sorted(r[4] for r in rows)
    return {
        "endpoint_event_types": HOOK_TYPES,
        "matching_events_in_log": len(expected),
        "outbox_rows": len(rows),
        "outbox_missing": len(set(expected) - set(by_position)),
        "outbox_unexpected": len(set(by_position) - set(expected)),
        "outbox_duplicated": sum(c - 1 for c in by_position.values() if c > 1),
        "outbox_bad_webhook_id": sum(
            1 for r in rows if r[1] != batch.message_id(schema, eid, r[0])[1]
        ),
        "outbox_sequence_gapless": sequences == list(range(1, len(rows) + 1)),
        "outbox_status": dict(statuses),
        "received_requests": len(received),
        "received_distinct_webhook_ids": len(got),
        "lost_deliveries": len(set(bodies) - set(got)),
        "spurious_deliveries": len(set(got) - set(bodies)),
        "redeliveries": sum(c - 1 for c in got.values() if c > 1),
        "redelivered_messages": sum(1 for c in got.values() if c > 1),
        "body_mismatch": sum(1 for m, b in received if m in bodies and bodies[m] != b),
        "signature_rejected": rejected,
        "truncated_requests": truncated,
        "attempts_recorded_succeeded": int(succeeded[0]) if succeeded else 0,
    }


def webhooks_ok(w: dict[str, Any]) -> bool:
    return bool(
        w.get("drained")
        and w["matching_events_in_log"] > 0
        and w["outbox_rows"] == w["matching_events_in_log"]
        and w["outbox_missing"] == w["outbox_unexpected"] == w["outbox_duplicated"] == 0
        and w["outbox_bad_webhook_id"] == 0
        and w["outbox_sequence_gapless"]
        and set(w["outbox_status"]) <= {"delivered"}
        and w["lost_deliveries"] == w["spurious_deliveries"] == 0
        and w["received_distinct_webhook_ids"] == w["outbox_rows"]
        and w["body_mismatch"] == w["signature_rejected"] == 0
    )


def webhook_summary(w: dict[str, Any]) -> str:
    return (
        f"webhooks: {w['matching_events_in_log']} matching events, {w['outbox_rows']} outbox rows"
        f" (missing {w['outbox_missing']}, unexpected {w['outbox_unexpected']},"
        f" duplicated {w['outbox_duplicated']}); received {w['received_requests']}"
        f" ({w['received_distinct_webhook_ids']} distinct webhook-ids, {w['redeliveries']}"
        f" redeliveries of {w['redelivered_messages']} messages); lost {w['lost_deliveries']},"
        f" spurious {w['spurious_deliveries']}, body mismatch {w['body_mismatch']},"
        f" bad signatures {w['signature_rejected']}, cut off by a kill {w['truncated_requests']};"
        f" drained {w.get('drained')}"
        f" after {w.get('drain_wait_s')} s"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--database-url",
        default=os.environ.get("PROWD_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test",
    )
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--max-seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    name = f"prowd_crash_{secrets.token_hex(4)}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(args.database_url, dbname=name)
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / name
    data_dir.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": "Bearer " + token("coordinator", SLUG)}
    outcomes: dict[str, Any] = {}
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    kills: list[dict[str, Any]] = []
    receiver = HookReceiver()
    server: Server | None = None
    try:
        port = free_port()
        server = Server(url, port, data_dir)
        server.wait_ready()
        endpoint = setup(server.base, headers, receiver.url)
        receiver.secret = endpoint["secret"]
        for round_no in range(1, args.rounds + 1):
            load = Load(server.base, args.clients, headers, f"r{round_no}")
            load.start()
            delay = rng.uniform(args.min_seconds, args.max_seconds)
            time.sleep(delay)
            server.kill9()
            load.finish()
            outcomes.update(load.outcomes)
            commands.update(load.commands)
            n_acked = sum(1 for v in load.outcomes.values() if acked(v))
            kills.append(
                {
                    "round": round_no,
                    "after_s": round(delay, 2),
                    "sent": len(load.outcomes),
                    "acked": n_acked,
                    "webhooks_received_so_far": len(receiver.snapshot()[0]),
                }
            )
            log(
                f"round {round_no}: killed after {delay:.1f} s; {len(load.outcomes)} sent,"
                f" {n_acked} acknowledged; {kills[-1]['webhooks_received_so_far']} webhooks so far"
            )
            server = Server(url, port, data_dir)
            kills[-1]["restart_ready_s"] = server.wait_ready()

        # Retry every command that got no 2xx, with its key: each must end applied exactly once.
        unanswered, retried = retry_unanswered(server.base, headers, outcomes, commands)
        counts = request_counts(url)
        acked_keys = [k for k, v in outcomes.items() if acked(v)]
        lost = [k for k in acked_keys if counts.get(k, 0) == 0]
        duplicated = [k for k, c in counts.items() if c > 1]
        # A retry of a command that never committed commits under the retry's request id.
        half = [k for k in unanswered if counts.get(k, 0) + counts.get(k + "-retry", 0) != 1]

        # Views: caught up with the log, and equal to a fresh rebuild of it.
        settings = Settings(database_url=url, jwt_secret=SECRET, data_dir=data_dir)
        db = Database(url, settings, name="crash-check").open()
        try:
            schema = f"g_{SLUG}"
            top = db.fetchone(f"SELECT max(notification_id) FROM {schema}.events")
            head = int(top[0]) if top and top[0] else 0
            deadline = time.monotonic() + 60
            while projector.lowest_position(db, schema) < head and time.monotonic() < deadline:
                time.sleep(0.2)
            caught_up = projector.lowest_position(db, schema) >= head
            # Webhooks: the running service drains the outbox; then nothing more can arrive.
            drain = wait_webhooks_drained(url, endpoint["id"])
            server.stop()
            server = None
            webhooks = {**drain, **webhook_check(url, endpoint["id"], receiver)}
            live = projector.digests(db, schema)
            projector.rebuild_views(db, schema)
            rebuilt = projector.digests(db, schema)
        finally:
            db.close()

        result = {
            "rounds": args.rounds,
            "seed": args.seed,
            "load": "enrol, then move each acknowledged enrolment to RRC-1",
            "kills": kills,
            "commands_sent": len(outcomes),
            "acknowledged": len(acked_keys),
            "unanswered_or_failed": len(unanswered),
            "first_answers": dict(Counter(str(v) for v in outcomes.values())),
            "retries": dict(retried),
            "lost": len(lost),
            "duplicated": len(duplicated),
            "half_applied_or_missing_after_retry": len(half),
            "views_caught_up": caught_up,
            "views_equal_rebuild": live == rebuilt,
            "head_position": head,
            "webhooks": webhooks,
            "machine": {"nproc": os.cpu_count(), "load": os.getloadavg()},
        }
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"crash-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(result, indent=2))
        log(json.dumps({k: v for k, v in result.items() if k not in ("kills", "webhooks")}))
        log(webhook_summary(webhooks))
        log(f"results: {out}")
        ok = (
            not lost
            and not duplicated
            and not half
            and caught_up
            and live == rebuilt
            and webhooks_ok(webhooks)
        )
        log("PASS" if ok else f"FAIL (the service's output: {data_dir / 'server.log'})")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()
        receiver.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
