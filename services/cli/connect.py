"""The database a command works on: the configured server, or the embedded one started here."""

from __future__ import annotations

import contextlib

from services.settings import Settings
from services.store.database import Database


def database(settings: Settings, stack: contextlib.ExitStack[bool | None]) -> tuple[str, Database]:
    """Open a pool on the server of `settings` (starting the embedded server when none is
    configured); both are closed when `stack` unwinds. Returns the server's URL and the pool."""
    from services.store.database import server_url

    url = server_url(settings, stack)
    db = Database(url, settings, name="prowd-cli").open()
    stack.callback(db.close)
    return url, db


def require_master_keys(db: Database) -> None:
    """Refuse to go on (one line, exit 1) when the configured master keys unwrap none of a
    grantee's participant keys: every request about its participants would fail."""
    from services.store.health import master_key_refusal

    refusal = master_key_refusal(db)
    if refusal:
        raise SystemExit(refusal)
