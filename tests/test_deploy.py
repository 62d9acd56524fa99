"""deploy/: the compose file, the Containerfile and the rendered Kustomize overlay, checked by
structure.

No container engine or cluster runs where the tests run, so nothing here builds or starts an
image: these tests read the files and check what would break a deployment first (commands the
`prowd` CLI would reject, selectors that match no pod, a secret in the environment, a pod that
could run as root, a container that keeps keys of its own). tests/test_deploy_start.py (run by
deploy/check) starts them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli.main import parser

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBECTL = os.environ.get("PROWD_KUBECTL", "kubectl")


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


# Compose ------------------------------------------------------------------------------------

PROWD_SERVICES = ["migrate", "api", "worker", "dispatcher"]


def test_compose_has_secrets_postgres_migrate_api_worker_and_dispatcher(compose):
    assert set(compose["services"]) == {"secrets", "postgres", *PROWD_SERVICES}


def test_postgres_is_health_checked_and_keeps_its_data_in_a_named_volume(compose):
    pg = compose["services"]["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(_argv(pg["healthcheck"]["test"]))
    assert "pgdata:/var/lib/postgresql/data" in pg["volumes"]
    assert "pgdata" in compose["volumes"]


def test_every_compose_command_is_a_prowd_command_the_cli_accepts(compose):
    services = compose["services"]
    for name in PROWD_SERVICES:
        assert _accepted_by_cli(_argv(services[name]["command"])), name
    assert _argv(services["migrate"]["command"]) == ["prowd", "migrate"]
    assert "--no-worker" in services["api"]["command"]
    assert _argv(services["worker"]["command"]) == ["prowd", "worker"]
    assert _argv(services["dispatcher"]["command"]) == ["prowd", "webhooks", "dispatch"]


def test_compose_orders_secrets_database_migration_then_services(compose):
    services = compose["services"]
    assert services["postgres"]["depends_on"] == {
        "secrets": {"condition": "service_completed_successfully"}
    }
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker", "dispatcher"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }, name
    for name in ("secrets", "migrate"):
        assert services[name]["restart"] == "no"


def test_every_prowd_container_reads_one_shared_secrets_volume_and_keeps_nothing(compose):
    # The bug this replaces: a data folder per container, so each generated its own master key.
    for name in PROWD_SERVICES:
        svc = compose["services"][name]
        assert svc["volumes"] == ["secrets:/run/prowd-secrets:ro"], name
        assert svc["read_only"] is True and svc["tmpfs"] == ["/tmp"], name
        env = svc["environment"]
        for key in ("PROWD_MASTER_KEY_FILE", "PROWD_AUDIT_KEY_FILE", "PGSERVICEFILE"):
            assert env[key].startswith("/run/prowd-secrets/"), (name, key)
        assert env["PROWD_ENV"] == "production" and env["PROWD_MIGRATE_ON_START"] == "false"
        assert env["PROWD_DATABASE_URL"] == "postgresql:///?service=prowd"
        assert svc["cap_drop"] == ["ALL"] and "user" not in svc, name
    assert compose["services"]["migrate"]["environment"]["PGSERVICEFILE"].endswith(
        "/owner.pg_service.conf"
    )
    for name in ("api", "worker", "dispatcher"):
        env = compose["services"][name]["environment"]
        assert env["PGSERVICEFILE"].endswith("/service.pg_service.conf"), name
    assert {"secrets", "pg-secrets"} <= set(compose["volumes"])


def test_api_publishes_port_8000_on_this_host_only(compose):
    assert compose["services"]["api"]["ports"] == ["127.0.0.1:8000:8000"]


def test_services_without_http_are_health_checked_through_the_database(compose):
    # The image's HEALTHCHECK probes port 8000, which the worker and dispatcher do not open.
    for name in ("worker", "dispatcher"):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test == ["CMD", "python", "/app/deploy/probe.py", "ready"], name
    assert "/ready" in " ".join(compose["services"]["api"]["healthcheck"]["test"])


def test_containerfile_ships_the_probe_and_the_compose_secrets_script(instructions):
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    assert "deploy/probe.py deploy/compose_secrets.py ./deploy/" in copies


# Kubernetes: the production overlay as `kubectl kustomize` renders it ----------------------

OVERLAY = Path("k8s/overlays/production")


@pytest.fixture(scope="module")
def k8s(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not shutil.which(KUBECTL):
        pytest.skip("kubectl is not installed (deploy/check brings Debian's kubernetes-client)")
    tmp = tmp_path_factory.mktemp("k8s")
    shutil.copytree(DEPLOY / "k8s", tmp / "k8s")
    for name in (
        "master-key",
        "audit-ed25519.pem",
        "owner.pg_service.conf",
        "service.pg_service.conf",
    ):
        (tmp / OVERLAY / "secrets" / name).write_text(f"{name} of the test\n")
    done = subprocess.run(
        [KUBECTL, "kustomize", str(tmp / OVERLAY)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = _kind(docs, kind).values()
    return doc


def _pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**_kind(docs, "Deployment"), **_kind(docs, "Job")}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def _labels(doc: dict[str, Any]) -> dict[str, str]:
    return dict(doc["spec"]["template"]["metadata"]["labels"])


def _secret_of(doc: dict[str, Any], mount_dir: str) -> str:
    """The Secret mounted at `mount_dir` in the pod's first container."""
    container = _containers(doc)[0]
    [volume] = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == mount_dir]
    volumes = {v["name"]: v for v in doc["spec"]["template"]["spec"]["volumes"]}
    return str(volumes[volume]["secret"]["secretName"])


