"""The fault classes of issue 19: each fault a user can meet must end clean.

Clean means: the documented exit code, no Python traceback in any output, no
secret (in any spelling) in any output, log or ledger table, and the rest of the
run's work done (no wrong final state in JING). Each scenario runs the real
commands (`target-jing`, `tap-jing`) as child processes against a sandbox of
its own, keeps every output in its folder of the workdir, and says what it saw;
the leak hunt then searches that folder for the scenario's secrets.
`make chaos` prints the table; `tests/reliability/test_reliability_fault_classes.py`
runs each scenario as a test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import duckdb

from bench.fault_kit import (
    BATCH_PATH,
    BIG_COMMAND_TIMEOUT,
    BIN,
    COMMAND_TIMEOUT,
    DECISION_COLUMNS,
    PG_DATABASE,
    SANDBOX,
    Fault,
    FaultKit,
    Ran,
    changed,
    decisions,
    expect_exit,
    holdings,
    not_holding,
    pending_rows,
)
from jing_sandbox.process import SandboxProcess
from jing_sandbox.settings import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from jing_singer import exit_codes

# -- the scenarios -------------------------------------------------------------------------


def retry_after_ceiling(kit: FaultKit, problems: list[str]) -> int:
    """429 with Retry-After: 86400 on every call: both connectors stop within the cap."""
    fast = {"max_concurrency": 2, "max_retry_after_seconds": 30, "backoff_max_seconds": 0.2}
    with SandboxProcess(**SANDBOX, retry_after=86400, throttle_http_ratio=1.0) as sandbox:
        warehouse = kit.workdir / "warehouse.duckdb"
        kit.workdir.mkdir(parents=True, exist_ok=True)
        rows = decisions(sandbox, warehouse)
        before = holdings(sandbox)
        ledger = kit.workdir / "ledger.duckdb"
        config = kit.config("target.json", sandbox.config(ledger_path=str(ledger), **fast))
        sandbox.faults(path=BATCH_PATH, throttle=1.0)
        sync = ["target-jing", "sync", "--config", str(config)]
        ran = kit.command("sync", [*sync, "--duckdb", str(warehouse), "--table", "decisions"])
        expect_exit(problems, ran, exit_codes.API_UNREACHABLE, "target-jing sync")
        if ran.code is not None and "max_retry_after_seconds" not in ran.output:
            problems.append("target-jing sync does not say the wait passed the cap")
        if ran.code is not None and sum(pending_rows(ledger).values()) != rows:
            problems.append(f"not every row stayed pending: {pending_rows(ledger)}")

        sandbox.faults(path="/v1/activity/list", throttle=1.0)
        tap_config = kit.config("tap.json", sandbox.config(**fast))
        ran = kit.command("tap", ["tap-jing", "--config", str(tap_config)])
        expect_exit(problems, ran, exit_codes.API_UNREACHABLE, "tap-jing")
        if ran.code is not None and "max_retry_after_seconds" not in ran.output:
            problems.append("tap-jing does not say the wait passed the cap")
        kit.keep_secrets(sandbox)
        return changed(before, holdings(sandbox))  # every call was refused: nothing changes


#: An activity id of JING's shape that no sandbox has: an activity deleted since.
DELETED_ACTIVITY = "etAJARbcPwUwnsgfr66BVJ"


def deleted_activity(kit: FaultKit, problems: list[str]) -> int:
    """Rows of a deleted activity, with read_back and with observed_state: they end
    `permanent` (40400) and every other activity is written, in this run and the next."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    wrong = 0
    with SandboxProcess(**SANDBOX) as sandbox:
        warehouse = kit.workdir / "warehouse.duckdb"
        decisions(sandbox, warehouse)
        gone = [(DELETED_ACTIVITY, r["omni_user_uuid"], "1") for r in sandbox.registrations()[:30]]
        with duckdb.connect(str(warehouse)) as con:
            con.executemany("INSERT INTO decisions VALUES (?, ?, ?)", gone)
            con.execute(
                "CREATE TABLE observed AS SELECT target_entity_uuid, omni_user_uuid, "
                "ems_approvestatus, ems_signinstatus, NULL::TIMESTAMPTZ AS ems_approvetimestamp, "
                "NULL::TIMESTAMPTZ AS ems_signintimestamp, NULL::TIMESTAMPTZ AS updated_time "
                "FROM read_json_auto(?)",
                [str(_registrations_file(kit, sandbox))],
            )
        for how, extra in (
            ("read_back", {"read_back": True}),
            ("observed_state", {"observed_state": "observed"}),
        ):
            sandbox.reset(data=True)
            ledger = kit.workdir / f"ledger-{how}.duckdb"
            config = kit.config(
                f"{how}.json",
                sandbox.config(ledger_path=str(ledger), max_failed_ratio=0.1, **extra),
            )
            sync = ["target-jing", "sync", "--config", str(config), "--duckdb", str(warehouse)]
            for attempt in (1, 2):
                ran = kit.command(f"sync-{how}-{attempt}", [*sync, "--table", "decisions"])
                expect_exit(problems, ran, exit_codes.OK, f"{how}, run {attempt}")
            if ran.code is not None and pending_rows(ledger) != {"permanent": len(gone)}:
                problems.append(f"{how}: pending rows {pending_rows(ledger)}, not 30 permanent")
            wrong += not_holding(sandbox, "1")
        kit.keep_secrets(sandbox)
    return wrong


