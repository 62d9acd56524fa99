"""Database layout: one platform schema and one schema per grantee (DESIGN D1).

`prowd` holds the platform's own log (grantee registrations) and the grantee registry.
`g_<slug>` holds one grantee's event log, its idempotency records, its view tables and the
projections' tracking positions: everything about a grantee moves, exports or drops together.
"""

from __future__ import annotations

import hashlib

from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from services.webhooks.store import ddl as webhook_ddl

PLATFORM_SCHEMA = "prowd"


def grantee_schema(slug: str) -> str:
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


def _log_ddl(schema: str) -> list[sql.Composed]:
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
    ]


def platform_ddl() -> list[sql.Composed]:
    s = sql.Identifier(PLATFORM_SCHEMA)
    return [
        *_log_ddl(PLATFORM_SCHEMA),
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
    ]


def grantee_ddl(slug: str) -> list[sql.Composed]:
    s = sql.Identifier(grantee_schema(slug))
    return [
        *_log_ddl(grantee_schema(slug)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.tracking ("
            " view text NOT NULL, version int NOT NULL, position bigint NOT NULL,"
            " PRIMARY KEY (view, version))"
        ).format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.active_views ("
            " view text PRIMARY KEY, version int NOT NULL)"
        ).format(s),
        # Events a build of a view could not take as they were (services/projector/faults.py).
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.projection_faults ("
            " view text NOT NULL, version int NOT NULL, position bigint NOT NULL,"
            " fault text NOT NULL, originator_id uuid NOT NULL, topic text NOT NULL,"
            " detail text NOT NULL, recorded_at timestamptz NOT NULL,"
            " PRIMARY KEY (view, version, position, fault))"
        ).format(s),
        # Webhook registry, secrets, outbox and deliveries (services/webhooks/store.py).
        *webhook_ddl(grantee_schema(slug)),
        *_consent_ddl(s),
        *_access_log_ddl(s),
        # Per-participant data keys, wrapped by the master key (services/store/keys.py); erasure
        # overwrites `wrapped_key` and stamps `destroyed_at` (crypto-shredding, DESIGN D8).
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.participant_keys ("
            " participant_id uuid PRIMARY KEY,"
            " master_key_id text NOT NULL,"
            " wrapped_key bytea,"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " destroyed_at timestamptz,"
            " destroyed_by text,"
            " reason text)"
        ).format(s),
    ]


def _consent_ddl(s: sql.Identifier) -> list[sql.Composed]:
    """Part 2 consents and the disclosure log (DESIGN D8, services/audit/disclosure.py).

    `consents` is the lookup index of the consent aggregates, written in the same transaction
    as their events (never behind the log: a revocation takes effect at once). `disclosures`
    is the accounting of disclosures: append-only, enforced like the event log.
    """
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.consents ("
            " consent_id uuid PRIMARY KEY,"
            " participant_id uuid NOT NULL,"
            " recipient text NOT NULL,"
            " information text[] NOT NULL,"
            " discloser text NOT NULL,"
            " purpose text NOT NULL,"
            " signed_on date NOT NULL,"
            " signed_by text NOT NULL,"
            " representative text,"
            " effective_at timestamptz NOT NULL,"
            " expires_on date,"
            " expiry_event text,"
            " expires_at timestamptz,"
            " revoked_at timestamptz,"
            " revoked_by text,"
            " revocation_note text,"
            " recorded_at timestamptz NOT NULL,"
            " recorded_by text NOT NULL,"
            " position bigint NOT NULL)"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS consents_lookup ON {}.consents"
            " (participant_id, recipient, effective_at)"
        ).format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.disclosures ("
            " disclosure_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " participant_id uuid NOT NULL,"
            " recipient text NOT NULL,"
            " channel text NOT NULL CHECK (channel IN ('rrc_view', 'webhook', 'export')),"
            " information text NOT NULL,"
            " part2 boolean NOT NULL,"
            " consent_id uuid,"
            " reference text NOT NULL,"
            " disclosed_at timestamptz NOT NULL,"
            " actor text NOT NULL,"
            " logged_at timestamptz NOT NULL DEFAULT now(),"
            # Part 2 information never leaves without a consent: the log cannot even say so.
            " CHECK (NOT part2 OR consent_id IS NOT NULL))"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS disclosures_participant ON {}.disclosures"
            " (participant_id, disclosure_id)"
        ).format(s),
        *append_only(s, "disclosures"),
    ]


