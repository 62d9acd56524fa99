"""Start PROWD's containers as the deploy files describe them, as local processes.

No container engine or cluster runs here, so `tests/test_deploy_start.py` reads a rendered
manifest (the Kustomize overlay, or `docker-compose config`) and starts each container's own
command with its own environment (ConfigMap, compose `environment`, the image's `ENV`), its
volumes as directories (Secrets written out as files with their mode, emptyDirs and named
volumes as directories), as its user (`runAsUser`/`user`, with no new privileges) and as PID 1
of its own PID namespace (so the exec probes see what they would see in a pod). Its probes
are run as written. What differs, and why, is in `Container.overrides` and printed with each
start: the database, identity provider and webhook receiver are this machine's, on loopback.

A path in the environment or in a command is translated: a volume's mount path to its
directory, `/app` (the image's WORKDIR) to this checkout, and any other absolute path to a
directory of the container's own (`rootfs`) that nothing may write to (the read-only root
file system); `Container.written()` lists what was written there anyway.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv running the tests stands for the image's
IMAGE_UID = 10001  # the Containerfile's USER prowd


def image_env() -> dict[str, str]:
    """The Containerfile's ENV values that reach the processes (not the build's)."""
    text = re.sub(r"\\\n", " ", (REPO / "deploy" / "Containerfile").read_text())
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            for item in shlex.split(line.strip()[4:]):
                key, _, value = item.partition("=")
                if not key.startswith("UV_") and key != "PATH":
                    env[key] = value
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def isolated() -> bool:
    """Whether processes can get their own uid and PID namespace (root, with util-linux)."""
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("unshare", "setpriv", "nsenter"))


@dataclass
class Probe:
    """A Kubernetes probe or a compose healthcheck: an exec command or an HTTP GET."""

    exec: list[str] | None = None
    path: str = ""
    port: int = 0
    timeout: float = 5.0

    @classmethod
    def from_k8s(cls, probe: dict[str, Any] | None, ports: dict[str, int]) -> Probe | None:
        if not probe:
            return None
        timeout = float(probe.get("timeoutSeconds", 1))
        if "exec" in probe:
            return cls(exec=list(probe["exec"]["command"]), timeout=timeout)
        get = probe["httpGet"]
        port = get["port"]
        return cls(path=get["path"], port=ports.get(port, port), timeout=timeout)

    @classmethod
    def from_compose(cls, check: dict[str, Any] | None) -> Probe | None:
        if not check or check.get("disable"):
            return None
        test = list(check["test"])
        timeout = float(str(check.get("timeout", "5s")).rstrip("s"))
        if test[0] == "CMD":
            return cls(exec=test[1:], timeout=timeout)
        if test[0] == "CMD-SHELL":
            return cls(exec=["sh", "-c", test[1]], timeout=timeout)
        raise ValueError(f"healthcheck {test!r}")


@dataclass
class Container:
    name: str
    argv: list[str]
    env: dict[str, str]
    # mount path -> directory; the directories of named volumes outlive the container
    mounts: dict[str, Path]
    root: Path  # the container's own directory: rootfs/ and its emptyDirs/tmpfs
    uid: int = IMAGE_UID
    gid: int = IMAGE_UID
    probes: dict[str, Probe] = field(default_factory=dict)
    # container port -> the loopback port it is served on here
    ports: dict[int, int] = field(default_factory=dict)
    # what differs from the deploy file, and why (printed at start)
    overrides: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    pid1: int = 0

    # -- paths --------------------------------------------------------------------------------
    @property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    def host_path(self, path: str) -> str:
        for mount in sorted(self.mounts, key=len, reverse=True):
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return str(self.mounts[mount]) + path[len(mount.rstrip("/")) :]
        if path == "/app" or path.startswith("/app/"):
            return str(REPO) + path[len("/app") :]
        return str(self.rootfs) + path

    def _arg(self, arg: str) -> str:
        for inside, outside in self.ports.items():
            arg = arg.replace(f"127.0.0.1:{inside}/", f"127.0.0.1:{outside}/")
        if arg.startswith("/"):
            return self.host_path(arg)
        return arg

    def host_argv(self, argv: list[str]) -> list[str]:
        first, *rest = argv
        if first in ("prowd", "python") and (BIN / first).exists():
            first = str(BIN / first)
        return [first, *(self._arg(a) for a in rest)]

    def host_env(self) -> dict[str, str]:
        env = {k: (self.host_path(v) if v.startswith("/") else v) for k, v in self.env.items()}
        env["PATH"] = f"{BIN}:/usr/local/bin:/usr/bin:/bin"
        env.setdefault("HOME", self.host_path("/app"))
        return env

    # -- running ------------------------------------------------------------------------------
    def _as_user(self) -> list[str]:
        if not isolated() or self.uid == 0:
            return []
        return [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            f"--groups={self.gid}",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]

    def start(self, argv: list[str] | None = None) -> Container:
        self.rootfs.mkdir(parents=True, exist_ok=True)
        log = (self.root / "log").open("ab")
        prefix: list[str] = []
        if isolated():
            prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
        command = prefix + self._as_user() + self.host_argv(argv or self.argv)
        note = "; ".join(f"{k}: {v}" for k, v in self.overrides.items())
        print(f"[{self.name}] {shlex.join(argv or self.argv)}" + (f"  ({note})" if note else ""))
        self.process = subprocess.Popen(
            command,
            env=self.host_env(),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid1 = self._inner_pid() if prefix else self.process.pid
        return self

    def _inner_pid(self) -> int:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                pids = children.read_text().split()
            except OSError:
                pids = []
            if pids:
                return int(pids[0])
            if self.process.poll() is not None:
                return self.process.pid
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: no process inside its PID namespace")

    def run(self, timeout: float = 120.0) -> int:
        """Run to completion (a Job, a one-shot service): the exit code."""
        self.start()
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, sig: int) -> None:
        if self.pid1 and self.exited() is None:
            os.kill(self.pid1, sig)

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM to the container's PID 1, as the kubelet or docker does; SIGKILL after."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def probe(self, kind: str) -> tuple[bool, str]:
        """Run one probe now: (passed, what it answered)."""
        probe = self.probes[kind]
        if probe.exec is None:
            url = f"http://127.0.0.1:{self.ports.get(probe.port, probe.port)}{probe.path}"
            try:
                with urllib.request.urlopen(url, timeout=probe.timeout) as r:
                    return 200 <= r.status < 400, f"{r.status}"
            except urllib.error.HTTPError as e:
                return False, f"{e.code}"
            except OSError as e:
                return False, str(e)
        prefix: list[str] = []
        if isolated() and self.pid1 and self.exited() is None:
            prefix = ["nsenter", "-t", str(self.pid1), "-p", "-m", "--", *self._as_user()]
        try:
            done = subprocess.run(
                prefix + self.host_argv(probe.exec),
                env=self.host_env(),
                cwd=REPO,
                capture_output=True,
                timeout=probe.timeout + 10,  # the interpreter's own start on a loaded machine
            )
        except subprocess.TimeoutExpired:
            return False, "timed out"
        return done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")

    def wait_until(self, kind: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        answer = ""
        while time.monotonic() < deadline:
            if self.exited() is not None:
                raise AssertionError(f"{self.name} exited {self.exited()}:\n{self.log()[-3000:]}")
            passed, answer = self.probe(kind)
            if passed:
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}: {kind} probe failing: {answer}\n{self.log()[-3000:]}")

    def written(self) -> list[str]:
        """What the process wrote outside its volumes (its root file system is read-only)."""
        return sorted(str(p.relative_to(self.rootfs)) for p in self.rootfs.rglob("*"))


def write_secret(directory: Path, data: dict[str, str], mode: int, gid: int) -> None:
    """A Secret volume: one file per key (base64 `data`), root-owned, group `fsGroup`."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in data.items():
        path = directory / key
        path.write_bytes(base64.b64decode(value))
        path.chmod(mode)
        if os.geteuid() == 0:
            os.chown(path, 0, gid)


