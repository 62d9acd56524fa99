"""The grantees' records from the command line: the PIRL export, schema migration, records
retention, erasure of a participant's personal data and rotation of the data keys."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TextIO

from services.cli.connect import database, require_every_key, require_master_keys
from services.settings import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Generate a quarter's PIRL file, record it in the grantee's export register (unless it is
    the quarter's last export byte for byte), write it."""
    import getpass
    import uuid
    from pathlib import Path

    from domain import common
    from domain.common import DomainError
    from services.app.tenancy import Tenancy
    from services.reports.pirl import parse_quarter
    from services.store.ledger import Command

    try:
        quarter = parse_quarter(args.quarter)
    except ValueError as e:
        print(f"prowd export: {e}", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        print(f"prowd export: no directory {str(output.parent)!r}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        # Personal data is decrypted here: master keys that unwrap nothing refuse it up front.
        require_master_keys(db)
        info = tenancy.grantee(args.grantee)
        if info is None:
            print(f"prowd export: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        common.actor.set(f"cli:{getpass.getuser()}")
        common.request_id.set(f"cli-{uuid.uuid4().hex}")
        common.grantee.set(info.slug)
        try:
            exported = tenancy.app(info.slug).exports.export_pirl(
                Command(),
                quarter,
                requested_via="cli",
                allow_warnings=getattr(args, "allow_warnings", False),
            )
        except DomainError as e:
            print(f"prowd export: {e.code}: {e.detail}", file=sys.stderr)
            return 1
        record = exported.record or exported.aggregate.exports[-1]
        if output is None:
            sys.stdout.buffer.write(exported.data)
            sys.stdout.flush()
        else:
            output.write_bytes(exported.data)
        print(
            f"prowd export: {args.format} {quarter} of {info.slug}: {record.rows} rows,"
            f" sha256 {record.sha256}, export {record.export_id}, log position {record.stands_at}"
            + (
                ""
                if exported.recorded
                else " (unchanged: the quarter's last export, not recorded again)"
            ),
            file=sys.stderr,
        )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """`prowd migrate`: create or upgrade the platform schema, the service role and every
    grantee's schema, as the login user of PROWD_DATABASE_URL (which owns the logs)."""
    from services.app.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack, sets_up=True)
        tenancy = Tenancy(db)
        tenancy.migrate(force=True)
        count = len(tenancy.grantees(limit=1_000_000))
        out.write(f"migrated the platform schema and {count} grantee schema(s)\n")
        # The release's master key is checked here too: a wrong secret stops the rollout at
        # its migration Job instead of at every request about a participant.
        require_master_keys(db)
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """`prowd retention report`: each grantee's final report date, retention end, status and
    legal holds; `--status due` lists what may now be destroyed."""
    import msgspec

    from services.app.retention import retention_rows
    from services.app.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        rows = retention_rows(tenancy, args.status or "")
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
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        # Personal data is decrypted here: master keys that unwrap nothing refuse it up front.
        require_master_keys(db)
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
    (`PROWD_MASTER_KEY`; the old one in `PROWD_MASTER_KEY_PREVIOUS`), in batches, online.
    Every live key of every grantee named is unwrapped first: when one does not unwrap with
    the configured master keys, nothing is re-wrapped and the command cannot start (exit 1)."""
    from services.app.tenancy import Tenancy
    from services.store import keys

    if bool(args.grantee) == bool(args.all):
        print("prowd keys rotate: give --grantee SLUG or --all", file=sys.stderr)
        return 2
    if args.batch < 1:
        print("prowd keys rotate: --batch is at least 1", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        ring = keys.STORE.ring(db)
        everyone = tenancy.grantees(limit=1_000_000) if args.all else []
        slugs = [g.slug for g in everyone] if args.all else [args.grantee]
        schemas: dict[str, str] = {}
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd keys rotate: no grantee {slug!r}", file=sys.stderr)
                return 2
            schemas[slug] = info.schema
        require_every_key(db, schemas, "keys rotate")
        for slug, schema in schemas.items():
            try:
                done = keys.rotate(db, schema, ring, batch=args.batch)
            except keys.KeyUnavailable as e:  # a row changed since the check
                print(f"prowd keys rotate: {slug}: {e}", file=sys.stderr)
                return 1
            held = keys.key_ids(db, schema)
            out.write(
                f"{slug}: {done} key(s) re-wrapped; "
                + ", ".join(f"{k}: {n}" for k, n in sorted(held.items()))
                + f" (current {ring.current_id})\n"
            )
    return 0
