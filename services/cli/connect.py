"""The database a command works on: the configured server, or the embedded one started here."""

from __future__ import annotations

import contextlib

from services.settings import Settings
from services.store.database import Database


class NoInstallation(Exception):
    """A command that works on an installation found none where the settings point (exit 2)."""


def require_installation(settings: Settings) -> None:
    """Refuse (NoInstallation) when the command would start the embedded server in a data
    folder that holds none: the embedded server would make a new cluster there, and the
    command would run, and pass, on an empty installation (a typo in PROWD_DATA_DIR). With
    PROWD_DATABASE_URL the server is the installation; production never embeds one."""
    if settings.database_url or settings.environment == "production":
        return
    folder = settings.data_dir.absolute()
    setup = (
        "point PROWD_DATA_DIR at an installation's data folder (default ./.prowd) or"
        " PROWD_DATABASE_URL at its server; `prowd demo`, `prowd serve` and `prowd migrate`"
        " set one up; nothing was created"
    )
    if not folder.is_dir():
        raise NoInstallation(
            f"no installation in {folder}: the folder does not exist (PROWD_DATA_DIR); {setup}"
        )
    if not (folder / "pg" / "PG_VERSION").is_file():
        raise NoInstallation(
            f"no installation in {folder}: it holds no embedded database ({folder / 'pg'}); {setup}"
        )


def database(
    settings: Settings, stack: contextlib.ExitStack[bool | None], *, sets_up: bool = False
) -> tuple[str, Database]:
    """Open a pool on the server of `settings` (starting the embedded server when none is
    configured); both are closed when `stack` unwinds. Returns the server's URL and the pool.
    Only a command that sets an installation up (`sets_up`) may start the embedded server in
    a data folder that holds none (`require_installation`)."""
    from services.store.database import server_url

    if not sets_up:
        require_installation(settings)
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


def require_every_key(db: Database, schemas: dict[str, str], command: str) -> None:
    """Refuse to go on (one line, exit 1) unless every live participant key of these grantees
    (slug -> schema) unwraps with the configured master keys: for a command that would
    otherwise stop half-way (a rotation half re-wrapped, a rebuild's staging tables left)."""
    from services.store import keys
    from services.store.health import KEY_SETTINGS

    ring = keys.STORE.ring(db)
    failing = {
        slug: found
        for slug, schema in schemas.items()
        if (found := keys.check_unwrap(db, schema, ring)).failing
    }
    if failing:
        slug, found = next(iter(failing.items()))
        raise SystemExit(
            f"prowd {command}: {sum(f.failing for f in failing.values())} participant key(s) of"
            f" {len(failing)} grantee(s) do not unwrap with the configured master keys"
            f" ({', '.join(ring.ids)}), e.g. {slug}: {found.first}; nothing was changed;"
            f" {KEY_SETTINGS}"
        )
