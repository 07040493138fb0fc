"""The throttle and the retry policy on a fake clock: exact numbers, no waiting."""

from __future__ import annotations

import random

import pytest

from jing_client import JingBadRequest, JingHeldOff, JingRateLimited, JingTransientError
from jing_client.retry import RetryPolicy
from jing_client.throttle import FLOOR_FRACTION, RECOVERY_SECONDS, Throttle


class FakeClock:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_starts_are_paced_at_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(10, 2, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        with throttle.slot():
            pass
    assert clock.now == pytest.approx(100.4)


def test_throttling_halves_the_rate_down_to_a_floor_then_it_recovers() -> None:
    clock = FakeClock()
    throttle = Throttle(16, 2, clock=clock, sleep=clock.sleep)
    with throttle.slot() as early:
        pass
    clock.now += 0.5
    throttle.slow_down(early)
    assert throttle.rate() == pytest.approx(8)
    throttle.slow_down(early)  # sent before the cut: the same overload, no second cut
    assert throttle.rate() == pytest.approx(8)
    for _ in range(10):
        throttle.slow_down(clock.now)
    assert throttle.rate() == pytest.approx(16 * FLOOR_FRACTION)
    clock.now += RECOVERY_SECONDS / 2
    assert 16 * FLOOR_FRACTION < throttle.rate() < 16
    clock.now += RECOVERY_SECONDS / 2
    assert throttle.rate() == pytest.approx(16)


def test_a_new_rate_paces_the_starts_after_it_and_a_cut_pace_stays_cut() -> None:
    clock = FakeClock()
    throttle = Throttle(5, 1, clock=clock, sleep=clock.sleep)
    throttle.set_max_rate(20)  # the other shards ended: this one takes the whole budget
    for _ in range(5):
        with throttle.slot():
            pass
    assert clock.now == pytest.approx(100.0 + 4 / 20)  # 1/20 s apart, not 1/5
    throttle.slow_down(clock.now)
    assert throttle.rate() == pytest.approx(10)
    throttle.set_max_rate(40)
    assert throttle.rate() == pytest.approx(10)  # throttled: it climbs back, not jumps
    clock.now += RECOVERY_SECONDS
    assert throttle.rate() == pytest.approx(40)
    throttle.set_max_rate(8)
    assert throttle.rate() == pytest.approx(8)


def test_retry_after_holds_every_start() -> None:
    clock = FakeClock()
    throttle = Throttle(1000, 2, clock=clock, sleep=clock.sleep)
    throttle.slow_down(clock.now, pause_seconds=2.0)
    with throttle.slot():
        pass
    assert clock.now >= 102.0


def _policy(clock: FakeClock, **overrides: float) -> RetryPolicy:
    values = {
        "max_attempts": 5,
        "max_retry_seconds": 100.0,
        "max_retry_after_seconds": 50.0,
        "backoff_base_seconds": 1.0,
        "backoff_max_seconds": 4.0,
        **overrides,
    }
    return RetryPolicy(
        max_attempts=int(values["max_attempts"]),
        max_retry_seconds=values["max_retry_seconds"],
        max_retry_after_seconds=values["max_retry_after_seconds"],
        backoff_base_seconds=values["backoff_base_seconds"],
        backoff_max_seconds=values["backoff_max_seconds"],
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
    )


def test_backoff_has_full_jitter_under_a_doubling_ceiling() -> None:
    policy = _policy(FakeClock())
    error = JingTransientError("x")
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (9, 4.0)]:
        waits = [policy.wait_after(attempt, error) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= ceiling
        assert max(waits) > ceiling * 0.8  # the whole range is used


def test_retry_after_is_the_least_wait() -> None:
    policy = _policy(FakeClock())
    assert policy.wait_after(1, JingRateLimited("x", retry_after=7)) == 7
    assert 0 <= policy.wait_after(1, JingRateLimited("x", retry_after=0)) <= 1.0


def test_attempts_are_bounded() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise JingTransientError("down")

    with pytest.raises(JingTransientError):
        _policy(clock).run(failing)
    assert len(calls) == 5
    assert len(clock.sleeps) == 4


def test_total_time_is_bounded() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise JingRateLimited("busy", retry_after=3)

    with pytest.raises(JingRateLimited):
        _policy(
            clock,
            max_attempts=100,
            max_retry_seconds=10,
            backoff_base_seconds=0.1,
            backoff_max_seconds=0.1,
        ).run(failing)
    assert len(calls) == 4  # waits of 3 s: 0, 3, 6, 9; a fourth wait would end past 10 s
    assert clock.now - 100 <= 10


def test_bad_requests_are_not_retried() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise JingBadRequest("no")

    with pytest.raises(JingBadRequest):
        _policy(clock).run(refused)
    assert calls == [1] and clock.sleeps == []


@pytest.mark.parametrize("retry_after", [50.5, 3600, 86400])
def test_a_retry_after_past_the_cap_is_not_waited_for(retry_after: float) -> None:
    clock = FakeClock()
    calls: list[int] = []

    def throttled() -> None:
        calls.append(1)
        raise JingRateLimited("busy", retry_after=retry_after)

    with pytest.raises(JingRateLimited):
        _policy(clock, max_retry_seconds=1e6).run(throttled)
    assert calls == [1] and clock.sleeps == []


def test_a_retry_after_at_the_cap_is_waited_for() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def throttled_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise JingRateLimited("busy", retry_after=50)
        return "ok"

    assert _policy(clock).run(throttled_once) == "ok"
    assert clock.sleeps == [50]


def test_a_call_held_off_is_not_retried() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def held_off() -> None:
        calls.append(1)
        raise JingHeldOff("not sent")

    with pytest.raises(JingHeldOff):
        _policy(clock).run(held_off)
    assert calls == [1] and clock.sleeps == []


def test_the_cap_is_never_past_the_whole_retry_budget() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def throttled() -> None:
        calls.append(1)
        raise JingRateLimited("busy", retry_after=30)

    with pytest.raises(JingRateLimited):
        _policy(clock, max_retry_seconds=20, max_retry_after_seconds=50).run(throttled)
    assert calls == [1] and clock.sleeps == []
