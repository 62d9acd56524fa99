"""`prowd import`: participants (with their stages) or mentors from a CSV or XLSX file, through
the same use case as `POST /v1/grantees/{g}/imports` (docs/import.md)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TextIO

from services.cli.connect import database, require_master_keys
from services.settings import Settings

# Exit codes: 0 the file is imported (or dry-run) to the end; 1 the file or the import is
# refused (nothing saved by this run); 2 bad arguments; 3 stopped by --max-rows (run again to
# resume).
STOPPED = 3


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    im = sub.add_parser(
        "import", help="import participants or mentors from CSV/XLSX (docs/import.md)"
    )
    im.add_argument(
        "kind",
        choices=["participants", "mentors"],
        help="what the file's rows are (docs/import.md)",
    )
    im.add_argument("file", help="a .csv (UTF-8) or .xlsx file, header row first")
    im.add_argument("--grantee", required=True, help="the grantee's slug")
    im.add_argument("--dry-run", action="store_true", help="report what would happen, save nothing")
    im.add_argument(
        "--max-rows", type=int, default=None, help="save at most this many more rows, then stop"
    )
    im.add_argument(
        "--by", default="", help="who imports (recorded on the events; default: cli:$USER)"
    )
    im.add_argument("--json", action="store_true", help="print the report as JSON")
    im.add_argument("--batch", type=int, default=500, help="rows saved per transaction")


def cmd_import(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Import (or dry-run) a file and print its report: a line a row that is not created and
    the totals (or the whole report as JSON)."""
    import getpass
    import uuid

    import msgspec

    from domain import common
    from domain.common import DomainError
    from domain.imports import ImportKind, Outcome
    from services.app.import_file import FileRefused
    from services.app.tenancy import Tenancy

    path = Path(args.file)
    if not path.is_file():
        print(f"prowd import: no file {args.file!r}", file=sys.stderr)
        return 2
    if args.max_rows is not None and args.max_rows < 1:
        print("prowd import: --max-rows is at least 1", file=sys.stderr)
        return 2
    kind = ImportKind(args.kind)
    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        # Personal data is decrypted here: master keys that unwrap nothing refuse it up front.
        require_master_keys(db)
        if tenancy.grantee(args.grantee) is None:
            print(f"prowd import: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        common.actor.set(args.by.strip() or f"cli:{getpass.getuser()}")
        common.request_id.set(f"cli-{uuid.uuid4().hex}")
        common.grantee.set(args.grantee)
        try:
            with db.session():
                report = tenancy.app(args.grantee).imports.import_file(
                    kind,
                    path.read_bytes(),
                    xlsx=path.suffix.lower() == ".xlsx",
                    dry_run=args.dry_run,
                    max_rows=args.max_rows,
                    wait=settings.view_wait_max,
                    batch=max(1, getattr(args, "batch", 500)),
                )
        except FileRefused as e:
            print(f"prowd import: file refused ({e.code}): {e.detail}", file=sys.stderr)
            for error in e.context.get("errors") or ():
                print(
                    f"  row {error['row']} {error['column']}: {error['message']}", file=sys.stderr
                )
            return 1
        except DomainError as e:
            print(f"prowd import: refused ({e.code}): {e.detail}", file=sys.stderr)
            return 1
    if args.json:
        out.write(msgspec.json.encode(report).decode() + "\n")
    else:
        for o in report.outcomes:
            if o.outcome is not Outcome.CREATED:
                out.write(f"row {o.row}: {o.outcome} {o.code} {o.detail}".rstrip() + "\n")
        verb = "would import" if report.dry_run else "imported"
        if report.already_imported:
            state = "already imported before: nothing added"
        elif report.dry_run:
            state = "dry run: nothing saved"
        elif report.finished:
            state = "finished"
        else:
            state = f"stopped after row {report.applied_through}: run again to resume"
        out.write(
            f"{args.grantee}: {verb} {report.count(Outcome.CREATED)} {kind}, "
            f"{report.count(Outcome.DUPLICATE)} duplicates, {report.count(Outcome.REFUSED)} refused"
            f" of {report.rows} rows; {state}; sha256 {report.sha256}\n"
        )
    return 0 if report.dry_run or report.finished else STOPPED
