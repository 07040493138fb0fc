"""No secret (app_secret, access or refresh token) in stdout, stderr or the state."""

from __future__ import annotations

import json
from collections.abc import Callable

from tap_runner import TapRun

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes


def test_no_secret_in_output_logs_or_state_even_at_debug_level(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    # Tokens expire every 3 calls, so several access and refresh tokens pass through.
    sandbox.configure(expire_token_every=3, retry_after=0)
    sandbox.faults(http_5xx=0.05, throttle=0.05)
    run = run_tap(
        sandbox.config(requests_per_second=1000, include_activity_details=True),
        env={"TAP_JING_LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 0, run.stderr
    tokens = sandbox.tokens()
    secrets = [sandbox.app_secret, *tokens["access"], *tokens["refresh"]]
    assert len(secrets) > 3
    state_text = json.dumps(run.state)
    for secret in secrets:
        assert secret not in run.stdout
        assert secret not in run.stderr
        assert secret not in state_text


def test_refused_credentials_stop_the_run_without_showing_the_secret(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    wrong = "0123456789abcdef0123456789abcdef"
    run = run_tap(sandbox.config(app_secret=wrong), env={"TAP_JING_LOGLEVEL": "DEBUG"})
    assert run.returncode == exit_codes.FATAL_AUTH
    assert "JingAuthError" in run.stderr and "app_secret" in run.stderr
    assert "Traceback" not in run.stderr
    assert wrong not in run.stderr + run.stdout
