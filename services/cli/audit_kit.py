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
    from services.app.tenancy import Tenancy

    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        if args.audit_action == "rotate-key":
            return _rotate(db, settings)
        info = tenancy.grantee(args.grantee)
        if info is None:
            print(f"prowd audit export: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        out = Path(args.output)
        if out.exists() and any(out.iterdir()):
            print(f"prowd audit export: {out} is not empty", file=sys.stderr)
            return 2
        if args.through < 0:
            print("prowd audit export: --through must be a position (>= 0)", file=sys.stderr)
            return 2
        manifest = export(db, args.grantee, info.schema, args.through, out)
        print(
            f"{args.grantee}: exported {manifest['events']} events through position"
            f" {manifest['through']} to {out} (manifest SHA-256 {manifest['sha256']})"
        )
        return 0


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
    if not through:
        row = db.fetchone(
            sql.SQL(
                "SELECT greatest((SELECT coalesce(max(notification_id), 0) FROM {s}.events),"
                " (SELECT coalesce(max(notification_id), 0) FROM {s}.chain))"
            ).format(s=s)
        )
        through = int(row[0]) if row else 0
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
        "files": files,
    }
    digest = _write_json(out / "manifest.json", manifest)
    (out / "manifest.json.sha256").write_text(f"{digest}  manifest.json\n")
    return {**manifest, "sha256": digest}
