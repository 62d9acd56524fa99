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

from services.cli.main import parser

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


# Kubernetes ---------------------------------------------------------------------------------

K8S = DEPLOY / "k8s"


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def test_k8s_has_api_workers_migration_job_and_budgets(k8s):
    deployments = _kind(k8s, "Deployment")
    assert set(deployments) == {"prowd-api", "prowd-worker", "prowd-dispatcher"}
    assert set(_kind(k8s, "Job")) == {"prowd-migrate"}
    assert set(_kind(k8s, "PodDisruptionBudget")) == set(deployments)
    assert set(_kind(k8s, "Service")) == {"prowd-api"}


def test_k8s_commands_are_accepted_by_the_cli(k8s):
    for doc in [*_kind(k8s, "Deployment").values(), *_kind(k8s, "Job").values()]:
        for container in _containers(doc):
            assert _accepted_by_cli(_argv(container["command"])), container["command"]
    [job] = _kind(k8s, "Job").values()
    assert _containers(job)[0]["command"] == ["prowd", "migrate"]
    api = _containers(_kind(k8s, "Deployment")["prowd-api"])[0]
    assert "--no-worker" in api["command"]


def test_k8s_api_probes_use_health_and_ready(k8s, client):
    api = _containers(_kind(k8s, "Deployment")["prowd-api"])[0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    port = api["ports"][0]
    assert api["readinessProbe"]["httpGet"]["port"] == port["name"]
    assert port["containerPort"] == 8000 and "0.0.0.0" in api["command"]
    for path in ("/health", "/ready"):
        assert client.get(path).status_code == 200


def test_k8s_selectors_match_their_pods(k8s):
    deployments = _kind(k8s, "Deployment")
    for name, budget in _kind(k8s, "PodDisruptionBudget").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for doc in deployments.values():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _kind(k8s, "Service")["prowd-api"]
    assert service["spec"]["selector"].items() <= (
        deployments["prowd-api"]["spec"]["template"]["metadata"]["labels"].items()
    )


def test_k8s_services_never_migrate_and_use_the_plain_login(k8s):
    [config] = _kind(k8s, "ConfigMap").values()
    assert config["data"]["PROWD_MIGRATE_ON_START"] == "false"
    assert config["data"]["PROWD_ENV"] == "production"
    for name in (
        "PROWD_JWKS_URL",
        "PROWD_OIDC_ISSUER",
        "PROWD_OIDC_AUDIENCE",
        "PROWD_AUDIT_KEY_FILE",
    ):
        assert config["data"][name]
    for doc in _kind(k8s, "Deployment").values():
        for container in _containers(doc):
            secrets = {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s}
            assert secrets == {"prowd-db-service"}, doc["metadata"]["name"]
    [job] = _kind(k8s, "Job").values()
    secrets = {s["secretRef"]["name"] for s in _containers(job)[0]["envFrom"] if "secretRef" in s}
    assert secrets == {"prowd-db-owner"}


def test_k8s_pods_run_unprivileged_and_mount_what_they_read(k8s):
    [config] = _kind(k8s, "ConfigMap").values()
    key_dir = str(Path(config["data"]["PROWD_AUDIT_KEY_FILE"]).parent)
    for doc in [*_kind(k8s, "Deployment").values(), *_kind(k8s, "Job").values()]:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/tmp", key_dir} <= mounts, doc["metadata"]["name"]
            assert "memory" in container["resources"]["limits"]
