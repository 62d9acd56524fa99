"""Access from the command line: development tokens and the role matrix."""

from __future__ import annotations

import argparse
import sys

from services.settings import Settings


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd token`: print a development (HS256) token as the last line; exit 2 when the
    claims are refused (an unknown role, `--rrc` for another role, ...)."""
    from services.identity.tokens import issue_token

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


def cmd_access_matrix(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd access-matrix`: print the role matrix as a Markdown table."""
    from services.identity.matrix_table import markdown_table

    print(markdown_table(), end="")
    return 0