def test_k8s_has_api_workers_migration_job_and_budgets(k8s):
    deployments = _kind(k8s, "Deployment")
    assert set(deployments) == {"prowd-api", "prowd-worker", "prowd-dispatcher"}
    assert set(_kind(k8s, "PodDisruptionBudget")) == set(deployments)
    assert set(_kind(k8s, "Service")) == {"prowd-api"}
    assert set(_kind(k8s, "HorizontalPodAutoscaler")) == {"prowd-api"}
    assert set(_kind(k8s, "ServiceAccount")) == {"prowd"}
    assert {d["metadata"].get("namespace") for d in k8s if d["kind"] != "Namespace"} == {"prowd"}


def test_k8s_migration_job_is_named_after_the_release(k8s):
    # A Job's template is immutable: a new release must apply a Job of a new name.
    [job] = _kind(k8s, "Job").values()
    tag = _containers(job)[0]["image"].rpartition(":")[2]
    assert job["metadata"]["name"] == "prowd-migrate-" + tag.replace(".", "-")
    images = {c["image"] for doc in _pods(k8s).values() for c in _containers(doc)}
    assert len(images) == 1, images


def test_k8s_commands_are_accepted_by_the_cli(k8s):
    for doc in _pods(k8s).values():
        for container in _containers(doc):
            assert _accepted_by_cli(_argv(container["command"])), container["command"]
    [job] = _kind(k8s, "Job").values()
    assert _containers(job)[0]["command"] == ["prowd", "migrate"]
    api = _containers(_kind(k8s, "Deployment")["prowd-api"])[0]
    assert "--no-worker" in api["command"]


