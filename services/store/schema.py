"""Database layout: one platform schema and one schema per grantee (DESIGN D1).

`prowd` holds the platform's own log (grantee registrations) and the grantee registry.
`g_<slug>` holds one grantee's event log, its idempotency records, its view tables and the
projections' tracking positions: everything about a grantee moves, exports or drops together.

Here: the schemas' names, the event log every schema has, and the platform schema's tables.
A grantee's tables are in services/store/grantee_ddl.py; roles, grants and the migration
that runs all of it in services/store/provisioning.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from psycopg import sql

PLATFORM_SCHEMA = "prowd"


class NotMigrated(RuntimeError):
    """The database holds no platform schema and nothing here may create it (migrations are
    left to `prowd migrate`): a refusal to start, not a crash."""

    def __init__(self) -> None:
        super().__init__(
            "the database holds no platform schema yet: run `prowd migrate` first"
            " (or start with PROWD_MIGRATE_ON_START on)"
        )


def grantee_schema(slug: str) -> str:
    """The schema holding everything of one grantee."""
    return f"g_{slug}"


def notify_channel(schema: str) -> str:
    """One channel per log: listeners of one grantee are never woken by another's writes."""
    return f"prowd_log_{schema}"


def append_only(s: sql.Identifier, table: str) -> list[sql.Composed]:
    """Triggers refusing UPDATE, DELETE (per row) and TRUNCATE on `table`, whoever asks (the
    owner included; a superuser must switch them off, which the hash chain then exposes)."""
    return [
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {name} BEFORE {ops} ON {s}.{table} FOR EACH {level}"
            " EXECUTE FUNCTION {s}.refuse_change()"
        ).format(
            name=sql.Identifier(f"{table}_{level.lower()}_append_only"),
            ops=sql.SQL(ops),
            s=s,
            table=sql.Identifier(table),
            level=sql.SQL(level),
        )
        for ops, level in (("UPDATE OR DELETE", "ROW"), ("TRUNCATE", "STATEMENT"))
    ]


def log_ddl(schema: str) -> list[sql.Composed]:
    """The event log, its hash chain, checkpoints, append function and idempotency records."""
    s = sql.Identifier(schema)
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.events ("
            " notification_id bigint GENERATED ALWAYS AS IDENTITY,"
            " originator_id uuid NOT NULL,"
            " originator_version bigint NOT NULL,"
            " topic text NOT NULL,"
            " state bytea NOT NULL,"
            " PRIMARY KEY (originator_id, originator_version))"
        ).format(s),
        sql.SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS events_notification_id ON {}.events (notification_id)"
        ).format(s),
        # The hash chain beside the log (DESIGN D7): each stored record's SHA-256 over the
        # previous hash and the record (services/audit/verify.py recomputes it).
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.chain (notification_id bigint PRIMARY KEY, hash bytea NOT NULL)"
        ).format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.checkpoints (notification_id bigint PRIMARY KEY,"
            " hash bytea NOT NULL, key_id text NOT NULL, signature bytea NOT NULL,"
            " signed_at timestamptz NOT NULL DEFAULT now())"
        ).format(s),
        # One round trip appends: take the ordering lock, insert, extend the chain, wake the
        # projectors. The lock is the library's (visibility in commit order, DESIGN D1).
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {s}.append_events("
            "ids uuid[], versions bigint[], topics text[], states bytea[])"
            # Runs with its owner's rights: the service role may append only through it.
            " RETURNS SETOF bigint LANGUAGE plpgsql SECURITY DEFINER"
            " SET search_path = pg_catalog, pg_temp AS $$"
            " DECLARE prev bytea; r record;"
            " BEGIN"
            " LOCK TABLE {s}.events IN EXCLUSIVE MODE;"
            " SELECT hash INTO prev FROM {s}.chain ORDER BY notification_id DESC LIMIT 1;"
            " prev := coalesce(prev, ''::bytea);"
            " FOR r IN WITH ins AS (INSERT INTO {s}.events (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(ids, versions, topics, states) RETURNING *)"
            " SELECT * FROM ins ORDER BY notification_id LOOP"
            " prev := sha256(prev || int8send(r.notification_id) || uuid_send(r.originator_id)"
            " || int8send(r.originator_version) || int4send(octet_length(r.topic))"
            " || convert_to(r.topic, 'UTF8') || int4send(octet_length(r.state)) || r.state);"
            " INSERT INTO {s}.chain VALUES (r.notification_id, prev);"
            " RETURN NEXT r.notification_id;"
            " END LOOP;"
            " PERFORM pg_notify({channel}, '');"
            " END $$"
        ).format(s=s, channel=sql.Literal(notify_channel(schema))),
        # `append_events` behind a check of the versions a command read (aggregates served from
        # the process's cache, services/store/aggregates.py): after the ordering lock no other
        # writer can move them, so a stale one is refused here (serialization_failure) and the
        # command reruns from fresh state.
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {s}.append_checked("
            "ids uuid[], versions bigint[], topics text[], states bytea[],"
            " read_ids uuid[], read_versions bigint[])"
            " RETURNS SETOF bigint LANGUAGE plpgsql SECURITY DEFINER"
            " SET search_path = pg_catalog, pg_temp AS $$"
            " BEGIN"
            " LOCK TABLE {s}.events IN EXCLUSIVE MODE;"
            # One probe of the log's key per aggregate read (LATERAL … LIMIT 1): a join
            # the planner may hash would scan the whole log on every command.
            " IF cardinality(read_ids) > 0 AND EXISTS (SELECT FROM unnest(read_ids, read_versions)"
            " AS r(id, v) CROSS JOIN LATERAL (SELECT FROM {s}.events e WHERE e.originator_id = r.id"
            " AND e.originator_version > r.v LIMIT 1) AS later) THEN"
            " RAISE EXCEPTION 'an aggregate read by the command has changed'"
            " USING ERRCODE = 'serialization_failure';"
            " END IF;"
            " RETURN QUERY SELECT * FROM {s}.append_events(ids, versions, topics, states);"
            " END $$"
        ).format(s=s),
        # Append-only, enforced by the database: no UPDATE, DELETE or TRUNCATE of the log or its
        # chain, whoever asks (a superuser must first disable the trigger, which verify detects
        # by the chain).
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'the event log is append-only (% on %)', TG_OP, TG_TABLE_NAME"
            " USING ERRCODE = 'insufficient_privilege'; END $$"
        ).format(s=s),
        *[stmt for table in ("events", "chain", "checkpoints") for stmt in append_only(s, table)],
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.idempotency ("
            " key text PRIMARY KEY,"
            " fingerprint text NOT NULL,"
            " status smallint NOT NULL,"
            " body bytea NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        ).format(s),
        # The log position of the request's outcome, filled in by the statement that appends
        # its events (services/store/eventstore.py); rows from before it carry it in `body`.
        sql.SQL("ALTER TABLE {}.idempotency ADD COLUMN IF NOT EXISTS position bigint").format(s),
    ]