def _registrations_file(kit: FaultKit, sandbox: SandboxProcess) -> Path:
    path = kit.workdir / "registrations.json"
    path.write_text(json.dumps(sandbox.registrations()))
    return path


def shards_find_a_dead_run(kit: FaultKit, problems: list[str]) -> int:
    """A run killed while sending on a PostgreSQL ledger; four shards then start at once.

    Exactly one of them settles the dead run, none fails, and all of them send.
    """
    kit.workdir.mkdir(parents=True, exist_ok=True)
    server = kit.postgres()
    try:
        with SandboxProcess(**SANDBOX, latency_ms=200, max_in_flight=50) as sandbox:
            warehouse = kit.workdir / "warehouse.duckdb"
            decisions(sandbox, warehouse, status="2")
            config = kit.config(
                "config.json",
                sandbox.config(ledger_url=server.url, ledger_schema="ledger", max_concurrency=2),
            )
            sync = ["target-jing", "sync", "--config", str(config), "--duckdb", str(warehouse)]
            dying = kit.start("killed", [*sync, "--table", "decisions"])
            _wait_for_calls(sandbox, 2)
            dying[0].kill()
            kit.finish(dying)
            kit.ran.pop()  # killed on purpose: its exit code is not a finding
            sandbox.configure(latency_ms=0)
            shards = [
                kit.start(f"shard-{k}", [*sync, "--table", "decisions", "--shard", f"{k}/4"])
                for k in range(1, 5)
            ]
            for k, started in enumerate(shards, 1):
                ran = kit.finish(started)
                expect_exit(problems, ran, exit_codes.OK, f"shard {k}/4")
            settled = server.sql(
                PG_DATABASE,
                "SELECT count(*) FROM ledger.jing_sync_runs WHERE status = 'aborted'",
            ).strip()
            if settled != "1":
                problems.append(f"{settled} aborted runs, not the one killed")
            kit.keep_secrets(sandbox)
            return not_holding(sandbox, "2")
    finally:
        server.stop()


def _wait_for_calls(sandbox: SandboxProcess, calls: int) -> None:
    """Until the sandbox has seen `calls` more update calls (at most 30 s)."""
    deadline = time.monotonic() + 30
    wanted = sandbox.stats()["calls"].get(BATCH_PATH, 0) + calls
    while time.monotonic() < deadline:
        if sandbox.stats()["calls"].get(BATCH_PATH, 0) >= wanted:
            return
        time.sleep(0.05)


