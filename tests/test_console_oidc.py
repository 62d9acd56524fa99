"""The console's production sign-in (issue 22): OpenID Connect, authorization code with PKCE,
against a small real provider on 127.0.0.1 (discovery, an authorization endpoint issuing
one-time codes, a token endpoint checking the PKCE verifier and the client secret and signing
RS256 ID and access tokens, a key set). The console then reads the API with the provider's
access token; its session cookie is Secure."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.api.app import create_app
from services.projector import live as projector
from tests.console_helpers import shown
from tests.test_oidc import AUDIENCE, production

CLIENT_ID = "prowd-console"
CLIENT_SECRET = "console-client-secret"


class Provider:
    """An OpenID provider of the smallest kind, for one staff member."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "console-test-key"
        self.codes: dict[str, dict[str, str]] = {}
        self.claims: dict[str, Any] = {}
        self.refused: list[str] = []
        self.issuer = ""

    def signed(self, claims: dict[str, Any]) -> str:
        now = int(clock.now().timestamp())
        body = {"iss": self.issuer, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return 400, {}, b"bad request"
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"location": target}, b""

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, str], bytes]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        asked = self.codes.pop(form.get("code", ""), None)  # a code is used once
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        reason = (
            "client"
            if authorization != f"Basic {expected}"
            else "code"
            if asked is None
            else "pkce"
            if challenge != asked["code_challenge"]
            else "redirect_uri"
            if form.get("redirect_uri") != asked["redirect_uri"]
            else ""
        )
        if reason:
            self.refused.append(reason)
            return 400, {"content-type": "application/json"}, b'{"error": "invalid_grant"}'
        answer = {
            "token_type": "Bearer",
            "id_token": self.signed({"aud": CLIENT_ID, "sub": "cm-7", "nonce": asked["nonce"]}),
            "access_token": self.signed({"aud": AUDIENCE, "sub": "cm-7", **self.claims}),
        }
        return 200, {"content-type": "application/json"}, json.dumps(answer).encode()

    def jwks(self) -> bytes:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return json.dumps(
            {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}
        ).encode()


@pytest.fixture
def provider() -> Iterator[Provider]:
    idp = Provider()

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                document = {
                    "issuer": idp.issuer,
                    "authorization_endpoint": f"{idp.issuer}/authorize",
                    "token_endpoint": f"{idp.issuer}/token",
                    "jwks_uri": f"{idp.issuer}/jwks",
                    "code_challenge_methods_supported": ["S256"],
                }
                self.answer(
                    200, {"content-type": "application/json"}, json.dumps(document).encode()
                )
            elif url.path == "/authorize":
                self.answer(*idp.authorize(query))
            elif url.path == "/jwks":
                self.answer(200, {"content-type": "application/json"}, idp.jwks())
            else:
                self.answer(404, {}, b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path == "/token":
                self.answer(*idp.token(form, self.headers.get("authorization", "")))
            else:
                self.answer(404, {}, b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    idp.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def console(settings, db, provider, tmp_path) -> Iterator[TestClient[Litestar]]:
    prod = dataclasses.replace(
        production(settings, f"{provider.issuer}/jwks", tmp_path, 300.0),
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        console_secret="console-test-secret-" + "y" * 32,
    )
    with TestClient(create_app(prod, db), base_url="https://console.test") as client:
        yield client


def sign_in_via_provider(console: TestClient[Litestar]) -> httpx.Response:
    start = console.get("/console/oidc/start", follow_redirects=False)
    assert start.status_code == 303
    sent = urlsplit(start.headers["location"])
    asked = parse_qs(sent.query)
    assert asked["code_challenge_method"] == ["S256"] and asked["scope"] == ["openid"]
    assert asked["redirect_uri"] == ["https://console.test/console/oidc/callback"]
    back = httpx.get(start.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    callback = urlsplit(back.headers["location"])
    return console.get(f"{callback.path}?{callback.query}", follow_redirects=False)


def test_the_provider_signs_a_case_manager_in_with_pkce(console, provider, grantee, enrol, db):
    enrol(first_name="Marisol", last_name="Quintero")
    projector.drain(db, f"g_{grantee}")
    provider.claims = {"roles": ["case_manager"], "grantees": [grantee]}
    page = console.get("/console/sign-in")
    assert "Sign in with your organisation" in page.text
    assert "Development sign-in" not in page.text
    done = sign_in_via_provider(console)
    assert done.status_code == 303 and done.headers["location"] == "/console/"
    cookie = next(
        v for k, v in done.headers.multi_items() if k == "set-cookie" and "prowd_console=" in v
    )
    assert "Secure" in cookie and "HttpOnly" in cookie
    caseload = console.get("/console/caseload")
    assert caseload.status_code == 200 and "Quintero, Marisol" in shown(caseload.text)
    assert "cm-7" in caseload.text  # the provider's subject is who the console speaks as
    assert provider.refused == []


def test_a_return_with_another_state_or_a_used_code_is_refused(console, provider, grantee):
    provider.claims = {"roles": ["case_manager"], "grantees": [grantee]}
    start = console.get("/console/oidc/start", follow_redirects=False)
    back = httpx.get(start.headers["location"], follow_redirects=False)
    callback = urlsplit(back.headers["location"])
    code = parse_qs(callback.query)["code"][0]
    forged = console.get(f"/console/oidc/callback?code={code}&state=not-the-one")
    assert forged.status_code == 401 and "Sign-in failed" in forged.text
    assert console.get("/console/caseload", follow_redirects=False).status_code == 303
    # The flow's secrets went with the refused return: the genuine one no longer completes.
    again = console.get(f"{callback.path}?{callback.query}")
    assert again.status_code == 401


def test_development_sign_in_does_not_exist_in_production(console, grantee):
    console.get("/console/sign-in")
    r = console.post(
        "/console/sign-in",
        data={
            "role": "coordinator",
            "grantee": grantee,
            "_csrf_token": console.cookies["prowd_csrf"],
        },
    )
    assert r.status_code == 404
    assert console.get("/console/caseload", follow_redirects=False).status_code == 303


def test_without_a_console_secret_production_has_no_console(settings, db, provider, tmp_path):
    prod = production(settings, f"{provider.issuer}/jwks", tmp_path, 300.0)
    with TestClient(create_app(prod, db), base_url="https://console.test") as client:
        page = client.get("/console/sign-in")
        assert page.status_code == 503 and "PROWD_CONSOLE_SECRET" in page.text
        assert client.post("/console/sign-in", data={"role": "coordinator"}).status_code in (
            404,
            405,
        )


def test_a_form_sent_after_the_end_waits_through_the_providers_round_trip(
    console, provider, grantee, frozen_at
):
    """Decision 144: the carried form is kept in the session while the browser goes to the
    provider and back, and the sign-in returns to its page."""
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    fixed = frozen_at(start)
    provider.claims = {"roles": ["case_manager"], "grantees": [grantee]}
    assert sign_in_via_provider(console).headers["location"] == "/console/"
    fixed.advance(timedelta(minutes=31))
    late = console.post(
        "/console/caseload",
        data={"q": "Brandvold", "_csrf_token": console.cookies["prowd_csrf"]},
        follow_redirects=False,
    )
    assert late.headers["location"] == "/console/sign-in?expired=1"
    assert "NOT recorded" in console.get(late.headers["location"]).text
    done = sign_in_via_provider(console)
    assert done.status_code == 303 and done.headers["location"] == "/console/caseload"
    page = console.get("/console/caseload").text
    assert "NOT recorded" in page and "<dd>Brandvold</dd>" in page
