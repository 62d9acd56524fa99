"""`prowd audit export` refuses in words what it cannot do right, before it signs or writes
anything: an `--output` that is not a new or empty folder, and a `--through` beyond the log's
head (a kit "through 99" of a log whose head is 4 would claim to hold events it does not)."""

from __future__ import annotations

import json

from tests.test_audit_keys import World, run
from tests.test_audit_keys import world as world  # the fixture


def checkpoints_of(w: World) -> int:
    return int(w.db.fetchone(f'SELECT count(*) FROM "{w.schema}".checkpoints')[0])


def test_an_output_that_is_a_file_is_refused_in_words(world, capsys, tmp_path):
    w = world
    target = tmp_path / "kit.zip"
    target.write_text("an auditor's earlier download\n")
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(target)) == 2
    err = capsys.readouterr().err
    assert f"prowd audit export: {target} is not a folder: give a new or empty folder" in err, err
    assert "Traceback" not in err
    assert target.read_text() == "an auditor's earlier download\n"
    assert checkpoints_of(w) == 0  # nothing was signed for a kit that was never written

    # Inside a file there can be no folder either.
    inside = target / "kit"
    assert run(w, "audit", "export", "--grantee", w.slug, "--output", str(inside)) == 2
    assert f"cannot create {inside}" in capsys.readouterr().err
    assert checkpoints_of(w) == 0


def test_a_kit_beyond_the_logs_head_is_refused_naming_the_head(world, capsys, tmp_path):
    w = world
    kit = tmp_path / "kit"
    assert (
        run(w, "audit", "export", "--grantee", w.slug, "--through", "99", "--output", str(kit)) == 2
    )
    err = capsys.readouterr().err
    assert (
        f"prowd audit export: --through 99 is beyond the head of {w.slug}'s log (position 4):"
        " give a position up to 4, or no --through for the head" in err
    ), err
    assert not kit.exists()
    assert checkpoints_of(w) == 0

    # Through the head itself, the kit says what it holds.
    assert (
        run(w, "audit", "export", "--grantee", w.slug, "--through", "4", "--output", str(kit)) == 0
    )
    manifest = json.loads((kit / "manifest.json").read_text())
    assert (manifest["through"], manifest["events"], manifest["signed_through"]) == (4, 4, 4)