def ledger_file_faults(kit: FaultKit, problems: list[str]) -> int:
    """A damaged ledger file, ledger tables of another shape, and (as root, on a 40 kB
    tmpfs) a full disk: each one line and exit 2 or 4, and a good ledger goes on after."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(**SANDBOX) as sandbox:
        warehouse = kit.workdir / "warehouse.duckdb"
        decisions(sandbox, warehouse)
        good = kit.workdir / "good.duckdb"

        def sync(name: str, ledger: Path) -> Ran:
            config = kit.config(f"{name}.json", sandbox.config(ledger_path=str(ledger)))
            return kit.command(
                name,
                [
                    *("target-jing", "sync", "--config", str(config), "--duckdb", str(warehouse)),
                    *("--table", "decisions"),
                ],
            )

        expect_exit(problems, sync("good", good), exit_codes.OK, "a good ledger")
        damaged = kit.workdir / "damaged.duckdb"
        data = bytearray(good.read_bytes())
        for i in range(4096, len(data), 89):
            data[i] ^= 0xFF
        damaged.write_bytes(bytes(data))
        ran = sync("damaged", damaged)
        expect_exit(problems, ran, exit_codes.BAD_INPUT, "a damaged ledger")
        if ran.code is not None and "damaged" not in ran.output:
            problems.append("a damaged ledger is not called damaged")
        for name, statement in (
            ("foreign", "CREATE TABLE jing_pending (note VARCHAR)"),
            ("edited", None),
        ):
            ledger = kit.workdir / f"{name}.duckdb"
            if statement is None:
                ledger.write_bytes(good.read_bytes())
                statement = "ALTER TABLE jing_sync_log DROP COLUMN reason"
            with duckdb.connect(str(ledger)) as con:
                con.execute(statement)
            ran = sync(name, ledger)
            expect_exit(problems, ran, exit_codes.BAD_INPUT, f"a ledger table {name}")
            if ran.code is not None and "not a target-jing ledger table" not in ran.output:
                problems.append(f"{name}: the message does not name the table's shape")
        if os.geteuid() == 0 and sys.platform.startswith("linux"):
            tiny = kit.private / "tiny"
            tiny.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(tiny)], check=True
            )
            try:
                ran = sync("disk-full", tiny / "ledger.duckdb")
            finally:
                subprocess.run(["umount", "-l", str(tiny)], check=False)
            expect_exit(problems, ran, exit_codes.API_UNREACHABLE, "a full disk")
            if ran.code is not None and "disk is full" not in ran.output:
                problems.append("a full disk is not called full")
        ran = sync("good-again", good)
        expect_exit(problems, ran, exit_codes.OK, "the good ledger after the faults")
        kit.keep_secrets(sandbox)
        return not_holding(sandbox, "1")


def singer_line_faults(kit: FaultKit, problems: list[str]) -> int:
    """A RECORD before its SCHEMA, an unknown message type, a line that is not JSON or not
    an object, messages without the fields their type needs: exit 2, naming the line."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    schema = json.dumps(
        {
            "type": "SCHEMA",
            "stream": "decisions",
            "schema": {"properties": {c: {"type": "string"} for c in DECISION_COLUMNS}},
            "key_properties": [],
        }
    )
    record = json.dumps(
        {"type": "RECORD", "stream": "decisions", "record": dict.fromkeys(DECISION_COLUMNS, "x")}
    )
    with SandboxProcess(**SANDBOX) as sandbox:
        config = kit.config(
            "target.json", sandbox.config(ledger_path=str(kit.workdir / "ledger.duckdb"))
        )
        for name, lines, line in (
            ("record-before-schema", [record], 1),
            ("unknown-type", [schema, '{"type": "WHATEVER", "stream": "decisions"}'], 2),
            ("not-json", [schema, record, "{oops"], 3),
            ("not-an-object", [schema, "[1, 2]"], 2),
            ("no-type", [schema, record, '{"stream": "decisions"}'], 3),
            ("record-not-an-object", [schema, '{"type": "RECORD", "stream": "d", "record": 5}'], 2),
            ("schema-not-an-object", ['{"type": "SCHEMA", "stream": "d", "schema": 5}'], 1),
            ("batch-without-encoding", [schema, '{"type": "BATCH", "stream": "decisions"}'], 2),
        ):
            ran = kit.command(
                name, ["target-jing", "--config", str(config)], stdin="\n".join(lines) + "\n"
            )
            expect_exit(problems, ran, exit_codes.BAD_INPUT, name)
            if ran.code is not None and f"line {line}" not in ran.output:
                problems.append(f"{name}: the message does not name line {line}")
        kit.keep_secrets(sandbox)
    return 0


#: A password with every character a URL must encode: '@', '/', ':' and '%'.
TRICKY_PASSWORD = "pg@Sec/ret:9x%41"


