"""The deploy files, started as written: the Kustomize overlay and the compose file.

Each part renders its file with the real tool (`kubectl kustomize`, `docker-compose config`),
then starts the migration, API, projection worker and webhook dispatcher as local processes
exactly as the rendered file says (tests/deploy_sim.py: commands, environment, secrets as
files, user, probes), against a fresh database on the local PostgreSQL whose logins are those
of docs/operations.md (an owner that is no superuser; a plain service login), and drives one
command over HTTP through to a view and a webhook delivered to a receiver on loopback.

Run by `deploy/check` (PROWD_DEPLOY_CHECK=1); skipped in the plain test run, which has no
tools to render with and runs in parallel.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg.conninfo import conninfo_to_dict

from tests.deploy_sim import REPO, Container, free_port, from_compose, from_pod, isolated
from tests.deploy_world import FreshDatabase, IdentityProvider, Scenario
from tests.webhook_receiver import Receiver

if not (os.environ.get("PROWD_DEPLOY_CHECK") and os.environ.get("PROWD_DATABASE_URL")):
    pytest.skip(
        "run by deploy/check (PROWD_DEPLOY_CHECK=1 and PROWD_DATABASE_URL, a superuser)",
        allow_module_level=True,
    )

OVERLAY = Path("k8s/overlays/production")
KUBECTL = os.environ.get("PROWD_KUBECTL", "kubectl")
COMPOSE = os.environ.get("PROWD_COMPOSE", "docker-compose")


def key_files() -> dict[str, bytes]:
    audit = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"master-key": base64.b64encode(os.urandom(32)), "audit-ed25519.pem": audit}


def render_overlay(tmp: Path, db: FreshDatabase) -> list[dict[str, Any]]:
    """`kubectl kustomize` of a copy of deploy/k8s with this run's secret files in place."""
    shutil.copytree(REPO / "deploy" / "k8s", tmp / "k8s")
    secrets = tmp / OVERLAY / "secrets"
    for name, data in key_files().items():
        (secrets / name).write_bytes(data)
    (secrets / "owner.pg_service.conf").write_text(db.service_file(db.owner, db.owner_password))
    (secrets / "service.pg_service.conf").write_text(db.service_file(db.login, db.login_password))
    done = subprocess.run(
        [KUBECTL, "kustomize", str(tmp / OVERLAY)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@dataclass
class K8s:
    objects: dict[tuple[str, str], dict[str, Any]]
    db: FreshDatabase
    idp: IdentityProvider
    receiver: Receiver
    root: Path
    plain_migrate: tuple[int, str] = (0, "")
    services: dict[str, Container] = field(default_factory=dict)

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: d for (k, name), d in self.objects.items() if k == kind}

    def container(self, kind: str, name: str, attempt: str = "") -> Container:
        doc = self.objects[kind, name]
        c = from_pod(doc, self.objects, self.root / f"{name}{attempt}")
        c.env["PROWD_JWKS_URL"] = self.idp.jwks_url
        c.env["PROWD_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"
        c.overrides["PROWD_JWKS_URL"] = "the identity provider on loopback"
        c.overrides["PROWD_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8, for the loopback receiver"
        if "--port" in c.argv:
            port = int(c.argv[c.argv.index("--port") + 1])
            c.ports[port] = free_port()
            c.argv[c.argv.index("--port") + 1] = str(c.ports[port])
            c.argv[c.argv.index("--host") + 1] = "127.0.0.1"
            c.overrides["--host/--port"] = f"127.0.0.1:{c.ports[port]} (loopback only)"
        if c.env.get("PROWD_METRICS_PORT"):
            port = int(c.env["PROWD_METRICS_PORT"])
            c.ports[port] = free_port()
            c.env["PROWD_METRICS_PORT"] = str(c.ports[port])
            c.env["PROWD_METRICS_HOST"] = "127.0.0.1"
            c.overrides["PROWD_METRICS_PORT"] = f"127.0.0.1:{c.ports[port]} (loopback only)"
        return c

    def job(self, attempt: str) -> Container:
        [name] = self.of_kind("Job")
        return self.container("Job", name, attempt)

    @property
    def role(self) -> str:
        [config] = self.of_kind("ConfigMap").values()
        return str(config["data"]["PROWD_DB_ROLE"])


def workdir(prefix: str) -> Iterator[Path]:
    """A folder the containers' users can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def k8s() -> Iterator[K8s]:
    yield from _k8s()


def _k8s() -> Iterator[K8s]:
    tmp = next(dirs := workdir("prowd-k8s-"))
    db = FreshDatabase(os.environ["PROWD_DATABASE_URL"])
    docs = render_overlay(tmp, db)
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    idp = IdentityProvider(
        config["data"]["PROWD_OIDC_ISSUER"], config["data"]["PROWD_OIDC_AUDIENCE"]
    )
    receiver = Receiver()
    world = K8s(objects, db, idp, receiver, tmp / "pods")
    db.create_owner_and_database()
    try:
        assert not db.is_superuser(db.owner)
        # The migration Job exactly as the manual says: the owner login, nothing else.
        job = world.job("-plain")
        world.plain_migrate = (job.run(timeout=180), job.log())
        assert world.plain_migrate[0] == 0, job.log()[-3000:]
        db.create_service_login(world.role)
        for name in ("prowd-api", "prowd-worker", "prowd-dispatcher"):
            world.services[name] = world.container("Deployment", name).start()
        for c in world.services.values():
            c.wait_until("startup" if "startup" in c.probes else "readiness", timeout=120)
            c.wait_until("readiness", timeout=120)
        yield world
    finally:
        for c in world.services.values():
            c.kill()
        receiver.stop()
        idp.close()
        db.drop()
        next(dirs, None)


def test_k8s_migration_job_runs_as_the_managed_owner_alone(k8s):
    code, log = k8s.plain_migrate
    assert code == 0, log[-2000:]


def test_k8s_drives_a_command_through_to_a_view_and_a_webhook(k8s):
    api = k8s.services["prowd-api"]
    scenario = Scenario(f"http://127.0.0.1:{api.ports[8000]}", k8s.idp, k8s.receiver)
    scenario.register()
    pid = scenario.enrol_and_place("Ann")
    payload = scenario.delivered(pid)
    assert payload["type"] == "participant.arrived_at_rrc"
    r = scenario.participant(pid)
    assert r.status_code == 200 and r.json()["first_name"] == "Ann", r.text


def test_k8s_every_probe_passes_and_the_liveness_probe_sees_a_stopped_process(k8s):
    for c in k8s.services.values():
        for kind in c.probes:
            assert c.probe(kind)[0], (c.name, kind, c.probe(kind)[1])
    if not isolated():
        pytest.skip("a container's PID 1 needs root (unshare, setpriv, nsenter)")
    worker = k8s.services["prowd-worker"]
    worker.signal(signal.SIGSTOP)
    try:
        passed, answer = worker.probe("liveness")
        assert not passed and "state T" in answer, answer
    finally:
        worker.signal(signal.SIGCONT)
    assert worker.probe("liveness")[0]


def test_k8s_worker_and_dispatcher_metrics_parse_with_prometheus_client(k8s):
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    [endpoint] = k8s.of_kind("PodMonitor")["prowd-runners"]["spec"]["podMetricsEndpoints"]
    for name in ("prowd-worker", "prowd-dispatcher"):
        c = k8s.services[name]
        [spec] = k8s.objects["Deployment", name]["spec"]["template"]["spec"]["containers"]
        [port] = [p["containerPort"] for p in spec["ports"] if p["name"] == endpoint["port"]]
        text = httpx.get(f"http://127.0.0.1:{c.ports[port]}{endpoint['path']}", timeout=10).text
        families = {f.name for f in text_string_to_metric_families(text)}
        assert {"process_cpu_seconds", "prowd_build_info", "prowd_db_pool_size"} <= families
        assert ("prowd_worker_leases" in families) == (name == "prowd-worker"), families


def test_k8s_pod_monitor_scrapes_every_metric_the_alerts_use(k8s):
    monitor = k8s.of_kind("PodMonitor")["prowd-api"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    api = k8s.services["prowd-api"]
    assert endpoint["port"] == "http"
    import httpx

    text = httpx.get(f"http://127.0.0.1:{api.ports[8000]}{endpoint['path']}", timeout=10).text
    [rules] = k8s.of_kind("PrometheusRule").values()
    for group in rules["spec"]["groups"]:
        for rule in group["rules"]:
            for metric in re.findall(r"\bprowd_[a-z_]+", rule["expr"]):
                assert re.search(rf"^{metric}[{{ ]", text, re.M), f"{rule['alert']}: {metric}"


def test_k8s_a_later_migration_job_runs_beside_the_services(k8s):
    job = k8s.job("-again")
    assert job.run(timeout=180) == 0, job.log()
    assert re.search(r"migrated the platform schema and \d+ grantee schema\(s\)", job.log())


def test_k8s_processes_write_nothing_on_their_read_only_root(k8s):
    for c in k8s.services.values():
        assert c.written() == [], c.name


def test_k8s_processes_stop_on_sigterm_within_their_grace_period(k8s):
    for name, c in k8s.services.items():
        grace = k8s.objects["Deployment", name]["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        code = c.stop(grace=float(grace))
        # uvicorn's graceful shutdown ends with 128 + SIGTERM (services/cli.py); the others 0.
        assert code in (0, 128 + signal.SIGTERM), f"{name}: {code}\n{c.log()[-2000:]}"
        assert "Traceback" not in c.log(), c.log()[-3000:]


def test_a_misspelt_environment_is_refused_at_start(k8s):
    job = k8s.job("-env-typo")
    job.env["PROWD_ENV"] = "prod"
    code = job.run(timeout=120)
    assert code != 0 and "PROWD_ENV" in job.log(), job.log()[-2000:]


def test_production_start_up_names_every_missing_setting(k8s):
    api = k8s.container("Deployment", "prowd-api", "-missing")
    for name in ("PROWD_MASTER_KEY_FILE", "PROWD_AUDIT_KEY_FILE", "PROWD_JWKS_URL"):
        del api.env[name]
    code = api.run(timeout=120)
    log = api.log()
    assert code != 0, log[-2000:]
    assert all(n in log for n in ("PROWD_MASTER_KEY", "PROWD_AUDIT_KEY_FILE", "PROWD_JWKS_URL")), (
        log
    )


# Compose ------------------------------------------------------------------------------------


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMPOSE, "-f", str(REPO / "deploy" / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=REPO / "deploy",
    )


@dataclass
class Compose:
    services: dict[str, Any]
    volumes: dict[str, Path]
    db: FreshDatabase
    idp: IdentityProvider
    receiver: Receiver
    root: Path
    api_port: int
    running: dict[str, Container] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    pids: list[str] = field(default_factory=list)
    scenario: Scenario | None = None

    def container(self, name: str, start: int) -> Container:
        c = from_compose(name, self.services[name], self.volumes, self.root / f"start{start}")
        database = {
            "PROWD_DB_HOST": self.db.host,
            "PROWD_DB_PORT": self.db.port,
            "PROWD_DB_NAME": self.db.name,
            "PROWD_DB_OWNER": self.db.owner,
            "PROWD_DB_LOGIN": self.db.login,
        }
        for key, value in database.items():
            if key in c.env or name == "secrets":
                c.env[key] = value
        if name in ("secrets", "postgres"):
            c.overrides["PROWD_DB_*"] = "this machine's server, names unique to the run"
        if name == "api":
            c.ports[8000] = self.api_port
            c.argv[c.argv.index("--port") + 1] = str(self.api_port)
            c.argv[c.argv.index("--host") + 1] = "127.0.0.1"
            c.overrides["ports"] = f"127.0.0.1:{self.api_port} for 8000 (loopback only)"
        return c

    def initdb(self, start: int) -> None:
        """The postgres image's first start: deploy/compose/initdb.sh as its superuser."""
        pg = self.container("postgres", start)
        script = next(
            m for t, m in pg.mounts.items() if t.startswith("/docker-entrypoint-initdb.d/")
        )
        info = conninfo_to_dict(self.db.admin_url)
        env = {
            **pg.host_env(),
            "POSTGRES_USER": str(info.get("user") or "postgres"),
            "PGHOST": self.db.host,
            "PGPORT": self.db.port,
        }
        done = subprocess.run(
            ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def up(self, start: int) -> None:
        """`docker compose up`: secrets, (postgres), migrate, then the three services."""
        secrets = self.container("secrets", start)
        assert secrets.run(timeout=60) == 0, secrets.log()
        if start == 1:
            self.initdb(start)
        migrate = self.container("migrate", start)
        assert migrate.run(timeout=180) == 0, migrate.log()
        for name in ("api", "worker", "dispatcher"):
            self.running[name] = self.container(name, start).start()
        for c in self.running.values():
            c.wait_until("readiness", timeout=120)

    def down(self) -> None:
        """`docker compose down` without -v: containers go, named volumes stay."""
        for c in self.running.values():
            c.stop(grace=10)
            self.logs.append(c.log())
            assert c.written() == [], c.name
        self.running.clear()

    def secret_digests(self) -> dict[str, str]:
        return {
            f"{volume}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
            for volume in ("secrets", "pg-secrets")
            for p in sorted(self.volumes[volume].iterdir())
        }


@pytest.fixture(scope="module")
def compose() -> Iterator[Compose]:
    if not shutil.which(COMPOSE):
        pytest.skip(f"{COMPOSE} is not installed (deploy/check installs Debian's docker-compose)")
    tmp = next(dirs := workdir("prowd-compose-"))
    idp = IdentityProvider("https://idp.deploy-check.test/realms/prowd", "prowd-ledger-api")
    done = compose_config(
        {
            "PROWD_OIDC_ISSUER": idp.issuer,
            "PROWD_OIDC_AUDIENCE": idp.audience,
            "PROWD_JWKS_URL": idp.jwks_url,
            "PROWD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
    )
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    volumes = {}
    for name in config["volumes"]:
        volumes[name] = tmp / "volumes" / name
        volumes[name].mkdir(parents=True)
    db = FreshDatabase(os.environ["PROWD_DATABASE_URL"])
    receiver = Receiver()
    world = Compose(config["services"], volumes, db, idp, receiver, tmp / "containers", free_port())
    try:
        world.up(1)
        yield world
    finally:
        for c in world.running.values():
            c.kill()
        receiver.stop()
        idp.close()
        db.drop()
        next(dirs, None)


def test_compose_config_is_valid_and_asks_for_the_identity_provider():
    if not shutil.which(COMPOSE):
        pytest.skip(f"{COMPOSE} is not installed")
    done = compose_config(
        {"PROWD_OIDC_ISSUER": "", "PROWD_OIDC_AUDIENCE": "", "PROWD_JWKS_URL": ""}
    )
    assert done.returncode != 0 and "PROWD_OIDC_ISSUER" in done.stderr, done.stderr


def test_compose_drives_a_command_through_to_a_view_and_a_webhook(compose):
    assert not compose.db.is_superuser(compose.db.owner)
    scenario = Scenario(f"http://127.0.0.1:{compose.api_port}", compose.idp, compose.receiver)
    compose.scenario = scenario
    scenario.register()
    pid = scenario.enrol_and_place("Ann")
    assert scenario.delivered(pid)["type"] == "participant.arrived_at_rrc"
    compose.pids.append(pid)


def test_compose_recreated_containers_lose_nothing(compose):
    scenario = compose.scenario
    assert scenario is not None and compose.pids, "the first start drove no command"
    before = compose.secret_digests()
    compose.down()
    # Every container's own folder (writable layer, /tmp) is thrown away; volumes stay.
    shutil.rmtree(compose.root / "start1")
    compose.up(2)
    assert compose.secret_digests() == before
    [first] = compose.pids
    r = scenario.participant(first)
    assert r.status_code == 200 and r.json()["first_name"] == "Ann", r.text
    second = scenario.enrol_and_place("Bea")
    assert scenario.delivered(second)["type"] == "participant.arrived_at_rrc"
    r = scenario.participant(second)
    assert r.status_code == 200 and r.json()["first_name"] == "Bea", r.text
    compose.down()
    assert not any("KeyUnavailable" in log for log in compose.logs)
