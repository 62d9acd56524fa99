"""The `prowd` command line: its parser, and the dispatch of each command to its module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import psycopg
import structlog

from services import logging as prowd_logging
from services import tracing
from services.cli.audit import cmd_verify
from services.cli.audit_kit import cmd_audit
from services.cli.connect import NoInstallation
from services.cli.imports import add_parser as add_import_parser
from services.cli.imports import cmd_import
from services.cli.records import cmd_erase, cmd_export, cmd_keys, cmd_migrate, cmd_retention
from services.cli.serve import cmd_serve, cmd_webhooks, cmd_worker
from services.cli.tokens import cmd_access_matrix, cmd_token
from services.cli.views import cmd_projections, cmd_replay
from services.settings import Settings
from services.store.schema import NotMigrated

Handler = Callable[[argparse.Namespace, Settings], int]

log = structlog.get_logger("prowd.cli")


class _ViewNames(argparse.HelpFormatter):
    """Fills the names of the views into a help text (`{views}`) only when help is shown: the
    registry imports every projection, which would double every command's start-up time."""

    def _expand_help(self, action: argparse.Action) -> str:
        text = super()._expand_help(action)
        if "{views}" not in text:
            return text
        from projections.registry import PROJECTIONS

        return text.replace("{views}", ", ".join(p.name for p in PROJECTIONS))