def ledger_secrets(kit: FaultKit, problems: list[str]) -> int:
    """A PostgreSQL ledger whose password is given percent-encoded, as a keyword string,
    with a raw '@', on a wrong port, and a server stopped mid-run, all at DEBUG level:
    no spelling of it anywhere, and exits 0, 0, 2, 2, 4, then 0 once the server is back."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    server = kit.postgres()
    kit.secrets.update({TRICKY_PASSWORD, quote(TRICKY_PASSWORD, safe="")})
    debug = {"TARGET_JING_LOGLEVEL": "DEBUG"}
    try:
        server.sql(PG_DATABASE, f"CREATE ROLE tricky LOGIN SUPERUSER PASSWORD '{TRICKY_PASSWORD}'")
        encoded = (
            f"postgresql://tricky:{quote(TRICKY_PASSWORD, safe='')}@127.0.0.1:{server.port}/"
            f"{PG_DATABASE}"
        )
        keywords = (
            f"host=127.0.0.1 port={server.port} user=tricky dbname={PG_DATABASE} "
            f"password='{TRICKY_PASSWORD}'"
        )
        raw = f"postgresql://tricky:{TRICKY_PASSWORD.replace('/', '')}@127.0.0.1:{server.port}/x"
        kit.secrets.add(TRICKY_PASSWORD.replace("/", ""))
        wrong_port = encoded.replace(f":{server.port}/", f":{_closed_port()}/")
        with SandboxProcess(**SANDBOX) as sandbox:
            warehouse = kit.workdir / "warehouse.duckdb"
            decisions(sandbox, warehouse, status="2")

            def sync(name: str, url: str) -> Ran:
                config = kit.config(
                    f"{name}.json",
                    sandbox.config(ledger_url=url, ledger_schema="ledger", max_concurrency=1),
                )
                argv = ["target-jing", "sync", "--config", str(config), "--duckdb"]
                return kit.command(name, [*argv, str(warehouse), "--table", "decisions"], env=debug)

            for name, url, code in (
                ("raw-at", raw, exit_codes.BAD_INPUT),
                ("wrong-port", wrong_port, exit_codes.BAD_INPUT),
                ("encoded", encoded, exit_codes.OK),
                ("keywords", keywords, exit_codes.OK),
            ):
                expect_exit(problems, sync(name, url), code, f"ledger_url {name}")

            decisions(sandbox, warehouse, status="1")
            sandbox.configure(latency_ms=300)
            config = kit.config(
                "lost.json",
                sandbox.config(ledger_url=encoded, ledger_schema="ledger", max_concurrency=1),
            )
            argv = ["target-jing", "sync", "--config", str(config), "--duckdb", str(warehouse)]
            started = kit.start("lost", [*argv, "--table", "decisions"], env=debug)
            _wait_for_calls(sandbox, 3)
            server.stop("immediate")
            expect_exit(
                problems, kit.finish(started), exit_codes.API_UNREACHABLE, "the server lost"
            )
            server.resume()
            sandbox.configure(latency_ms=0)
            expect_exit(problems, sync("back", keywords), exit_codes.OK, "the server back")
            for table in ("jing_sync_runs", "jing_sync_log", "jing_pending"):
                (kit.workdir / f"{table}.txt").write_text(
                    server.sql(PG_DATABASE, f"SELECT * FROM ledger.{table}")
                )
            kit.keep_secrets(sandbox)
            return not_holding(sandbox, "1")
    finally:
        server.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bad_values(kit: FaultKit, problems: list[str]) -> int:
    """Times of 'infinity' and '-infinity' (TIMESTAMP, TIMESTAMPTZ, DATE) refuse their rows
    alone; a CSV's "1.0" status reads as "1"; every other row is applied."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(**SANDBOX) as sandbox:
        registrations = sandbox.registrations()
        warehouse = kit.workdir / "warehouse.duckdb"
        infinite = {0: "'infinity'", 1: "'-infinity'"}
        with duckdb.connect(str(warehouse)) as con:
            con.execute(
                "CREATE TABLE t (activity_id VARCHAR, user_id VARCHAR, approve_status INTEGER, "
                "signin_status VARCHAR, signin_time TIMESTAMPTZ, approve_time TIMESTAMP, d DATE)"
            )
            for i, reg in enumerate(registrations[:40]):
                time_sql = infinite.get(i, "'2025-03-01 02:00:00'")
                con.execute(
                    f"INSERT INTO t VALUES (?, ?, 1, '1', {time_sql}, {time_sql}, "
                    f"{infinite.get(i, 'NULL')})",
                    [reg["target_entity_uuid"], reg["omni_user_uuid"]],
                )
        csv = kit.workdir / "statuses.csv"
        csv.write_text(
            "activity_id,user_id,approve_status,signin_status\n"
            + "".join(
                f"{r['target_entity_uuid']},{r['omni_user_uuid']},2.0,0.00\n"
                for r in registrations[40:80]
            )
        )
        ledger = kit.workdir / "ledger.duckdb"
        config = kit.config("target.json", sandbox.config(ledger_path=str(ledger)))
        sync = ["target-jing", "sync", "--config", str(config)]
        ran = kit.command("infinity", [*sync, "--duckdb", str(warehouse), "--table", "t"])
        expect_exit(problems, ran, exit_codes.ROWS_FAILED, "two rows of infinite times")
        ran = kit.command("csv", [*sync, "--file", str(csv)])
        expect_exit(problems, ran, exit_codes.OK, "a CSV with 2.0 and 0.00")
        with duckdb.connect(str(ledger), read_only=True) as con:
            outcomes = dict(
                con.execute("SELECT outcome, count(*) FROM jing_sync_log GROUP BY 1").fetchall()
            )
        if outcomes != {"applied": 78, "rejected": 2}:
            problems.append(f"outcomes {outcomes}, not 78 applied and 2 rejected")
        held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
        wrong = 0
        for i, reg in enumerate(registrations[2:80], start=2):
            now = held[(reg["target_entity_uuid"], reg["omni_user_uuid"])]
            wanted = ("1", "1", "2025-03-01 10:00:00") if i < 40 else ("2", "0", None)
            got = (now["ems_approvestatus"], now["ems_signinstatus"])
            wrong += got != wanted[:2] or (
                wanted[2] is not None and now["ems_signintimestamp"] != wanted[2]
            )
        kit.keep_secrets(sandbox)
        return wrong


