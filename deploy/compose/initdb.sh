#!/usr/bin/env bash
# Run once by the postgres image when its data volume is empty (/docker-entrypoint-initdb.d/),
# as its superuser: the two logins and the database of docs/operations.md ("Database roles").
#
# - PROWD_DB_OWNER: owns the database and, through `prowd migrate`, every schema and log; it
#   has CREATEROLE and is not a superuser, as on a managed PostgreSQL.
# - PROWD_DB_LOGIN: a plain login, member of prowd_service (PROWD_DB_ROLE), for the API,
#   workers and dispatchers.
#
# Passwords come from the files the `secrets` service wrote (compose_secrets.py).
set -euo pipefail

db="${PROWD_DB_NAME:-prowd}"
owner="${PROWD_DB_OWNER:-prowd_owner}"
login="${PROWD_DB_LOGIN:-prowd_app}"
role="${PROWD_DB_ROLE:-prowd_service}"
secrets="${PROWD_PG_SECRETS:-/run/pg-secrets}"

psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}"
      -v db="$db" -v owner="$owner" -v login="$login" -v role="$role"
      -v owner_password="$(cat "$secrets/owner-password")"
      -v login_password="$(cat "$secrets/service-password")")

"${psql[@]}" --dbname postgres <<'SQL'
CREATE ROLE :"owner" LOGIN CREATEROLE NOSUPERUSER NOCREATEDB PASSWORD :'owner_password';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SELECT format('CREATE ROLE %I NOLOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
GRANT :"role" TO :"owner" WITH ADMIN OPTION;
CREATE ROLE :"login" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'login_password'
  IN ROLE :"role";
GRANT CONNECT ON DATABASE :"db" TO :"login";
SQL
