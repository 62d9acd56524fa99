"""An outside auditor trusts nothing the kit says about itself, its public keys included. A kit
rewritten end to end (a record changed, the chain recomputed, every checkpoint re-signed with a
key of the forger's, that key put in `public-keys.json`, the manifest recomputed) is
consistent with itself; only keys the auditor fetched from the platform expose it. So the
standalone verifier refuses to give a verdict without them (exit 6), and under the kit's own
keys (`--trust-kit-keys`) it says so and names each signing key's fingerprint to compare."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit import checkpoints
from tests.test_audit_keys import World, auditor_keys, run
from tests.test_audit_keys import world as world  # the fixture
from tests.test_audit_kit_reading import repinned
from tests.test_audit_unsigned_tail import rewrite_kit
from tools import prowd_audit_verify as standalone

NO_KEYS = (
    "not verified: no key set of your own to check the signatures with. Fetch the platform's"
    " public keys yourself (GET /v1/audit/public-keys) and give them with --keys FILE"
)


def exported(w: World, tmp_path: Path) -> Path:
    """A genuine kit of the grantee's four events, signed through its end."""
    checkpoints.sign_if_due(w.db, w.schema, checkpoints.load_key(w.settings), force=True)
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    return kit


def forged(kit: Path, schema: str) -> str:
    """The whole kit rewritten by someone with write access to it but not to the platform's
    signing key: record 3 changed and the chain recomputed, each checkpoint re-signed with a new
    key, that key the kit's only public key, the manifest recomputed. Returns its fingerprint."""
    rewrite_kit(kit, 3)
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes_raw()
    kid = hashlib.sha256(raw).hexdigest()[:16]
    chain = {
        row["position"]: row["hash"]
        for row in map(json.loads, (kit / "chain.ndjson").read_text().splitlines())
    }
    marks = json.loads((kit / "checkpoints.json").read_text())
    for mark in marks:
        mark["hash"], mark["kid"] = chain[mark["position"]], kid
        signed = checkpoints.message(schema, mark["position"], bytes.fromhex(mark["hash"]))
        mark["signature"] = forger.sign(signed).hex()
    (kit / "checkpoints.json").write_text(json.dumps(marks, indent=1) + "\n")
    fingerprint = "SHA256:" + hashlib.sha256(raw).hexdigest()
    key = {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": kid,
        "x": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "not_before": None,
        "not_after": None,
        "fingerprint": fingerprint,
    }
    (kit / "public-keys.json").write_text(json.dumps({"keys": [key]}, indent=1) + "\n")
    repinned(kit)
    return f"{kid} ({fingerprint})"


def verdict(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # what came before
    code = standalone.main(list(argv))
    return code, capsys.readouterr().out


def test_a_kit_rewritten_with_a_key_of_its_own_is_not_called_intact(world, capsys, tmp_path):
    w = world
    kit = exported(w, tmp_path)
    forger = forged(kit, w.schema)

    # Without keys of the auditor's own there is no verdict, whatever the kit holds.
    code, out = verdict(capsys, str(kit))
    assert (code, "intact" in out) == (6, False), out
    assert out.startswith(f"{kit}: {NO_KEYS}"), out

    # Against the keys the platform publishes, the forger's key is nobody's.
    code, out = verdict(capsys, str(kit), "--keys", auditor_keys(w))
    assert code == 3, out
    assert f"unknown key id {forger.split()[0]} at position 4" in out

    # Asked to trust the kit's keys, it says so and names the key to compare.
    code, out = verdict(capsys, str(kit), "--trust-kit-keys")
    assert (code, out) == (
        0,
        f"{kit}: intact, 4 events verified (through 4, 1 checkpoint); signatures checked"
        " against the kit's own keys (--trust-kit-keys), which whoever rewrites the kit"
        f" replaces too; compare key {forger} with GET /v1/audit/public-keys\n",
    )


def test_under_the_kits_own_keys_the_verdict_names_the_fingerprints_the_platform_publishes(
    world, capsys, tmp_path
):
    w = world
    kit = exported(w, tmp_path)
    (published,) = w.client.get("/v1/audit/public-keys").json()["keys"]
    code, out = verdict(capsys, str(kit), "--trust-kit-keys")
    assert code == 0, out
    assert f"compare key {published['kid']} ({published['fingerprint']})" in out, out

    # Both at once is a usage error; a key listed under another key's id is refused.
    with pytest.raises(SystemExit) as usage:
        standalone.main([str(kit), "--trust-kit-keys", "--keys", auditor_keys(w)])
    assert usage.value.code == 2
    document = json.loads((kit / "public-keys.json").read_text())
    document["keys"][0]["x"] = base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
    (kit / "public-keys.json").write_text(json.dumps(document))
    repinned(kit)
    code, out = verdict(capsys, str(kit), "--trust-kit-keys")
    assert code == 2, out
    assert f"public-keys.json: key {published['kid']} is not the Ed25519 key its id names" in out