def _reader_leaves(kit: FaultKit, argv: Sequence[str]) -> Ran:
    """Run `argv` with its stdout read for one line and then closed (a target that died)."""
    started = kit.start("reader-leaves", argv, piped=True)
    stdout = started[0].stdout
    assert stdout is not None
    stdout.readline()
    stdout.close()
    return kit.finish(started)


def tap_input_faults(kit: FaultKit, problems: list[str]) -> int:
    """Damaged `--state` files and a start_date past the API's times: exit 2 before any
    record is emitted; a reader that leaves after one line: exit 1, said as such; a good
    state still runs."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(**SANDBOX) as sandbox:
        config = kit.config("tap.json", sandbox.config(start_date="2020-01-01T00:00:00Z"))
        bookmark = {"replication_key": "updated_time", "replication_key_value": "yesterday"}
        states = {
            "not-json": "{not json",
            "a-list": "[1, 2]",
            "bookmarks-a-number": json.dumps({"bookmarks": 5}),
            "a-stream-a-string": json.dumps({"bookmarks": {"activities": "x"}}),
            "not-a-time": json.dumps({"bookmarks": {"activities": bookmark}}),
            "a-partition-not-a-time": json.dumps(
                {"bookmarks": {"activity_users": {"partitions": [{"context": {}, **bookmark}]}}}
            ),
        }
        for name, text in states.items():
            state = kit.workdir / f"{name}.json"
            state.write_text(text)
            ran = kit.command(
                f"state-{name}", ["tap-jing", "--config", str(config), "--state", str(state)]
            )
            expect_exit(problems, ran, exit_codes.BAD_INPUT, f"--state {name}")
            if '"RECORD"' in ran.output:
                problems.append(f"--state {name}: records were emitted before the exit")
        catalogs = {
            "not-json": "{not json",
            "streams-a-number": json.dumps({"streams": 5}),
            "a-stream-without-schema": json.dumps({"streams": [{"tap_stream_id": "users"}]}),
        }
        for name, text in catalogs.items():
            catalog = kit.workdir / f"catalog-{name}.json"
            catalog.write_text(text)
            argv = ["tap-jing", "--config", str(config), "--catalog", str(catalog)]
            ran = kit.command(f"catalog-{name}", argv)
            expect_exit(problems, ran, exit_codes.BAD_INPUT, f"--catalog {name}")
            if '"RECORD"' in ran.output:
                problems.append(f"--catalog {name}: records were emitted before the exit")
        catalog = kit.workdir / "catalog-good.json"
        with catalog.open("w", encoding="utf-8") as out:  # stdout alone: the catalog
            subprocess.run(
                [str(BIN / "tap-jing"), "--config", str(config), "--discover"],
                stdout=out,
                stderr=subprocess.DEVNULL,
                check=True,
                timeout=COMMAND_TIMEOUT,
            )
        ran = kit.command(
            "catalog-good", ["tap-jing", "--config", str(config), "--catalog", str(catalog)]
        )
        expect_exit(problems, ran, exit_codes.OK, "a discovered catalog")
        far = kit.config("far.json", sandbox.config(start_date="9999-12-31T23:59:59Z"))
        ran = kit.command("start-date-far", ["tap-jing", "--config", str(far)])
        expect_exit(problems, ran, exit_codes.BAD_INPUT, "start_date 9999-12-31T23:59:59Z")
        ran = _reader_leaves(kit, ["tap-jing", "--config", str(config)])
        expect_exit(problems, ran, exit_codes.ROWS_FAILED, "the reader leaving")
        if ran.code is not None and "output was closed" not in ran.output:
            problems.append("the reader leaving is not said as such")
        good = kit.workdir / "good-state.json"
        good.write_text(json.dumps({"bookmarks": {}}))
        ran = kit.command("state-good", ["tap-jing", "--config", str(config), "--state", str(good)])
        expect_exit(problems, ran, exit_codes.OK, "a good state")
        kit.keep_secrets(sandbox)
    return 0


#: The rows of the ledger commands' scenario, and the peak memory each command may use.
BIG_LEDGER_ROWS = 1_000_000
COMMAND_RSS_LIMIT_MB = 300
#: Runs a command with its output thrown away; prints the command's peak RSS in kB.
PEAK_RSS = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def ledger_commands_at_scale(kit: FaultKit, problems: list[str]) -> int:
    """`runs show` and `pending list` of a million rows stream them, under 300 MB each."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    with SandboxProcess(**SANDBOX) as sandbox:
        warehouse = kit.workdir / "warehouse.duckdb"
        decisions(sandbox, warehouse)
        ledger = kit.workdir / "ledger.duckdb"
        config = kit.config("target.json", sandbox.config(ledger_path=str(ledger)))
        sync = ["target-jing", "sync", "--config", str(config), "--duckdb", str(warehouse)]
        expect_exit(problems, kit.command("sync", [*sync, "--table", "decisions"]), 0, "sync")
        with duckdb.connect(str(ledger)) as con:
            run_id, destination = con.execute(
                "SELECT run_id, destination FROM jing_sync_runs"
            ).fetchone() or ("", "")
            con.execute(
                "INSERT INTO jing_sync_log SELECT $run, i, 'big', 'a' || (i % 100), 'u' || i, "
                "'1', '1', NULL, NULL, 'failed', 'a reason of some length, row ' || i, "
                "'r' || i, i // 100, now(), 'retryable' FROM range($n) AS t(i)",
                {"run": run_id, "n": BIG_LEDGER_ROWS},
            )
            con.execute(
                "INSERT INTO jing_pending SELECT 'a' || (i % 100), 'u' || i, '1', '1', NULL, "
                "NULL, $run, $run, 1, 'a reason ' || i, $dest, 'pending', 'retryable', now() "
                "FROM range($n) AS t(i)",
                {"run": run_id, "dest": destination, "n": BIG_LEDGER_ROWS},
            )
        for name, argv in (
            ("runs-show", ["runs", "show", run_id, "--ledger", str(ledger)]),
            (
                "runs-show-json",
                ["runs", "show", run_id, "--ledger", str(ledger), "--format", "json"],
            ),
            ("pending-list", ["pending", "list", "--config", str(config)]),
        ):
            ran = kit.command(
                name,
                ["python", "-c", PEAK_RSS, str(BIN / "target-jing"), *argv],
                timeout=BIG_COMMAND_TIMEOUT,
            )
            expect_exit(problems, ran, exit_codes.OK, name)
            peak = int(ran.output.split()[-1]) // 1024 if ran.code == 0 else 0
            if peak > COMMAND_RSS_LIMIT_MB:
                problems.append(f"{name}: peak RSS {peak} MB, over {COMMAND_RSS_LIMIT_MB} MB")
        kit.keep_secrets(sandbox)
    return 0


