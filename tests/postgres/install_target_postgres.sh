#!/usr/bin/env bash
# Installs MeltanoLabs' target-postgres (pinned, from PyPI) in its own cached venv outside
# the clone and prints the venv's path: it pins its own singer-sdk and SQLAlchemy.
set -euo pipefail
VERSION="${TARGET_POSTGRES_VERSION:-0.8.1}"
exec bash "$(dirname "$0")/../../orchestrate/cached_venv.sh" \
    "target-postgres-$VERSION" "meltanolabs-target-postgres==$VERSION"
