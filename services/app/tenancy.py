"""Grantees as tenants: the platform log, the registry, lazily built grantee applications.

Registering a grantee creates its schema, log, view tables and registry row in the same
transaction as the `Grantee.Registered` event of the platform log: either all exist or none.
Grantee applications are built on first use and hold no connection of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from domain.common import DomainError
from domain.grantees import Grantee, check_slug
from projections.base import Tables
from projections.registry import PROJECTIONS, by_name, ensure_views, lacking_tables
from services.app.grantee import GranteeApp
from services.app.retention import Retention
from services.projector import rebuilds
from services.store import builds, citus, provisioning, schema
from services.store import documents as document_store
from services.store.builds import ViewTable
from services.store.database import Database
from services.store.ledger import Command, LedgerApplication, Saved
from services.webhooks import store as webhook_store

log = structlog.get_logger("prowd.tenancy")

GRANTEES_CHANNEL = "prowd_grantees"
# Tables other packages keep in every grantee's schema, made with the store's own.
GRANTEE_TABLES = (webhook_store.ddl, document_store.ddl)


@dataclass(frozen=True)
class GranteeInfo:
    slug: str
    name: str
    grant_number: str
    time_zone: str
    created_at: datetime

    @property
    def schema(self) -> str:
        return schema.grantee_schema(self.slug)


@dataclass
class Registry:
    """Registering grantees, on the platform log."""

    ledger: LedgerApplication

    def register_grantee(
        self, command: Command, *, slug: str, name: str, grant_number: str, time_zone: str
    ) -> Saved[Grantee]:
        """Register a grantee and create its isolated log and views."""
        grantee = Grantee.register(
            slug=slug, name=name, grant_number=grant_number, time_zone=time_zone
        )

        def create_tenant(cur: Cursor[TupleRow], ids: Sequence[int]) -> None:
            provisioning.provision_grantee(cur, slug)
            ensure_views(cur, schema.grantee_schema(slug))
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.grantees (slug, name, grant_number, time_zone) VALUES (%s, %s, %s, %s)"
                ).format(sql.Identifier(schema.PLATFORM_SCHEMA)),
                (grantee.slug, grantee.name, grantee.grant_number, grantee.time_zone),
            )
            cur.execute(
                sql.SQL("NOTIFY {}, {}").format(sql.Identifier(GRANTEES_CHANNEL), sql.Literal(slug))
            )
            # Under Citus, the schema becomes a distributed schema on a worker node: last.
            citus.distribute_grantee(cur, slug)

        return self.ledger.record(
            grantee, command, creates=f"grantee {slug}", side_effects=[create_tenant]
        )


class Platform:
    """The platform's own log (`prowd.events`) and its use cases."""

    def __init__(self, db: Database) -> None:
        # Registrations each create a schema of many tables: batched, they would run out of
        # locks (`max_locks_per_transaction`); the platform log is written rarely anyway.
        self.ledger = LedgerApplication(db, schema.PLATFORM_SCHEMA, group_commit=False)
        self.registry = Registry(self.ledger)
        self.retention = Retention(self.ledger)