def a_million_rows_with_the_api_down(kit: FaultKit, problems: list[str]) -> int:
    """1,000,000 rows and no API: the run stops as unreachable (or, where the ledger's
    memory runs out first, as out of memory), exit 4 either way, every row pending."""
    kit.workdir.mkdir(parents=True, exist_ok=True)
    warehouse = kit.workdir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "CREATE TABLE decisions AS SELECT "
            "'act' || lpad(CAST(i % 1000 AS VARCHAR), 19, '0') AS activity_id, "
            "'user' || lpad(CAST(i AS VARCHAR), 18, '0') AS user_id, "
            "CAST(i % 3 AS VARCHAR) AS approve_status, CAST(i % 2 AS VARCHAR) AS signin_status "
            "FROM range($n) AS t(i)",
            {"n": BIG_LEDGER_ROWS},
        )
    ledger = kit.workdir / "ledger.duckdb"
    config = {
        "app_id": DEFAULT_APP_ID,
        "app_secret": DEFAULT_APP_SECRET,
        "base_url": f"http://127.0.0.1:{_closed_port()}",
        "ledger_path": str(ledger),
        "max_attempts": 2,
        "backoff_max_seconds": 0.1,
    }
    kit.secrets.add(config["app_secret"])
    path = kit.config("target.json", config)
    sync = ["target-jing", "sync", "--config", str(path), "--duckdb", str(warehouse)]
    ran = kit.command("sync", [*sync, "--table", "decisions"], timeout=BIG_COMMAND_TIMEOUT)
    expect_exit(problems, ran, exit_codes.API_UNREACHABLE, "a million rows, no API")
    if ran.code is not None:
        with duckdb.connect(str(ledger), read_only=True) as con:
            pending = con.execute("SELECT count(*) FROM jing_pending").fetchone()
        if pending != (BIG_LEDGER_ROWS,):
            problems.append(f"{pending} rows pending, not {BIG_LEDGER_ROWS:,}")
    return 0


