#!/usr/bin/env bash
# Throwaway PostgreSQL server for slaclock's tests (no Docker, no system cluster).
#
#   scripts/postgres.sh start|stop|status|url|reset
#
# start   installs PostgreSQL with apt-get if no /usr/lib/postgresql/*/bin/initdb exists,
#         creates a private cluster (initdb -A trust -U slaclock) on first use, starts it on
#         127.0.0.1:$PGPORT with durability switched off (fsync, synchronous_commit and
#         full_page_writes off: test speed only, data may be lost on a crash) and
#         wal_level=logical (change-data capture: Debezium reads the WAL), creates the
#         database `slaclock` and waits for pg_isready. Already running -> nothing to do.
#         The cluster is kept between stop/start; `reset` stops it and deletes it.
# stop    pg_ctl stop -m fast (no-op when not running).
# status  exit 0 if the server accepts connections, 3 otherwise.
# url     prints postgresql://slaclock@127.0.0.1:$PGPORT/slaclock
#
# Environment (all optional):
#   PGPORT               TCP port (default 55432); 127.0.0.1 only, trust auth, user slaclock
#   SLACLOCK_PG_DIR      cluster base dir (default <repo>/var/postgres, see below)
#   PG_START_TIMEOUT     seconds to wait for the server (default 60)
#
# Where the cluster lives: PostgreSQL refuses to run as root, so when we are root the server
# runs as the `postgres` OS user (runuser/su). That user must be able to reach the base dir:
# <repo>/var/postgres works when every parent of the repo is world-searchable (as for
# /work/main). If it is not (e.g. a clone under a 0700 /root), the script falls back to
# /tmp/slaclock-pg-$PGPORT and says so. Layout: <base>/data (PGDATA), <base>/socket (unix
# socket dir owned by the server user), <base>/postgres.log.
set -euo pipefail
umask 022

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"

PGPORT="${PGPORT:-55432}"
PG_HOST=127.0.0.1
PG_USER=slaclock
PG_DB=slaclock
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
URL="postgresql://$PG_USER@$PG_HOST:$PGPORT/$PG_DB"

# Keep the caller's libpq variables from redirecting our client calls.
unset PGHOST PGHOSTADDR PGUSER PGDATABASE PGSERVICE PGPASSWORD PGOPTIONS 2>/dev/null || true

say() { echo "postgres.sh: $*"; }
die() { echo "postgres.sh: ERROR: $*" >&2; exit 1; }

find_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; fi
}

ensure_installed() {
  PG_BIN="$(find_bin)"
  if [[ -z "$PG_BIN" ]]; then
    (( EUID == 0 )) || die "PostgreSQL server binaries missing and not root: apt-get install postgresql"
    say "PostgreSQL server binaries missing: apt-get install -y postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    PG_BIN="$(find_bin)"
    [[ -n "$PG_BIN" ]] || die "apt-get install postgresql did not provide initdb"
  fi
}

