#!/usr/bin/env bash
# tests/scale/citus_cluster.sh: a local Citus cluster built from source (issue 25, point 1).
#
#   tests/scale/citus_cluster.sh start /path/to/citus    # build, install, start, register
#   tests/scale/citus_cluster.sh status                  # the coordinator's view of its workers
#   tests/scale/citus_cluster.sh stop                    # stop the three clusters, remove them
#   tests/scale/citus_cluster.sh reset                   # drop and recreate $CITUS_DB on all three
#
# `start` takes a checkout of the public citusdata/citus repository (tag v13.2.2 supports
# PostgreSQL 15, Debian 12's), then:
#   1. installs the build dependencies from Debian with apt-get (root only; without root they
#      must already be there),
#   2. configures, builds and installs the extension into PostgreSQL 15 (`make install`, root
#      only; skipped when the installed citus.control already has the checkout's version),
#   3. makes three PostgreSQL 15 clusters under $CITUS_DIR (a coordinator and two workers,
#      trust authentication on 127.0.0.1 only, `shared_preload_libraries = citus`), started on
#      $CITUS_PORT, $CITUS_PORT+1 and $CITUS_PORT+2,
#   4. creates the extension in database $CITUS_DB on each, registers the coordinator and the
#      two workers with `citus_set_coordinator_host` and `citus_add_node`, and prints
#      `citus_get_active_worker_nodes()`.
# Not part of .ci/run: the source is not on a fresh machine (docs/operations.md, "A local Citus
# cluster"). The clusters run as the `postgres` system user (initdb refuses root).
#
# The build runs in a copy of the checkout ($CITUS_BUILD), so the checkout stays clean. When the
# server headers already declare have_createdb_privilege() (PostgreSQL 15 minor releases since
# 15.x export it), the copy's static inline fallback in src/include/pg_version_compat.h clashes
# with it ("static declaration follows non-static"), and is removed from the copy.
# wal_level = logical on every node: citus_schema_move copies a schema by logical replication.
#
# Settings (environment): CITUS_DIR (/tmp/prowd-citus), CITUS_PORT (9700), CITUS_DB (prowd),
# PG_BIN (/usr/lib/postgresql/15/bin), CITUS_OWNER (prowd_owner), CITUS_BUILD (/tmp/prowd-citus-build), JOBS (nproc).
set -euo pipefail

CITUS_DIR="${CITUS_DIR:-/tmp/prowd-citus}"
CITUS_PORT="${CITUS_PORT:-9700}"
CITUS_DB="${CITUS_DB:-prowd}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
CITUS_BUILD="${CITUS_BUILD:-/tmp/prowd-citus-build}"
CITUS_OWNER="${CITUS_OWNER:-prowd_owner}"
JOBS="${JOBS:-$(nproc)}"
NODES=(coordinator worker1 worker2)
# Citus's CONTRIBUTING.md list for Debian, for PostgreSQL 15. libcurl only serves Citus's
# anonymous statistics collection, which is built out (`--without-libcurl`): no call home.
DEPS=(postgresql-server-dev-15 autoconf flex gcc make libicu-dev libkrb5-dev liblz4-dev
  libpam0g-dev libreadline-dev libselinux1-dev libssl-dev libxslt1-dev libzstd-dev uuid-dev)

say() { printf '[citus_cluster] %s\n' "$*"; }
die() { printf '[citus_cluster] %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
port_of() { echo $((CITUS_PORT + $1)); }

# Run as the user that owns the clusters: `postgres` when we are root, else ourselves.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_at() {  # psql_at PORT DB SQL
  "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -Atc "$3"
}

install_deps() {
  local missing=()
  for p in "${DEPS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { say "build dependencies present"; return; }
  is_root || die "missing packages (install them as root): ${missing[*]}"
  say "apt-get install ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build_install() {
  local src="$1" pg_config="$PG_BIN/pg_config" want have control
  [ -f "$src/configure" ] && [ -d "$src/src/backend/distributed" ] \
    || die "$src is not a Citus source checkout"
  want="$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$src/src/backend/distributed/citus.control")"
  control="$("$pg_config" --sharedir)/extension/citus.control"
  have="$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$control" 2>/dev/null || true)"
  if [ -n "$have" ] && [ "$have" = "$want" ] && [ -f "$("$pg_config" --pkglibdir)/citus.so" ]; then
    say "citus $have already installed"
    return
  fi
  say "building citus $want from $src in $CITUS_BUILD (PG_CONFIG=$pg_config, make -j$JOBS)"
  if [ ! -f "$CITUS_BUILD/configure" ]; then
    rm -rf "$CITUS_BUILD"
    mkdir -p "$CITUS_BUILD"
    cp -a "$src/." "$CITUS_BUILD/"
  fi
  local compat="$CITUS_BUILD/src/include/pg_version_compat.h"
  if grep -q 'have_createdb_privilege' "$("$pg_config" --includedir-server)/commands/dbcommands.h" \
    && grep -q '^have_createdb_privilege(void)' "$compat"; then
    say "server headers declare have_createdb_privilege(): removing the static copy from $compat"
    # Delete from the "static inline bool" line before the definition to its closing brace.
    awk '
      /^static inline bool$/ { held = $0; next }
      held != "" && /^have_createdb_privilege\(void\)/ { skip = 1; held = ""; next }
      held != "" { print held; held = "" }
      skip { if ($0 ~ /^}/) skip = 0; next }
      { print }
    ' "$compat" >"$compat.new" && mv "$compat.new" "$compat"
  fi
  (
    cd "$CITUS_BUILD"
    [ -f Makefile.global ] || ./configure PG_CONFIG="$pg_config" --without-libcurl >/dev/null
    make -s -j"$JOBS" >/dev/null
  )
  is_root || die "make install needs root (writes into $("$pg_config" --pkglibdir))"
  (cd "$CITUS_BUILD" && make -s install >/dev/null)
  say "installed citus $want"
}

