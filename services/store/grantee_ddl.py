"""A grantee's schema: its log and everything kept beside it (DESIGN D1, D7, D8).

Tables other packages keep in every grantee's schema (the webhook registry and outbox) are
given by the caller (`tables`): the store does not import the packages above it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from psycopg import sql

from services.store.schema import append_only, grantee_schema, log_ddl

# Statements making one package's tables in a grantee's schema, given the schema's name.
TableDDL = Callable[[str], list[sql.Composed]]


def grantee_ddl(slug: str, tables: Sequence[TableDDL]) -> list[sql.Composed]:
    """Every statement making (or upgrading) the schema of grantee `slug`, with `tables`."""
    s = sql.Identifier(grantee_schema(slug))
    return [
        *log_ddl(grantee_schema(slug)),
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
        # Other packages' tables (the webhook registry, secrets, outbox and deliveries:
        # services/webhooks/store.py), here as before they were given, so stamps stay equal.
        *[statement for ddl in tables for statement in ddl(grantee_schema(slug))],
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
        # The log position of the erasure that destroyed a key: other processes ask for the
        # erasures past the last they saw (services/store/keys.py, decision 91).
        sql.SQL(
            "ALTER TABLE {}.participant_keys ADD COLUMN IF NOT EXISTS destroyed_position bigint"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS participant_keys_destroyed ON {}.participant_keys"
            " (destroyed_position) WHERE destroyed_position IS NOT NULL"
        ).format(s),
        *_enrolment_index_ddl(s),
    ]


def _enrolment_index_ddl(s: sql.Identifier) -> list[sql.Composed]:
    """The keys duplicate detection compares, kept by the writes (services/app/
    enrolment_index.py, decision 132), and the mark that they cover the whole log: set here
    when the log is empty (a new grantee), else by the first check, which fills the index."""
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.enrolment_index ("
            " person_id uuid PRIMARY KEY, number_key text, folded text NOT NULL,"
            " register_key text, born date)"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS enrolment_index_register ON {}.enrolment_index"
            " (register_key) WHERE register_key IS NOT NULL"
        ).format(s),
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS enrolment_index_name ON {}.enrolment_index (folded, born)"
        ).format(s),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.enrolment_index_built ("
            " built boolean PRIMARY KEY DEFAULT true CHECK (built),"
            " position bigint NOT NULL, built_at timestamptz NOT NULL DEFAULT now())"
        ).format(s),
        sql.SQL(
            "INSERT INTO {s}.enrolment_index_built (position) SELECT 0"
            " WHERE NOT EXISTS (SELECT 1 FROM {s}.events) ON CONFLICT DO NOTHING"
        ).format(s=s),
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
