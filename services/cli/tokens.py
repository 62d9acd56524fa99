"""Access from the command line: development tokens and the role matrix."""

from __future__ import annotations

import argparse
import contextlib
import sys

from services.cli.connect import database
from services.settings import Settings


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd token`: print a development (HS256) token as the last line; exit 2 when the
    claims are refused (an unknown role, `--rrc` for another role, ...), when it would be
    expired as printed (`--ttl` below 1) and when its grantee is not registered. A grantee is
    looked up in the installation's database (the embedded server of the data folder, which a
    running `prowd demo` shares, or PROWD_DATABASE_URL's); `--grantee '*'` needs none."""
    from services.identity.tokens import issue_token

    if args.ttl < 1:
        print(f"prowd token: --ttl must be at least 1 second, got {args.ttl}", file=sys.stderr)
        return 2
    # Before the secret is read, which may create it: where no installation is, nothing is made.
    if args.grantee != "*" and not _registered(settings, args.grantee):
        print(
            f"prowd token: no grantee {args.grantee!r}"
            " (prowd token --grantee '*' for a platform-wide role)",
            file=sys.stderr,
        )
        return 2
    try:
        token = issue_token(
            settings.with_secret(),
            subject=args.sub or f"demo-{args.role}",
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


def _registered(settings: Settings, slug: str) -> bool:
    from services.app.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        return tenancy.grantee(slug) is not None


def cmd_access_matrix(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd access-matrix`: print the role matrix as a Markdown table."""
    from services.identity.matrix_table import markdown_table

    print(markdown_table(), end="")
    return 0
