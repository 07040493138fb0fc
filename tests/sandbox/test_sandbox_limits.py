"""Section 3: requests per second and in flight, per app; both throttling forms; stats."""

from __future__ import annotations

import threading
import time

from sandbox_api import ACTIVITY_LIST, Api

PAGE = {"page": 1, "page_size": 1}


def _flood(api: Api, calls: int) -> tuple[list[tuple[int, int | None, str | None]], float]:
    """(HTTP status, code, Retry-After) of `calls` back-to-back calls, and the seconds taken.

    The seconds let a test bound how many calls a rate limit may let through even when a
    busy machine stretches the flood over more than one window.
    """
    seen = []
    started = time.monotonic()
    for _ in range(calls):
        answer = api.raw(ACTIVITY_LIST, PAGE)
        seen.append((answer.status_code, answer.json()["code"], answer.headers.get("Retry-After")))
    return seen, time.monotonic() - started


def _most_allowed(rate: float, seconds: float) -> int:
    """The most calls a limiter of `rate` per second may accept in `seconds` (burst included)."""
    return int(rate * (seconds + 1)) + 1


def test_a_flooding_client_is_throttled_in_both_forms(sandbox_factory) -> None:
    sb = sandbox_factory(rate_limit=20, retry_after=2)
    api = Api(sb)
    api.login()
    seen, seconds = _flood(api, 120)
    ok = [s for s in seen if s == (200, 0, None)]
    as_http = [s for s in seen if s[0] == 429]
    as_code = [s for s in seen if s[:2] == (200, 42900)]
    assert len(ok) + len(as_http) + len(as_code) == len(seen)
    assert 20 <= len(ok) <= _most_allowed(20, seconds)  # a 20-call burst, then 20 per second
    assert as_http and as_code
    assert all(s[1] == 42900 and s[2] == "2" for s in as_http + as_code)
    stats = sb.stats()
    assert stats["throttled_http"] == len(as_http) and stats["throttled_code"] == len(as_code)
    assert stats["throttled"] == len(as_http) + len(as_code)
    assert stats["calls"][ACTIVITY_LIST] == 120 and stats["calls"]["/v1/oauth2/token"] == 1


def test_the_throttling_form_ratio_and_the_rate_are_settings(sandbox_factory) -> None:
    sb = sandbox_factory(rate_limit=5, throttle_http_ratio=1.0)
    api = Api(sb)
    api.login()
    seen, seconds = _flood(api, 30)
    throttled = [s for s in seen if s[:2] != (200, 0)]
    assert len(seen) - len(throttled) <= _most_allowed(5, seconds)
    assert throttled and {s[0] for s in throttled} == {429}
    sb.configure(throttle_http_ratio=0.0, rate_limit=2)
    seen, seconds = _flood(api, 30)
    throttled = [s for s in seen if s[:2] != (200, 0)]
    assert len(seen) - len(throttled) <= _most_allowed(2, seconds)
    assert throttled and {s[:2] for s in throttled} == {(200, 42900)}
    sb.configure(rate_limit=0)
    assert {s[:2] for s in _flood(api, 30)[0]} == {(200, 0)}


def test_requests_in_flight_are_capped_and_the_peak_is_reported(sandbox_factory) -> None:
    sb = sandbox_factory(max_in_flight=2, throttle_http_ratio=0.0)
    sb.faults(ACTIVITY_LIST, slow=1.0, slow_seconds=0.6)
    api = Api(sb)
    api.login()
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def call() -> None:
        client = Api(sb)
        client.access_token = api.access_token
        barrier.wait()
        codes.append(client.post(ACTIVITY_LIST, PAGE)["code"])

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [0, 0, 42900, 42900, 42900, 42900]
    assert sb.stats()["max_in_flight"] >= 3
    sb.reset()
    assert sb.stats()["max_in_flight"] == 0 and sb.stats()["calls"] == {}