FAULTS: tuple[Fault, ...] = (
    Fault(
        "F1. Retry-After: 86400 on every call",
        "4 (target: rows pending; tap: a clear message)",
        retry_after_ceiling,
    ),
    Fault(
        "F2. a deleted activity (40400) among others, with read_back and observed_state",
        "0 (its rows permanent, the others written)",
        deleted_activity,
    ),
    Fault(
        "F3. four shards start together and find one dead run (PostgreSQL ledger)",
        "0 (one settles it, all send)",
        shards_find_a_dead_run,
    ),
    Fault(
        "F4. ledger password percent-encoded, as keywords, with a raw '@'; server lost",
        "2 (raw '@', no server), 0, 4 (lost mid-run), 0 (back)",
        ledger_secrets,
    ),
    Fault(
        "F5a. a damaged ledger file, ledger tables of another shape, a full disk",
        "2 (damaged, other shape), 4 (disk full)",
        ledger_file_faults,
    ),
    Fault(
        "F5b. Singer lines: a RECORD before its SCHEMA, unknown types, not JSON, bad shapes",
        "2, naming the line",
        singer_line_faults,
    ),
    Fault(
        "F6. 'infinity' times in DuckDB; a CSV status written 1.0",
        "1 (the two rows refused alone), 0",
        bad_values,
    ),
    Fault(
        "F7. tap-jing: a damaged --state or --catalog, a start_date too far, its reader gone",
        "2, before any record; 1 for the reader",
        tap_input_faults,
    ),
    Fault(
        "F8. runs show and pending list of 1,000,000 rows",
        "0, each under 300 MB (streamed)",
        ledger_commands_at_scale,
        slow=True,
    ),
    Fault(
        "F9. 1,000,000 rows with the API down",
        "4, every row pending",
        a_million_rows_with_the_api_down,
        slow=True,
    ),
)
