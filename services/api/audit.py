"""`/v1/grantees/{grantee}/audit/verification`: is the log intact?"""

from __future__ import annotations

from typing import Any

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar import Request, get
from litestar.di import Provide

from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.audit import keys
from services.audit.checkpoints import Signer
from services.audit.verify import verify


class VerificationOut(msgspec.Struct):
    intact: bool
    checked: int
    head: int
    first_bad_position: int | None
    bad_from: int | None
    bad_through: int | None
    problem: str
    verdict: str
    signed_through: int | None
    unsigned: int | None


@get(
    "/v1/grantees/{grantee:str}/audit/verification",
    opt=action("audit.verify"),
    sync_to_thread=True,
    tags=["audit"],
    responses=problems(),
    dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
)
def verification(request: Request[Any, Any, Any], tenant: Tenant) -> VerificationOut:
    """Recompute the grantee's hash chain over every stored event, as `prowd verify` does:
    `intact` is false when a stored record was altered, deleted, inserted or moved behind the
    service's back, and `first_bad_position` names where. When a signed checkpoint shows the log
    and its chain were rewritten together, only a range is known: `first_bad_position` is null
    and the first bad record lies between `bad_from` and `bad_through` (otherwise both equal
    `first_bad_position`); `checked` then counts the events the previous checkpoint proves.
    `verdict` is `intact`, `tampered`, `unknown_key` or `outside_validity` (docs/audit.md).
    Checkpoints are checked against the published public keys only. On an intact chain,
    `signed_through` is the last signed checkpoint the chain passes through (0 for none) and
    `unsigned` counts the events after it: chained, but covered by no signature, so a rewrite
    of them that recomputed their hashes would not show (0 when the log is signed to its end);
    both are null when the chain is not intact."""
    db = tenant.tenancy.db
    v = verify(db, tenant.info.schema, keys=keys.published(db))
    return VerificationOut(
        v.intact,
        v.checked,
        v.head,
        v.first_bad_position,
        v.bad_from,
        v.bad_through,
        v.problem,
        v.verdict,
        v.signed_through if v.intact else None,
        v.unsigned if v.intact else None,
    )


class PublicKeyOut(msgspec.Struct):
    algorithm: str
    key_id: str
    public_key_pem: str


def _published(request: Request[Any, Any, Any]) -> dict[str, keys.PublicKey]:
    signer: Signer = request.app.state.audit_key
    db = request.app.state.tenancy.db
    signer.publish(db)
    return keys.published(db)


@get("/v1/audit/public-key", tags=["audit"], sync_to_thread=True)
def public_key(request: Request[Any, Any, Any]) -> PublicKeyOut:
    """The Ed25519 public key that signs new chain checkpoints now (every key ever used is at
    `/v1/audit/public-keys`). A checkpoint signs
    `prowd-checkpoint:<schema>:<position>:<chain hash hex>`. No token needed."""
    published = _published(request)
    key = list(published.values())[-1]
    pem = (
        Ed25519PublicKey.from_public_bytes(key.raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return PublicKeyOut("Ed25519", key.kid, pem)


class PublicJwk(msgspec.Struct):
    """One audit key (RFC 8037 OKP JWK, with its validity and fingerprint)."""

    kty: str
    crv: str
    alg: str
    use: str
    kid: str
    x: str
    not_before: str | None
    not_after: str | None
    fingerprint: str


class PublicKeySetOut(msgspec.Struct):
    keys: list[PublicJwk]


@get("/v1/audit/public-keys", tags=["audit"], sync_to_thread=True)
def public_keys(request: Request[Any, Any, Any]) -> PublicKeySetOut:
    """Every public key that has ever signed checkpoints, as a JWKS-style document: per key its
    `kid`, `use` (`sig`), `x` (the raw key, base64url), `not_before` and `not_after` (its
    validity; null: from the start / still current) and `fingerprint` (SHA-256 of the raw
    key). `prowd verify --keys FILE` and `tools/prowd_audit_verify.py` read this document.
    No token needed."""
    return msgspec.convert(keys.jwks(_published(request)), PublicKeySetOut)


ROUTES: list[Any] = [verification, public_key, public_keys]
