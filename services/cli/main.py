"""The `prowd` command line."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from services import logging as prowd_logging
from services.settings import Settings
from services.store.database import Database


def _database(settings: Settings, stack: contextlib.ExitStack[bool | None]) -> tuple[str, Database]:
    from services.store.database import Database, server_url

    url = server_url(settings, stack)
    db = Database(url, settings, name="prowd-cli").open()
    stack.callback(db.close)
    return url, db


def cmd_serve(args: argparse.Namespace, settings: Settings, *, demo: bool = False) -> int:
    import uvicorn

    from services.app.tenancy import Tenancy
    from services.store.database import Database, server_url

    with contextlib.ExitStack() as stack:
        url = server_url(settings, stack)
        with contextlib.closing(Database(url, settings, name="prowd-setup").open()) as db:
            tenancy = Tenancy(db)
            tenancy.migrate()
            if demo:
                from services.demo.data import load_demo, print_tokens

                added = load_demo(tenancy)
                print(f"demo data: {added} participants added (0: already loaded)")
                print_tokens(settings.with_secret(), host=args.host, port=args.port)
                if args.load_only:
                    return 0
        secret = settings.with_secret().jwt_secret
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": secret,
            "PROWD_PARENT_PID": str(os.getpid()),
        }
        if not getattr(args, "no_worker", False):
            worker = subprocess.Popen([sys.executable, "-m", "services.cli.main", "worker"], env=env)
            stack.callback(_stop, worker)
            # The webhook dispatcher runs beside the projection worker (DESIGN D6).
            dispatcher = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "webhooks", "dispatch"], env=env
            )
            stack.callback(_stop, dispatcher)
        os.environ.update({"PROWD_DATABASE_URL": url, "PROWD_JWT_SECRET": secret})
        # uvicorn re-raises SIGTERM after its graceful shutdown; make that unwind this stack
        # (worker stopped, embedded server stopped) instead of killing the process outright.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        uvicorn.run(
            "services.api.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            access_log=False,
        )
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from services.projector.workers import ProjectionWorker
    from services.store.database import Database

    if not settings.database_url:
        print("prowd worker: PROWD_DATABASE_URL must be set", file=sys.stderr)
        return 2
    db = Database(settings.database_url, settings, name="prowd-worker").open()
    from services.audit.checkpoints import load_key

    worker = ProjectionWorker(db, key=load_key(settings))
    worker.tenancy.migrate()
    # As in the API processes: fewer, shorter collector pauses under load.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    _stop_with_parent(worker.stop)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    try:
        worker.run()
    finally:
        db.close()
    return 0


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd webhooks dispatch`: deliver due webhooks until stopped (any number may run)."""
    from services.app.tenancy import Tenancy
    from services.store.database import Database
    from services.webhooks.dispatcher import Dispatcher
    from services.webhooks.ssrf import parse_networks

    if not settings.database_url:
        print("prowd webhooks: PROWD_DATABASE_URL must be set", file=sys.stderr)
        return 2
    db = Database(settings.database_url, settings, name="prowd-webhooks").open()
    Tenancy(db).migrate()
    dispatcher = Dispatcher(
        db,
        allowed=parse_networks(settings.webhook_allowed_networks),
        concurrency=args.concurrency,
    )
    _stop_with_parent(dispatcher.stop)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stop())
    signal.signal(signal.SIGINT, lambda *_: dispatcher.stop())
    try:
        dispatcher.run()
    finally:
        dispatcher.close()
        db.close()
    return 0


def _stop_with_parent(stop: Callable[[], None]) -> None:
    """Under `prowd serve`, stop when the parent goes away (even if it was killed)."""
    parent = os.environ.get("PROWD_PARENT_PID")
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from services.identity.tokens import issue_token

    try:
        token = issue_token(
            settings.with_secret(),
            subject=args.sub or f"dev-{args.role}",
            roles=[args.role],
            grantees=[args.grantee],
            ttl_seconds=args.ttl,
            rrc=args.rrc,
        )
    except ValueError as e:
        print(f"prowd token: {e}", file=sys.stderr)
        return 2
    rrc = f" at RRC {args.rrc}" if args.rrc else ""
    print(f"# {args.role} for grantee {args.grantee}{rrc}, valid {args.ttl} s")
    print(token)
    return 0


