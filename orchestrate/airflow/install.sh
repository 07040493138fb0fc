#!/usr/bin/env bash
# Installs Apache Airflow 3 in its own venv, outside the clone, and prints the venv's path.
# Airflow pins hundreds of packages that would fight the project's own (singer-sdk, meltano),
# so it never shares .venv; the venv is cached so that only the first run pays (~30 s).
# Airflow only needs its own packages: the DAG runs the project's commands through the
# project's .venv/bin/meltano.
set -euo pipefail
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
PYTHON="${PYTHON:-python3}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/jing-connectors"
VENV="${JING_AIRFLOW_VENV:-$CACHE_ROOT/airflow-$AIRFLOW_VERSION}"
STAMP="$VENV/.installed-stamp"

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9  # parallel test workers wait for one install
if [ ! -f "$STAMP" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet \
        "apache-airflow==$AIRFLOW_VERSION" "apache-airflow-providers-standard" >&2
    touch "$STAMP"
fi
echo "$VENV"
