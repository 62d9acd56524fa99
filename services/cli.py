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

from services import logging as prowd_logging
from services.database import Database
from services.settings import Settings


def _database(settings: Settings, stack: contextlib.ExitStack[bool | None]) -> tuple[str, Database]:
    from services.database import Database, server_url

    url = server_url(settings, stack)
    db = Database(url, settings, name="prowd-cli").open()
    stack.callback(db.close)
    return url, db


def cmd_serve(args: argparse.Namespace, settings: Settings, *, demo: bool = False) -> int:
    import uvicorn

    from services.database import Database, server_url
    from services.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        url = server_url(settings, stack)
        with contextlib.closing(Database(url, settings, name="prowd-setup").open()) as db:
            tenancy = Tenancy(db)
            tenancy.migrate()
            if demo:
                from services.demo import load_demo, print_tokens

                load_demo(tenancy)
                print_tokens(settings.with_secret(), host=args.host, port=args.port)
        secret = settings.with_secret().jwt_secret
        env = {
            **os.environ,
            "PROWD_DATABASE_URL": url,
            "PROWD_JWT_SECRET": secret,
            "PROWD_PARENT_PID": str(os.getpid()),
        }
        worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env)
        stack.callback(_stop, worker)
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
    from services.database import Database
    from services.workers import ProjectionWorker

    if not settings.database_url:
        print("prowd worker: PROWD_DATABASE_URL must be set", file=sys.stderr)
        return 2
    db = Database(settings.database_url, settings, name="prowd-worker").open()
    from services.checkpoints import load_key

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
    from services.auth import issue_token

    try:
        token = issue_token(
            settings.with_secret(),
            subject=args.sub or f"dev-{args.role}",
            roles=[args.role],
            grantees=[args.grantee],
            ttl_seconds=args.ttl,
        )
    except ValueError as e:
        print(f"prowd token: {e}", file=sys.stderr)
        return 2
    print(f"# {args.role} for grantee {args.grantee}, valid {args.ttl} s")
    print(token)
    return 0


def cmd_projections(args: argparse.Namespace, settings: Settings) -> int:
    from projections.registry import PROJECTIONS
    from services import projector
    from services.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        slugs = [args.grantee] if args.grantee else [g.slug for g in tenancy.grantees()]
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd projections: no grantee {slug!r}", file=sys.stderr)
                return 2
            if args.action == "rebuild":
                views = [args.view] if args.view else [p.name for p in PROJECTIONS]
                for view in views:
                    build = projector.rebuild(
                        db,
                        info.schema,
                        view,
                        progress=_progress(slug, view),
                    )
                    print(f"\n{slug}/{view}: switched to build {build}", file=sys.stderr)
            else:
                projector.drain(db, info.schema)
                for view, digest in projector.digests(db, info.schema).items():
                    print(f"{slug}\t{view}\t{digest}")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from services.audit import verify
    from services.checkpoints import load_key, sign_if_due
    from services.tenancy import Tenancy

    key = load_key(settings)

    with contextlib.ExitStack() as stack:
        _, db = _database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        slugs = [args.grantee] if args.grantee else [g.slug for g in tenancy.grantees()]
        broken = 0
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd verify: no grantee {slug!r}", file=sys.stderr)
                return 2
            result = verify(db, info.schema, key=key, progress=_bar(slug))
            print("", file=sys.stderr)
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
        return 1 if broken else 0


def _bar(slug: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        width = 30
        filled = width if not total else min(width, width * done // total)
        print(
            f"\r{slug}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
            end="",
            file=sys.stderr,
        )

    return show


def cmd_access_matrix(args: argparse.Namespace, settings: Settings) -> int:
    from services.access import markdown_table

    print(markdown_table(), end="")
    return 0


def _progress(slug: str, view: str) -> Callable[[int, int], None]:
    def show(done: int, head: int) -> None:
        print(f"\r{slug}/{view}: {done}/{head} events", end="", file=sys.stderr)

    return show


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="prowd", description="PROWD Ledger: case management for PROWD grantees"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("serve", "run the API and projection worker"),
        ("demo", "load demo data, print tokens, serve"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=8000)
        s.add_argument("--workers", type=int, default=1, help="API processes")
    sub.add_parser("worker", help="run only the projection worker (needs PROWD_DATABASE_URL)")
    t = sub.add_parser("token", help="print a development token (HS256) as the last line")
    t.add_argument("--grantee", required=True, help="grantee slug, or '*' for platform-wide roles")
    t.add_argument("--role", required=True)
    t.add_argument("--sub", default="")
    t.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    pr = sub.add_parser("projections", help="rebuild views blue/green, or print their digests")
    pr.add_argument("action", choices=["rebuild", "digest"])
    pr.add_argument("--grantee", default="")
    pr.add_argument("--view", default="")
    sub.add_parser("access-matrix", help="print the role matrix as a Markdown table")
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
    handlers = {
        "serve": cmd_serve,
        "demo": lambda a, s: cmd_serve(a, s, demo=True),
        "worker": cmd_worker,
        "token": cmd_token,
        "projections": cmd_projections,
        "access-matrix": cmd_access_matrix,
        "verify": cmd_verify,
    }
    return int(handlers[args.command](args, settings))


if __name__ == "__main__":
    sys.exit(main())