def empty_dir(path: Path) -> Path:
    """An emptyDir or a tmpfs: writable by the container's user, like /tmp."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o1777)
    return path


def from_pod(
    doc: dict[str, Any], objects: dict[tuple[str, str], dict[str, Any]], root: Path
) -> Container:
    """The first container of a Deployment's or Job's pod template."""
    pod = doc["spec"]["template"]["spec"]
    (spec,) = pod["containers"]
    security = pod.get("securityContext", {})
    uid = int(spec.get("securityContext", {}).get("runAsUser", security.get("runAsUser", 0)))
    gid = int(security.get("runAsGroup", uid))
    fs_group = int(security.get("fsGroup", gid))
    env = image_env()
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            env.update(objects["ConfigMap", source["configMapRef"]["name"]]["data"])
        else:
            raise AssertionError(f"{doc['metadata']['name']}: env from {source}: use files")
    for item in spec.get("env", []):
        env[item["name"]] = item["value"]
    name = doc["metadata"]["name"]
    container_root = root / name
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts: dict[str, Path] = {}
    for mount in spec.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        directory = container_root / "volumes" / mount["name"]
        if "secret" in volume:
            secret = objects["Secret", volume["secret"]["secretName"]]
            write_secret(
                directory, secret.get("data", {}), volume["secret"]["defaultMode"], fs_group
            )
        elif "emptyDir" in volume:
            empty_dir(directory)
        else:
            raise AssertionError(f"{name}: volume kind {volume}")
        mounts[mount["mountPath"]] = directory
    ports = {p["name"]: int(p["containerPort"]) for p in spec.get("ports", [])}
    probes = {
        kind: p
        for kind in ("startup", "readiness", "liveness")
        if (p := Probe.from_k8s(spec.get(f"{kind}Probe"), ports)) is not None
    }
    argv = list(spec.get("command", [])) + list(spec.get("args", []))
    return Container(name, argv, env, mounts, container_root, uid, gid, probes)


def from_compose(
    name: str, service: dict[str, Any], volumes: dict[str, Path], root: Path
) -> Container:
    """A compose service (as `docker-compose config` prints it) as one container."""
    env = {**image_env(), **{k: str(v) for k, v in (service.get("environment") or {}).items()}}
    container_root = root / name
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target = (
            (volume["source"], volume["target"])
            if isinstance(volume, dict)
            else (
                volume.split(":")[0],
                volume.split(":")[1],
            )
        )
        mounts[target] = volumes[source] if source in volumes else Path(source)
    for path in service.get("tmpfs", []):
        mounts[path] = empty_dir(container_root / "tmpfs" / path.strip("/").replace("/", "_"))
    user = str(service.get("user", IMAGE_UID)).split(":")
    uid = int(user[0])
    gid = int(user[1]) if len(user) > 1 else uid
    probes = {}
    if (check := Probe.from_compose(service.get("healthcheck"))) is not None:
        probes["readiness"] = check
    argv = [str(a) for a in service.get("command", [])]
    return Container(name, argv, env, mounts, container_root, uid, gid, probes)