start_node() {  # start_node INDEX
  local name="${NODES[$1]}" port dir
  port="$(port_of "$1")"
  dir="$CITUS_DIR/$name"
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_pg mkdir -p "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
    cat <<EOF | as_pg tee -a "$dir/postgresql.conf" >/dev/null
# tests/scale/citus_cluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
EOF
    # Trust on 127.0.0.1 only: nothing else may connect.
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_pg tee "$dir/pg_hba.conf" >/dev/null
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
  fi
  say "$name on 127.0.0.1:$port ($dir)"
  if [ -z "$(psql_at "$port" postgres "SELECT 1 FROM pg_database WHERE datname = '$CITUS_DB'")" ]; then
    psql_at "$port" postgres "CREATE DATABASE \"$CITUS_DB\"" >/dev/null
  fi
  psql_at "$port" "$CITUS_DB" "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
}

status() {
  local c
  c="$(port_of 0)"
  say "coordinator 127.0.0.1:$c, database $CITUS_DB: citus $(psql_at "$c" "$CITUS_DB" "SELECT extversion FROM pg_extension WHERE extname = 'citus'")"
  say "citus_get_active_worker_nodes():"
  "$PG_BIN/psql" -X -h 127.0.0.1 -p "$c" -U postgres -d "$CITUS_DB" \
    -c "SELECT * FROM citus_get_active_worker_nodes() ORDER BY node_port"
  say "the nodes (pg_dist_node) and the distributed schemas' placement (citus_schemas, citus_shards):"
  "$PG_BIN/psql" -X -h 127.0.0.1 -p "$c" -U postgres -d "$CITUS_DB" \
    -c "SELECT nodeid, groupid, nodename, nodeport, noderole, shouldhaveshards FROM pg_dist_node ORDER BY nodeport" \
    -c "SELECT s.schema_name, s.colocation_id, s.schema_size, s.schema_owner,
               min(c.nodename || ':' || c.nodeport) AS node, count(*) AS shards,
               count(DISTINCT c.nodeport) AS nodes
        FROM citus_schemas s JOIN citus_shards c ON c.colocation_id = s.colocation_id
        GROUP BY 1, 2, 3, 4 ORDER BY 1"
}

start() {
  [ $# -ge 1 ] || die "usage: $0 start CITUS_SOURCE_DIR"
  local src
  src="$(cd "$1" && pwd)"
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL 15 server binaries in $PG_BIN (apt-get install postgresql-15)"
  install_deps
  build_install "$src"
  mkdir -p "$CITUS_DIR"
  if is_root; then chown postgres: "$CITUS_DIR"; fi
  for i in 0 1 2; do start_node "$i"; done
  register
}

# Register the nodes with the coordinator, and make the owner login $CITUS_OWNER (LOGIN
# CREATEROLE, no superuser, as on a managed service) the owner of $CITUS_DB: the service's
# migrations run as it (decision 78). Roles and ALTER DATABASE … OWNER made through the
# coordinator reach the workers.
register() {
  local c
  c="$(port_of 0)"
  psql_at "$c" "$CITUS_DB" "SELECT citus_set_coordinator_host('127.0.0.1', $c)" >/dev/null
  for i in 1 2; do
    psql_at "$c" "$CITUS_DB" "SELECT citus_add_node('127.0.0.1', $(port_of "$i"))" >/dev/null
  done
  psql_at "$c" "$CITUS_DB" "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$CITUS_OWNER') THEN
        CREATE ROLE \"$CITUS_OWNER\" LOGIN CREATEROLE;
      END IF; END \$\$" >/dev/null
  psql_at "$c" "$CITUS_DB" "ALTER DATABASE \"$CITUS_DB\" OWNER TO \"$CITUS_OWNER\"" >/dev/null
  psql_at "$c" "$CITUS_DB" "ALTER SCHEMA public OWNER TO \"$CITUS_OWNER\"" >/dev/null
  say "owner login $CITUS_OWNER: postgresql://$CITUS_OWNER@127.0.0.1:$c/$CITUS_DB"
  status
}

stop() {
  for i in 2 1 0; do
    local dir="$CITUS_DIR/${NODES[$i]}"
    if [ -f "$dir/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
      say "stopped ${NODES[$i]}"
    fi
  done
  rm -rf "$CITUS_DIR"
  say "removed $CITUS_DIR"
}

reset() {  # a fresh $CITUS_DB on the three running nodes, registered again
  local c
  c="$(port_of 0)"
  for i in 2 1 0; do
    psql_at "$(port_of "$i")" postgres "DROP DATABASE IF EXISTS \"$CITUS_DB\" WITH (FORCE)" >/dev/null
  done
  for i in 0 1 2; do start_node "$i"; done
  register
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  reset) reset ;;
  *) die "usage: $0 start CITUS_SOURCE_DIR | status | stop | reset" ;;
esac