def platform_ddl() -> list[sql.Composed]:
    """The platform schema: its log, the grantee registry, RRC API keys, migration stamps."""
    s = sql.Identifier(PLATFORM_SCHEMA)
    return [
        *log_ddl(PLATFORM_SCHEMA),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.grantees ("
            " slug text PRIMARY KEY,"
            " name text NOT NULL,"
            " grant_number text NOT NULL,"
            " time_zone text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        ).format(s),
        # RRC API keys (services/identity/apikeys.py): the lookup of a key by its id on every request,
        # before the grantee is known. Only the SHA-256 of the secret is kept; rows are written
        # in the transaction of the key's Issued / Revoked event in the grantee's log.
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.api_keys ("
            " key_id uuid PRIMARY KEY,"
            " grantee text NOT NULL,"
            " rrc text NOT NULL,"
            " description text NOT NULL,"
            " secret_hash bytea NOT NULL,"
            " created_at timestamptz NOT NULL,"
            " created_by text NOT NULL,"
            " revoked_at timestamptz,"
            " last_used_at timestamptz)"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS api_keys_grantee ON {}.api_keys (grantee, key_id)"
        ).format(s),
        # The stamp (`stamp()`) of the code that last migrated: one row. Each grantee's row in
        # `migrated` is written by `provision_grantee`, at registration as at a migration, so a
        # start with nothing to migrate runs no DDL (decision 29).
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.migration_stamp ("
            " one boolean PRIMARY KEY DEFAULT true CHECK (one), stamp text NOT NULL)"
        ).format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.migrated (slug text PRIMARY KEY, stamp text NOT NULL)"
        ).format(s),
        # The audit key history (services/audit/keys.py, decision 40): insert-only, like the log.
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.audit_keys (kid text PRIMARY KEY,"
            " public_key bytea NOT NULL, not_before timestamptz UNIQUE)"
        ).format(s),
        *append_only(s, "audit_keys"),
        # Rate limits shared by every API process (services/store/ratelimit.py, decision 46):
        # one row per key, its theoretical arrival time. Unlogged: no WAL, lost in a crash,
        # which only forgets who was recently busy.
        sql.SQL(
            "CREATE UNLOGGED TABLE IF NOT EXISTS {}.rate_limits ("
            " key text PRIMARY KEY, tat timestamptz NOT NULL, window_s float8 NOT NULL)"
        ).format(s),
    ]


class Registered(Protocol):
    @property
    def slug(self) -> str: ...


class GranteeDirectory(Protocol):
    """What a sweep over every grantee needs of the registry: the slugs, in pages
    (`services.app.tenancy.Tenancy` is one). Engines below the use cases take it as given."""

    def grantees(self, *, after: str = "", limit: int = 1000) -> Sequence[Registered]: ...
