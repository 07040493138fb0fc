"""`send_all` against the sandbox: when its `prepare` runs, and what every call leaves."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from engine_helpers import settings_for

from jing_client import JingClient
from jing_sandbox.process import SandboxProcess
from target_jing.plan import Chunk
from target_jing.send import Answered, Sending, send_all


def _chunks(sandbox: SandboxProcess, size: int) -> list[Chunk]:
    """One user per chunk, so that a few hundred registrations make a few hundred calls."""
    registrations = sandbox.registrations()
    return [
        Chunk(k, r["target_entity_uuid"], {"ems_approvestatus": "1"}, [r["omni_user_uuid"]], 1)
        for k, r in enumerate(registrations[:size])
    ]


def test_prepare_runs_once_before_the_first_answer_is_awaited(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """With more chunks than the pool holds, and with fewer: once, before any recording."""
    settings = settings_for(engine_sandbox, tmp_path, max_concurrency=2)
    for size in (150, 3):
        events: list[str] = []

        def record(answered: list[Answered], events: list[str] = events) -> None:
            events.append(f"record {len(answered)}")

        with JingClient(settings.client) as client:
            fatal = send_all(
                Sending(client, ZoneInfo(settings.api_timezone)),
                iter(_chunks(engine_sandbox, size)),
                2,
                record,
                prepare=lambda events=events: events.append("prepare"),
            )
        assert fatal is None
        assert events[0] == "prepare" and events.count("prepare") == 1, events
        assert sum(int(e.split()[1]) for e in events[1:]) == size  # every call recorded once


def test_without_chunks_nothing_is_prepared_or_recorded(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    events: list[str] = []
    with JingClient(settings.client) as client:
        fatal = send_all(
            Sending(client, ZoneInfo(settings.api_timezone)),
            iter([]),
            2,
            lambda answered: events.append("record"),
            prepare=lambda: events.append("prepare"),
        )
    assert fatal is None and events == []
    assert client.stats()["calls"] == 0  # not even a token
