#!/usr/bin/env bash
# cached_venv.sh NAME PACKAGE...: a venv of its own for tools whose pins would fight the
# project's (Airflow, MeltanoLabs' target-postgres), outside the clone and cached, so only
# the first run pays; prints the venv's path. Parallel test workers wait for one install.
# JING_VENV_DIR overrides where the venv goes.
set -euo pipefail
NAME="$1"
shift
PYTHON="${PYTHON:-python3}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/jing-connectors"
VENV="${JING_VENV_DIR:-$CACHE_ROOT/$NAME}"
STAMP="$VENV/.installed-stamp"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -f "$STAMP" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet "$@" >&2
    touch "$STAMP"
fi
echo "$VENV"
