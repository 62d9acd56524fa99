"""`prowd verify`: recompute the grantees' hash chains and check their signed checkpoints
against the published public keys (no private key needed)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from services.cli.connect import database
from services.cli.progress import Progress
from services.settings import Settings

if TYPE_CHECKING:
    from services.audit.verify import Verification


def head_of(result: Verification) -> str:
    """The log's head, and why it can lie above the count: a write refused or rolled back after
    it drew its position leaves a number no event takes (PostgreSQL never hands one out twice).
    Not a missing event: each chain hash covers the one before, so a deletion breaks it."""
    skipped = result.head - result.checked
    if skipped <= 0:
        return f"head {result.head}"
    some = "s" if skipped > 1 else ""
    return (
        f"head {result.head}; {skipped} position{some} no event took: writes refused or rolled"
        " back after drawing a number, docs/audit.md"
    )


def intact_line(slug: str, result: Verification) -> str:
    """An intact chain in words; `verified` only for the events a signature covers."""
    from services.audit.verify import unsigned_tail

    if not result.unsigned:
        return f"{slug}: intact, {result.checked} events verified ({head_of(result)})"
    tail = unsigned_tail(result.signed_through, result.unsigned, result.tail)
    if not result.signed_through:
        return f"{slug}: intact but signed nowhere: {tail} ({head_of(result)})"
    signed = result.checked - result.unsigned
    return (
        f"{slug}: intact and signed through {result.signed_through} ({signed} event{'' if signed == 1 else 's'}"
        f" verified);"
        f" {tail} ({head_of(result)})"
    )


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Verify one grantee's log (`--grantee`) or every grantee's against the public keys of the
    database or of `--keys FILE`. Exit codes (docs/audit.md): 0 intact, 1 tampered, 2 usage
    (unknown grantee, unreadable key file), 3 unknown key id, 4 checkpoint outside its key's
    validity, 5 (with `--require-signed`) intact but with events after the last signed head;
    over several grantees the lowest non-zero code wins. `--against FILE`: signed
    heads collected elsewhere (`audit.checkpoint` webhooks) the chain must pass through. `--sign` signs a checkpoint
    after an intact run (that alone reads the private key)."""
    from domain import clock
    from services.app.tenancy import Tenancy
    from services.audit import keys
    from services.audit.checkpoints import load_key, sign_if_due
    from services.audit.heads import held_heads
    from services.audit.verify import EXIT_CODES, UNSIGNED_TAIL_EXIT, verify
    from services.webhooks import checkpoints as checkpoint_hooks

    given: dict[str, keys.PublicKey] | None = None
    if getattr(args, "keys", ""):
        try:
            given = keys.from_jwks(json.loads(Path(args.keys).read_text()))
        except (OSError, ValueError) as e:
            print(f"prowd verify: cannot read the key set {args.keys}: {e}", file=sys.stderr)
            return 2

    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        key_set = given if given is not None else keys.published(db)
        slugs = [args.grantee] if args.grantee else [g.slug for g in tenancy.grantees()]
        if not slugs:
            print("prowd verify: no grantee registered yet: no log to verify")
        codes: set[int] = set()
        total = Progress("verify of all grantees")
        for slug in slugs:
            info = tenancy.grantee(slug)
            if info is None:
                print(f"prowd verify: no grantee {slug!r}", file=sys.stderr)
                return 2
            held: dict[int, bytes] = {}
            if getattr(args, "against", ""):
                try:
                    held = held_heads(Path(args.against).read_text(), info.schema, key_set)
                except (OSError, ValueError) as e:
                    print(f"prowd verify: cannot use {args.against}: {e}", file=sys.stderr)
                    return 2
            bar = Progress(f"{slug}: verify")
            result = verify(db, info.schema, keys=key_set, progress=bar, held=held)
            bar.finish(result.checked)
            total.add(result.checked)
            code = EXIT_CODES[result.verdict]
            if result.intact:
                print(intact_line(slug, result))
                if result.unsigned and args.require_signed:
                    code = UNSIGNED_TAIL_EXIT
                if args.sign:
                    signer = load_key(settings)
                    if position := sign_if_due(db, info.schema, signer, force=True):
                        kid = keys.current_kid(db)
                        sent = checkpoint_hooks.deliver(db, info.schema, position, clock.now())
                        print(
                            f"{slug}: checkpoint signed at position {position} (key {kid});"
                            f" queued for {sent} audit.checkpoint subscriber(s)"
                        )
                        if result.tail and position >= result.tail[1]:
                            code = 0  # the log is now signed through its last event
            else:
                # A signed head missed says itself what its signature still proves.
                tail = "" if result.span else f" ({result.checked} events verified before it)"
                print(f"{slug}: {result.summary()}{tail}")
            codes.add(code)
            if held:
                print(f"{slug}: {len(held)} signed head(s) held elsewhere compared")
        if len(slugs) > 1:
            total.finish(total.done)
        return min((c for c in codes if c), default=0)
