#!/usr/bin/env python3
"""Verify a PROWD Ledger audit export offline: `python prowd_audit_verify.py EXPORT_DIR --keys FILE`.

Needs only the Python standard library and `cryptography` (for Ed25519); the platform is not
needed. It checks the manifest's SHA-256 and the files it lists, recomputes the hash chain from
the exported records (the byte layout is specified in docs/audit.md, "The hashing rule"), and
checks every signed checkpoint against the auditor's public key set: the key known, the signing
time within the key's validity, the signature good, the signed hash on the recomputed chain.
What a reader reads is checked too: each line's `event` must be exactly what its `state`
decodes to (docs/audit.md, "What the standalone verifier checks"), and its `hash` the chain's.

Verdicts and exit codes, as `prowd verify`'s: 0 intact and signed to the end; 1 tampered at
position N (or the export does not match its manifest); 2 usage (no such folder, unreadable
file); 3 unknown key id K at position N; 4 checkpoint outside its key's validity; 5 intact but
with events after the last signed checkpoint: the chain holds them together, no signature covers
them, so a rewrite of them with their hashes recomputed would not show (`--no-require-signed`
makes that 0; the words still say where the signatures end); 6 not verified: no key set of the
auditor's own was given.

The signatures are checked against `--keys FILE`, the key set the auditor fetched themselves
from the platform (GET /v1/audit/public-keys). The kit's own `public-keys.json` proves nothing
by itself: whoever rewrites a kit end to end can sign it with a key of their own and put that
key in the kit. So without `--keys` the verifier refuses (exit 6); `--trust-kit-keys` checks
against the kit's keys anyway, and then its verdict says so and names each key that signed, by
id and by the SHA-256 fingerprint computed here from the key itself, to compare with the
platform's published ones.
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
UNSIGNED_TAIL = 5
NO_KEYS = 6
NO_KEYS_TEXT = (
    "not verified: no key set of your own to check the signatures with. Fetch the platform's"
    " public keys yourself (GET /v1/audit/public-keys) and give them with --keys FILE: the"
    " kit's own public-keys.json proves nothing, since whoever rewrites a kit can sign it with"
    " a key of their own and put that key in it (--trust-kit-keys uses the kit's keys anyway"
    " and says so)"
)


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


def moved(position: int, name: str, before: int) -> Verdict:
    return tampered(
        position,
        f"a record was moved: {name} lists position {before} before position {position}"
        " (out of order)",
    )


def checkpoint_message(schema: str, position: int, digest: bytes) -> bytes:
    return f"prowd-checkpoint:{schema}:{position}:{digest.hex()}".encode()


def fingerprint(raw: bytes) -> str:
    """A key's fingerprint as the platform publishes it: SHA-256 of the 32 raw public bytes."""
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def load_keys(document: dict, name: str) -> dict:
    """Key id -> (public key, not before, not after, fingerprint). A key's id is the first 16
    hex digits of its SHA-256, as the platform makes it: a key listed under another key's id
    is refused, so an id that matches a published one means the same key."""
    keys = {}
    for k in document["keys"]:
        x = k["x"]
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        if len(raw) != 32 or hashlib.sha256(raw).hexdigest()[:16] != k["kid"]:
            raise Unreadable(f"{name}: key {k['kid']} is not the Ed25519 key its id names")
        nb, na = k.get("not_before"), k.get("not_after")
        keys[k["kid"]] = (
            Ed25519PublicKey.from_public_bytes(raw),
            None if nb is None else datetime.fromisoformat(nb),
            None if na is None else datetime.fromisoformat(na),
            fingerprint(raw),
        )
    return keys


class Unreadable(Exception):
    """A file of the export that cannot be read (exit 2), named with its line."""


def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


_strict = json.JSONDecoder(object_pairs_hook=_no_duplicates).decode


def _why(e: ValueError, one_line: bool = False) -> str:
    """The parser's reason, placed in the line (NDJSON) or in the file (a JSON document)."""
    if isinstance(e, json.JSONDecodeError):
        where = f"column {e.colno}" if one_line else f"line {e.lineno} column {e.colno}"
        return f"{e.msg.removesuffix(' at')} at {where}"
    return str(e)