def parser() -> argparse.ArgumentParser:
    """Every command, its options and their help texts (the README's Commands table)."""
    p = argparse.ArgumentParser(
        prog="prowd", description="PROWD Ledger: case management for PROWD grantees"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("serve", "run the API, projection worker and webhook dispatcher"),
        ("demo", "load demo data, print tokens, serve"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        s.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
        s.add_argument("--workers", type=int, default=1, help="API processes")
        s.add_argument(
            "--http-server",
            choices=("uvicorn", "granian"),
            default=os.environ.get("PROWD_HTTP_SERVER", "uvicorn"),
            help="the ASGI server of the API processes (default: $PROWD_HTTP_SERVER or uvicorn)",
        )
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
    t.add_argument(
        "--grantee",
        required=True,
        help="a registered grantee's slug, or '*' for platform-wide roles",
    )
    t.add_argument(
        "--role",
        required=True,
        help="the token's role: platform_admin, grantee_admin, coordinator, case_manager,"
        " peer_mentor, rrc_staff, auditor or federal_oversight",
    )
    t.add_argument(
        "--sub",
        default="",
        help="the token's subject (default: demo-<role>, the subject the demo data and the console's sign-in use)",
    )
    t.add_argument(
        "--ttl", type=int, default=8 * 3600, help="seconds the token is valid, at least 1 (8 h)"
    )
    t.add_argument("--rrc", default=None, help="for rrc_staff: the RRC's facility code")
    pr = sub.add_parser(
        "projections",
        help="rebuild views blue/green, or print their digests",
        formatter_class=_ViewNames,
    )
    pr.add_argument(
        "action",
        choices=["rebuild", "digest"],
        help="rebuild: build the views anew from the log beside the live ones and switch;"
        " digest: catch the views up and print one SHA-256 digest per view and grantee",
    )
    pr.add_argument("--grantee", default="", help="one grantee's slug (default: every grantee)")
    pr.add_argument(
        "--view", default="", help="one view (default: every view): {views}", metavar="NAME"
    )
    pr.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="rebuild: grantees rebuilt at once, each in its own process (default 1)",
    )
    wh = sub.add_parser("webhooks", help="run a webhook dispatcher (needs PROWD_DATABASE_URL)")
    wh.add_argument(
        "action", choices=["dispatch"], help="dispatch: deliver due webhooks until stopped"
    )
    wh.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    sub.add_parser("access-matrix", help="print the role matrix as a Markdown table")
    sub.add_parser(
        "migrate", help="create or upgrade every schema, as the owning login (a migration job)"
    )
    ex = sub.add_parser("export", help="generate and record a federal export (PIRL)")
    ex.add_argument("format", choices=["pirl"], help="pirl: the quarterly PIRL file (docs/pirl.md)")
    ex.add_argument("--grantee", required=True, help="the grantee's slug")
    ex.add_argument("--quarter", required=True, help="calendar quarter YYYYQn, e.g. 2026Q1")
    ex.add_argument("--output", default="", help="file to write (default: standard output)")
    ex.add_argument(
        "--allow-warnings",
        action="store_true",
        help="export although rows fail edit checks WIPS only warns about (docs/pirl.md)",
    )
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
    rt.add_argument(
        "action", choices=["report"], help="report: each grantee's retention status and holds"
    )
    rt.add_argument(
        "--status",
        default=None,
        choices=["not_set", "retaining", "held", "due"],
        help="only grantees with this status (due: records may now be destroyed; default: all)",
    )
    rt.add_argument("--json", action="store_true", help="one JSON object per line")
    er = sub.add_parser(
        "erase", help="erase a participant's personal data (crypto-shredding, docs/privacy.md)"
    )
    er.add_argument("what", choices=["participant"], help="participant: one participant's data")
    er.add_argument("--grantee", required=True, help="the grantee's slug")
    er.add_argument("--participant", required=True, help="the participant's id (UUID)")
    er.add_argument("--by", required=True, help="who erases (recorded in the event)")
    er.add_argument("--reason", required=True, help="why (recorded in the event)")
    ks = sub.add_parser("keys", help="participant data keys: re-wrap under a new master key")
    ks.add_argument(
        "action",
        choices=["rotate"],
        help="rotate: re-wrap every key not yet under the current master key",
    )
    ks.add_argument("--grantee", default="", help="one grantee's slug")
    ks.add_argument("--all", action="store_true", help="every grantee")
    ks.add_argument("--batch", type=int, default=500, help="rows per transaction")
    v = sub.add_parser("verify", help="recompute the hash chain of grantee logs (exit 1 if broken)")
    v.add_argument("--grantee", default="", help="one grantee's slug (default: all)")
    v.add_argument(
        "--sign", action="store_true", help="after an intact verification, sign a checkpoint"
    )
    v.add_argument(
        "--keys", default="", help="a public key set (JSON, as GET /v1/audit/public-keys gives)"
    )
    v.add_argument(
        "--against", default="", help="signed heads held elsewhere (audit.checkpoint webhooks)"
    )
    v.add_argument(
        "--require-signed",
        action="store_true",
        help="exit 5 when events lie after the last signed checkpoint (chained, not signed)",
    )
    add_import_parser(sub)
    au = sub.add_parser("audit", help="audit keys and the offline audit kit (docs/audit.md)")
    au_sub = au.add_subparsers(dest="audit_action", required=True)
    au_sub.add_parser("rotate-key", help="make a new checkpoint signing key current")
    ex = au_sub.add_parser("export", help="write a grantee's log, chain, checkpoints and keys")
    ex.add_argument("--grantee", required=True, help="the grantee's slug")
    ex.add_argument(
        "--through", type=int, default=0, help="last position, at most the head (default: the head)"
    )
    ex.add_argument("--output", required=True, help="a new or empty folder")
    ex.add_argument(
        "--no-sign",
        action="store_true",
        help="sign no checkpoint at the kit's end (no private key read; the kit may end unsigned)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command of `argv` (default: the process's arguments); its exit code."""
    args = parser().parse_args(argv)
    # Logging first, so that a refusal to start is a JSON line like any other.
    prowd_logging.configure(os.environ.get("PROWD_LOG_LEVEL") or "info")
    try:
        return _run(args)
    except NoInstallation as e:
        print(f"prowd {args.command}: {e}", file=sys.stderr)
        return 2
    except SystemExit as stop:
        if not isinstance(stop.code, str):
            raise
        log.error("cannot start" if "settings" in stop.code else "stopped", reason=stop.code)
        return 1
    except NotMigrated as e:
        log.error("stopped", reason=f"prowd: {e}")
        return 1
    except psycopg.OperationalError as e:
        log.error("database unavailable", error=str(e).strip(), error_class=type(e).__name__)
        return 1


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    prowd_logging.configure(settings.log_level)
    tracing.configure(f"prowd-{args.command}")
    settings.install_clock()
    handlers: dict[str, Handler] = {
        "serve": cmd_serve,
        "demo": lambda a, s: cmd_serve(a, s, demo=True),
        "worker": cmd_worker,
        "token": cmd_token,
        "projections": cmd_projections,
        "access-matrix": cmd_access_matrix,
        "export": cmd_export,
        "verify": cmd_verify,
        "audit": cmd_audit,
        "replay": cmd_replay,
        "webhooks": cmd_webhooks,
        "retention": cmd_retention,
        "erase": cmd_erase,
        "keys": cmd_keys,
        "migrate": cmd_migrate,
        "import": cmd_import,
    }
    return int(handlers[args.command](args, settings))


if __name__ == "__main__":
    sys.exit(main())