def _access_log_ddl(s: sql.Identifier) -> list[sql.Composed]:
    """The access log (DESIGN D7, services/audit/access_log.py): one row per response that carried
    personal data, append-only like the event log."""
    return [
        sql.SQL(
            # An identity (not bigserial): the service role's INSERT right suffices to take ids.
            "CREATE TABLE IF NOT EXISTS {}.access_log ("
            " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " at timestamptz NOT NULL DEFAULT now(),"
            " subject text NOT NULL,"
            " roles text[] NOT NULL,"
            " action text NOT NULL,"
            " method text NOT NULL,"
            " path text NOT NULL,"
            " resources jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
            " request_id text NOT NULL,"
            " status smallint NOT NULL)"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS access_log_subject ON {}.access_log (subject, id)"
        ).format(s),
        sql.SQL("CREATE INDEX IF NOT EXISTS access_log_at ON {}.access_log (at)").format(s),
        *append_only(s, "access_log"),
    ]


def run(cur: Cursor[TupleRow], statements: list[sql.Composed]) -> None:
    for statement in statements:
        cur.execute(statement)


def migrate_platform(cur: Cursor[TupleRow], role: str = "", migration: str = "") -> None:
    """Create or upgrade the platform schema, run as the login user that owns the logs.

    With `role`, also create that role and the provisioning function through which the
    service (acting as `role`) creates grantee schemas it does not own (DESIGN D7).
    `migration` is this code's `stamp()`, recorded for every grantee provisioned from now."""
    # Serialise concurrent starts (several API processes) so CREATE ... IF NOT EXISTS
    # statements never race on the catalog.
    cur.execute("SELECT pg_advisory_xact_lock(7426001)")
    run(cur, platform_ddl())
    cur.execute(
        sql.SQL(
            "INSERT INTO {}.migration_stamp (stamp) VALUES (%s)"
            " ON CONFLICT (one) DO UPDATE SET stamp = EXCLUDED.stamp"
        ).format(sql.Identifier(PLATFORM_SCHEMA)),
        (migration,),
    )
    _provisioning(cur, role)


# Placeholder slug in the grantee DDL stored for `provision_grantee`.
_SLUG = "__slug__"

# Tables the service role may only read (and, where listed, append to); every other table of a
# platform or grantee schema belongs to the service role. The event log and its chain grow
# only through `append_events`, which runs as the owner.
SERVICE_RIGHTS: dict[str, str] = {
    "events": "SELECT",
    "chain": "SELECT",
    "checkpoints": "SELECT, INSERT",
    "access_log": "SELECT, INSERT",
    "disclosures": "SELECT, INSERT",
    # The provisioning function's own statements: no access at all.
    "grantee_ddl": "",
    "service_rights": "",
    "migration_stamp": "SELECT",
    "migrated": "SELECT",
}


