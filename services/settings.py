"""Settings, read from the environment once by the CLI or the app factory, never at import."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from domain import clock


def _conninfo_parses(url: str) -> bool:
    """Whether libpq can parse `url` (empty: unset, the embedded server). Reachability is the
    first connection's to find out."""
    import psycopg.conninfo

    if not url:
        return True
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return False
    return True


def create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes, creating it with `make()` if no process has yet.

    Development secrets (JWT secret, master key, audit key) are generated into the data folder
    by whichever process needs them first; several may start at once (`prowd serve`'s
    processes, parallel test workers). The file is written aside and linked into place, which
    fails if another process linked first: theirs wins, and everyone reads the same bytes."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_bytes(make())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


ENVIRONMENTS = ("development", "production")


class _Reader:
    """Reads settings from an environment, collecting every problem instead of stopping at the
    first: a start-up names them all in one message."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def int(self, key: str, default: int) -> int:
        raw = self.env.get(key, "")
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            self.problems.append(f"{key} must be an integer, got {raw!r}")
            return default

    def float(self, key: str, default: float) -> float:
        raw = self.env.get(key, "")
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError:
            self.problems.append(f"{key} must be a number, got {raw!r}")
            return default


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
    # The largest document a participant's record takes (services/api/documents.py).
    document_max_bytes: int = 10 * 1024 * 1024
    # Ed25519 key signing the hash chain's checkpoints (PEM, PKCS8); generated into the data
    # directory when unset (development).
    audit_key_file: str = ""
    # Threads that run blocking handlers, per API process (measured best at 3 on 2 cores).
    handler_threads: int = 3
    # Upper bound on how long a query waits for a view to reach a requested position.
    view_wait_max: float = 5.0
    # How long the projection worker gathers a grantee's further notices after the first
    # before it applies them in one batch (ms; 0: at once). Trades lag for fewer, larger batches.
    projector_gather_ms: int = 0
    # The least time between two catch-ups of one grantee on its notices (ms; 0: none). News
    # after a quiet spell is applied at once; under a stream of commands the worker applies
    # fewer, larger batches (decision 152).
    projector_spacing_ms: int = 0
    # The CPU priority (`nice`, 0-19) the API processes of `prowd serve` take when the
    # projection worker runs beside them on one host: under a load that saturates the host the
    # worker keeps the CPU it needs and the views stay fresh (decision 143). 0: equal shares.
    api_nice: int = 5
    # Networks webhook targets may lie in although private or loopback (comma-separated CIDRs,
    # PROWD_WEBHOOK_ALLOWED_NETWORKS); empty: only public addresses (services/webhooks/ssrf.py).
    webhook_allowed_networks: str = ""
    # With a value, GET /metrics wants `Authorization: Bearer <it>` (PROWD_METRICS_TOKEN).
    metrics_token: str = ""
    log_level: str = "info"
    # `/metrics` of a worker or a dispatcher (they serve no API): its port, 0 for none
    # (PROWD_METRICS_PORT), and the address it listens on (PROWD_METRICS_HOST).
    metrics_port: int = 0
    metrics_host: str = "0.0.0.0"
    # The database role the service's pooled connections act as (`SET ROLE`): it may read the
    # logs and append through `append_events`, never UPDATE, DELETE or TRUNCATE them (DESIGN
    # D7). Migrations run as the login user, which owns the logs. Empty: act as the login user.
    db_role: str = "prowd_service"
    # Requests per second per bearer token and per client address (bursts of twice that),
    # counted where `rate_limit_store` says; 0 turns a limit off.
    rate_limit_token: float = 100.0
    rate_limit_ip: float = 300.0
    # Requests per second to one grantee's routes, whoever sends them (bursts of twice that):
    # one tenant cannot starve the others (PROWD_RATE_LIMIT_GRANTEE; 0: off).
    rate_limit_grantee: float = 0.0
    # Where the limits are counted: `database` (shared by every process and pod, decision 46)
    # or `process` (each API process alone; N processes allow N times the rates).
    rate_limit_store: str = "database"
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Whether processes create and upgrade schemas when they start. Off where a migration job
    # (`prowd migrate`, as the owning login) does it and services log in as a plain role.
    migrate_on_start: bool = True
    # Production identity: RS256/ES256 tokens verified against the provider's key set.
    jwks_url: str = ""
    oidc_issuer: str = ""
    oidc_audience: str = ""
    jwks_cache_seconds: float = 300.0
    # The staff console's sign-in (services/api/console/): the OIDC client registered with the
    # provider (authorization code + PKCE), the key sealing its session cookies, the minutes
    # of inactivity that end a session, and its public address (for the redirect URI; empty:
    # the address the browser used).
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    console_secret: str = field(default="", repr=False)
    console_idle_minutes: float = 30.0
    console_url: str = ""
    # The grantee the development sign-in offers first (PROWD_CONSOLE_GRANTEE; `prowd demo` sets
    # it to the grantee its tokens and the README name); empty or not registered: the first
    # grantee by slug.
    console_grantee: str = ""
    # Master key wrapping the per-participant data keys (services/store/keys.py): base64 of 32 bytes
    # (PROWD_MASTER_KEY) or a file holding it (PROWD_MASTER_KEY_FILE); generated into the data
    # directory in development. PROWD_MASTER_KEY_PREVIOUS (comma-separated) still unwraps keys
    # during a rotation (`prowd keys rotate`).
    master_key: str = field(default="", repr=False)
    master_key_file: str = ""
    master_key_previous: str = field(default="", repr=False)
    # Seconds another process may keep using a participant key it cached before the key was
    # destroyed (erasure): how often it asks for new erasures, per grantee; the erasing process
    # evicts its own cache at once.
    key_cache_seconds: float = 1.0
    # Most concurrent writes to one log committed in one transaction (group commit,
    # services/store/groupcommit.py); 1 commits every write alone.
    group_commit_max: int = 64
    # Aggregates a grantee's commands may take from memory, per grantee and process
    # (services/store/aggregates.py); 0 reads every one from the log.
    aggregate_cache_size: int = 5000
    # Quarterly reports computed at once per API process, each in a short-lived child process
    # (services/reports/processes.py); 0 computes them in the API process itself (debugging).
    report_processes: int = 1
    # An RFC 3339 instant the process's clock starts at and ticks on from (PROWD_CLOCK): a
    # demo or a test run as of another day (DESIGN D10). Development only; empty: the system's.
    clock_at: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        r = _Reader(e)
        data_dir = Path(e.get("PROWD_DATA_DIR") or ".prowd")
        environment = e.get("PROWD_ENV") or "development"
        log_level = (e.get("PROWD_LOG_LEVEL") or "info").lower()
        if log_level not in ("debug", "info", "warning", "error", "critical"):
            r.problems.append(
                f"PROWD_LOG_LEVEL must be debug, info, warning, error or critical, got {log_level!r}"
            )
        store = e.get("PROWD_RATE_LIMIT_STORE") or "database"
        if store not in ("database", "process"):
            r.problems.append(f"PROWD_RATE_LIMIT_STORE must be database or process, got {store!r}")
        api_nice = r.int("PROWD_API_NICE", 5)
        if not 0 <= api_nice <= 19:
            r.problems.append(f"PROWD_API_NICE must be 0 to 19, got {api_nice}")
        if environment not in ENVIRONMENTS:
            r.problems.append(
                f"PROWD_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
            )
        if not _conninfo_parses(e.get("PROWD_DATABASE_URL") or ""):
            # The value is not repeated: a malformed URL may still hold a password.
            r.problems.append(
                "PROWD_DATABASE_URL is not a libpq connection URL or string (e.g."
                " postgresql://user@host:5432/dbname, postgresql:///?service=prowd or"
                " 'host=… dbname=…')"
            )
        settings = cls(
            database_url=e.get("PROWD_DATABASE_URL") or None,
            data_dir=data_dir,
            jwt_secret=e.get("PROWD_JWT_SECRET", ""),
            jwt_audience=e.get("PROWD_JWT_AUDIENCE") or "prowd-ledger",
            jwt_issuer=e.get("PROWD_JWT_ISSUER") or "prowd-dev",
            environment=environment,
            pool_min=r.int("PROWD_POOL_MIN", 2),
            pool_max=r.int("PROWD_POOL_MAX", 10),
            pool_timeout=r.float("PROWD_POOL_TIMEOUT", 5.0),
            pool_max_waiting=r.int("PROWD_POOL_MAX_WAITING", 200),
            connect_timeout=r.int("PROWD_CONNECT_TIMEOUT", 3),
            lock_timeout_ms=r.int("PROWD_LOCK_TIMEOUT_MS", 3000),
            statement_timeout_ms=r.int("PROWD_STATEMENT_TIMEOUT_MS", 15000),
            max_body_bytes=r.int("PROWD_MAX_BODY_BYTES", 64 * 1024),
            document_max_bytes=r.int("PROWD_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024),
            audit_key_file=e.get("PROWD_AUDIT_KEY_FILE", ""),
            handler_threads=r.int("PROWD_HANDLER_THREADS", 3),
            view_wait_max=r.float("PROWD_VIEW_WAIT_MAX", 5.0),
            projector_gather_ms=r.int("PROWD_PROJECTOR_GATHER_MS", 0),
            projector_spacing_ms=r.int("PROWD_PROJECTOR_SPACING_MS", 0),
            api_nice=api_nice,
            webhook_allowed_networks=e.get("PROWD_WEBHOOK_ALLOWED_NETWORKS", ""),
            metrics_token=e.get("PROWD_METRICS_TOKEN", ""),
            log_level=log_level,
            metrics_port=r.int("PROWD_METRICS_PORT", 0),
            metrics_host=e.get("PROWD_METRICS_HOST") or "0.0.0.0",
            db_role=e.get("PROWD_DB_ROLE", "prowd_service"),
            rate_limit_token=r.float("PROWD_RATE_LIMIT_TOKEN", 100.0),
            rate_limit_ip=r.float("PROWD_RATE_LIMIT_IP", 300.0),
            rate_limit_grantee=r.float("PROWD_RATE_LIMIT_GRANTEE", 0.0),
            rate_limit_store=store,
            migrate_on_start=(e.get("PROWD_MIGRATE_ON_START") or "true").lower()
            not in ("0", "false", "no", "off"),
            jwks_url=e.get("PROWD_JWKS_URL", ""),
            oidc_issuer=e.get("PROWD_OIDC_ISSUER", ""),
            oidc_audience=e.get("PROWD_OIDC_AUDIENCE", ""),
            jwks_cache_seconds=r.float("PROWD_JWKS_CACHE_SECONDS", 300.0),
            oidc_client_id=e.get("PROWD_OIDC_CLIENT_ID", ""),
            oidc_client_secret=e.get("PROWD_OIDC_CLIENT_SECRET", ""),
            console_secret=e.get("PROWD_CONSOLE_SECRET", ""),
            console_idle_minutes=r.float("PROWD_CONSOLE_IDLE_MINUTES", 30.0),
            console_url=e.get("PROWD_CONSOLE_URL", "").rstrip("/"),
            console_grantee=e.get("PROWD_CONSOLE_GRANTEE", "").strip(),
            master_key=e.get("PROWD_MASTER_KEY", ""),
            master_key_file=e.get("PROWD_MASTER_KEY_FILE", ""),
            master_key_previous=e.get("PROWD_MASTER_KEY_PREVIOUS", ""),
            key_cache_seconds=r.float("PROWD_KEY_CACHE_SECONDS", 1.0),
            group_commit_max=r.int("PROWD_GROUP_COMMIT_MAX", 64),
            aggregate_cache_size=r.int("PROWD_AGGREGATE_CACHE_SIZE", 5000),
            report_processes=r.int("PROWD_REPORT_PROCESSES", 1),
            clock_at=e.get("PROWD_CLOCK", ""),
            cors_origins=tuple(
                o.strip() for o in e.get("PROWD_CORS_ORIGINS", "").split(",") if o.strip()
            ),
        )
        if environment == "production":
            r.problems.extend(settings.production_problems())
        if r.problems:
            raise SystemExit(
                'cannot start, fix these settings (README.md, "Configuration"):\n  - '
                + "\n  - ".join(r.problems)
            )
        return settings

    def production_problems(self) -> list[str]:
        """What `PROWD_ENV=production` needs and the settings lack: every item, not the first."""
        problems = []
        if not self.database_url:
            problems.append("PROWD_DATABASE_URL is unset (the embedded server is for development)")
        # Whether a key file exists is checked by the process that reads it (the migration
        # Job mounts no audit key): here, only that the setting is there.
        if not (self.master_key or self.master_key_file):
            problems.append("PROWD_MASTER_KEY or PROWD_MASTER_KEY_FILE is unset")
        if not self.audit_key_file:
            problems.append("PROWD_AUDIT_KEY_FILE is unset")
        for name, value in (
            ("PROWD_JWKS_URL", self.jwks_url),
            ("PROWD_OIDC_ISSUER", self.oidc_issuer),
            ("PROWD_OIDC_AUDIENCE", self.oidc_audience),
        ):
            if not value:
                problems.append(f"{name} is unset (production verifies the provider's tokens)")
        if self.clock_at:
            problems.append("PROWD_CLOCK is for development and tests; unset it")
        return problems

    def install_clock(self) -> None:
        """Start the process's clock at `PROWD_CLOCK` when set (development only)."""
        if not self.clock_at:
            return
        if self.environment == "production":
            raise SystemExit("PROWD_CLOCK is for development and tests; unset it in production")
        try:
            at = datetime.fromisoformat(self.clock_at.replace("Z", "+00:00"))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise SystemExit(
                f"PROWD_CLOCK must be an instant with a UTC offset, got {self.clock_at!r}"
            )
        clock.install(clock.FixedClock(at, tick=True))

    def with_secret(self) -> Settings:
        """Use PROWD_JWT_SECRET, else a secret generated once into the data directory."""
        if self.environment == "production":
            # Development tokens are refused in production: no secret is needed or used.
            missing = [
                name
                for name, value in (
                    ("PROWD_JWKS_URL", self.jwks_url),
                    ("PROWD_OIDC_ISSUER", self.oidc_issuer),
                    ("PROWD_OIDC_AUDIENCE", self.oidc_audience),
                )
                if not value
            ]
            if missing:
                raise SystemExit(f"PROWD_ENV=production needs {', '.join(missing)}")
            return self
        if self.jwt_secret:
            return self
        secret = create_once(
            self.data_dir / "jwt-secret", lambda: secrets.token_urlsafe(48).encode()
        )
        return replace(self, jwt_secret=secret.decode().strip())