def test_k8s_api_probes_use_health_and_ready(k8s, client):
    api = _containers(_kind(k8s, "Deployment")["prowd-api"])[0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["startupProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    port = api["ports"][0]
    assert api["readinessProbe"]["httpGet"]["port"] == port["name"]
    assert port["containerPort"] == 8000 and "0.0.0.0" in api["command"]
    for path in ("/health", "/ready"):
        assert client.get(path).status_code == 200


def test_k8s_every_deployment_has_readiness_and_liveness_probes(k8s):
    for name, doc in _kind(k8s, "Deployment").items():
        for container in _containers(doc):
            assert {"readinessProbe", "livenessProbe"} <= set(container), name
    for name in ("prowd-worker", "prowd-dispatcher"):
        [container] = _containers(_kind(k8s, "Deployment")[name])
        assert container["readinessProbe"]["exec"]["command"][-1] == "ready"
        assert container["livenessProbe"]["exec"]["command"][-1] == "alive"


def test_k8s_selectors_match_their_pods(k8s):
    deployments = _kind(k8s, "Deployment")
    for name, budget in _kind(k8s, "PodDisruptionBudget").items():
        assert (
            budget["spec"]["selector"]["matchLabels"].items() <= _labels(deployments[name]).items()
        )
    for doc in deployments.values():
        labels = _labels(doc)
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for spread in doc["spec"]["template"]["spec"]["topologySpreadConstraints"]:
            assert spread["labelSelector"]["matchLabels"].items() <= labels.items()
    api = _labels(deployments["prowd-api"])
    assert _one(k8s, "Service")["spec"]["selector"].items() <= api.items()
    monitors = _kind(k8s, "PodMonitor")
    assert monitors["prowd-api"]["spec"]["selector"]["matchLabels"].items() <= api.items()
    [runners] = monitors["prowd-runners"]["spec"]["selector"]["matchExpressions"]
    assert set(runners["values"]) == {"worker", "dispatcher"}
    hpa = _one(k8s, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "prowd-api",
    }
    # A drain must be able to evict one API pod while the budget holds.
    assert (
        hpa["minReplicas"] > _kind(k8s, "PodDisruptionBudget")["prowd-api"]["spec"]["minAvailable"]
    )
    assert "replicas" not in deployments["prowd-api"]["spec"]


def test_k8s_services_never_migrate_and_use_the_plain_login(k8s):
    config = _one(k8s, "ConfigMap")["data"]
    assert config["PROWD_MIGRATE_ON_START"] == "false"
    assert config["PROWD_ENV"] == "production"
    for name in ("PROWD_JWKS_URL", "PROWD_OIDC_ISSUER", "PROWD_OIDC_AUDIENCE"):
        assert config[name].startswith("https://") or name == "PROWD_OIDC_AUDIENCE", name
    db_dir = str(Path(config["PGSERVICEFILE"]).parent)
    assert config["PROWD_DATABASE_URL"] == "postgresql:///?service=prowd"
    for name, doc in _kind(k8s, "Deployment").items():
        assert _secret_of(doc, db_dir).startswith("prowd-db-service"), name
    [job] = _kind(k8s, "Job").values()
    assert _secret_of(job, db_dir).startswith("prowd-db-owner")


def test_k8s_secrets_reach_the_pods_as_files_only(k8s):
    config = _one(k8s, "ConfigMap")["data"]
    secrets = _kind(k8s, "Secret")
    for path_key in ("PROWD_MASTER_KEY_FILE", "PROWD_AUDIT_KEY_FILE", "PGSERVICEFILE"):
        path = Path(config[path_key])
        holders = [s for s in secrets.values() if path.name in s.get("data", {})]
        assert holders, f"no Secret holds {path.name}"
    for name, doc in _pods(k8s).items():
        for container in _containers(doc):
            assert all("secretRef" not in s for s in container.get("envFrom", [])), name
            assert all("valueFrom" not in e for e in container.get("env", [])), name
        volumes = doc["spec"]["template"]["spec"]["volumes"]
        for volume in volumes:
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, (name, volume)
                assert volume["secret"]["defaultMode"] == 0o440, (name, volume)
    # The keys only where they are used: the dispatcher and the Job sign no checkpoints.
    key_dir = str(Path(config["PROWD_AUDIT_KEY_FILE"]).parent)
    for name, doc in _pods(k8s).items():
        mounts = {m["mountPath"] for m in _containers(doc)[0]["volumeMounts"]}
        assert (key_dir in mounts) == (name in ("prowd-api", "prowd-worker")), name
        assert str(Path(config["PROWD_MASTER_KEY_FILE"]).parent) in mounts, name


def test_k8s_pods_meet_the_restricted_pod_security_standard(k8s):
    namespace = _one(k8s, "Namespace")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    [account] = _kind(k8s, "ServiceAccount").values()
    assert account["automountServiceAccountToken"] is False
    for name, doc in _pods(k8s).items():
        pod = doc["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "prowd" and pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"] == {"drop": ["ALL"]}, name
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        assert not any("hostPath" in v for v in pod["volumes"]), name


def test_k8s_network_policies_deny_by_default_and_open_only_the_named_paths(k8s):
    policies = _kind(k8s, "NetworkPolicy")
    deny = policies["prowd-default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    # Ingress only to the API's port, and to the workers' and dispatchers' metrics port from
    # the monitoring namespace.
    ingress = [(n, p) for n, p in policies.items() if p["spec"].get("ingress")]
    assert [n for n, _ in ingress] == ["prowd-api", "prowd-runners-metrics"]
    assert ingress[0][1]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]
    [scrape] = ingress[1][1]["spec"]["ingress"]
    assert scrape["ports"] == [{"protocol": "TCP", "port": 9100}]
    assert scrape["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    # The open internet only for the dispatchers, never private, loopback or metadata addresses.
    private = {"10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"}
    for policy in policies.values():
        component = (
            policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        )
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                block = peer.get("ipBlock", {})
                if block.get("cidr") == "0.0.0.0/0":
                    assert component == "dispatcher", policy["metadata"]["name"]
                    assert private <= set(block["except"])
    postgres = policies["prowd-postgres"]["spec"]["egress"][0]
    assert postgres["ports"] == [{"protocol": "TCP", "port": 5432}]
    # The overlay replaced the base's placeholders (RFC 5737 documentation ranges).
    assert not postgres["to"][0]["ipBlock"]["cidr"].startswith("192.0.2.")
    assert not policies["prowd-api"]["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"].startswith(
        "198.51.100."
    )


def test_k8s_alerts_are_those_docs_observability_names(k8s):
    rules = {
        r["alert"]: r
        for group in _one(k8s, "PrometheusRule")["spec"]["groups"]
        for r in group["rules"]
    }
    text = (ROOT / "docs" / "observability.md").read_text()
    suggested = re.findall(
        r"`(prowd_[a-z_]+) > (\d+)` for 5 minutes|`(prowd_[a-z_]+) > (\d+)`", text
    )
    named = {(a or c, b or d) for a, b, c, d in suggested}
    assert named == {
        (re.search(r"prowd_[a-z_]+", r["expr"]).group(0), r["expr"].rpartition("> ")[2])  # type: ignore[union-attr]
        for r in rules.values()
    }
    assert all(r["for"] == "5m" for r in rules.values())


def test_checkov_skips_are_each_justified_in_docs_operations(k8s):
    config = yaml.safe_load((DEPLOY / "k8s" / "checkov.yaml").read_text())
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("### checkov", 1)[1].split("\n## ", 1)[0]
    justified = set(re.findall(r"\bCKV2?_K8S_\d+\b", section))
    assert set(config["skip-check"]) == justified