def cmd_projections(args: argparse.Namespace, settings: Settings) -> int:
    from projections.registry import PROJECTIONS
    from services.app.tenancy import Tenancy
    from services.projector import live as projector
    from services.projector import rebuilds

    with contextlib.ExitStack() as stack:
        url, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        slugs = [args.grantee] if args.grantee else [g.slug for g in tenancy.grantees()]
        total = Progress("rebuild of all grantees")
        jobs = int(getattr(args, "jobs", 1) or 1)
        if args.action == "rebuild" and jobs > 1 and len(slugs) > 1:
            if args.view and args.view not in {p.name for p in PROJECTIONS}:
                print(f"prowd projections: no view {args.view!r}", file=sys.stderr)
                return 2
            return _rebuild_in_parallel(db, url, settings, slugs, args.view, jobs, total)
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd projections: no grantee {slug!r}", file=sys.stderr)
                return 2
            if args.action == "rebuild":
                if args.view and args.view not in {p.name for p in PROJECTIONS}:
                    print(f"prowd projections: no view {args.view!r}", file=sys.stderr)
                    return 2
                bar = Progress(f"{slug}: rebuild")
                try:
                    builds = rebuilds.rebuild_views(
                        db, info.schema, [args.view] if args.view else None, progress=bar
                    )
                except rebuilds.RebuildRunning as e:
                    print(f"prowd projections: {e}", file=sys.stderr)
                    return 1
                bar.finish(bar.done)
                total.add(bar.done)
                switched = ", ".join(f"{view} {build}" for view, build in builds.items())
                print(f"{slug}: switched to builds {switched}", file=sys.stderr)
            else:
                projector.drain(db, info.schema)
                for view, digest in projector.digests(db, info.schema).items():
                    print(f"{slug}\t{view}\t{digest}")
        if args.action == "rebuild" and len(slugs) > 1:
            total.finish(total.done)
    return 0


