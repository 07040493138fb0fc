# One entry point for people and CI. Every target installs what it needs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install postgres-tools lint format test test-fast demo chaos bench airflow dist definitions clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# initdb and pg_ctl for the tests' PostgreSQL server: Debian's package where they are missing.
postgres-tools:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint postgres-tools
	$(BIN)/python -m pytest -n 2

test-fast: install postgres-tools
	$(BIN)/python -m pytest -n 2 -m "not slow"

demo: install
	$(BIN)/python -m orchestrate.demo

chaos: install
	$(BIN)/python -m bench.chaos

# Figures only, never pass/fail; docs/BENCHMARKS.md records a run of each.
bench: install postgres-tools
	$(BIN)/python bench/sandbox_throughput.py
	$(BIN)/python bench/tap_throughput.py
	$(BIN)/python bench/tap_throughput.py --latency-ms 100 --registrations 10000 --users 3000
	$(BIN)/python bench/target_throughput.py
	$(BIN)/python bench/target_vs_plain.py

# The sdist and the wheel, into dist/.
dist: install
	$(BIN)/python -m build --no-isolation --outdir dist .

# plugins/, meltano.yml's settings and the README's settings tables, from the declarations.
definitions: install
	$(BIN)/python scripts/plugin_definitions.py --write

# Airflow 3 in its own venv, cached outside the clone (the DAG test calls this too).
airflow:
	bash orchestrate/airflow/install.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache output .meltano
