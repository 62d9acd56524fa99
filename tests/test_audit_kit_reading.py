"""An outside auditor trusts nothing the kit says about itself: the standalone verifier checks
that each line's readable `event` is what its `state` decodes to, names lines out of order as
moved records, names the file and line of an unreadable line, and words a signed checkpoint
the rewritten log misses as `prowd verify` and the API do (only what the signature proves)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from services.audit import checkpoints
from services.audit.verify import record_hash
from tests.test_audit_keys import World, add_events, as_superuser, auditor_keys, run
from tests.test_audit_keys import world as world  # the fixture
from tools import prowd_audit_verify as standalone


def exported(w: World, tmp_path: Path, name: str = "kit") -> Path:
    checkpoints.sign_if_due(w.db, w.schema, checkpoints.load_key(w.settings), force=True)
    kit = tmp_path / name
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    return kit


def repinned(kit: Path) -> None:
    """What a tamperer does after editing a file: recompute the manifest's file hashes and the
    manifest's own SHA-256, so that the manifest check passes."""
    manifest = json.loads((kit / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((kit / name).read_bytes()).hexdigest()
    data = json.dumps(manifest, indent=1).encode() + b"\n"
    (kit / "manifest.json").write_bytes(data)
    (kit / "manifest.json.sha256").write_text(
        f"{hashlib.sha256(data).hexdigest()}  manifest.json\n"
    )


def edit_line(kit: Path, number: int, change: Any, name: str = "events.ndjson") -> None:
    lines = (kit / name).read_text().splitlines()
    row = json.loads(lines[number - 1])
    change(row)
    lines[number - 1] = json.dumps(row, separators=(",", ":"))
    (kit / name).write_text("\n".join(lines) + "\n")
    repinned(kit)


def verified(w: World, kit: Path, capsys: Any) -> tuple[int, str]:
    """The standalone verifier's exit code and output on `kit`, with the keys an auditor
    fetched from the platform."""
    keys = auditor_keys(w)
    capsys.readouterr()  # what the export and the request for the keys printed
    code = standalone.main([str(kit), "--keys", keys])
    return code, capsys.readouterr().out


def test_a_readable_event_that_is_not_its_state_is_tampering(world, capsys, tmp_path):
    kit = exported(world, tmp_path)
    assert verified(world, kit, capsys) == (
        0,
        f"{kit}: intact, 4 events verified (through 4, 1 checkpoint)\n",
    )

    def recorded_by(row: dict[str, Any]) -> None:
        row["event"]["recorded_by"] = "someone-else"

    edit_line(kit, 3, recorded_by)
    code, out = verified(world, kit, capsys)
    assert code == 1, out
    assert "tampered at position 3: the readable event does not match its stored state" in out
    assert "event.recorded_by" in out

    # A value of another type, a field added, a field taken away: each is named.
    kit = exported(world, tmp_path, "kit2")

    def retyped(row: dict[str, Any]) -> None:
        row["event"]["kind"] = 0
        row["event"]["approved"] = True
        del row["event"]["recorded_by"]

    edit_line(kit, 1, retyped)
    code, out = verified(world, kit, capsys)
    assert code == 1, out
    assert (
        "tampered at position 1: the readable event does not match its stored state (differs:"
        " event.kind, event.approved, event.recorded_by)" in out
    ), out

    # A key twice (a reader may show either value) and a field the export does not write.
    kit = exported(world, tmp_path, "kit4")
    lines = (kit / "events.ndjson").read_text().splitlines()
    lines[1] = lines[1].replace('"recorded_by":', '"recorded_by":"someone-else","recorded_by":', 1)
    (kit / "events.ndjson").write_text("\n".join(lines) + "\n")
    repinned(kit)
    code, out = verified(world, kit, capsys)
    assert code == 1, out
    assert "tampered at position 2: events.ndjson line 2 has a duplicate key 'recorded_by'" in out
    kit = exported(world, tmp_path, "kit5")
    edit_line(kit, 2, lambda row: row.update(note="approved by the auditor"))
    code, out = verified(world, kit, capsys)
    assert code == 1, out
    assert "tampered at position 2: the line has fields the export does not write (note)" in out

    # Layout alone (members in another order, spaces) changes nothing an auditor reads.
    kit = exported(world, tmp_path, "kit6")
    lines = (kit / "events.ndjson").read_text().splitlines()
    row = json.loads(lines[1])
    row["event"] = dict(reversed(row["event"].items()))
    lines[1] = json.dumps(row, indent=1).replace("\n", " ")
    (kit / "events.ndjson").write_text("\n".join(lines) + "\n")
    repinned(kit)
    assert verified(world, kit, capsys)[0] == 0

    # The readable chain hash beside the record is checked too.
    kit = exported(world, tmp_path, "kit3")
    edit_line(kit, 2, lambda row: row.update(hash="00" * 32))
    code, out = verified(world, kit, capsys)
    assert code == 1 and "tampered at position 2: the line's hash is not the chain's" in out, out


def test_json_values_python_calls_equal_are_different_events():
    """true == 1 == 1.0 in Python; as JSON they are three values."""
    assert standalone.differences(
        {"a": True, "b": 1.0, "c": [1]}, {"a": 1, "b": 1, "c": [1, 2]}
    ) == [
        "event.a",
        "event.b",
        "event.c[1]",
    ]
    assert standalone.differences({"x y": {"n": None}}, {"x y": {"n": None}}) == []
    assert standalone.differences({"x y": 1}, {}) == ['event["x y"]']
    assert standalone.decoded(b"\x00not json") is None


def test_lines_out_of_order_are_a_moved_record(world, capsys, tmp_path):
    for name in ("events.ndjson", "chain.ndjson"):
        kit = exported(world, tmp_path, name)
        lines = (kit / name).read_text().splitlines()
        lines[1], lines[2] = lines[2], lines[1]
        (kit / name).write_text("\n".join(lines) + "\n")
        repinned(kit)
        code, out = verified(world, kit, capsys)
        assert code == 1, out
        assert (
            f"tampered at position 2: a record was moved: {name} lists position 3 before"
            " position 2 (out of order)" in out
        ), out
        assert "deleted" not in out and "inserted" not in out


def test_a_line_twice_is_named(world, capsys, tmp_path):
    kit = exported(world, tmp_path)
    lines = (kit / "events.ndjson").read_text().splitlines()
    (kit / "events.ndjson").write_text("\n".join([*lines[:2], lines[1], *lines[2:]]) + "\n")
    repinned(kit)
    code, out = verified(world, kit, capsys)
    assert code == 1 and "position 2 appears twice in events.ndjson (lines 2 and 3)" in out, out


def test_an_unreadable_line_names_its_file_and_line(world, capsys, tmp_path):
    kit = exported(world, tmp_path)
    lines = (kit / "events.ndjson").read_text().splitlines()
    lines[2] = lines[2].replace('"topic":"', '"topic":"\x01', 1)
    (kit / "events.ndjson").write_text("\n".join(lines) + "\n")
    repinned(kit)
    code, out = verified(world, kit, capsys)
    assert code == 2, out
    assert (
        "cannot read the export: events.ndjson line 3: Invalid control character at column" in out
    ), out

    kit = exported(world, tmp_path, "kit2")
    edit_line(kit, 2, lambda row: row.update(state=row["state"][:-1]))
    code, out = verified(world, kit, capsys)
    assert code == 2 and "events.ndjson line 2: the state is not base64" in out, out

    (kit / "checkpoints.json").write_text("[{")
    repinned(kit)
    code, out = verified(world, kit, capsys)
    assert code == 2, out
    assert (
        "cannot read the export: checkpoints.json: Expecting property name enclosed in double"
        in out
    )
    assert "at line 1 column 3" in out


def rewrite_and_rechain(w: World, position: int) -> None:
    """A careful tamperer: event `position` changed, every chain hash recomputed by the
    documented rule."""
    as_superuser(
        w,
        f"UPDATE {w.schema}.events SET state = state || '\\x00'::bytea"
        f" WHERE notification_id = {position}",
    )
    rows = w.db.fetchall(
        f"SELECT notification_id, originator_id, originator_version, topic, state"
        f' FROM "{w.schema}".events ORDER BY 1'
    )
    previous = b""
    for at, originator_id, version, topic, state in rows:
        previous = record_hash(previous, at, originator_id, version, topic, bytes(state))
        as_superuser(
            w,
            f"UPDATE {w.schema}.chain SET hash = '\\x{previous.hex()}'::bytea"
            f" WHERE notification_id = {at}",
        )


def test_a_rechained_rewrite_claims_only_what_the_checkpoints_prove(world, auth, capsys, tmp_path):
    """Checkpoints at 4 and 7; event 6 rewritten and the chain recomputed. The checkpoint at 7
    proves only that some record after 4 and at or before 7 changed: no first bad position,
    nothing past 4 verified. `prowd verify`, the API and the kit say the same."""
    w = world
    signer = checkpoints.load_key(w.settings)
    assert checkpoints.sign_if_due(w.db, w.schema, signer, force=True) == 4
    add_events(w, auth, 3)
    assert checkpoints.sign_if_due(w.db, w.schema, signer, force=True) == 7
    rewrite_and_rechain(w, 6)
    problem = (
        "the log through position 7 does not match the signed checkpoint at 7: some record"
        " from position 5 through 7 was changed (chain and events alike); events verified by"
        " signature: through the previous checkpoint at 4"
    )

    assert run(w, "verify", "--grantee", w.slug) == 1
    out = capsys.readouterr().out
    assert f"{w.slug}: tampered at or before position 7: {problem}\n" in out, out
    assert "verified before it" not in out

    body = w.client.get(
        f"/v1/grantees/{w.slug}/audit/verification", headers=auth("auditor", w.slug)
    ).json()
    assert body == {
        "intact": False,
        "checked": 4,
        "head": 7,
        "first_bad_position": None,
        "bad_from": 5,
        "bad_through": 7,
        "problem": problem,
        "verdict": "tampered",
        "signed_through": None,
        "unsigned": None,
    }

    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    code, out = verified(w, kit, capsys)
    assert (code, out) == (1, f"{kit}: tampered at or before position 7: {problem}\n")


def test_a_rewrite_before_the_first_checkpoint_has_nothing_verified_by_signature(
    world, auth, capsys, tmp_path
):
    w = world
    assert checkpoints.sign_if_due(w.db, w.schema, checkpoints.load_key(w.settings)) == 4
    rewrite_and_rechain(w, 2)
    problem = (
        "the log through position 4 does not match the signed checkpoint at 4: some record"
        " at or before position 4 was changed (chain and events alike); no earlier"
        " checkpoint: no event is verified by signature"
    )
    assert run(w, "verify", "--grantee", w.slug) == 1
    assert f"tampered at or before position 4: {problem}\n" in capsys.readouterr().out
    kit = tmp_path / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(kit)) == 0
    assert verified(w, kit, capsys) == (1, f"{kit}: tampered at or before position 4: {problem}\n")