# Run a command as the server's OS user (postgres when we are root, else ourselves).
as_pg() {
  if (( EUID == 0 )); then
    if command -v runuser >/dev/null; then runuser -u postgres -- "$@"
    else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

# Choose the base dir (deterministic, so stop/status find what start made).
choose_base() {
  if [[ -n "${SLACLOCK_PG_DIR:-}" ]]; then BASE="$SLACLOCK_PG_DIR"; return; fi
  BASE="$REPO/var/postgres"
  if (( EUID == 0 )); then
    if ! id postgres >/dev/null 2>&1; then return; fi  # decided again after install
    # Can the postgres user search every parent of <repo>/var/postgres?
    local d
    for d in "$REPO" "$REPO/var" "$BASE"; do
      [[ -e "$d" ]] || continue
      if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
        BASE="/tmp/slaclock-pg-$PGPORT"
        return
      fi
    done
  fi
}

setup_dirs() {
  DATA="$BASE/data"; SOCK="$BASE/socket"; LOG="$BASE/postgres.log"
}

prepare_base() {
  mkdir -p "$BASE" "$SOCK"
  if (( EUID == 0 )); then
    chown postgres:postgres "$BASE" "$SOCK"
    runuser -u postgres -- test -w "$BASE" \
      || die "user postgres cannot write $BASE; set SLACLOCK_PG_DIR to a dir it can reach"
  fi
  chmod 0700 "$SOCK"
  [[ "$BASE" == "$REPO/var/postgres" ]] || say "cluster lives in $BASE (postgres user cannot reach $REPO)"
}

is_ready() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PGPORT" -U "$PG_USER" -d postgres -t 2; }

psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PGPORT" -U "$PG_USER" "$@"; }

ensure_db() {
  local have
  have="$(psql_q -d postgres -tAc "select 1 from pg_database where datname = '$PG_DB'")"
  if [[ "$have" != 1 ]]; then
    say "creating database $PG_DB"
    psql_q -d postgres -c "create database $PG_DB"
  fi
}

init_cluster() {
  local want_ver; want_ver="$(basename "$(dirname "$PG_BIN")")"
  if [[ -f "$DATA/PG_VERSION" && "$(cat "$DATA/PG_VERSION")" == "$want_ver" ]]; then
    return 0
  fi
  if [[ -e "$DATA" ]]; then
    say "discarding unusable cluster dir $DATA"
    rm -rf "$DATA"
  fi
  say "initdb $DATA (PostgreSQL $want_ver, trust auth, superuser $PG_USER)"
  as_pg "$PG_BIN/initdb" -D "$DATA" -A trust -U "$PG_USER" -E UTF8 --locale=C.UTF-8 -N \
    >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
  # Per-start settings live in slaclock.conf (rewritten by every start, so PGPORT can change).
  echo "include_if_exists = 'slaclock.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

write_conf() {
  as_pg tee "$DATA/slaclock.conf" >/dev/null <<EOF
# Written by scripts/postgres.sh at every start: throwaway test server, NOT durable.
listen_addresses = '$PG_HOST'
port = $PGPORT
unix_socket_directories = '$SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
# Logical decoding for change-data capture (Debezium's pgoutput plugin, built in).
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
EOF
}

cmd_start() {
  ensure_installed
  choose_base; setup_dirs
  if is_ready; then
    say "already running on $PG_HOST:$PGPORT"
    ensure_db
    say "ready: $URL"
    return 0
  fi
  prepare_base
  init_cluster
  write_conf
  say "starting server on $PG_HOST:$PGPORT (log $LOG)"
  # -w: wait for start-up to finish; the server detaches from our session.
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$PG_START_TIMEOUT" start >/dev/null \
    || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl start failed"; }
  local start=$SECONDS
  until is_ready; do
    (( SECONDS - start < PG_START_TIMEOUT )) || { tail -n 30 "$LOG" >&2; die "server not ready"; }
    sleep 0.5
  done
  ensure_db
  say "ready: $URL (${SECONDS}s)"
}

cmd_stop() {
  PG_BIN="$(find_bin)"
  [[ -n "$PG_BIN" ]] || { say "not installed, nothing to stop"; return 0; }
  choose_base; setup_dirs
  if [[ -f "$DATA/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "stopping server in $DATA"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    say "stopped"
  elif is_ready; then
    say "something answers on $PG_HOST:$PGPORT but it is not the cluster in $DATA; left alone"
  else
    say "not running"
  fi
}

cmd_status() {
  PG_BIN="$(find_bin)"
  [[ -n "$PG_BIN" ]] || { say "not installed"; return 3; }
  choose_base; setup_dirs
  if is_ready; then say "running on $PG_HOST:$PGPORT (cluster $DATA): $URL"; return 0; fi
  say "not running (cluster dir $DATA)"
  return 3
}

cmd_reset() {
  cmd_stop
  choose_base; setup_dirs
  say "deleting $BASE"
  rm -rf "$BASE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "$URL" ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 start|stop|status|url|reset" >&2; exit 2 ;;
esac
