"""Exec probes for the processes that serve no HTTP: `prowd worker`, `prowd webhooks dispatch`.

    python /app/deploy/probe.py ready   # the database answers as the service role (3 s)
    python /app/deploy/probe.py alive   # PID 1 is a running prowd process

`ready` opens its own connection with the container's settings (PROWD_DATABASE_URL, and
PGSERVICEFILE when the URL names a libpq service), acts as PROWD_DB_ROLE and runs SELECT 1:
what the API's /ready checks. `alive` sees that the process runs (not a zombie, not stopped)
and, when the process serves metrics (PROWD_METRICS_PORT), that its loop goes round: its
`prowd_heartbeat_age_seconds` is under PROWD_HEARTBEAT_MAX seconds (default 300), so a loop
stuck inside a running process fails it too. A database outage does not: the loops keep going
round while they wait to reconnect (readiness reports the database).

Standard library and psycopg only (both in the image); exit 0 healthy, 1 not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def ready() -> int:
    import psycopg
    from psycopg import sql

    url = os.environ.get("PROWD_DATABASE_URL", "")
    if not url:
        print("PROWD_DATABASE_URL is not set", file=sys.stderr)
        return 1
    role = os.environ.get("PROWD_DB_ROLE", "prowd_service")
    try:
        with psycopg.connect(
            url, connect_timeout=3, autocommit=True, application_name="prowd-probe"
        ) as conn:
            conn.execute("SET statement_timeout = 3000")
            if role:
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        print(f"database: {type(e).__name__}: {str(e).strip()}", file=sys.stderr)
        return 1
    return 0


def alive(proc: Path = Path("/proc/1")) -> int:
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError as e:
        print(f"no process: {e}", file=sys.stderr)
        return 1
    # The state is the first field after the parenthesised command name.
    state = stat.rpartition(")")[2].split()[0]
    if state in {"Z", "X", "x", "T", "t"}:
        print(f"process state {state}", file=sys.stderr)
        return 1
    if not any(part.endswith(b"prowd") or part == b"services.cli" for part in cmdline):
        print(f"PID 1 is not prowd: {cmdline!r}", file=sys.stderr)
        return 1
    return heartbeat()


def heartbeat() -> int:
    """The loop's heartbeat from the process's own /metrics (when it serves them)."""
    import urllib.request

    port = os.environ.get("PROWD_METRICS_PORT", "")
    if not port or port == "0":
        return 0
    limit = float(os.environ.get("PROWD_HEARTBEAT_MAX") or 300)
    try:
        with urllib.request.urlopen(
            # Only the heartbeat family: the platform-wide families read every grantee's
            # tables, which a liveness probe must not wait for.
            f"http://127.0.0.1:{int(port)}/metrics?name[]=prowd_heartbeat_age_seconds",
            timeout=3,
        ) as r:
            text = r.read().decode()
    except (OSError, ValueError) as e:
        print(f"metrics: {e}", file=sys.stderr)
        return 1
    for line in text.splitlines():
        if line.startswith("prowd_heartbeat_age_seconds "):
            age = float(line.split()[1])
            if age > limit:
                print(f"the loop has not gone round for {age:.0f} s", file=sys.stderr)
                return 1
            return 0
    print("metrics: no prowd_heartbeat_age_seconds", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if argv == ["ready"]:
        return ready()
    if argv == ["alive"]:
        return alive()
    print("usage: probe.py ready|alive", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
