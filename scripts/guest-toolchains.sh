#!/usr/bin/env bash
# Install the pinned toolchains that build Slate processors in Python and
# JavaScript, into a folder of the repository (nothing global):
#
#   componentize-py (PyPI), in a venv:        $SLATE_GUEST_HOME/python/bin/componentize-py
#   jco + componentize-js + esbuild (npm):    $SLATE_GUEST_HOME/node/node_modules/.bin/{jco,esbuild}
#
#   scripts/guest-toolchains.sh install      Python: install if needed (idempotent), print the env
#   scripts/guest-toolchains.sh install-js   Python and JavaScript: install if needed, print the env
#   scripts/guest-toolchains.sh env          print the env lines only (exit 1 if nothing is installed)
#
# `install` prints, on stdout, the line the tests read:
#   export SLATE_COMPONENTIZE_PY=<path>
# and `install-js` also
#   export SLATE_JCO=<path>
# (`slate build` finds esbuild beside jco), so
# `eval "$(scripts/guest-toolchains.sh install-js)"` makes the Python and
# JavaScript tests run. Under CI (env CI set) those tests fail, never
# skip, when the tool is missing.
#
# Environment:
#   SLATE_GUEST_HOME    install folder (default: <repo>/.guest-toolchains)
#   SLATE_GUEST_PYTHON  Python >= 3.10 for the venv (default: python3)
#
# Both engines are embedded in the packages (componentize-py bundles
# CPython; componentize-js bundles StarlingMonkey, and wizer comes as a
# native npm package), so a build downloads nothing. (jco's `--aot` would
# fetch weval at build time; `slate build` never passes it.)
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
# jco 1.35.0 could not read a --wit folder here (its vendored wasm-tools
# saw no preopened directory); 1.11.2 with componentize-js 0.17.0 does,
# and builds a processor in about 12 s on 2 cores. esbuild bundles the
# processor and the SDK into the one file componentize-js takes.
JCO_VERSION=1.11.2
COMPONENTIZE_JS_VERSION=0.17.0
ESBUILD_VERSION=0.25.12

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${SLATE_GUEST_HOME:-$ROOT/.guest-toolchains}"
PY_VENV="$HOME_DIR/python"
NODE_DIR="$HOME_DIR/node"
COMPONENTIZE_PY="$PY_VENV/bin/componentize-py"
JCO="$NODE_DIR/node_modules/.bin/jco"
ESBUILD="$NODE_DIR/node_modules/.bin/esbuild"

say() { echo "guest-toolchains: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

python_stamp="componentize-py==$COMPONENTIZE_PY_VERSION"
node_stamp="@bytecodealliance/jco@$JCO_VERSION @bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION esbuild@$ESBUILD_VERSION"

install_python() {
  if [[ -x "$COMPONENTIZE_PY" && "$(cat "$PY_VENV/.slate-installed" 2>/dev/null)" == "$python_stamp" ]]; then
    return 0
  fi
  local py="${SLATE_GUEST_PYTHON:-python3}"
  command -v "$py" >/dev/null || die "no $py; set SLATE_GUEST_PYTHON to a Python >= 3.10"
  mkdir -p "$HOME_DIR"
  [[ -x "$PY_VENV/bin/python" ]] || "$py" -m venv "$PY_VENV"
  say "installing $python_stamp (log: $HOME_DIR/pip.log)"
  if ! "$PY_VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    "$python_stamp" >"$HOME_DIR/pip.log" 2>&1; then
    tail -n 30 "$HOME_DIR/pip.log" >&2
    die "pip install failed"
  fi
  echo "$python_stamp" >"$PY_VENV/.slate-installed"
}

install_node() {
  if [[ -x "$JCO" && -x "$ESBUILD" && "$(cat "$NODE_DIR/.slate-installed" 2>/dev/null)" == "$node_stamp" ]]; then
    return 0
  fi
  command -v npm >/dev/null || die "no npm; install Node.js >= 18"
  mkdir -p "$NODE_DIR"
  [[ -f "$NODE_DIR/package.json" ]] || echo '{"name": "slate-guest-toolchains", "private": true}' >"$NODE_DIR/package.json"
  say "installing $node_stamp (log: $HOME_DIR/npm.log)"
  # shellcheck disable=SC2086
  if ! (cd "$NODE_DIR" && npm install --no-audit --no-fund --save-exact $node_stamp) >"$HOME_DIR/npm.log" 2>&1; then
    tail -n 30 "$HOME_DIR/npm.log" >&2
    die "npm install failed"
  fi
  echo "$node_stamp" >"$NODE_DIR/.slate-installed"
}

print_env() {
  [[ -x "$COMPONENTIZE_PY" || -x "$JCO" ]] || die "nothing is installed; run '$0 install' or '$0 install-js'"
  if [[ -x "$COMPONENTIZE_PY" ]]; then
    echo "export SLATE_COMPONENTIZE_PY=$COMPONENTIZE_PY"
  fi
  if [[ -x "$JCO" ]]; then
    echo "export SLATE_JCO=$JCO"
  fi
}

case "${1:-}" in
  install)
    install_python
    print_env
    ;;
  install-js)
    install_python
    install_node
    print_env
    ;;
  env) print_env ;;
  *)
    echo "usage: $0 install|install-js|env" >&2
    exit 2
    ;;
esac
