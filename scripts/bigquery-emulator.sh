#!/usr/bin/env bash
# Install and run a local BigQuery emulator (PyPI `bqemulator`, DuckDB-backed)
# for Slate's BigQuery backend tests.
#
#   scripts/bigquery-emulator.sh start    install if needed, start, wait until ready
#   scripts/bigquery-emulator.sh stop     stop the emulator started by `start`
#   scripts/bigquery-emulator.sh status   say whether it answers (exit 0 if it does)
#
# Environment:
#   SLATE_BQ_HOME       venv, log and pid folder    (default: <repo>/.bqemulator)
#   SLATE_BQ_PORT       REST port                   (default: 9050)
#   SLATE_BQ_GRPC_PORT  gRPC (Storage API) port     (default: 9060)
#   SLATE_BQ_TIMEOUT    seconds to wait for startup (default: 60)
#   SLATE_BQ_DATA_DIR   if set, keep data on disk there (--persistent);
#                       otherwise the emulator is in-memory and forgets
#                       everything when it stops
#   SLATE_BQ_PYTHON     Python >= 3.11 to build the venv with (default: first
#                       of python3.11, python3.12, python3.13, python3)
#
# Everything comes from PyPI. bqemulator refuses to start without DuckDB's
# `spatial` extension, which it would otherwise download from the DuckDB
# extension site; we take it from the `duckdb-extension-spatial` wheel instead
# and put it where DuckDB looks (~/.duckdb/extensions/<ver>/<platform>/).
# The emulator binds to 127.0.0.1 only. Project id: test-project.
set -euo pipefail

BQEMULATOR_VERSION=1.4.0
DUCKDB_VERSION=1.5.5
NUMPY_VERSION=2.4.6
PROJECT=test-project

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${SLATE_BQ_HOME:-$ROOT/.bqemulator}"
VENV="$HOME_DIR/venv"
LOG="$HOME_DIR/emulator.log"
PIDFILE="$HOME_DIR/emulator.pid"
STAMP="$VENV/.slate-installed"
PORT="${SLATE_BQ_PORT:-9050}"
GRPC_PORT="${SLATE_BQ_GRPC_PORT:-9060}"
TIMEOUT="${SLATE_BQ_TIMEOUT:-60}"
HOST=127.0.0.1
URL="http://$HOST:$PORT"
PROBE_PATH="/bigquery/v2/projects/$PROJECT/datasets"

REQUIREMENTS=(
  "bqemulator==$BQEMULATOR_VERSION"
  "duckdb==$DUCKDB_VERSION"
  "duckdb-extension-spatial==$DUCKDB_VERSION"
  "numpy==$NUMPY_VERSION"
)

# The log of the latest start: its error lines, then its last lines.
show_log() {
  local from run
  from="$(grep -n '^=== ' "$LOG" 2>/dev/null | tail -n 1 | cut -d: -f1 || true)"
  run="$(tail -n +"${from:-1}" "$LOG" 2>/dev/null || true)"
  {
    echo "----- error lines of this run in $LOG -----"
    grep -E 'rror|xception|"level": "(error|critical)"' <<<"$run" | tail -n 20 | cut -c1-600 || true
    echo "----- last lines of $LOG -----"
    tail -n 30 <<<"$run" | cut -c1-600
    echo "-----"
  } >&2
}

say() { echo "bigquery-emulator: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# 0 if a BigQuery REST API answers on $PORT.
answering() {
  curl -fsS -o /dev/null --noproxy "*" --max-time 2 "$URL$PROBE_PATH" 2>/dev/null
}

# The pid from the pid file, if that process is alive and is a bqemulator.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q bqemulator || return 1
  echo "$pid"
}

find_python() {
  local candidates=()
  if [[ -n "${SLATE_BQ_PYTHON:-}" ]]; then
    candidates=("$SLATE_BQ_PYTHON")
  else
    candidates=(python3.11 python3.12 python3.13 python3)
  fi
  local py
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$py"
      return 0
    fi
  done
  die "no Python >= 3.11 with the venv module found (tried: ${candidates[*]}); set SLATE_BQ_PYTHON"
}

duckdb_platform() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo linux_amd64 ;;
    Linux-aarch64 | Linux-arm64) echo linux_arm64 ;;
    Darwin-arm64) echo osx_arm64 ;;
    Darwin-x86_64) echo osx_amd64 ;;
    *) die "unsupported platform $(uname -s)-$(uname -m)" ;;
  esac
}

