"""What the simulated starts talk to: an identity provider on loopback, a fresh database with
the logins docs/operations.md describes, and one command driven through to a view and a
webhook over HTTP."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.people import birth_date
from tests.webhook_receiver import Receiver


class IdentityProvider:
    """An OIDC provider's key set on 127.0.0.1: one RS256 key made for the run."""

    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer, self.audience = issuer, audience
        self.kid = f"deploy-{uuid.uuid4().hex[:8]}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        document = json.dumps({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = document.encode()
                self.send_response(200 if self.path == "/jwks" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def token(self, role: str, grantee: str) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": f"deploy-{role}",
            "iat": now,
            "exp": now + 900,
            "roles": [role],
            "grantees": [grantee],
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FreshDatabase:
    """A database created for the run on the local server, and the logins of
    docs/operations.md: an owner that is no superuser (CREATEROLE, owns the database) and a
    plain service login, member of prowd_service. Role names are unique to the run: roles are
    cluster-wide and this server is shared. Passwords are made but this server trusts
    loopback, so they are not checked here."""

    def __init__(self, admin_url: str) -> None:
        tag = secrets.token_hex(4)
        self.admin_url = admin_url
        self.name = f"prowd_deploy_{tag}"
        self.owner, self.login = f"prowd_owner_{tag}", f"prowd_app_{tag}"
        self.owner_password = secrets.token_urlsafe(24)
        self.login_password = secrets.token_urlsafe(24)
        info = psycopg.conninfo.conninfo_to_dict(admin_url)
        self.host = str(info.get("host") or "127.0.0.1")
        self.port = str(info.get("port") or "5432")

    def url(self, user: str, password: str) -> str:
        return make_conninfo(self.admin_url, dbname=self.name, user=user, password=password)

    def service_file(self, user: str, password: str) -> str:
        return (
            f"[prowd]\nhost={self.host}\nport={self.port}\ndbname={self.name}\n"
            f"user={user}\npassword={password}\n"
        )

    def admin(self, statement: sql.Composable, dbname: str | None = None) -> None:
        url = make_conninfo(self.admin_url, dbname=dbname) if dbname else self.admin_url
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)

    def as_owner(self, statement: sql.Composable) -> None:
        with psycopg.connect(
            self.url(self.owner, self.owner_password), autocommit=True, connect_timeout=5
        ) as conn:
            conn.execute(statement)

    def create_owner_and_database(self) -> None:
        """What the DBA of a managed PostgreSQL does once."""
        self.admin(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE NOSUPERUSER NOCREATEDB PASSWORD {}").format(
                sql.Identifier(self.owner), sql.Literal(self.owner_password)
            )
        )
        self.admin(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(self.name), sql.Identifier(self.owner)
            )
        )

    def create_service_login(self, role: str) -> None:
        """The owner (CREATEROLE) makes the services' plain login once migrate made the role."""
        self.as_owner(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {} IN ROLE {}"
            ).format(
                sql.Identifier(self.login), sql.Literal(self.login_password), sql.Identifier(role)
            )
        )

    def drop(self) -> None:
        self.admin(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
        )
        for role in (self.login, self.owner):
            self.admin(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    def is_superuser(self, role: str) -> bool:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
        return bool(row and row[0])


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


class Scenario:
    """One grantee driven over HTTP: an RRC, a participant enrolled (read back from the
    caseload view with min_position) and moved to the RRC, whose system gets the webhook."""

    def __init__(self, base_url: str, idp: IdentityProvider, receiver: Receiver) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30.0)
        self.idp = idp
        self.receiver = receiver
        self.slug = f"dep_{secrets.token_hex(4)}"
        self.base = f"/v1/grantees/{self.slug}"

    def post(self, path: str, body: dict[str, Any], role: str = "coordinator") -> httpx.Response:
        r = self.http.post(self.base + path, json=body, headers=self.idp.token(role, self.slug))
        assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"
        return r

    def register(self) -> None:
        r = self.http.post(
            "/v1/grantees",
            json={"slug": self.slug, "name": "Deploy check", "grant_number": "FS-0019-26"},
            headers=self.idp.token("platform_admin", "*"),
        )
        assert r.status_code == 201, r.text
        self.post("/facilities", {"code": "FCI-A", "name": "FCI A", "kind": "bop_institution"})
        self.post("/facilities", {"code": "RRC-1", "name": "RRC One", "kind": "rrc"})
        self.post("/cohorts", {"code": "C1", "facility": "FCI-A", "start_date": days_ago(60)})
        endpoint = self.post(
            "/webhook-endpoints",
            {
                "url": self.receiver.url,
                "facility": "RRC-1",
                "event_types": ["participant.arrived_at_rrc"],
            },
            role="grantee_admin",
        ).json()
        self.receiver.secrets.append(endpoint["secret"])

    def enrol_and_place(self, first_name: str) -> str:
        """Enrol (read back through the caseload view) and move to RRC-1: the participant's id."""
        r = self.post(
            "/participants",
            {
                "first_name": first_name,
                "last_name": "Lee",
                "date_of_birth": birth_date(),
                "program_entry_date": days_ago(30),
                "facility": "FCI-A",
                "cohort": "C1",
            },
        )
        pid, position = r.json()["id"], r.json()["position"]
        page = self.http.get(
            f"{self.base}/participants?min_position={position}",
            headers=self.idp.token("coordinator", self.slug),
        )
        assert page.status_code == 200, page.text
        assert pid in [row["id"] for row in page.json()["items"]], page.text
        self.post(
            f"/participants/{pid}/stage-transitions",
            {
                "to_stage": 2,
                "placement": "rrc",
                "facility": "RRC-1",
                "occurred_at": f"{days_ago(1)}T09:00:00Z",
            },
        )
        return str(pid)

    def delivered(self, pid: str, timeout: float = 90.0) -> dict[str, Any]:
        """The webhook about `pid`, once the receiver accepted it (signature verified)."""

        def find() -> dict[str, Any] | None:
            for payload in self.receiver.payloads():
                if json.dumps(payload).find(pid) >= 0:
                    return dict(payload)
            return None

        return dict(eventually(find, timeout, f"a webhook about participant {pid}"))

    def participant(self, pid: str) -> httpx.Response:
        return self.http.get(
            f"{self.base}/participants/{pid}", headers=self.idp.token("coordinator", self.slug)
        )
