#!/usr/bin/env python3
"""Verify a PROWD Ledger audit export offline: `python prowd_audit_verify.py EXPORT_DIR`.

Needs only the Python standard library and `cryptography` (for Ed25519); the platform is not
needed. It checks the manifest's SHA-256 and the files it lists, recomputes the hash chain from
the exported records (the byte layout is specified in docs/audit.md, "The hashing rule"), and
checks every signed checkpoint against the exported public key set: the key known, the signing
time within the key's validity, the signature good, the signed hash on the recomputed chain.

Verdicts and exit codes, as `prowd verify`'s: 0 intact; 1 tampered at position N (or the export
does not match its manifest); 2 usage (no such folder, unreadable file); 3 unknown key id K at
position N; 4 checkpoint outside its key's validity.
`--keys FILE` checks against a key set obtained elsewhere (GET /v1/audit/public-keys) instead
of the one in the export.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import uuid
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "prowd-audit-export/1"


class Verdict(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def tampered(position: int, why: str) -> Verdict:
    return Verdict(1, f"tampered at position {position}: {why}")


def record_bytes(
    position: int, originator_id: str, version: int, topic: str, state: bytes
) -> bytes:
    """One record as hashed: position (int64 BE), originator id (16 bytes), version (int64 BE),
    topic (int32 BE length + UTF-8), stored state (int32 BE length + bytes)."""
    t = topic.encode("utf-8")
    return (
        struct.pack(">q", position)
        + uuid.UUID(originator_id).bytes
        + struct.pack(">q", version)
        + struct.pack(">i", len(t))
        + t
        + struct.pack(">i", len(state))
        + state
    )


def chain_hash(previous: bytes, record: bytes) -> bytes:
    """SHA-256 over the previous record's hash (nothing for the first) and the record."""
    return hashlib.sha256(previous + record).digest()


def checkpoint_message(schema: str, position: int, digest: bytes) -> bytes:
    return f"prowd-checkpoint:{schema}:{position}:{digest.hex()}".encode()


def load_keys(document: dict) -> dict:
    keys = {}
    for k in document["keys"]:
        x = k["x"]
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        nb, na = k.get("not_before"), k.get("not_after")
        keys[k["kid"]] = (
            Ed25519PublicKey.from_public_bytes(raw),
            None if nb is None else datetime.fromisoformat(nb),
            None if na is None else datetime.fromisoformat(na),
        )
    return keys


def read_ndjson(path: Path):
    with path.open("rb") as f:
        for line in f:
            yield json.loads(line)


def check_manifest(folder: Path) -> dict:
    data = (folder / "manifest.json").read_bytes()
    expected = (folder / "manifest.json.sha256").read_text().split()[0]
    if hashlib.sha256(data).hexdigest() != expected:
        raise Verdict(1, "the manifest does not match its SHA-256")
    manifest = json.loads(data)
    if manifest.get("format") != FORMAT:
        raise Verdict(2, f"not a {FORMAT} export")
    for name, digest in manifest["files"].items():
        h = hashlib.sha256()
        with (folder / name).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != digest:
            raise Verdict(1, f"{name} does not match the manifest")
    return manifest


def verify(folder: Path, keys_file: Path | None = None) -> tuple[int, str]:
    manifest = check_manifest(folder)
    schema = manifest["schema"]
    keys_doc = json.loads((keys_file or folder / "public-keys.json").read_text())
    keys = load_keys(keys_doc)
    signed = {}
    for c in json.loads((folder / "checkpoints.json").read_text()):
        position, digest = c["position"], bytes.fromhex(c["hash"])
        if c["kid"] not in keys:
            raise Verdict(3, f"unknown key id {c['kid']} at position {position}")
        public, not_before, not_after = keys[c["kid"]]
        at = datetime.fromisoformat(c["signed_at"])
        if (not_before is not None and at < not_before) or (
            not_after is not None and at >= not_after
        ):
            raise Verdict(
                4,
                f"checkpoint outside its key's validity at position {position}:"
                f" signed at {c['signed_at']} by key {c['kid']}",
            )
        try:
            public.verify(
                bytes.fromhex(c["signature"]), checkpoint_message(schema, position, digest)
            )
        except InvalidSignature:
            raise tampered(position, "a signed checkpoint's signature does not verify") from None
        signed[position] = digest

    events = read_ndjson(folder / "events.ndjson")
    links = read_ndjson(folder / "chain.ndjson")
    event, link = next(events, None), next(links, None)
    previous, checked = b"", 0
    while event is not None or link is not None:
        if link is None or (event is not None and event["position"] < link["position"]):
            raise tampered(event["position"], "a record was inserted into the log")
        if event is None or link["position"] < event["position"]:
            raise tampered(link["position"], "a record was deleted from the log")
        position = event["position"]
        record = record_bytes(
            position,
            event["originator_id"],
            event["version"],
            event["topic"],
            base64.b64decode(event["state"]),
        )
        expected = chain_hash(previous, record)
        if expected.hex() != link["hash"]:
            raise tampered(position, "a record was altered or moved")
        if position in signed and signed[position] != expected:
            raise tampered(position, "the log up to this signed checkpoint was rewritten")
        previous, checked = expected, checked + 1
        event, link = next(events, None), next(links, None)
    head = manifest["through"]
    beyond = max(signed, default=0)
    if beyond > head:
        raise tampered(head + 1, f"truncated after position {head}: a checkpoint at {beyond}")
    return 0, f"intact, {checked} events verified (through {head}, {len(signed)} checkpoints)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Verify a PROWD Ledger audit export offline.")
    p.add_argument("folder", type=Path)
    p.add_argument("--keys", type=Path, default=None, help="a public key set obtained elsewhere")
    args = p.parse_args(argv)
    try:
        code, text = verify(args.folder, args.keys)
    except Verdict as v:
        code, text = v.code, v.text
    except (OSError, ValueError, KeyError) as e:
        code, text = 2, f"cannot read the export: {e}"
    print(f"{args.folder}: {text}")
    return code


if __name__ == "__main__":
    sys.exit(main())
