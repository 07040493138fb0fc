"""meltano.yml keeps its promises: no secret in the file, one daily schedule per job."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from orchestrate.meltano_commands import PROJECT_DIR

SECRET_SETTINGS = {"app_id", "app_secret"}


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "meltano.yml").read_text())


def plugins(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for kind in project["plugins"].values() for p in kind}


def environment(project: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    env = next(e for e in project["environments"] if e["name"] == name)
    kinds = env.get("config", {}).get("plugins", {}).values()
    return {p["name"]: p.get("config", {}) for kind in kinds for p in kind}


def test_prod_takes_credentials_from_the_environment_only(project: dict[str, Any]) -> None:
    prod = environment(project, "prod")
    assert prod["tap-jing"]["base_url"] == "https://jingopenapi.jingsocial.com"
    for name, config in prod.items():
        assert not SECRET_SETTINGS & set(config), f"{name} has credentials in meltano.yml"
    for name, plugin in plugins(project).items():
        assert not SECRET_SETTINGS & set(plugin.get("config", {})), name


def test_every_app_secret_is_sensitive(project: dict[str, Any]) -> None:
    for name in ("tap-jing", "target-jing", "target-jing-sync"):
        settings = {s["name"]: s for s in plugins(project)[name]["settings"]}
        assert settings["app_secret"].get("sensitive") is True, name


def test_the_writeback_utility_mirrors_target_jing(project: dict[str, Any]) -> None:
    found = plugins(project)
    assert found["target-jing-sync"]["namespace"] == found["target-jing"]["namespace"]
    assert found["target-jing-sync"]["settings"] == found["target-jing"]["settings"]
    for env in ("dev", "prod", "pg"):
        configs = environment(project, env)
        # The write-back of the decisions also reads what the extract saw (DuckDB only).
        sync = {k: v for k, v in configs["target-jing-sync"].items() if k != "observed_state"}
        assert sync == configs["target-jing"], env


def test_the_pg_environment_keeps_nothing_that_must_last_in_the_project(
    project: dict[str, Any],
) -> None:
    """Warehouse, decisions, ledger: PostgreSQL; no file path; no password in the file."""
    pg = environment(project, "pg")
    assert pg["target-warehouse"] == {"sqlalchemy_url": "${JING_PG_URL}"}
    assert pg["jing-decide"]["postgres_url"] == "${JING_PG_URL}"
    assert pg["target-jing-sync"]["ledger_url"] == "${JING_PG_URL}"
    env = next(e for e in project["environments"] if e["name"] == "pg")
    # Meltano logs a command line at debug level: the URL goes by the variable's name.
    assert env["env"]["JING_DECISIONS_IN"] == "env:JING_PG_URL"
    text = str(env)
    assert "duckdb" not in text.lower() and "/output" not in text
    assert pg["target-jing-sync"]["observed_state"] == "raw.activity_users"
    for config in pg.values():
        assert not SECRET_SETTINGS & set(config)


def test_one_daily_schedule_per_job(project: dict[str, Any]) -> None:
    jobs = {job["name"]: job["tasks"] for job in project["jobs"]}
    assert jobs == {
        "jing-extract": ["tap-jing target-warehouse"],
        "jing-writeback": ["jing-decide target-jing-sync:decisions"],
    }
    scheduled = sorted(s["job"] for s in project["schedules"])
    assert scheduled == sorted(jobs)
    for schedule in project["schedules"]:
        minute, hour, *rest = schedule["interval"].split()
        assert rest == ["*", "*", "*"] and minute.isdigit() and hour.isdigit(), schedule
