"""`prowd audit rotate-key` and `prowd audit export` (docs/audit.md, decisions 40 and 41).

The export is the offline audit kit: a folder an auditor checks with `tools/prowd_audit_verify.py`
(standard library and `cryptography` only), without the platform.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from psycopg import sql

from services.cli.connect import database
from services.settings import Settings
from services.store.database import Database

FORMAT = "prowd-audit-export/1"


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd audit rotate-key`, `prowd audit export`. The export refuses (exit 2, nothing
    signed or written) an unknown grantee, an `--output` that is not a new or empty folder and
    a `--through` that is not a position of the log (below 0, or beyond its head: the kit would
    claim events it does not hold)."""
    from services.app.tenancy import Tenancy

    out = Path(args.output) if args.audit_action == "export" else None
    if out is not None:
        refusal = _unusable(out) or (
            "--through must be a position (>= 0)" if args.through < 0 else None
        )
        if refusal:
            print(f"prowd audit export: {refusal}", file=sys.stderr)
            return 2
    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        if out is None:
            return _rotate(db, settings)
        info = tenancy.grantee(args.grantee)
        if info is None:
            print(f"prowd audit export: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        head = _head(db, info.schema)
        if args.through > head:
            print(
                f"prowd audit export: --through {args.through} is beyond the head of"
                f" {args.grantee}'s log (position {head}): give a position up to {head}, or no"
                " --through for the head",
                file=sys.stderr,
            )
            return 2
        through = args.through or head
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            print(f"prowd audit export: cannot create {out}: {e.strerror}", file=sys.stderr)
            return 2
        if not args.no_sign:
            _sign_end(db, settings, args.grantee, info.schema, through)
        manifest = export(db, args.grantee, info.schema, through, out)
        print(
            f"{args.grantee}: exported {manifest['events']} events through position"
            f" {manifest['through']} to {out}, signed through {manifest['signed_through']}"
            f" (manifest SHA-256 {manifest['sha256']})"
        )
        return 0


def _unusable(out: Path) -> str | None:
    """Why the kit cannot go into `out` (a new or empty folder), or None."""
    if out.exists() and not out.is_dir():
        return f"{out} is not a folder: give a new or empty folder"
    try:
        if out.is_dir() and any(out.iterdir()):
            return f"{out} is not empty: give a new or empty folder"
    except OSError as e:
        return f"cannot read {out}: {e.strerror}"
    return None


def _head(db: Database, schema: str) -> int:
    s = sql.Identifier(schema)
    row = db.fetchone(
        sql.SQL(
            "SELECT greatest((SELECT coalesce(max(notification_id), 0) FROM {s}.events),"
            " (SELECT coalesce(max(notification_id), 0) FROM {s}.chain))"
        ).format(s=s)
    )
    return int(row[0]) if row else 0


def _sign_end(db: Database, settings: Settings, slug: str, schema: str, through: int) -> None:
    """Sign a checkpoint at the kit's last record when no checkpoint stands there, so that the
    kit is signed to its end (decision 134). As `prowd verify --sign`: only after the log
    verifies, and delivered to the `audit.checkpoint` subscribers. The signature vouches for
    the records as the database holds them now; it cannot tell whether records no earlier
    checkpoint covered were rewritten before it, only that nothing changes after it."""
    from domain import clock
    from services.audit import keys
    from services.audit.checkpoints import load_key, sign_at
    from services.audit.verify import verify
    from services.webhooks import checkpoints as checkpoint_hooks

    s = sql.Identifier(schema)
    end = db.fetchone(
        sql.SQL(
            "SELECT c.notification_id, c.hash, k.notification_id FROM {s}.chain c"
            " LEFT JOIN {s}.checkpoints k USING (notification_id)"
            " WHERE c.notification_id <= %s ORDER BY c.notification_id DESC LIMIT 1"
        ).format(s=s),
        (through,),
    )
    if end is None or end[2] is not None:
        return
    position, chain_hash = int(end[0]), bytes(end[1])
    result = verify(db, schema, keys=keys.published(db))
    if not result.intact:
        print(
            f"prowd audit export: {slug}: {result.summary()}; no checkpoint signed",
            file=sys.stderr,
        )
        return
    try:
        signer = load_key(settings)
    except SystemExit as refused:
        print(f"prowd audit export: no checkpoint signed: {refused}", file=sys.stderr)
        return
    if sign_at(db, schema, signer, position, chain_hash) is None:
        print(
            f"prowd audit export: no checkpoint signed: the current key's file"
            f" ({keys.current_kid(db)}) is not in {signer.folder}",
            file=sys.stderr,
        )
        return
    sent = checkpoint_hooks.deliver(db, schema, position, clock.now())
    print(
        f"{slug}: checkpoint signed at position {position} (key {keys.current_kid(db)}) for the"
        f" kit's end; queued for {sent} audit.checkpoint subscriber(s)"
    )


def _rotate(db: Database, settings: Settings) -> int:
    from services.audit import keys
    from services.audit.checkpoints import load_key

    signer = load_key(settings)
    old = signer.current(db)
    new = signer.rotate(db)
    print(
        f"audit key rotated: {new.key_id} signs from now"
        f" ({'previous ' + old.key_id if old else 'no previous key here'}, still published);"
        f" private key in {signer.folder / ('audit-ed25519-' + new.key_id + '.pem')}"
    )
    print(f"published keys: {', '.join(keys.published(db))}")
    return 0


def _write_ndjson(path: Path, rows: Any) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for row in rows:
            line = json.dumps(row, separators=(",", ":")).encode() + b"\n"
            digest.update(line)
            f.write(line)
    return digest.hexdigest()


def _write_json(path: Path, value: Any) -> str:
    data = json.dumps(value, indent=1).encode() + b"\n"
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def export(db: Database, slug: str, schema: str, through: int, out: Path) -> dict[str, Any]:
    """Write the kit into `out`; returns the manifest with its own SHA-256 added."""
    from services.audit import keys

    s = sql.Identifier(schema)
    through = through or _head(db, schema)
    out.mkdir(parents=True, exist_ok=True)
    counted = {"events": 0}

    def events() -> Any:
        query = sql.SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,"
            " c.hash FROM {s}.events e LEFT JOIN {s}.chain c USING (notification_id)"
            " WHERE e.notification_id <= %s ORDER BY e.notification_id"
        ).format(s=s)
        with db.connection() as conn, conn.transaction(), conn.cursor(name="kit_events") as cur:
            cur.itersize = 5000
            cur.execute(query, (through,))
            for position, originator_id, version, topic, state, chain_hash in cur:
                counted["events"] += 1
                stored = bytes(state)
                try:  # the stored JSON, readable; its personal fields stay as stored (encrypted)
                    event: Any = json.loads(stored)
                except ValueError:
                    event = None
                yield {
                    "position": position,
                    "originator_id": str(originator_id),
                    "version": version,
                    "topic": topic,
                    "state": base64.b64encode(stored).decode(),
                    "hash": None if chain_hash is None else bytes(chain_hash).hex(),
                    "event": event,
                }

    def chain() -> Any:
        query = sql.SQL(
            "SELECT notification_id, hash FROM {s}.chain WHERE notification_id <= %s"
            " ORDER BY notification_id"
        ).format(s=s)
        with db.connection() as conn, conn.transaction(), conn.cursor(name="kit_chain") as cur:
            cur.itersize = 5000
            cur.execute(query, (through,))
            for position, chain_hash in cur:
                yield {"position": position, "hash": bytes(chain_hash).hex()}

    checkpoints = [
        {
            "position": position,
            "hash": bytes(chain_hash).hex(),
            "kid": kid,
            "signature": bytes(signature).hex(),
            "signed_at": signed_at.isoformat(),
        }
        for position, chain_hash, kid, signature, signed_at in db.fetchall(
            sql.SQL(
                "SELECT notification_id, hash, key_id, signature, signed_at FROM {s}.checkpoints"
                " WHERE notification_id <= %s ORDER BY notification_id"
            ).format(s=s),
            (through,),
        )
    ]
    files = {
        "events.ndjson": _write_ndjson(out / "events.ndjson", events()),
        "chain.ndjson": _write_ndjson(out / "chain.ndjson", chain()),
        "checkpoints.json": _write_json(out / "checkpoints.json", checkpoints),
        "public-keys.json": _write_json(out / "public-keys.json", keys.jwks(keys.published(db))),
    }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "grantee": slug,
        "schema": schema,
        "through": through,
        "events": counted["events"],
        "checkpoints": len(checkpoints),
        # Where the signatures end: records after it are in the chain but under no signature
        # (the verifier checks this against the checkpoints and says so, exit 5).
        "signed_through": max((c["position"] for c in checkpoints), default=0),
        "files": files,
    }
    digest = _write_json(out / "manifest.json", manifest)
    (out / "manifest.json.sha256").write_text(f"{digest}  manifest.json\n")
    return {**manifest, "sha256": digest}
