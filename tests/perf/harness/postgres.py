"""The PostgreSQL the scripts run on: scratch databases, a private cluster, one-connection reads."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.perf.harness.results import log

# The server the scripts create their databases on, unless told another (--database-url).
DATABASE_URL = os.environ.get("PROWD_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
# The unprivileged system user a private cluster runs as when the script runs as root.
CLUSTER_USER = "prowdpg"


@contextlib.contextmanager
def scratch_database(maintenance_url: str, prefix: str = "prowd_bench") -> Iterator[str]:
    """A new database `<prefix>_<random>` beside `maintenance_url`'s, dropped on exit; its URL.

    With PROWD_SCRATCH_RESET set (a shell command, such as `tests/scale/citus_cluster.sh reset`),
    that command is run instead and `maintenance_url`'s own database is used: a Citus cluster's
    database needs the extension and the node registration on every node, which the cluster
    script makes (docs/operations.md, "A local Citus cluster")."""
    reset = os.environ.get("PROWD_SCRATCH_RESET")
    if reset:
        subprocess.run(reset, shell=True, check=True, stdout=subprocess.DEVNULL)
        log(f"database reset by {reset!r}")
        yield maintenance_url
        return
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"scratch database {name} created")
    try:
        yield make_conninfo(maintenance_url, dbname=name)
    finally:
        with psycopg.connect(maintenance_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        log(f"scratch database {name} dropped")


class Cluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<port>, trust authentication.

    A busy shared server runs out of connections or lock slots (`out of shared memory`) for
    reasons that are not the service's; and only a private cluster may be stopped on purpose.
    """

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin = bin_dir
        self.data = root / "data"
        self.port = port
        self.log = root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root.
            try:
                pwd.getpwnam(CLUSTER_USER)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", CLUSTER_USER], check=True
                )
            shutil.chown(root, CLUSTER_USER)
            self.as_user = ["runuser", "-u", CLUSTER_USER, "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        """Start the server (and wait until it accepts connections)."""
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.data} -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


class Fetcher(Protocol):
    """What reads one row: a pooled `Database` or a `OneConnection`."""

    def fetchone(self, query: Any, params: Any = None) -> Any: ...


class OneConnection:
    """What the projector's position queries need of a `Database`, on one dedicated connection.

    (A pooled `Database` would add the pool's health-check round trip to every poll.)
    """

    def __init__(self, url: str, application_name: str = "prowd-bench") -> None:
        self.conn = psycopg.connect(url, autocommit=True, application_name=application_name)

    def fetchone(self, query: Any, params: Any = None) -> Any:
        """The first row of `query`."""
        return self.conn.execute(query, params).fetchone()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> OneConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_head(db: Fetcher, schema: str) -> int:
    """The highest notification id of a grantee's log (0 when it is empty)."""
    row = db.fetchone(
        sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
            sql.Identifier(schema)
        )
    )
    return int(row[0]) if row else 0
