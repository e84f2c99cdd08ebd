#!/usr/bin/env bash
# Run a throwaway PostgreSQL 15 server on loopback for Slate's PostgreSQL
# backend tests: a cluster made with initdb in a temporary folder, owned by
# an unprivileged user (PostgreSQL refuses to run as root), trusting local
# connections, and gone when stopped.
#
#   scripts/postgres.sh start    initdb if needed, start, wait until ready;
#                                prints `SLATE_TEST_POSTGRES_URL=...`
#   scripts/postgres.sh stop     stop the server and delete its cluster
#   scripts/postgres.sh status   exit 0 if it answers
#   scripts/postgres.sh url      print the connection URL
#
# Environment:
#   SLATE_PG_BIN      PostgreSQL's programs   (default: /usr/lib/postgresql/15/bin)
#   SLATE_PG_PORT     loopback port           (default: 55432)
#   SLATE_PG_HOME     the cluster's folder    (default: /tmp/slate-postgres-<port>)
#   SLATE_PG_USER     OS user the server runs as when started by root
#                     (default: postgres, created if missing)
set -euo pipefail

BIN="${SLATE_PG_BIN:-/usr/lib/postgresql/15/bin}"
PORT="${SLATE_PG_PORT:-55432}"
HOME_DIR="${SLATE_PG_HOME:-/tmp/slate-postgres-$PORT}"
DATA="$HOME_DIR/data"
LOG="$HOME_DIR/server.log"
OS_USER="${SLATE_PG_USER:-postgres}"
URL="postgres://slate@127.0.0.1:$PORT/slate"

say() { echo "postgres: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Runs a PostgreSQL program as the server's user.
as_server_user() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u "$OS_USER" -- "$@"
  else
    "$@"
  fi
}

answering() {
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null
}

start() {
  [[ -x "$BIN/initdb" ]] || die "no PostgreSQL at $BIN (set SLATE_PG_BIN, or apt-get install postgresql-15)"
  if answering; then
    say "already answering on 127.0.0.1:$PORT"
    echo "SLATE_TEST_POSTGRES_URL=$URL"
    return
  fi
  if [[ "$(id -u)" == 0 ]] && ! id "$OS_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER"
  fi
  mkdir -p "$HOME_DIR"
  [[ "$(id -u)" == 0 ]] && chown "$OS_USER" "$HOME_DIR"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    as_server_user "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 \
      --no-sync >"$HOME_DIR/initdb.log" 2>&1 || { cat "$HOME_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  # Loopback only; enough connections for three hosts and the test suite;
  # durability traded for speed, as the cluster is thrown away.
  as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $PORT -k $HOME_DIR -c max_connections=300 \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null \
    || { tail -n 30 "$LOG" >&2; die "the server did not start"; }
  local psql=("$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  if ! "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'slate'" | grep -q 1; then
    "${psql[@]}" -c "CREATE ROLE slate LOGIN SUPERUSER" >/dev/null
  fi
  if ! "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'slate'" | grep -q 1; then
    "${psql[@]}" -c "CREATE DATABASE slate OWNER slate" >/dev/null
  fi
  say "answering on 127.0.0.1:$PORT (cluster in $DATA)"
  echo "SLATE_TEST_POSTGRES_URL=$URL"
}

stop() {
  if [[ -f "$DATA/postmaster.pid" ]]; then
    as_server_user "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$HOME_DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answering ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
