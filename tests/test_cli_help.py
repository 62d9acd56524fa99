"""`prowd --help` and each command's `--help` explain every argument, the view names come from
the registry of views (the README lists the same ones), and an unknown view names the valid ones."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from projections.registry import PROJECTIONS
from services.cli.main import parser

ROOT = Path(__file__).resolve().parents[1]
VIEWS = [p.name for p in PROJECTIONS]
NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def commands(
    p: argparse.ArgumentParser, path: str = "prowd"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, p)]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path} {name}")
    return found


def test_every_argument_of_every_command_has_a_help_text() -> None:
    missing = [
        f"{path}: {'/'.join(action.option_strings) or action.dest}"
        for path, p in commands(parser())
        for action in p._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
        and not action.help
    ]
    assert not missing, f"arguments without a help text: {missing}"


def test_projections_help_names_every_view() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "projections", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    flat = " ".join(out.split())
    for name in VIEWS:
        assert name in flat, (name, out)
    assert "digest" in flat and "rebuild" in flat


def test_an_unknown_view_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    for action in ("rebuild", "digest"):
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "projections", action, "--view", "nosuch"],
            env={"PATH": "/usr/bin:/bin", "PROWD_DATA_DIR": str(tmp_path)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "nosuch" in done.stderr and all(name in done.stderr for name in VIEWS), done.stderr
        assert "Traceback" not in done.stderr


def test_the_readme_counts_and_names_the_views_of_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    count = re.search(r"\*\*Projections\*\*: (\w+) views", readme)
    assert count is not None and count.group(1) == NUMBERS[len(VIEWS)], count
    rebuild = next(line for line in readme.splitlines() if "`prowd projections rebuild" in line)
    listed = re.search(r"\(`NAME`: ([^)]*)\)", rebuild)
    assert listed is not None, rebuild
    assert re.findall(r"`(\w+)`", listed.group(1)) == VIEWS
