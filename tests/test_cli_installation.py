"""A command that works on an installation does not make one. Without PROWD_DATABASE_URL the
data folder is the installation (its embedded PostgreSQL, its development keys); a scheduled
`prowd verify` whose PROWD_DATA_DIR has a typo must not set up a new, empty installation there
and pass with "no grantee registered yet". Every command but those that set an installation up
(`prowd demo`, `prowd serve`, `prowd migrate`) refuses, exit 2, and creates nothing.

The CLI runs in a child process with no PROWD_* setting but the data folder, as an operator's
job would; the refusals come before any server starts."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import SUITE_CLOCK
from tests.test_demo import prowd as demo_prowd


def prowd(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROWD_")}
    env |= {
        "PROWD_DATA_DIR": str(data_dir),
        "PROWD_CLOCK": SUITE_CLOCK.now().isoformat(),
        "PROWD_LOG_LEVEL": "warning",
    }
    return demo_prowd(*args, env=env, timeout=timeout)


WORKING_ON_AN_INSTALLATION = [
    ["verify"],
    ["verify", "--grantee", "northside_works", "--sign"],
    ["audit", "export", "--grantee", "northside_works", "--output", "{tmp}/kit"],
    ["audit", "rotate-key"],
    ["retention", "report"],
    ["projections", "digest"],
    ["projections", "rebuild"],
    ["replay", "--grantee", "northside_works", "--as-of", "2026-03-01T09:00:00Z"],
    ["export", "pirl", "--grantee", "northside_works", "--quarter", "2026Q1"],
    ["keys", "rotate", "--all"],
    [
        "erase",
        "participant",
        "--grantee",
        "northside_works",
        "--participant",
        str(uuid.UUID(int=1)),
        "--by",
        "cli-test",
        "--reason",
        "a test",
    ],
    ["import", "participants", "{tmp}/people.csv", "--grantee", "northside_works"],
    ["token", "--grantee", "northside_works", "--role", "coordinator"],
]


@pytest.mark.parametrize(
    "argv", WORKING_ON_AN_INSTALLATION, ids=[" ".join(a[:2]) for a in WORKING_ON_AN_INSTALLATION]
)
def test_a_command_on_a_data_folder_that_does_not_exist_refuses_and_creates_nothing(
    tmp_path: Path, argv: list[str]
) -> None:
    (tmp_path / "people.csv").write_text("first_name,last_name\nDana,Reyes\n")
    typo = tmp_path / "nonexistent" / "x"
    done = prowd(typo, *(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"no installation in {typo}: the folder does not exist (PROWD_DATA_DIR)" in done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "nonexistent").exists()
    assert not (tmp_path / "kit").exists()


def test_a_folder_without_an_embedded_database_is_no_installation(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    done = prowd(empty, "verify")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"no installation in {empty}: it holds no embedded database" in done.stderr
    assert list(empty.iterdir()) == []


def test_migrate_sets_an_installation_up_on_a_new_folder_and_verify_then_runs_on_it(
    tmp_path: Path,
) -> None:
    fresh = tmp_path / "new" / "data"
    made = prowd(fresh, "migrate", timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "migrated the platform schema and 0 grantee schema(s)" in made.stdout
    checked = prowd(fresh, "verify", timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no grantee registered yet" in checked.stdout