def _provisioning(cur: Cursor[TupleRow], role: str) -> None:
    p = sql.Identifier(PLATFORM_SCHEMA)
    if role:
        ensure_role(cur, role)
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {p}.grantee_ddl (ordinal int PRIMARY KEY, statement text NOT NULL);"
            " CREATE TABLE IF NOT EXISTS {p}.service_rights (relname text PRIMARY KEY, rights text NOT NULL);"
            " TRUNCATE {p}.grantee_ddl, {p}.service_rights"
        ).format(p=p)
    )
    cur.executemany(
        sql.SQL("INSERT INTO {}.grantee_ddl VALUES (%s, %s)").format(p),
        [(i, stmt.as_string(cur)) for i, stmt in enumerate(grantee_ddl(_SLUG))],
    )
    cur.executemany(
        sql.SQL("INSERT INTO {}.service_rights VALUES (%s, %s)").format(p),
        list(SERVICE_RIGHTS.items()),
    )
    grants: sql.Composable = sql.SQL("")
    if role:
        grants = sql.SQL(
            " EXECUTE format('GRANT USAGE' || CASE WHEN s = {platform} THEN '' ELSE ', CREATE' END"
            "   || ' ON SCHEMA %I TO %I', s, {role});"
            " FOR t IN SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
            "   JOIN pg_namespace n ON n.oid = c.relnamespace"
            "   WHERE n.nspname = s AND c.relkind IN ('r', 'p') LOOP"
            "   SELECT r.rights INTO rights FROM {p}.service_rights r WHERE r.relname = t.relname;"
            "   IF FOUND THEN"
            "     EXECUTE format('REVOKE ALL ON %I.%I FROM %I', s, t.relname, {role});"
            "     IF rights <> '' THEN"
            "       EXECUTE format('GRANT ' || rights || ' ON %I.%I TO %I', s, t.relname, {role});"
            "     END IF;"
            "   ELSIF t.owner <> {role} THEN"
            "     EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', s, t.relname, {role});"
            "   END IF;"
            " END LOOP;"
        ).format(p=p, role=sql.Literal(role), platform=sql.Literal(PLATFORM_SCHEMA))
    cur.execute(
        sql.SQL(
            # Grants the service role its rights on one schema's tables.
            "CREATE OR REPLACE FUNCTION {p}.grant_service(s text) RETURNS void LANGUAGE plpgsql"
            " SET search_path = pg_catalog, pg_temp AS $fn$"
            " DECLARE t record; rights text;"
            " BEGIN {grants} END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.grant_service(text) FROM PUBLIC;"
            # Creates (or upgrades) one grantee's schema from the stored DDL, as the owner.
            "CREATE OR REPLACE FUNCTION {p}.provision_grantee(slug text) RETURNS void"
            " LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$"
            " DECLARE stmt text;"
            " BEGIN"
            " IF slug !~ '^[a-z][a-z0-9_]{{1,29}}$' THEN"
            "   RAISE EXCEPTION 'invalid grantee slug %', slug USING ERRCODE = 'invalid_parameter_value';"
            " END IF;"
            " FOR stmt IN SELECT statement FROM {p}.grantee_ddl ORDER BY ordinal LOOP"
            "   EXECUTE replace(stmt, {placeholder}, slug);"
            " END LOOP;"
            " PERFORM {p}.grant_service('g_' || slug);"
            " INSERT INTO {p}.migrated (slug, stamp)"
            "   SELECT provision_grantee.slug, m.stamp FROM {p}.migration_stamp m"
            "   ON CONFLICT ON CONSTRAINT migrated_pkey DO UPDATE SET stamp = EXCLUDED.stamp;"
            " END $fn$;"
            " REVOKE ALL ON FUNCTION {p}.provision_grantee(text) FROM PUBLIC;"
        ).format(p=p, grants=grants, placeholder=sql.Literal(_SLUG))
    )
    if role:
        cur.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {p}.provision_grantee(text) TO {r}").format(
                p=p, r=sql.Identifier(role)
            )
        )
        cur.execute(sql.SQL("SELECT {}.grant_service(%s)").format(p), (PLATFORM_SCHEMA,))


def ensure_role(cur: Cursor[TupleRow], role: str) -> None:
    """Create the service role unless it exists, and let the login user act as it."""
    # Roles are cluster-wide: another database on the server may have created it already.
    cur.execute(
        sql.SQL(
            "DO $$ BEGIN"
            " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN"
            "   CREATE ROLE {r} NOLOGIN;"
            " END IF;"
            " IF NOT pg_has_role(current_user, {name}, 'MEMBER') THEN"
            "   EXECUTE format('GRANT %I TO %I', {name}, current_user);"
            " END IF;"
            " EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ).format(r=sql.Identifier(role), name=sql.Literal(role))
    )


def provision_grantee(cur: Cursor[TupleRow], slug: str) -> None:
    """Create or upgrade a grantee's schema (callable by the service role)."""
    cur.execute(
        sql.SQL("SELECT {}.provision_grantee(%s)").format(sql.Identifier(PLATFORM_SCHEMA)), (slug,)
    )


def stamp(cur: Cursor[TupleRow], role: str, views: list[str]) -> str:
    """A digest of everything `Tenancy.migrate` makes: the platform DDL, a grantee's DDL, the
    service role and the views' table definitions. Equal stamps: nothing to migrate."""
    text = "\n".join(
        [
            *(q.as_string(cur) for q in platform_ddl()),
            *(q.as_string(cur) for q in grantee_ddl(_SLUG)),
            role,
            *views,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()
