"""Events after the last signed checkpoint: chained, but no signature covers them (decision
134). Neither verifier calls them verified; the standalone verifier exits 5 on them unless told
otherwise, `prowd verify --require-signed` too; the export signs the kit to its end."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from services.audit import checkpoints
from tests.test_audit_keys import World, add_events, auditor_keys, run
from tests.test_audit_keys import world as world  # the fixture
from tests.test_audit_kit_reading import repinned, rewrite_and_rechain, verified
from tools import prowd_audit_verify as standalone

TAIL = (
    "3 events after the last checkpoint (positions 5 through 7) are chained but not covered by"
    " a signature"
)


def signed_at_4_then_3_more(w: World, auth) -> None:
    assert checkpoints.sign_if_due(w.db, w.schema, checkpoints.load_key(w.settings)) == 4
    add_events(w, auth, 3)


def rewrite_kit(kit: Path, position: int) -> None:
    """The attack on a kit: the record at `position` rewritten (its stored state and readable
    event alike), every chain hash from there recomputed by the documented rule, the manifest
    and its SHA-256 recomputed."""
    lines = [json.loads(line) for line in (kit / "events.ndjson").read_text().splitlines()]
    previous = b""
    for row in lines:
        if row["position"] == position:
            row["event"] = {**row["event"], "name": "rewritten"}
            row["state"] = base64.b64encode(json.dumps(row["event"]).encode()).decode()
        record = standalone.record_bytes(
            row["position"],
            row["originator_id"],
            row["version"],
            row["topic"],
            base64.b64decode(row["state"]),
        )
        previous = standalone.chain_hash(previous, record)
        row["hash"] = previous.hex()
    (kit / "events.ndjson").write_text(
        "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in lines)
    )
    (kit / "chain.ndjson").write_text(
        "".join(
            json.dumps({"position": r["position"], "hash": r["hash"]}, separators=(",", ":")) + "\n"
            for r in lines
        )
    )
    repinned(kit)


def test_a_rewritten_unsigned_tail_of_a_kit_is_not_called_verified(world, auth, capsys, tmp_path):
    """The reported attack: a kit through 7 whose last checkpoint is at 4; event 7 rewritten,
    the chain of 5 to 7, the manifest and its SHA-256 recomputed. The verifier cannot see the
    rewrite (nothing signed covers it) and says so, exit 5: never `7 events verified`."""
    w = world
    signed_at_4_then_3_more(w, auth)
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--no-sign", "--output", str(kit)) == 0
    assert "signed through 4" in capsys.readouterr().out
    assert json.loads((kit / "manifest.json").read_text())["signed_through"] == 4
    said = f"intact and signed through 4 (4 events verified); {TAIL} (through 7, 1 checkpoint)"
    assert verified(w, kit, capsys) == (5, f"{kit}: {said}\n")

    rewrite_kit(kit, 7)
    assert verified(w, kit, capsys) == (5, f"{kit}: {said}\n")
    # An auditor who accepts an unsigned tail says so; the words do not change.
    keys = auditor_keys(w)
    capsys.readouterr()
    assert standalone.main([str(kit), "--keys", keys, "--no-require-signed"]) == 0
    assert capsys.readouterr().out == f"{kit}: {said}\n"


def test_the_export_signs_the_kit_to_its_end_so_the_same_rewrite_is_tampering(
    world, auth, capsys, tmp_path
):
    w = world
    signed_at_4_then_3_more(w, auth)
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    out = capsys.readouterr().out
    assert "checkpoint signed at position 7" in out and "signed through 7" in out
    assert json.loads((kit / "manifest.json").read_text())["signed_through"] == 7
    assert verified(w, kit, capsys) == (
        0,
        f"{kit}: intact, 7 events verified (through 7, 2 checkpoints)\n",
    )

    rewrite_kit(kit, 7)
    code, out = verified(w, kit, capsys)
    assert (code, out) == (
        1,
        f"{kit}: tampered at or before position 7: the log through position 7 does not match"
        " the signed checkpoint at 7: some record from position 5 through 7 was changed (chain"
        " and events alike); events verified by signature: through the previous checkpoint"
        " at 4\n",
    )
    # A kit through an earlier position is signed at its own end.
    early = tmp_path / "early"
    assert (
        run(w, "audit", "export", "--grantee", w.slug, "--through", "6", "--output", str(early))
        == 0
    )
    assert "checkpoint signed at position 6" in capsys.readouterr().out
    assert verified(w, early, capsys) == (
        0,
        f"{early}: intact, 6 events verified (through 6, 2 checkpoints)\n",
    )


def test_checkpoints_taken_out_of_a_kit_leave_it_unsigned_not_verified(
    world, auth, capsys, tmp_path
):
    """Removing the signature that covers the rewrite: the manifest's claim gives it away; with
    the claim rewritten too, the kit is signed only through 4 again (exit 5)."""
    w = world
    signed_at_4_then_3_more(w, auth)
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    rewrite_kit(kit, 7)
    marks = json.loads((kit / "checkpoints.json").read_text())
    (kit / "checkpoints.json").write_text(json.dumps(marks[:1], indent=1) + "\n")
    repinned(kit)
    assert verified(w, kit, capsys) == (
        1,
        f"{kit}: the manifest says signatures reach position 7; its checkpoints reach position 4\n",
    )
    manifest = json.loads((kit / "manifest.json").read_text())
    manifest["signed_through"] = 4
    (kit / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    repinned(kit)
    assert verified(w, kit, capsys)[0] == 5


def test_prowd_verify_and_the_api_say_where_the_signatures_end(world, auth, capsys):
    """The same rewrite in the database (event 7, chain recomputed): the chain is intact and
    only 4 events are verified by signature; `--require-signed` exits 5; `--sign` closes the
    gap (exit 0)."""
    w = world
    signed_at_4_then_3_more(w, auth)
    rewrite_and_rechain(w, 7)
    capsys.readouterr()  # the requests' log lines
    assert run(w, "verify", "--grantee", w.slug) == 0
    said = f"{w.slug}: intact and signed through 4 (4 events verified); {TAIL} (head 7)\n"
    assert capsys.readouterr().out == said
    assert run(w, "verify", "--grantee", w.slug, "--require-signed") == 5
    assert capsys.readouterr().out == said
    body = w.client.get(
        f"/v1/grantees/{w.slug}/audit/verification", headers=auth("auditor", w.slug)
    ).json()
    assert (body["verdict"], body["signed_through"], body["unsigned"]) == ("intact", 4, 3)
    capsys.readouterr()

    assert run(w, "verify", "--grantee", w.slug, "--require-signed", "--sign") == 0
    assert "checkpoint signed at position 7" in capsys.readouterr().out
    assert run(w, "verify", "--grantee", w.slug, "--require-signed") == 0
    assert capsys.readouterr().out == f"{w.slug}: intact, 7 events verified (head 7)\n"
