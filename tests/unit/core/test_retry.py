"""Retry with backoff, blocking and async: delays, limits, what is not retried."""

from __future__ import annotations

import asyncio

import pytest

from streamhub.core.clock import ManualClock
from streamhub.core.errors import CoreError, RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_async, retry_call
from streamhub.errors import StreamhubError


class Flaky:
    def __init__(self, failures: int, exc: Exception | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.exc = exc or ConnectionError("down")

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return "ok"


def test_delays_double_up_to_the_cap_and_the_call_succeeds() -> None:
    clock, seen = ManualClock(), []
    policy = RetryPolicy(attempts=6, first_s=0.5, max_s=2.0)
    result = retry_call(
        Flaky(4), policy, what="x", clock=clock, on_retry=lambda a, d, e: seen.append(a)
    )
    assert result == "ok"
    assert clock.sleeps == [0.5, 1.0, 2.0, 2.0]
    assert seen == [1, 2, 3, 4]


def test_exhausted_attempts_raise_with_the_last_failure_as_cause() -> None:
    clock, flaky = ManualClock(), Flaky(10)
    with pytest.raises(RetriesExhaustedError, match="inserting: failed 3 time") as info:
        retry_call(flaky, RetryPolicy(attempts=3), what="inserting", clock=clock)
    assert isinstance(info.value.__cause__, ConnectionError)
    assert isinstance(info.value, CoreError) and isinstance(info.value, StreamhubError)
    assert flaky.calls == 3


def test_a_time_budget_stops_before_a_wait_that_would_pass_it() -> None:
    clock, flaky = ManualClock(), Flaky(100)
    policy = RetryPolicy(attempts=None, first_s=1.0, max_s=4.0, within_s=10.0)
    with pytest.raises(RetriesExhaustedError):
        retry_call(flaky, policy, what="x", clock=clock)
    assert clock.sleeps == [1.0, 2.0, 4.0]  # a fourth wait of 4 s would end at 11 s
    assert clock.monotonic() <= 10.0


def test_a_failure_that_is_not_transient_is_raised_at_once() -> None:
    flaky = Flaky(1, ValueError("bad row"))
    with pytest.raises(ValueError, match="bad row"):
        retry_call(
            flaky,
            RetryPolicy(),
            what="x",
            clock=ManualClock(),
            transient=lambda e: isinstance(e, ConnectionError),
        )
    assert flaky.calls == 1


def test_a_policy_without_a_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="needs attempts"):
        RetryPolicy(attempts=None)


def test_async_retry_awaits_the_given_sleep_instead_of_blocking() -> None:
    waits: list[float] = []
    flaky = Flaky(2)

    async def call() -> str:
        return flaky()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    result = asyncio.run(
        retry_async(call, RetryPolicy(first_s=0.25), what="x", clock=ManualClock(), sleep=sleep)
    )
    assert result == "ok"
    assert waits == [0.25, 0.5]


def test_async_retry_never_retries_cancellation() -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retry_async(call, RetryPolicy(), what="x"))
    assert calls == 1