def _rebuild_in_parallel(
    db: Database,
    url: str,
    settings: Settings,
    slugs: list[str],
    view: str,
    jobs: int,
    total: Progress,
) -> int:
    """Rebuild `jobs` grantees at a time, each in its own process (own connection, own
    interpreter: the handlers are CPU-bound Python). Progress counts whole grantees."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from psycopg import sql

    from services.projector import rebuilds

    events = 0
    for slug in slugs:
        row = db.fetchone(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
                sql.Identifier(f"g_{slug}")
            )
        )
        events += int(row[0]) if row else 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_rebuild_one, url, settings, slug, view) for slug in slugs]
        for future in as_completed(futures):
            try:
                slug, done, seconds, builds = future.result()
            except rebuilds.RebuildRunning as e:
                print(f"prowd projections: {e}", file=sys.stderr)
                return 1
            total.add(done)
            switched = ", ".join(f"{name} {build}" for name, build in builds.items())
            end = "\033[K\n" if total.tty else "\n"
            total.stream.write(
                ("\r" if total.tty else "")
                + f"{slug}: rebuild: {done} events in {seconds:.1f} s; switched to builds"
                + f" {switched}{end}"
            )
            total(total.done, events)
    total.finish(total.done)
    return 0


def _rebuild_one(
    url: str, settings: Settings, slug: str, view: str
) -> tuple[str, int, float, dict[str, int]]:
    from services.projector import rebuilds
    from services.store.schema import grantee_schema

    started = time.monotonic()
    db = Database(url, settings, name="prowd-rebuild").open()
    try:
        done = [0]

        def count(n: int, _: int) -> None:
            done[0] = n

        builds = rebuilds.rebuild_views(
            db, grantee_schema(slug), [view] if view else None, progress=count
        )
        return slug, done[0], time.monotonic() - started, builds
    finally:
        db.close()


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Print every view's digest as of an instant, rebuilt from the log into temporary tables.

    Output: the lines of `prowd projections digest` (grantee, view, digest), then a `#` line
    with the instant, the events replayed and the position replay stopped at.
    """
    from services.app.tenancy import Tenancy
    from services.projector.replay import parse_instant, replay

    try:
        as_of = parse_instant(args.as_of)
    except ValueError as e:
        print(f"prowd replay: --as-of {args.as_of!r}: {e}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        info = tenancy.grantee(args.grantee)
        if info is None:
            print(f"prowd replay: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        bar = Progress(f"{args.grantee}: replay")
        result = replay(db, info.schema, as_of, progress=bar)
        bar.finish(result.events)
        for view, digest in result.digests.items():
            print(f"{args.grantee}\t{view}\t{digest}")
        print(
            f"# {args.grantee} as of {as_of.isoformat()}: {result.events} events replayed,"
            f" stopped at position {result.position}"
        )
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from services.app.tenancy import Tenancy
    from services.audit.checkpoints import load_key, sign_if_due
    from services.audit.verify import verify

    key = load_key(settings)

    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        slugs = [args.grantee] if args.grantee else [g.slug for g in tenancy.grantees()]
        broken = 0
        total = Progress("verify of all grantees")
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd verify: no grantee {slug!r}", file=sys.stderr)
                return 2
            bar = Progress(f"{slug}: verify")
            result = verify(db, info.schema, key=key, progress=bar)
            bar.finish(result.checked)
            total.add(result.checked)
            if result.intact:
                print(f"{slug}: intact, {result.checked} events verified (head {result.head})")
                if args.sign and (position := sign_if_due(db, info.schema, key, force=True)):
                    print(f"{slug}: checkpoint signed at position {position} (key {key.key_id})")
            else:
                broken += 1
                print(
                    f"{slug}: BROKEN at position {result.first_bad_position}: {result.problem}"
                    f" ({result.checked} events verified before it)"
                )
        if len(slugs) > 1:
            total.finish(total.done)
        return 1 if broken else 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Generate a quarter's PIRL file, record it in the grantee's export register, write it."""
    import getpass
    import uuid
    from pathlib import Path

    from domain import common
    from domain.common import DomainError
    from services.app.tenancy import Tenancy
    from services.reports.pirl import Quarter
    from services.store.ledger import Command

    try:
        quarter = Quarter.parse(args.quarter)
    except ValueError as e:
        print(f"prowd export: {e}", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        print(f"prowd export: no directory {str(output.parent)!r}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        info = tenancy.grantee(args.grantee)
        if info is None:
            print(f"prowd export: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        common.actor.set(f"cli:{getpass.getuser()}")
        common.request_id.set(f"cli-{uuid.uuid4().hex}")
        common.grantee.set(info.slug)
        try:
            exported = tenancy.app(info.slug).exports.export_pirl(Command(), quarter, requested_via="cli")
        except DomainError as e:
            print(f"prowd export: {e.code}: {e.detail}", file=sys.stderr)
            return 1
        record = exported.aggregate.exports[-1]
        if output is None:
            sys.stdout.buffer.write(exported.data)
            sys.stdout.flush()
        else:
            output.write_bytes(exported.data)
        print(
            f"prowd export: {args.format} {quarter} of {info.slug}: {record.rows} rows,"
            f" sha256 {record.sha256}, export {record.export_id}, log position {record.stands_at}",
            file=sys.stderr,
        )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """`prowd migrate`: create or upgrade the platform schema, the service role and every
    grantee's schema, as the login user of PROWD_DATABASE_URL (which owns the logs)."""
    from services.app.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate(force=True)
        count = len(tenancy.grantees(limit=1_000_000))
    out.write(f"migrated the platform schema and {count} grantee schema(s)\n")
    return 0


def cmd_access_matrix(args: argparse.Namespace, settings: Settings) -> int:
    from services.identity.access import markdown_table

    print(markdown_table(), end="")
    return 0


class Progress:
    """A progress bar on stderr: events done/total, events/s and the time left.

    Redrawn at most every 0.2 s, and only when stderr is a terminal; `finish` always prints
    one summary line (the only output when stderr is a file or a pipe).
    """

    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        now = time.monotonic()
        if not self.tty or (now - self.drawn < 0.2 and done < total):
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        width = 30
        filled = width if total <= 0 else min(width, width * done // total)
        left = f"{max(total - done, 0) / rate:.0f} s left" if rate > 0 and total else "-"
        self.stream.write(
            f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} events,"
            f" {rate:,.0f} events/s, {left}\033[K"
        )
        self.stream.flush()

    def add(self, done: int) -> None:
        self.done += done

    def finish(self, done: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self.stream.write(
            ("\r" if self.tty else "")
            + f"{self.label}: {done} events in {elapsed:.1f} s ({done / elapsed:.0f} events/s)"
            + ("\033[K\n" if self.tty else "\n")
        )
        self.stream.flush()


def cmd_retention(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """`prowd retention report`: each grantee's final report date, retention end, status and
    legal holds; `--status due` lists what may now be destroyed."""
    import msgspec

    from services.app.retention import retention_rows
    from services.app.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        rows = retention_rows(tenancy, args.status)
    if args.json:
        for row in rows:
            out.write(msgspec.json.encode(row).decode() + "\n")
        return 0
    out.write(f"{'grantee':<30} {'final report':<12} {'retain until':<12} {'status':<9} holds\n")
    for row in rows:
        holds = "; ".join(
            f"{h.reason} ({'participant ' + str(h.participant_id) if h.participant_id else 'all'},"
            f" since {h.placed_on})"
            for h in row.holds
        )
        out.write(
            f"{row.slug:<30} {row.final_report_on or '-'!s:<12}"
            f" {row.retention_ends_on or '-'!s:<12} {row.status:<9} {holds or '-'}\n"
        )
    due = sum(row.status == "due" for row in rows)
    out.write(f"{len(rows)} grantee(s); {due} due for disposal\n")
    return 0


def cmd_erase(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """`prowd erase participant`: crypto-shred one participant's personal data (docs/privacy.md).
    Exit 0 when erased, 1 when refused (legal hold, already erased, no such participant), 2 on
    bad arguments."""
    from uuid import UUID

    from domain import common
    from domain.common import DomainError
    from services.app.tenancy import Tenancy
    from services.store.ledger import Command

    try:
        participant_id = UUID(args.participant)
    except ValueError:
        print(f"prowd erase: --participant {args.participant!r} is not a UUID", file=sys.stderr)
        return 2
    if not args.by.strip() or not args.reason.strip():
        print("prowd erase: --by and --reason must not be blank", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        if tenancy.grantee(args.grantee) is None:
            print(f"prowd erase: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        common.actor.set(args.by.strip())
        common.grantee.set(args.grantee)
        common.request_id.set("cli-erase")

        def check(pid: UUID) -> None:
            tenancy.platform.retention.grantee_record(args.grantee).check_erasable(pid)

        try:
            saved = tenancy.app(args.grantee).participants.erase_participant(
                Command(), participant_id, reason=args.reason, check_erasable=check
            )
        except DomainError as e:
            print(f"prowd erase: refused ({e.code}): {e.detail}", file=sys.stderr)
            return 1
        out.write(
            f"{args.grantee}: participant {participant_id} erased at position {saved.position}"
            f" by {args.by.strip()}\n"
        )
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """`prowd keys rotate`: re-wrap participant keys under the current master key
    (`PROWD_MASTER_KEY`; the old one in `PROWD_MASTER_KEY_PREVIOUS`), in batches, online."""
    from services.app.tenancy import Tenancy
    from services.store import keys

    if bool(args.grantee) == bool(args.all):
        print("prowd keys rotate: give --grantee SLUG or --all", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        ring = keys.STORE.ring(db)
        slugs = [g.slug for g in tenancy.grantees()] if args.all else [args.grantee]
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd keys rotate: no grantee {slug!r}", file=sys.stderr)
                return 2
            try:
                done = keys.rotate(db, info.schema, ring, batch=args.batch)
            except keys.KeyUnavailable as e:
                print(f"prowd keys rotate: {slug}: {e}", file=sys.stderr)
                return 1
            held = keys.key_ids(db, info.schema)
            out.write(
                f"{slug}: {done} key(s) re-wrapped; "
                + ", ".join(f"{k}: {n}" for k, n in sorted(held.items()))
                + f" (current {ring.current_id})\n"
            )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="prowd", description="PROWD Ledger: case management for PROWD grantees"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("serve", "run the API, projection worker and webhook dispatcher"),
        ("demo", "load demo data, print tokens, serve"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=8000)
        s.add_argument("--workers", type=int, default=1, help="API processes")
        s.add_argument(
            "--no-worker",
            action="store_true",
            help="run only the API: no projection worker or webhook dispatcher subprocess"
            " (where they run as their own deployments)",
        )
        if name == "demo":
            s.add_argument(
                "--load-only",
                action="store_true",
                help="load the demo data and print the tokens, then exit without serving",
            )
    sub.add_parser("worker", help="run only the projection worker (needs PROWD_DATABASE_URL)")
    t = sub.add_parser("token", help="print a development token (HS256) as the last line")
    t.add_argument("--grantee", required=True, help="grantee slug, or '*' for platform-wide roles")
    t.add_argument("--role", required=True)
    t.add_argument("--sub", default="")
    t.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    t.add_argument("--rrc", default=None, help="for rrc_staff: the RRC's facility code")
    pr = sub.add_parser("projections", help="rebuild views blue/green, or print their digests")
    pr.add_argument("action", choices=["rebuild", "digest"])
    pr.add_argument("--grantee", default="")
    pr.add_argument("--view", default="")
    pr.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="rebuild: grantees rebuilt at once, each in its own process (default 1)",
    )
    wh = sub.add_parser("webhooks", help="run a webhook dispatcher (needs PROWD_DATABASE_URL)")
    wh.add_argument("action", choices=["dispatch"])
    wh.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    sub.add_parser("access-matrix", help="print the role matrix as a Markdown table")
    sub.add_parser(
        "migrate", help="create or upgrade every schema, as the owning login (a migration job)"
    )
    ex = sub.add_parser("export", help="generate and record a federal export (PIRL)")
    ex.add_argument("format", choices=["pirl"])
    ex.add_argument("--grantee", required=True, help="the grantee's slug")
    ex.add_argument("--quarter", required=True, help="calendar quarter YYYYQn, e.g. 2026Q1")
    ex.add_argument("--output", default="", help="file to write (default: standard output)")
    rp = sub.add_parser(
        "replay", help="rebuild every view as of an instant (temporarily) and print its digests"
    )
    rp.add_argument("--grantee", required=True, help="the grantee's slug")
    rp.add_argument(
        "--as-of",
        required=True,
        help="RFC 3339 date-time with offset, e.g. 2026-03-01T09:00:00Z; events recorded"
        " (their stored timestamp) at or before it are replayed",
    )
    rt = sub.add_parser("retention", help="records retention (2 CFR 200.334) and legal holds")
    rt.add_argument("action", choices=["report"])
    rt.add_argument(
        "--status",
        default="",
        choices=["", "not_set", "retaining", "held", "due"],
        help="only grantees with this status (due: records may now be destroyed)",
    )
    rt.add_argument("--json", action="store_true", help="one JSON object per line")
    er = sub.add_parser(
        "erase", help="erase a participant's personal data (crypto-shredding, docs/privacy.md)"
    )
    er.add_argument("what", choices=["participant"])
    er.add_argument("--grantee", required=True, help="the grantee's slug")
    er.add_argument("--participant", required=True, help="the participant's id (UUID)")
    er.add_argument("--by", required=True, help="who erases (recorded in the event)")
    er.add_argument("--reason", required=True, help="why (recorded in the event)")
    ks = sub.add_parser("keys", help="participant data keys: re-wrap under a new master key")
    ks.add_argument("action", choices=["rotate"])
    ks.add_argument("--grantee", default="", help="one grantee's slug")
    ks.add_argument("--all", action="store_true", help="every grantee")
    ks.add_argument("--batch", type=int, default=500, help="rows per transaction")
    v = sub.add_parser("verify", help="recompute the hash chain of grantee logs (exit 1 if broken)")
    v.add_argument("--grantee", default="", help="one grantee's slug (default: all)")
    v.add_argument(
        "--sign", action="store_true", help="after an intact verification, sign a checkpoint"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    prowd_logging.configure(settings.log_level)
    settings.install_clock()
    handlers = {
        "serve": cmd_serve,
        "demo": lambda a, s: cmd_serve(a, s, demo=True),
        "worker": cmd_worker,
        "token": cmd_token,
        "projections": cmd_projections,
        "access-matrix": cmd_access_matrix,
        "export": cmd_export,
        "verify": cmd_verify,
        "replay": cmd_replay,
        "webhooks": cmd_webhooks,
        "retention": cmd_retention,
        "erase": cmd_erase,
        "keys": cmd_keys,
        "migrate": cmd_migrate,
    }
    return int(handlers[args.command](args, settings))


if __name__ == "__main__":
    sys.exit(main())