def read_json(path: Path):
    """A JSON document of the export; unreadable (naming the file) if it is not JSON or has a
    key twice."""
    try:
        return _strict(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise Unreadable(f"{path.name}: {_why(e)}") from None


EVENT_FIELDS = {"position": int, "originator_id": str, "version": int, "topic": str, "state": str}
CHAIN_FIELDS = {"position": int, "hash": str}
# What the exporter writes on an events line, in its order (services/cli/audit_kit.py).
EVENT_LINE = (*EVENT_FIELDS, "hash", "event")
_line = json.JSONEncoder(separators=(",", ":")).encode


def read_ndjson(path: Path, fields: dict[str, type], duplicates: bool = True):
    """(line number, line, row) per line; a line that is not one JSON object with `fields` of
    their types is unreadable, named by file and line. `duplicates=False`: a key twice is
    unreadable too (events lines are checked for it in `check_readable`, only when needed)."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            try:
                row = json.loads(line) if duplicates else _strict(line.decode())
            except ValueError as e:
                raise Unreadable(f"{path.name} line {number}: {_why(e, True)}") from None
            if not isinstance(row, dict):
                raise Unreadable(f"{path.name} line {number}: not a JSON object")
            for name, kind in fields.items():
                if name not in row:
                    raise Unreadable(f"{path.name} line {number}: no {name}")
                if type(row[name]) is not kind:
                    raise Unreadable(f"{path.name} line {number}: {name} is not a {kind.__name__}")
            yield number, line, row


def line_of(path: Path, position: int, after: int) -> int | None:
    """The number of the first line after line `after` that holds `position` (read again only
    once tampering is found, to tell a moved record from a deleted or inserted one)."""
    for number, _, row in read_ndjson(path, {"position": int}):
        if number > after and row["position"] == position:
            return number
    return None


def check_readable(position: int, number: int, line: bytes, row: dict, state: bytes) -> None:
    """The line is what the exporter writes for this record: its readable `event` is the stored
    state decoded, nothing is added. Fast path: the line is byte for byte the exporter's form
    of its fields with `event` replaced by the decoded state. Otherwise the line is read again,
    strictly: a key twice, a field the export does not write, or an `event` that is not the
    decoded state (as JSON values, member order aside) is tampering; layout alone is not."""
    stored = decoded(state)
    expected = {name: row.get(name) for name in EVENT_LINE}
    expected["event"] = stored
    if _line(expected).encode() == line.rstrip(b"\n"):
        return
    try:
        _strict(line.decode())
    except ValueError as e:
        raise tampered(position, f"events.ndjson line {number} has a {e}") from None
    extra = [k for k in row if k not in EVENT_LINE]
    if extra:
        raise tampered(
            position, f"the line has fields the export does not write ({', '.join(extra)})"
        )
    differ = ["event"] if "event" not in row else differences(row["event"], stored)
    if differ:
        shown = ", ".join(differ[:10]) + (
            f" and {len(differ) - 10} more" if len(differ) > 10 else ""
        )
        raise tampered(
            position, f"the readable event does not match its stored state (differs: {shown})"
        )


def decoded(state: bytes):
    """What the export's readable `event` is: the stored bytes parsed as JSON, or null when
    they are not JSON (the exporter's rule; nothing is decrypted)."""
    try:
        return json.loads(state)
    except ValueError:
        return None


def differences(shown, stored, path: str = "event") -> list[str]:
    """The paths at which `shown` is not `stored` as JSON values: another JSON type (true is not
    1, 1.0 is not 1), another value, a member or item added or taken away."""
    if type(shown) is not type(stored):
        return [path]
    if isinstance(shown, dict):
        found = []
        for key in [*shown, *(k for k in stored if k not in shown)]:
            inner = f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"
            if key not in shown or key not in stored:
                found.append(inner)
            else:
                found += differences(shown[key], stored[key], inner)
        return found
    if isinstance(shown, list):
        found = [
            f"{path}[{i}]"
            for i in range(min(len(shown), len(stored)), max(len(shown), len(stored)))
        ]
        for i, (a, b) in enumerate(zip(shown, stored, strict=False)):
            found += differences(a, b, f"{path}[{i}]")
        return found
    if isinstance(shown, float):
        return [] if repr(shown) == repr(stored) else [path]
    return [] if shown == stored else [path]


def contradiction(position: int, proven: int, what: str) -> Verdict:
    """A signed head the recomputed chain misses: only that some record after the last head
    that matched (`proven`, 0 for none) and at or before `position` changed is known."""
    where = (
        f"some record from position {proven + 1} through {position}"
        if proven
        else f"some record at or before position {position}"
    )
    by_signature = (
        f"events verified by signature: through the previous {what} at {proven}"
        if proven
        else f"no earlier {what}: no event is verified by signature"
    )
    return Verdict(
        1,
        f"tampered at or before position {position}: the log through position {position} does"
        f" not match the signed {what} at {position}: {where} was changed (chain and events"
        f" alike); {by_signature}",
    )


def unsigned_tail(signed_through: int, unsigned: int, first: int, last: int) -> str:
    """Events no signature covers, as `prowd verify` words them."""
    span = f"position {first}" if first == last else f"positions {first} through {last}"
    after = " after the last checkpoint" if signed_through else ""
    return (
        f"{unsigned} event{'' if unsigned == 1 else 's'}{after} ({span})"
        f" {'is' if unsigned == 1 else 'are'} chained but not covered by a signature"
    )


def check_manifest(folder: Path) -> dict:
    data = (folder / "manifest.json").read_bytes()
    expected = (folder / "manifest.json.sha256").read_text().split()[0]
    if hashlib.sha256(data).hexdigest() != expected:
        raise Verdict(1, "the manifest does not match its SHA-256")
    manifest = read_json(folder / "manifest.json")
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


NONE = (0, b"", None)


def kit_keys_used(keys: dict, used: list[str]) -> str:
    """What a verdict under the kit's own keys adds: that they are the kit's, and each key that
    signed, with the fingerprint computed from the key, to compare with the published ones."""
    kids = list(dict.fromkeys(used))
    named = ", ".join(f"{kid} ({keys[kid][3]})" for kid in kids)
    compare = (
        f"; compare key{'s' if len(kids) > 1 else ''} {named} with GET /v1/audit/public-keys"
        if kids
        else ""
    )
    return (
        "; signatures checked against the kit's own keys (--trust-kit-keys), which whoever"
        f" rewrites the kit replaces too{compare}"
    )


def verify(folder: Path, keys_file: Path | None) -> tuple[int, str]:
    """The verdict on the kit in `folder`, its signatures checked against the key set in
    `keys_file`; None: against the kit's own keys (`--trust-kit-keys`), which the verdict then
    says."""
    manifest = check_manifest(folder)
    schema = manifest["schema"]
    keys_path = keys_file or folder / "public-keys.json"
    keys = load_keys(read_json(keys_path), keys_path.name)
    signed, used = {}, []
    for c in read_json(folder / "checkpoints.json"):
        position, digest = c["position"], bytes.fromhex(c["hash"])
        if c["kid"] not in keys:
            raise Verdict(3, f"unknown key id {c['kid']} at position {position}")
        public, not_before, not_after, _ = keys[c["kid"]]
        used.append(c["kid"])
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

    events_file, chain_file = folder / "events.ndjson", folder / "chain.ndjson"
    events = read_ndjson(events_file, EVENT_FIELDS)
    links = read_ndjson(chain_file, CHAIN_FIELDS, duplicates=False)
    (e_line, raw, event), (c_line, _, link) = next(events, NONE), next(links, NONE)
    previous, checked, proven, proven_count, unsigned_from, position = b"", 0, 0, 0, 0, 0
    last = {events_file.name: (0, 0), chain_file.name: (0, 0)}
    while event is not None or link is not None:
        for name, number, row in (
            (events_file.name, e_line, event),
            (chain_file.name, c_line, link),
        ):
            if row is None:
                continue
            before, before_line = last[name]
            if row["position"] == before:
                raise tampered(
                    before,
                    f"position {before} appears twice in {name} (lines {before_line} and {number})",
                )
            if row["position"] < before:
                raise moved(row["position"], name, before)
            last[name] = (row["position"], number)
        if link is None or (event is not None and event["position"] < link["position"]):
            if link is not None and line_of(chain_file, event["position"], c_line):
                raise moved(event["position"], chain_file.name, link["position"])
            raise tampered(event["position"], "a record was inserted into the log")
        if event is None or link["position"] < event["position"]:
            if event is not None and line_of(events_file, link["position"], e_line):
                raise moved(link["position"], events_file.name, event["position"])
            raise tampered(link["position"], "a record was deleted from the log")
        position = event["position"]
        try:
            state = base64.b64decode(event["state"], validate=True)
        except ValueError as e:
            raise Unreadable(
                f"{events_file.name} line {e_line}: the state is not base64: {e}"
            ) from None
        record = record_bytes(
            position, event["originator_id"], event["version"], event["topic"], state
        )
        expected = chain_hash(previous, record)
        if expected.hex() != link["hash"]:
            raise tampered(position, "a record was altered or moved")
        if position in signed:
            if signed[position] != expected:
                raise contradiction(position, proven, "checkpoint")
            proven, proven_count = position, checked + 1
        unsigned_from = 0 if proven == position else unsigned_from or position
        check_readable(position, e_line, raw, event, state)
        if event.get("hash") != link["hash"]:
            raise tampered(position, "the line's hash is not the chain's")
        previous, checked = expected, checked + 1
        (e_line, raw, event), (c_line, _, link) = next(events, NONE), next(links, NONE)
    head = manifest["through"]
    beyond = max(signed, default=0)
    if beyond > head:
        raise tampered(
            head + 1,
            f"truncated after position {head}: a signed checkpoint stands at position {beyond}",
        )
    claimed = manifest.get("signed_through", proven)
    if claimed != proven:
        raise Verdict(
            1,
            f"the manifest says signatures reach position {claimed};"
            f" its checkpoints reach position {proven}",
        )
    marks = f"{len(signed)} checkpoint{'' if len(signed) == 1 else 's'}"
    whose = "" if keys_file else kit_keys_used(keys, used)
    unsigned = checked - proven_count
    if not unsigned:
        return 0, f"intact, {checked} events verified (through {head}, {marks}){whose}"
    tail = unsigned_tail(proven, unsigned, unsigned_from, position)
    if not proven:
        return (
            UNSIGNED_TAIL,
            f"intact but signed nowhere: {tail} (through {head}, {marks}){whose}",
        )
    some = f"{proven_count} event{'' if proven_count == 1 else 's'}"
    return (
        UNSIGNED_TAIL,
        f"intact and signed through {proven} ({some} verified); {tail}"
        f" (through {head}, {marks}){whose}",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Verify a PROWD Ledger audit export offline.")
    p.add_argument("folder", type=Path)
    given = p.add_mutually_exclusive_group()
    given.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="the platform's public key set as you fetched it yourself (GET /v1/audit/public-keys);"
        " required unless --trust-kit-keys",
    )
    given.add_argument(
        "--trust-kit-keys",
        action="store_true",
        help="check the signatures against the kit's own public-keys.json, which proves nothing"
        " by itself; the verdict says so and names each key's fingerprint to compare",
    )
    p.add_argument(
        "--require-signed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="exit 5 when events lie after the last signed checkpoint (default: required)",
    )
    args = p.parse_args(argv)
    if args.keys is None and not args.trust_kit_keys:
        print(f"{args.folder}: {NO_KEYS_TEXT}")
        return NO_KEYS
    try:
        code, text = verify(args.folder, args.keys)
        if code == UNSIGNED_TAIL and not args.require_signed:
            code = 0
    except Verdict as v:
        code, text = v.code, v.text
    except Unreadable as e:
        code, text = 2, f"cannot read the export: {e}"
    except (OSError, ValueError, KeyError, struct.error) as e:
        code, text = 2, f"cannot read the export: {e}"
    print(f"{args.folder}: {text}")
    return code


if __name__ == "__main__":
    sys.exit(main())
