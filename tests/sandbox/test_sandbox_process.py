"""The command line, seeded data, --db persistence and the SandboxProcess life cycle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from sandbox_api import ACTIVITY_LIST, BATCH, USER_LIST, Api

from jing_sandbox import data
from jing_sandbox.process import SandboxProcess
from jing_sandbox.settings import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from jing_sandbox.store import FLUSH_SECONDS

SMALL = ["--activities", "3", "--users", "50", "--registrations", "100"]


def _serve(*flags: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "jing_sandbox", "serve", *SMALL, *flags]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_first_line_names_a_free_port_and_eof_stops_the_server() -> None:
    proc = _serve("--port", "0", "--exit-on-eof")
    line = proc.stdout.readline()
    assert line.startswith("listening on http://127.0.0.1:")
    url = line.split()[-1]
    assert int(url.rsplit(":", 1)[1]) > 0
    assert requests.get(url + "/_sandbox/counts", timeout=10).json()["activities"] == 3
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    proc.stdout.close()


def test_sigterm_stops_the_server_cleanly() -> None:
    proc = _serve()
    assert proc.stdout.readline().startswith("listening on ")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    proc.stdout.close()
    proc.stdin.close()


def test_default_sizes_and_credentials() -> None:
    with SandboxProcess() as sb:
        counts = sb.counts()
        assert (counts["activities"], counts["users"]) == (50, 5000)
        assert 19_000 <= counts["registrations"] <= 21_000
        assert (sb.app_id, sb.app_secret) == (DEFAULT_APP_ID, DEFAULT_APP_SECRET)
        config = sb.config(start_date="2025-01-01")
        assert config == {
            "app_id": DEFAULT_APP_ID,
            "app_secret": DEFAULT_APP_SECRET,
            "base_url": sb.url,
            "start_date": "2025-01-01",
        }
        Api(sb).login()


def test_seeded_data_is_identical_across_two_starts(sandbox_factory) -> None:
    first, second = sandbox_factory(seed=7), sandbox_factory(seed=7)
    other = sandbox_factory(seed=8)
    assert first.registrations() == second.registrations() != other.registrations()
    lists = []
    for sb in (first, second):
        api = Api(sb)
        api.login()
        lists.append((api.all_pages(ACTIVITY_LIST, {}), api.all_pages(USER_LIST, {})))
    assert lists[0] == lists[1]


def test_generated_data_is_consistent() -> None:
    seeded = data.generate(3, activities=20, users=400, registrations=3000)
    pairs = [(r["target_entity_uuid"], r["omni_user_uuid"]) for r in seeded.registrations]
    assert len(pairs) == len(set(pairs))  # one registration per (activity, user)
    assert abs(len(pairs) - 3000) < 50
    ids = [a["entity_uuid"] for a in seeded.activities] + [
        r["jing_uuid"] for r in seeded.registrations
    ]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 22 and set(i) <= set(data.BASE57) for i in ids)
    approve = {r["ems_approvestatus"] for r in seeded.registrations}
    assert approve == {"0", "1", "2"}
    by_activity = {a["entity_uuid"]: a for a in seeded.activities}
    for activity in seeded.activities:
        mine = [
            r for r in seeded.registrations if r["target_entity_uuid"] == activity["entity_uuid"]
        ]
        assert activity["registration_count"] == len(mine)
    for reg in seeded.registrations:
        assert reg["registration_time"] <= reg["updated_time"]
        assert reg["registration_time"] >= by_activity[reg["target_entity_uuid"]]["created_time"]
    months = {r["updated_time"][:7] for r in seeded.registrations}
    assert len(months) >= 4  # spread over past months, so incremental filters matter


def test_db_keeps_writes_across_restart_and_kill(sandbox_factory, tmp_path: Path) -> None:
    db = tmp_path / "sandbox.json"
    sb = sandbox_factory(db=db)
    api = Api(sb)
    api.login()
    entity = api.first_activity()
    user = api.registrants(entity)[0]["omni_user_uuid"]
    seeded = _status(sb, entity, user)
    first, second = (s for s in "012" if s != seeded)  # both differ from the seeded value
    body = {"entity_uuid": entity, "user_ids": [user], "ems_approvestatus": first}
    api.ok(BATCH, body)
    port = sb.port
    sb.restart()
    assert sb.port == port and db.exists()
    assert _status(sb, entity, user) == first
    assert api.post(BATCH, body)["code"] == 40002  # tokens live in memory only
    api.login()
    api.ok(BATCH, {**body, "ems_approvestatus": second})
    time.sleep(FLUSH_SECONDS * 3)
    sb.kill()  # SIGKILL: only the background flush saved the write
    sb.start()
    assert _status(sb, entity, user) == second
    sb.reset(data=True)  # re-seeds, and the file follows
    sb.restart()
    assert _status(sb, entity, user) == seeded


def _status(sb: SandboxProcess, entity: str, user: str) -> str:
    regs = sb.registrations(entity)
    return next(r["ems_approvestatus"] for r in regs if r["omni_user_uuid"] == user)


def test_restart_without_db_reseeds(sandbox: SandboxProcess) -> None:
    before = sandbox.registrations()
    sandbox.register(before[0]["target_entity_uuid"], ["someone-new"])
    sandbox.restart()
    assert sandbox.registrations() == before


def test_the_child_dies_with_its_parent() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from jing_sandbox.process import SandboxProcess; "
            "sb = SandboxProcess(activities=1, users=5, registrations=3).start(); "
            "print(sb.pid, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    parent.kill()  # no cleanup runs in the parent: only the closed pipe tells the child
    parent.wait()
    parent.stdout.close()
    parent.stdin.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_bad_flags_and_unreadable_db_files_are_named(tmp_path: Path) -> None:
    bad_db = tmp_path / "broken.json"
    bad_db.write_text("{not json")
    for flags, message in (
        (["--db", str(bad_db)], f"cannot load --db {bad_db}"),
        (["--users", "-1"], "--users must be >= 0"),
        (["--fault-drop", "1.5"], "--fault-drop is a rate"),
    ):
        cmd = [sys.executable, "-m", "jing_sandbox", "serve", *flags]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 2 and message in done.stderr
        assert "Traceback" not in done.stderr


def test_text_that_no_utf8_holds_is_answered_and_saved_as_json_carries_it(
    sandbox_factory, tmp_path: Path
) -> None:
    """JSON can carry a lone surrogate (a name cut inside an emoji, say), so the real API
    may answer one: the sandbox keeps it, answers it as its JSON escape and saves it with
    --db. Before, such an answer dropped the connection."""
    sb = sandbox_factory(db=tmp_path / "sandbox.json")
    api = Api(sb)
    api.login()
    entity = api.first_activity()
    sb.register(entity, ["cut\ud83d"])
    assert "cut\ud83d" in {r["omni_user_uuid"] for r in api.registrants(entity)}
    sb.restart()
    assert "cut\ud83d" in {r["omni_user_uuid"] for r in sb.registrations(entity)}