class Tenancy:
    """Finds grantees and hands out their applications; safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.platform = Platform(db)
        self._apps: dict[str, GranteeApp] = {}
        self._known: dict[str, GranteeInfo] = {}
        self._lock = threading.Lock()

    def migrate(self, *, force: bool = False) -> None:
        """Create or upgrade the platform schema and every grantee's (statements are idempotent).

        Skipped unless `force` when the settings leave migrations to a job (`prowd migrate`)."""
        if not (force or self.db.migrate_on_start):
            row = self.db.fetchone(
                "SELECT to_regclass(%s)", (f"{schema.PLATFORM_SCHEMA}.grantees",)
            )
            if row is None or row[0] is None:
                raise schema.NotMigrated
            return
        views = [ViewTable(p.name, *d) for p in PROJECTIONS for d in p.definitions()]
        # As the login user, which owns the logs: the pool's connections act as the service
        # role, which may not change them.
        with self.db.owner_connection() as conn:
            with conn.cursor() as cur:
                stamp = provisioning.stamp(
                    cur, self.db.role, [repr(v) for v in views], GRANTEE_TABLES
                )
            if not force and self._migrated(conn, stamp):
                # Nothing changed since every grantee was migrated: no DDL, so no lock on a
                # table a running service writes (a CLI command started beside the service,
                # such as a rebuild, once deadlocked with the webhook dispatcher here).
                return
            with conn.transaction(), conn.cursor() as cur:
                provisioning.migrate_platform(cur, self.db.role, stamp, GRANTEE_TABLES, views)
                cur.execute(
                    sql.SQL("SELECT slug FROM {}.grantees").format(
                        sql.Identifier(schema.PLATFORM_SCHEMA)
                    )
                )
                slugs = [slug for (slug,) in cur.fetchall()]
            # Each grantee in a transaction of its own: DDL locks every table it touches until
            # the commit, and one transaction over every grantee ran out of the server's lock
            # table (max_locks_per_transaction) once there were a few dozen. A grantee not yet
            # migrated keeps its old stamp, so `_migrated` is false and the next run goes on.
            for slug in slugs:
                with conn.transaction(), conn.cursor() as cur:
                    # Records the grantee in `migrated` with this stamp, as a registration does.
                    provisioning.provision_grantee(cur, slug)
                    # Builds made before an index was declared get it (decision 84).
                    builds.index_builds(cur, schema.grantee_schema(slug))
                    citus.distribute_grantee(cur, slug)
        # A projection added since a grantee registered gets its first build now, empty at
        # position 0; the worker fills it from the log. As the service role, through the
        # owner's build functions (decision 78), as a registration does.
        with self.db.transaction() as cur:
            for slug in slugs:
                ensure_views(cur, schema.grantee_schema(slug))
        for slug in slugs:
            self._complete_views(schema.grantee_schema(slug))

    def _complete_views(self, grantee_schema: str) -> None:
        """A view whose live build lacks a table the release declares (decision 116): the
        table is made on the live build first, so the live projector never meets a missing
        table, then the view is rebuilt from the log (blue/green) so that the new table holds
        the events applied before it existed. A rebuild that cannot run now (another one
        running, a master key missing) is logged with the command that finishes the job; the
        view keeps serving meanwhile, its new table holding only what comes after."""
        with self.db.transaction() as cur:
            lacking = lacking_tables(cur, grantee_schema)
            for view, build in lacking.items():
                by_name(view).create(cur, Tables(grantee_schema, build))
        if not lacking:
            return
        try:
            rebuilt = rebuilds.rebuild_views(self.db, grantee_schema, sorted(lacking))
        except Exception as e:  # the migration itself succeeded; the operator finishes this
            log.warning(
                "view_rebuild_needed",
                schema=grantee_schema,
                views=sorted(lacking),
                error_class=type(e).__name__,
                run=f"prowd projections rebuild --grantee {grantee_schema[2:]}"
                + "".join(f" --view {v}" for v in sorted(lacking)),
            )
            return
        log.info("view_rebuilt_for_new_tables", schema=grantee_schema, builds=rebuilt)

    @staticmethod
    def _migrated(conn: Any, stamp: str) -> bool:
        """Every grantee was migrated, or registered, by code with this stamp."""
        p = sql.Identifier(schema.PLATFORM_SCHEMA)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(
                    sql.SQL(
                        "SELECT count(*) FROM {p}.grantees g LEFT JOIN {p}.migrated m"
                        " ON m.slug = g.slug AND m.stamp = %s WHERE m.slug IS NULL"
                    ).format(p=p),
                    (stamp,),
                )
                row = cur.fetchone()
                return row is not None and row[0] == 0
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            return False

    def known(self, slug: str) -> GranteeInfo | None:
        """The grantee if this process has looked it up before (no database access)."""
        return self._known.get(slug)

    def grantee(self, slug: str) -> GranteeInfo | None:
        """The registered grantee `slug`, or None (also for a slug that cannot be one)."""
        info = self._known.get(slug)
        if info is None:
            try:
                check_slug(slug)
            except DomainError:
                return None
            rows = self._select(sql.SQL("WHERE slug = %s"), (slug,))
            if not rows:
                return None
            info = self._known.setdefault(slug, rows[0])
        return info

    def app(self, slug: str) -> GranteeApp:
        """The grantee's application, built on first use and shared."""
        app = self._apps.get(slug)
        if app is None:
            with self._lock:
                app = self._apps.get(slug)
                if app is None:
                    info = self.grantee(slug)
                    app = GranteeApp(
                        LedgerApplication(
                            self.db,
                            schema.grantee_schema(slug),
                            time_zone=info.time_zone if info is not None else "UTC",
                        )
                    )
                    self._apps[slug] = app
        return app

    def grantees(self, *, after: str = "", limit: int = 1000) -> list[GranteeInfo]:
        """Up to `limit` grantees after `after`, in slug order."""
        return self._select(sql.SQL("WHERE slug > %s ORDER BY slug LIMIT %s"), (after, limit))

    def _select(self, where: sql.Composable, params: tuple[object, ...]) -> list[GranteeInfo]:
        rows = self.db.fetchall(
            sql.SQL(
                "SELECT slug, name, grant_number, time_zone, created_at FROM {}.grantees "
            ).format(sql.Identifier(schema.PLATFORM_SCHEMA))
            + where,
            params,
        )
        return [GranteeInfo(*row) for row in rows]
