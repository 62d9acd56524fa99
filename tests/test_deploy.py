"""deploy/: the compose file and the Containerfile, checked by structure.

No container engine runs where the tests run, so nothing here builds or starts an image: these
tests read the files and check what would break a deployment first (wrong host, missing health
gates, commands the `prowd` CLI would reject, an image that runs as root).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.cli import parser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = (DEPLOY / "Containerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)
    out = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _accepted_by_cli(argv: list[str]) -> bool:
    if not argv or argv[0] != "prowd":
        return False
    try:
        parser().parse_args(argv[1:])
    except SystemExit:
        return False
    return True


def test_compose_has_the_three_services(compose):
    assert {"postgres", "api", "worker"} <= set(compose["services"])


def test_postgres_is_health_checked_and_keeps_its_data_in_a_named_volume(compose):
    pg = compose["services"]["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(_argv(pg["healthcheck"]["test"]))
    volume = pg["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


@pytest.mark.parametrize("service", ["api", "worker"])
def test_service_reaches_postgres_and_waits_for_it_to_be_healthy(compose, service):
    svc = compose["services"][service]
    url = svc["environment"]["PROWD_DATABASE_URL"]
    assert urlsplit(url).hostname == "postgres"
    assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert svc["build"]["dockerfile"] == "deploy/Containerfile"
    assert svc["build"]["context"] == ".."


def test_api_publishes_port_8000(compose):
    ports = compose["services"]["api"]["ports"]
    assert any(str(p).split(":")[-2:] == ["8000", "8000"] for p in ports)


def test_every_compose_command_is_a_prowd_command_the_cli_accepts(compose):
    services = compose["services"]
    commands = {name: svc["command"] for name, svc in services.items() if "command" in svc}
    assert {"api", "worker"} <= set(commands)
    for name, command in commands.items():
        assert _accepted_by_cli(_argv(command)), f"{name}: {command!r}"
    assert _argv(commands["worker"])[1] == "worker"


def test_worker_does_not_inherit_the_http_healthcheck(compose):
    # The image's HEALTHCHECK probes port 8000; a worker container would never turn healthy.
    assert compose["services"]["worker"]["healthcheck"]["disable"] is True


def test_the_cli_rejects_what_it_should():
    # Guards the check above against a parser that accepts anything.
    assert not _accepted_by_cli(["prowd", "launch"])
    assert not _accepted_by_cli(["uvicorn", "services.api.app:app_from_env"])


def test_containerfile_installs_the_locked_dependencies(instructions):
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any("uv sync --frozen --no-dev" in r for r in runs)
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    assert "uv.lock" in copies[0] and "pyproject.toml" in copies[0]


def test_containerfile_runs_as_a_non_root_user(instructions):
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_containerfile_health_checks_the_health_route(instructions):
    checks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/health" in checks[0]
    assert ("EXPOSE", "8000") in instructions


def test_containerfile_default_command_serves_on_all_interfaces(instructions):
    cmds = [args for keyword, args in instructions if keyword in {"CMD", "ENTRYPOINT"}]
    argv = json.loads(cmds[-1])
    assert _accepted_by_cli(argv)
    args = parser().parse_args(argv[1:])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8000)
