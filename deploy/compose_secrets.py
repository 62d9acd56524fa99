"""The one-shot `secrets` service of deploy/compose.yaml: every secret of the host, made once.

    python /app/deploy/compose_secrets.py PROWD_DIR POSTGRES_DIR

Writes into two named volumes, each file only if it is not there yet (so a second run, or a
recreated container, changes nothing):

- PROWD_DIR (read by migrate, api, worker and dispatcher, uid 10001): `master-key`,
  `audit-ed25519.pem`, and a libpq service file per login, `owner.pg_service.conf` (the
  migration) and `service.pg_service.conf` (the services), section `[prowd]`.
- POSTGRES_DIR (read by the postgres container, uid 999): `postgres-password` (its superuser),
  `owner-password` and `service-password`, which deploy/compose/initdb.sh gives the logins.

The database's host, name and login names come from PROWD_DB_HOST, PROWD_DB_NAME,
PROWD_DB_OWNER and PROWD_DB_LOGIN. Standard library and `cryptography` (in the image) only.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PROWD_UID = 10001
POSTGRES_UID = 999


def create_once(path: Path, make: Callable[[], bytes], uid: int) -> bytes:
    """The file's bytes, written aside and linked into place if absent: never overwritten."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        tmp.write_bytes(make())
        tmp.chmod(0o400)
        if os.geteuid() == 0:
            os.chown(tmp, uid, uid)
        try:
            os.link(tmp, path)
            print(f"created {path}")
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


def password() -> bytes:
    return secrets.token_urlsafe(32).encode()


def audit_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def service_file(user: str, secret: bytes) -> Callable[[], bytes]:
    env = os.environ
    lines = [
        "[prowd]",
        f"host={env.get('PROWD_DB_HOST', 'postgres')}",
        f"port={env.get('PROWD_DB_PORT', '5432')}",
        f"dbname={env.get('PROWD_DB_NAME', 'prowd')}",
        f"user={user}",
        f"password={secret.decode()}",
    ]
    return lambda: ("\n".join(lines) + "\n").encode()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: compose_secrets.py PROWD_DIR POSTGRES_DIR", file=sys.stderr)
        return 2
    prowd, pg = Path(argv[0]), Path(argv[1])
    create_once(pg / "postgres-password", password, POSTGRES_UID)
    owner = create_once(pg / "owner-password", password, POSTGRES_UID)
    login = create_once(pg / "service-password", password, POSTGRES_UID)
    create_once(prowd / "master-key", lambda: base64.b64encode(os.urandom(32)), PROWD_UID)
    create_once(prowd / "audit-ed25519.pem", audit_key, PROWD_UID)
    create_once(
        prowd / "owner.pg_service.conf",
        service_file(os.environ.get("PROWD_DB_OWNER", "prowd_owner"), owner),
        PROWD_UID,
    )
    create_once(
        prowd / "service.pg_service.conf",
        service_file(os.environ.get("PROWD_DB_LOGIN", "prowd_app"), login),
        PROWD_UID,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
