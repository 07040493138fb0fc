#!/usr/bin/env bash
# Installs Apache Airflow 3 in its own venv, outside the clone, and prints the venv's path.
# Airflow pins hundreds of packages that would fight the project's own (singer-sdk, meltano),
# so it never shares .venv; the venv is cached so that only the first run pays (~30 s).
# Airflow only needs its own packages: the DAG runs the project's commands through the
# project's .venv/bin/meltano.
set -euo pipefail
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
JING_VENV_DIR="${JING_AIRFLOW_VENV:-}" exec bash "$(dirname "$0")/../cached_venv.sh" \
    "airflow-$AIRFLOW_VERSION" "apache-airflow==$AIRFLOW_VERSION" apache-airflow-providers-standard
