"""Production identity (DESIGN D5): RS256/ES256 tokens verified against the identity provider's
JSON Web Key Set.

Keys are fetched from `PROWD_JWKS_URL` and cached for `PROWD_JWKS_CACHE_SECONDS`; a token
signed with a key id the cache does not know triggers one early refetch (the provider rotated
its keys), at most once per `MIN_REFETCH_SECONDS`, so tokens with made-up key ids cannot make
the service hammer the provider. When a refetch fails the cached keys stay in use; with no keys
at all the request is answered 503, not 401: the caller's token may be fine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from domain import clock

ALGORITHMS = ("RS256", "ES256")
MIN_REFETCH_SECONDS = 30.0


class KeysUnavailable(Exception):
    """The key set could not be fetched and none is cached."""


class UnknownKey(Exception):
    """The token names a key id the provider does not publish."""


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str) -> Any:
        """The public key with id `kid`, fetching the set when stale or when `kid` is new."""
        now = self.clock()
        with self._lock:
            age = None if self._fetched_at is None else now - self._fetched_at
            stale = age is None or age >= self.ttl
            # A key id not seen yet: the provider may have rotated; refetch, but not too often.
            rotated = (
                kid not in self._keys
                and age is not None
                and age >= min(MIN_REFETCH_SECONDS, self.ttl)
            )
            if stale or rotated:
                self._refresh(now)
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        return key

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            response = httpx.get(self.url, timeout=self.timeout, follow_redirects=False)
            response.raise_for_status()
            document = response.json()
            keys = {}
            for jwk in document.get("keys", []):
                kid = jwk.get("kid")
                if not isinstance(kid, str) or jwk.get("use", "sig") != "sig":
                    continue
                try:
                    keys[kid] = jwt.PyJWK(jwk).key
                except jwt.PyJWTError:
                    continue  # a key type or algorithm this service does not accept
        except (httpx.HTTPError, ValueError, AttributeError):
            if not self._keys:
                raise KeysUnavailable(self.url) from None
            # Keep serving with the keys we have; try again after the next interval.
            self._fetched_at = now
            return
        self._keys = keys
        self._fetched_at = now


_caches: dict[tuple[str, float], JwksCache] = {}
_caches_lock = threading.Lock()


def cache_for(url: str, ttl: float) -> JwksCache:
    with _caches_lock:
        cache = _caches.get((url, ttl))
        if cache is None:
            cache = _caches[(url, ttl)] = JwksCache(url, ttl=ttl)
        return cache


def decode(
    token: str, *, cache: JwksCache, audience: str, issuer: str, leeway: float
) -> dict[str, Any]:
    """The verified claims of an RS256/ES256 token; raises jwt.PyJWTError, UnknownKey or
    KeysUnavailable."""
    header = jwt.get_unverified_header(token)
    alg = header.get("alg")
    kid = header.get("kid")
    if alg not in ALGORITHMS:
        raise jwt.InvalidAlgorithmError(f"algorithm {alg!r} is not accepted")
    if not isinstance(kid, str):
        raise jwt.InvalidTokenError("the token names no key id (kid)")
    claims: dict[str, Any] = jwt.decode(
        token,
        cache.key(kid),
        algorithms=[alg],
        audience=audience,
        issuer=issuer,
        options={
            "require": ["exp", "iat", "sub", "aud", "iss"],
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        },
    )
    check_times(claims, leeway)
    return claims


def check_times(claims: dict[str, Any], leeway: float) -> None:
    """Refuse a token that expired, is not yet valid or was issued in the future.

    PyJWT would compare these with the wall clock; the service compares them with its own
    (DESIGN D10: tests freeze it, production runs on the system's)."""
    now = clock.now().timestamp()
    for claim in ("exp", "nbf", "iat"):
        if claim in claims and not isinstance(claims[claim], int | float):
            raise jwt.InvalidTokenError(f"the {claim} claim must be a number")
    if claims["exp"] < now - leeway:
        raise jwt.ExpiredSignatureError("Signature has expired")
    if claims.get("nbf", now) > now + leeway:
        raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
    if claims.get("iat", now) > now + leeway:
        raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
