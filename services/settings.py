"""Settings, read from the environment once by the CLI or the app factory, never at import."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path


def _int(env: dict[str, str], key: str, default: int) -> int:
    raw = env.get(key, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{key} must be an integer, got {raw!r}") from None


def _float(env: dict[str, str], key: str, default: float) -> float:
    raw = env.get(key, "")
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{key} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    data_dir: Path = Path(".prowd")
    jwt_secret: str = ""
    jwt_audience: str = "prowd-ledger"
    jwt_issuer: str = "prowd-dev"
    environment: str = "development"
    pool_min: int = 2
    pool_max: int = 10
    # Seconds a request waits for a pooled connection before it is refused with 503.
    pool_timeout: float = 5.0
    pool_max_waiting: int = 200
    connect_timeout: int = 3
    lock_timeout_ms: int = 3000
    statement_timeout_ms: int = 15000
    max_body_bytes: int = 64 * 1024
    # Ed25519 key signing the hash chain's checkpoints (PEM, PKCS8); generated into the data
    # directory when unset (development).
    audit_key_file: str = ""
    # Threads that run blocking handlers, per API process (measured best at 3 on 2 cores).
    handler_threads: int = 3
    # Upper bound on how long a query waits for a view to reach a requested position.
    view_wait_max: float = 5.0
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        data_dir = Path(e.get("PROWD_DATA_DIR") or ".prowd")
        return cls(
            database_url=e.get("PROWD_DATABASE_URL") or None,
            data_dir=data_dir,
            jwt_secret=e.get("PROWD_JWT_SECRET", ""),
            jwt_audience=e.get("PROWD_JWT_AUDIENCE") or "prowd-ledger",
            jwt_issuer=e.get("PROWD_JWT_ISSUER") or "prowd-dev",
            environment=e.get("PROWD_ENV") or "development",
            pool_min=_int(e, "PROWD_POOL_MIN", 2),
            pool_max=_int(e, "PROWD_POOL_MAX", 10),
            pool_timeout=_float(e, "PROWD_POOL_TIMEOUT", 5.0),
            pool_max_waiting=_int(e, "PROWD_POOL_MAX_WAITING", 200),
            connect_timeout=_int(e, "PROWD_CONNECT_TIMEOUT", 3),
            lock_timeout_ms=_int(e, "PROWD_LOCK_TIMEOUT_MS", 3000),
            statement_timeout_ms=_int(e, "PROWD_STATEMENT_TIMEOUT_MS", 15000),
            max_body_bytes=_int(e, "PROWD_MAX_BODY_BYTES", 64 * 1024),
            audit_key_file=e.get("PROWD_AUDIT_KEY_FILE", ""),
            handler_threads=_int(e, "PROWD_HANDLER_THREADS", 3),
            view_wait_max=_float(e, "PROWD_VIEW_WAIT_MAX", 5.0),
            log_level=e.get("PROWD_LOG_LEVEL") or "info",
        )

    def with_secret(self) -> Settings:
        """Use PROWD_JWT_SECRET, else a secret generated once into the data directory."""
        if self.jwt_secret:
            return self
        if self.environment == "production":
            raise SystemExit("PROWD_ENV=production needs PROWD_JWT_SECRET set explicitly")
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return replace(self, jwt_secret=path.read_text().strip())
