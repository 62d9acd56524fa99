"""Hardening: rate limits per token and per address (429 + Retry-After), security headers, CORS
off unless configured, and error bodies that never carry internals."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.api.app import create_app
from services.api.hardening import TokenBuckets
from services.settings import Settings
from services.store.database import Database


@pytest.fixture
def limited(settings: Settings, db: Database) -> Iterator[TestClient[Litestar]]:
    """An app allowing 2 requests/s per token (bursts of 4) and no address limit."""
    app = create_app(dataclasses.replace(settings, rate_limit_token=2, rate_limit_ip=0), db)
    with TestClient(app) as client:
        yield client


def test_a_token_over_its_rate_gets_429_with_retry_after(limited, auth, make_grantee):
    slug = make_grantee()
    mine = auth("coordinator", slug, sub="busy")
    answers = [limited.get(f"/v1/grantees/{slug}", headers=mine) for _ in range(8)]
    codes = [r.status_code for r in answers]
    assert codes[:4] == [200] * 4  # the burst
    refused = [r for r in answers if r.status_code == 429]
    assert refused, codes
    r = refused[0]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "rate_limited"
    assert r.json()["type"] == "urn:prowd:problem:rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    # Another token is not held back by this one's use.
    other = auth("coordinator", slug, sub="calm")
    assert limited.get(f"/v1/grantees/{slug}", headers=other).status_code == 200


def test_an_address_over_its_rate_is_refused_even_without_a_token(settings, db):
    app = create_app(dataclasses.replace(settings, rate_limit_token=0, rate_limit_ip=1), db)
    with TestClient(app) as client:
        codes = [client.get("/v1/grantees").status_code for _ in range(5)]
        assert codes[:2] == [401, 401] and 429 in codes[2:], codes
        # Probes are never limited: an orchestrator must see the truth under load.
        assert {client.get("/health").status_code for _ in range(5)} == {200}


def test_buckets_refill_with_time():
    now = [100.0]
    buckets = TokenBuckets(rate=2, burst=2, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0.0
    assert buckets.take("other") == 0.0


def test_responses_carry_security_headers(client, auth, make_grantee):
    slug = make_grantee()
    r = client.get(f"/v1/grantees/{slug}", headers=auth("coordinator", slug))
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in r.headers  # development: plain HTTP allowed
    # Problems carry them too.
    r = client.get(f"/v1/grantees/{slug}")
    assert r.status_code == 401 and r.headers["x-content-type-options"] == "nosniff"


def test_production_adds_hsts(settings, db, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = tmp_path / "audit.pem"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    production = dataclasses.replace(
        settings,
        environment="production",
        jwt_secret="",
        jwks_url="http://127.0.0.1:9/jwks",  # never fetched: /health needs no token
        oidc_issuer="https://idp.example.test/",
        oidc_audience="prowd",
        audit_key_file=str(key),
    )
    app = create_app(production, db)
    with TestClient(app) as client:
        assert client.get("/health").headers["strict-transport-security"] == "max-age=31536000"


def test_cors_is_off_by_default(client):
    r = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = client.options(
        "/v1/grantees",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_configured_origins(settings, db):
    app = create_app(dataclasses.replace(settings, cors_origins=("https://app.example",)), db)
    with TestClient(app) as client:
        r = client.get("/health", headers={"Origin": "https://app.example"})
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = client.get("/health", headers={"Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "FCI-\u0000Z", "name": "nul byte", "kind": "bop_institution"},
        {"code": "FCI-Z", "name": "x" * 70_000, "kind": "bop_institution"},
        {"code": ["not", "a", "string"], "name": "x", "kind": "bop_institution"},
    ],
)
def test_error_bodies_never_carry_internals(client, auth, make_grantee, body):
    slug = make_grantee()
    r = client.post(f"/v1/grantees/{slug}/facilities", json=body, headers=auth("coordinator", slug))
    assert 400 <= r.status_code < 500, r.text
    text = r.text.lower()
    for leak in ("traceback", "psycopg", "select ", "insert ", 'file "', "g_" + slug):
        assert leak not in text, (leak, r.text)
