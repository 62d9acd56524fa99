"""`prowd verify`: recompute the grantees' hash chains and check their signed checkpoints."""

from __future__ import annotations

import argparse
import contextlib
import sys

from services.cli.connect import database
from services.cli.progress import Progress
from services.settings import Settings


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Verify one grantee's log (`--grantee`) or every grantee's; exit 0 when intact, 1 naming
    the first bad position, 2 for an unknown grantee. `--sign` signs a checkpoint after an
    intact run."""
    from services.app.tenancy import Tenancy
    from services.audit.checkpoints import load_key, sign_if_due
    from services.audit.verify import verify

    key = load_key(settings)

    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
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
