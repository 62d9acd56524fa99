"""Production identity: RS256/ES256 tokens verified against a JSON Web Key Set served on
127.0.0.1 by a real HTTP server; key rotation; development tokens refused in production."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from litestar import Litestar
from litestar.testing import TestClient

from domain import clock
from services.api.app import create_app
from services.identity import oidc
from services.identity.tokens import issue_token
from services.settings import Settings
from services.store.database import Database

ISSUER = "https://idp.example.test/"
AUDIENCE = "prowd-ledger-api"


class KeySet:
    """Keys the fake provider publishes; `serve()` answers GET /jwks with them."""

    def __init__(self) -> None:
        self.private: dict[str, Any] = {}
        self.published: list[str] = []
        self.requests = 0
        self.up = True

    def add_rsa(self) -> str:
        kid = f"rsa-{uuid.uuid4().hex[:8]}"
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)
        return kid

    def add_ec(self) -> str:
        kid = f"ec-{uuid.uuid4().hex[:8]}"
        self.private[kid] = ec.generate_private_key(ec.SECP256R1())
        self.published.append(kid)
        return kid

    def document(self) -> bytes:
        keys = []
        for kid in self.published:
            key = self.private[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "RS256"
            else:
                jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
                jwk["alg"] = "ES256"
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return json.dumps({"keys": keys}).encode()

    def token(self, kid: str, **overrides: Any) -> str:
        now = int(clock.now().timestamp())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "staff-7",
            "iat": now,
            "exp": now + 600,
            "roles": ["platform_admin"],
            "grantees": ["*"],
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        alg = "RS256" if kid.startswith("rsa") else "ES256"
        return jwt.encode(claims, self.private[kid], algorithm=alg, headers={"kid": kid})


@pytest.fixture
def keys() -> Iterator[tuple[KeySet, str]]:
    keyset = KeySet()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keyset.requests += 1
            if not keyset.up:
                self.send_response(503)
                self.end_headers()
                return
            body = keyset.document()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield keyset, f"http://127.0.0.1:{server.server_port}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def production(settings: Settings, url: str, tmp_path: Path, cache_seconds: float) -> Settings:
    key = tmp_path / "audit.pem"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return dataclasses.replace(
        settings,
        environment="production",
        jwt_secret="",
        jwks_url=url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        # A fresh cache per test: the cache is keyed by URL and lifetime.
        jwks_cache_seconds=cache_seconds,
        audit_key_file=str(key),
    )


@pytest.fixture
def prod_client(settings, db: Database, keys, tmp_path) -> Iterator[TestClient[Litestar]]:
    _, url = keys
    app = create_app(production(settings, url, tmp_path, 300.0), db)
    with TestClient(app) as client:
        yield client


def status(client: TestClient[Litestar], token: str) -> int:
    r = client.get("/v1/grantees", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def test_provider_tokens_are_accepted_rs256_and_es256(prod_client, keys):
    keyset, _ = keys
    rsa_kid, ec_kid = keyset.add_rsa(), keyset.add_ec()
    assert status(prod_client, keyset.token(rsa_kid)) == 200
    assert status(prod_client, keyset.token(ec_kid)) == 200
    assert keyset.requests == 1  # the key set is fetched once and cached


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"iss": "https://other-idp.example.test/"},
        {"exp": int(clock.now().timestamp()) - 3600},
        {"sub": None},
        {"iat": None},
        {"roles": "platform_admin"},  # not a list
    ],
)
def test_bad_claims_are_refused(prod_client, keys, claims):
    keyset, _ = keys
    kid = keyset.add_rsa()
    r = prod_client.get(
        "/v1/grantees", headers={"Authorization": f"Bearer {keyset.token(kid, **claims)}"}
    )
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


def test_clock_skew_within_the_leeway_is_tolerated(prod_client, keys):
    keyset, _ = keys
    kid = keyset.add_ec()
    assert status(prod_client, keyset.token(kid, exp=int(clock.now().timestamp()) - 10)) == 200


def test_development_tokens_are_refused_in_production(prod_client, keys, settings):
    keyset, _ = keys
    keyset.add_rsa()
    dev = issue_token(settings, subject="dev", roles=["platform_admin"], grantees=["*"])
    r = prod_client.get("/v1/grantees", headers={"Authorization": f"Bearer {dev}"})
    assert r.status_code == 401
    assert "identity provider" in r.json()["detail"]


def test_a_token_signed_with_another_key_or_alg_none_is_refused(prod_client, keys):
    keyset, _ = keys
    kid = keyset.add_rsa()
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": 1, "exp": int(clock.now().timestamp()) + 60},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": kid},
    )
    assert status(prod_client, forged) == 401
    unsigned = jwt.encode({"sub": "x"}, None, algorithm="none", headers={"kid": kid})
    assert status(prod_client, unsigned) == 401


def test_rotation_new_key_is_fetched_and_a_withdrawn_key_stops_working(
    settings, db, keys, tmp_path
):
    keyset, url = keys
    old = keyset.add_rsa()
    clock = [1000.0]
    app = create_app(production(settings, url, tmp_path, 60.0), db)
    cache = oidc.cache_for(url, 60.0)
    cache.clock = lambda: clock[0]
    with TestClient(app) as client:
        assert status(client, keyset.token(old)) == 200
        # The provider rotates: a new key appears; a token with it triggers one refetch once
        # the minimum interval has passed.
        new = keyset.add_rsa()
        clock[0] += oidc.MIN_REFETCH_SECONDS
        assert status(client, keyset.token(new)) == 200
        fetched = keyset.requests
        # Made-up key ids do not make the service hammer the provider.
        for _ in range(5):
            assert status(client, keyset.token(new, sub="s")) == 200
            bogus = jwt.encode(
                {"sub": "x"}, keyset.private[new], algorithm="RS256", headers={"kid": "nope"}
            )
            assert status(client, bogus) == 401
        assert keyset.requests == fetched
        # The old key is withdrawn; once the cached set expires, its tokens are refused.
        keyset.published.remove(old)
        assert status(client, keyset.token(old)) == 200  # still cached
        clock[0] += 60
        assert status(client, keyset.token(old)) == 401
        assert status(client, keyset.token(new)) == 200


def test_provider_down_with_no_cached_keys_is_503_not_401(settings, db, keys, tmp_path):
    keyset, url = keys
    kid = keyset.add_ec()
    keyset.up = False
    app = create_app(production(settings, url, tmp_path, 5.0), db)
    with TestClient(app) as client:
        r = client.get("/v1/grantees", headers={"Authorization": f"Bearer {keyset.token(kid)}"})
        assert r.status_code == 503
        assert r.json()["code"] == "identity_unavailable"
        assert r.headers["retry-after"] == "5"
        keyset.up = True
        oidc.cache_for(url, 5.0).clock = lambda: time.monotonic() + 10  # past the interval
        assert status(client, keyset.token(kid)) == 200


def test_production_refuses_to_start_without_the_provider(settings):
    with pytest.raises(SystemExit, match="PROWD_JWKS_URL"):
        dataclasses.replace(settings, environment="production", jwt_secret="").with_secret()