install() {
  mkdir -p "$HOME_DIR"
  local want
  want="$(printf '%s\n' "${REQUIREMENTS[@]}")"
  if [[ -x "$VENV/bin/bqemulator" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    :
  else
    local py
    py="$(find_python)"
    if [[ ! -x "$VENV/bin/python" ]]; then
      say "creating venv $VENV with $py"
      "$py" -m venv "$VENV"
    fi
    say "installing ${REQUIREMENTS[*]} (pip log: $HOME_DIR/pip.log)"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
      "${REQUIREMENTS[@]}" >"$HOME_DIR/pip.log" 2>&1; then
      tail -n 30 "$HOME_DIR/pip.log" >&2
      die "pip install failed"
    fi
    printf '%s\n' "$want" >"$STAMP"
  fi

  # DuckDB's INSTALL finds an extension already in its extension directory and
  # does not download it.
  local ext_dir src
  ext_dir="$HOME/.duckdb/extensions/v$DUCKDB_VERSION/$(duckdb_platform)"
  src="$("$VENV/bin/python" -c 'import duckdb_extension_spatial as m, os; print(os.path.dirname(m.__file__))')/extensions/v$DUCKDB_VERSION/spatial.duckdb_extension"
  [[ -f "$src" ]] || die "spatial extension not found at $src"
  if ! cmp -s "$src" "$ext_dir/spatial.duckdb_extension" 2>/dev/null; then
    mkdir -p "$ext_dir"
    cp "$src" "$ext_dir/spatial.duckdb_extension"
    say "copied DuckDB spatial extension to $ext_dir"
  fi
}

start() {
  if answering; then
    say "a BigQuery emulator is already answering on $URL; not starting another"
    hint
    return 0
  fi
  local pid
  if pid="$(running_pid)"; then
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--rest-port $PORT "; then
      die "the emulator from $HOME_DIR (pid $pid) runs with other ports: $(tr '\0' ' ' <"/proc/$pid/cmdline"); run '$0 stop' first"
    fi
    say "emulator (pid $pid) is running but does not answer yet; waiting for it"
  else
    rm -f "$PIDFILE"
    install
    local persist=(--ephemeral)
    if [[ -n "${SLATE_BQ_DATA_DIR:-}" ]]; then
      local data_dir
      data_dir="$(mkdir -p "$SLATE_BQ_DATA_DIR" && cd "$SLATE_BQ_DATA_DIR" && pwd)"
      persist=(--persistent --data-dir "$data_dir")
    fi
    say "starting bqemulator $BQEMULATOR_VERSION on $URL (gRPC $HOST:$GRPC_PORT), log: $LOG"
    {
      echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') start rest=$PORT grpc=$GRPC_PORT ==="
    } >>"$LOG"
    # Run from $HOME_DIR so that no stray .bqemu.toml in the caller's folder
    # is read. BQEMU_ENABLE_FORMAT_EXTENSIONS=false skips the best-effort
    # download of DuckDB's avro extension (Avro loads are not used).
    (
      cd "$HOME_DIR"
      BQEMU_ENABLE_FORMAT_EXTENSIONS=false exec nohup "$VENV/bin/bqemulator" start \
        --rest-host "$HOST" --rest-port "$PORT" \
        --grpc-host "$HOST" --grpc-port "$GRPC_PORT" \
        --project "$PROJECT" "${persist[@]}" \
        --log-format json --log-level info \
        >>"$LOG" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi

  local deadline=$((SECONDS + TIMEOUT))
  until answering; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      say "emulator exited before answering on $URL"
      show_log
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      say "emulator (pid $pid) did not answer on $URL$PROBE_PATH within ${TIMEOUT}s (it is left running; '$0 stop' ends it)"
      show_log
      exit 1
    fi
    sleep 0.5
  done
  say "ready on $URL (pid $pid)"
  hint
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    if answering; then
      say "no emulator started by this script, but something answers on $URL; leaving it alone"
    else
      say "not running"
    fi
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid did not stop on TERM within 10s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

status() {
  if answering; then
    say "answering on $URL"
    return 0
  fi
  say "not answering on $URL"
  return 1
}

hint() {
  echo "export BIGQUERY_EMULATOR_HOST=$URL"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
