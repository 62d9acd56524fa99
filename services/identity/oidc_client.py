"""The staff console's OpenID Connect sign-in (DESIGN D11): the authorization-code flow with
PKCE (RFC 7636, `S256`) against the configured provider.

The provider's endpoints come from its discovery document
(`<PROWD_OIDC_ISSUER>/.well-known/openid-configuration`). The ID token is verified against the
provider's key set (services/identity/oidc.py: RS256/ES256, issuer, the client as audience, the
service's clock) and must carry the nonce the sign-in started with. The access token the
provider issues for the API's audience is what the console then presents to the API, which
verifies it as it verifies every caller's token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from services.identity import oidc
from services.settings import Settings

TIMEOUT = 5.0
LEEWAY_SECONDS = 30


class SignInFailed(Exception):
    """The provider refused, or answered with something that does not verify."""


@dataclass(frozen=True)
class Started:
    """What the console keeps (in the session) between sending the browser to the provider and
    its return: `state` ties the answer to this browser, `nonce` the ID token to this sign-in,
    `verifier` the code to this client (PKCE)."""

    url: str
    state: str
    nonce: str
    verifier: str


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_discovered: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, fetched once per process."""
    with _lock:
        known = _discovered.get(issuer)
    if known is not None:
        return known
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as e:
        raise SignInFailed(
            f"the identity provider's discovery document: {type(e).__name__}"
        ) from None
    if document.get("issuer") != issuer:
        raise SignInFailed("the discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint"):
        if not isinstance(document.get(key), str):
            raise SignInFailed(f"the discovery document has no {key}")
    with _lock:
        _discovered[issuer] = document
    return document


def start(settings: Settings, redirect_uri: str) -> Started:
    """Where to send the browser to sign in, and the secrets to check its return with."""
    document = discover(settings.oidc_issuer)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge_of(verifier),
            "code_challenge_method": "S256",
        }
    )
    return Started(f"{document['authorization_endpoint']}?{query}", state, nonce, verifier)


def finish(settings: Settings, code: str, verifier: str, nonce: str, redirect_uri: str) -> str:
    """Exchange the code (with the PKCE verifier) for tokens; verify the ID token (signature,
    issuer, audience, times, nonce). Returns the access token for the API."""
    document = discover(settings.oidc_issuer)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": settings.oidc_client_id,
        "code_verifier": verifier,
    }
    auth = (
        (settings.oidc_client_id, settings.oidc_client_secret)
        if settings.oidc_client_secret
        else None
    )
    try:
        response = httpx.post(
            document["token_endpoint"],
            data=form,
            auth=auth,
            timeout=TIMEOUT,
            follow_redirects=False,
        )
        answer = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        raise SignInFailed("the identity provider refused the sign-in code")
    id_token, access_token = answer.get("id_token"), answer.get("access_token")
    if not isinstance(id_token, str) or not isinstance(access_token, str):
        raise SignInFailed("the identity provider's answer lacks an ID token or an access token")
    jwks_url = settings.jwks_url or str(document.get("jwks_uri", ""))
    try:
        claims = oidc.decode(
            id_token,
            cache=oidc.cache_for(jwks_url, settings.jwks_cache_seconds),
            audience=settings.oidc_client_id,
            issuer=settings.oidc_issuer,
            leeway=LEEWAY_SECONDS,
        )
    except (jwt.PyJWTError, oidc.UnknownKey, oidc.KeysUnavailable):
        raise SignInFailed("the ID token does not verify") from None
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("the ID token is not for this sign-in (nonce)")
    return access_token
