"""The webhook tables of a grantee's schema (created with the grantee, never rebuilt).

- `webhook_endpoints`: the endpoint registry, written in the same transaction as each endpoint
  event (so reads and the dispatcher see a change at once), plus the dispatcher's health
  columns (rate-limit tokens, failing since).
- `webhook_secrets`: the signing secrets. They are kept here, in the grantee's schema beside
  the registry, and never in an event: the log is read by auditors and exported, the secrets
  must not be. A rotated-out secret carries `expires_at` (24 h after the rotation).
- `webhook_outbox`: the outbox consumer's own position in the log (exactly-once: it advances
  in the same transaction as the deliveries it wrote).
- `webhook_routes`, `webhook_placements`, `webhook_pairings`, `webhook_meetings`: what the
  outbox consumer needs to know as of each event (endpoint subscriptions in log order, where
  each participant lived when, pairing members, meeting context). Written only by the consumer,
  in its transactions; unlike the views they are never rebuilt, because a rebuild must never
  create deliveries again.
- `webhook_deliveries`: one row per (endpoint, event), unique on both, with the per-endpoint
  sequence; `webhook_attempts`: every HTTP attempt.
"""

from __future__ import annotations

from psycopg import sql


def ddl(schema: str) -> list[sql.Composed]:
    s = sql.Identifier(schema)
    statements = [
        "CREATE TABLE IF NOT EXISTS {s}.webhook_endpoints ("
        " endpoint_id uuid PRIMARY KEY, url text NOT NULL, facility_code text NOT NULL,"
        " event_types text[] NOT NULL, description text NOT NULL, enabled boolean NOT NULL,"
        " disabled_reason text, rate_limit double precision, secret_version int NOT NULL,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " created_position bigint NOT NULL,"
        " tokens double precision, tokens_at timestamptz,"
        " failing_since timestamptz, last_success_at timestamptz)",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_secrets ("
        " endpoint_id uuid NOT NULL, version int NOT NULL, secret text NOT NULL,"
        " created_at timestamptz NOT NULL, expires_at timestamptz,"
        " PRIMARY KEY (endpoint_id, version))",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_outbox ("
        " id boolean PRIMARY KEY DEFAULT true CHECK (id), position bigint NOT NULL)",
        "INSERT INTO {s}.webhook_outbox VALUES (true, 0) ON CONFLICT DO NOTHING",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_routes ("
        " endpoint_id uuid PRIMARY KEY, facility_code text NOT NULL, event_types text[] NOT NULL,"
        " enabled boolean NOT NULL, last_sequence bigint NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_placements ("
        " participant_id uuid NOT NULL, position bigint NOT NULL, occurred_at timestamptz NOT NULL,"
        " placement text NOT NULL, facility_code text, number text NOT NULL,"
        " PRIMARY KEY (participant_id, position))",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_pairings ("
        " pairing_id uuid PRIMARY KEY, members uuid[] NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_meetings ("
        " meeting_id uuid PRIMARY KEY, pairing_id uuid NOT NULL, scheduled_for timestamptz NOT NULL,"
        " planned_minutes int NOT NULL, location_kind text NOT NULL, location_facility text)",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_deliveries ("
        " delivery_id uuid PRIMARY KEY, row_id bigint GENERATED ALWAYS AS IDENTITY,"
        " endpoint_id uuid NOT NULL, position bigint,"
        " sequence bigint, event_type text NOT NULL, msg_id text NOT NULL UNIQUE,"
        " body bytea NOT NULL, disclosures jsonb NOT NULL DEFAULT '[]',"
        " committed_at timestamptz NOT NULL, created_at timestamptz NOT NULL,"
        " status text NOT NULL, attempts int NOT NULL DEFAULT 0, step int NOT NULL DEFAULT 0,"
        " next_attempt_at timestamptz, locked_until timestamptz, claim uuid,"
        " delivered_at timestamptz, last_response_code int, last_error text,"
        " UNIQUE (endpoint_id, position), UNIQUE (endpoint_id, sequence))",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON {s}.webhook_deliveries"
        " (next_attempt_at) WHERE status = 'pending'",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_created ON {s}.webhook_deliveries"
        " (endpoint_id, created_at)",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_rows ON {s}.webhook_deliveries"
        " (endpoint_id, row_id)",
        "CREATE TABLE IF NOT EXISTS {s}.webhook_attempts ("
        " attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, delivery_id uuid NOT NULL,"
        " endpoint_id uuid NOT NULL, msg_id text NOT NULL, attempt int NOT NULL,"
        " at timestamptz NOT NULL, outcome text NOT NULL, response_code int,"
        " latency_ms int NOT NULL, response_body text NOT NULL, error text)",
        "CREATE INDEX IF NOT EXISTS webhook_attempts_endpoint ON {s}.webhook_attempts"
        " (endpoint_id, attempt_id)",
    ]
    return [sql.SQL(q).format(s=s) for q in statements]


# Dispatchers listen here; the outbox notifies the grantee's slug when it wrote deliveries.
CHANNEL = "prowd_webhooks"
