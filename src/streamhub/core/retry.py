"""Retry with exponential backoff, one implementation for blocking code and one for the
event loop (an async agent must never block its loop in :func:`time.sleep`).

The policy bounds the retries by attempts, by elapsed time, or both. A failure the caller
does not call transient propagates at once; when the retries run out,
:class:`RetriesExhaustedError` is raised from the last failure, and the caller turns it into
its stage's error with what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.core.errors import RetriesExhaustedError

T = TypeVar("T")

#: Called before each wait: (attempt that failed, delay before the next one, its failure).
OnRetry = Callable[[int, float, Exception], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays double from ``first_s`` up to ``max_s``; stop after ``attempts`` tries or, with
    ``within_s``, when the next wait would end past that many seconds from the first try."""

    attempts: int | None = 8
    first_s: float = 0.5
    max_s: float = 30.0
    within_s: float | None = None

    def __post_init__(self) -> None:
        if self.attempts is None and self.within_s is None:
            raise ValueError("a retry policy needs attempts, within_s or both")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_s, self.first_s * 2 ** (attempt - 1)))

    def gives_up(self, attempt: int, elapsed_s: float) -> bool:
        """Whether failed attempt ``attempt``, ``elapsed_s`` after the first began, is the last."""
        if self.attempts is not None and attempt >= self.attempts:
            return True
        return self.within_s is not None and elapsed_s + self.delay(attempt) > self.within_s


def _always(_: Exception) -> bool:
    return True


class _Attempts:
    """The bookkeeping both retry loops share: count failures, decide, report, pick the wait."""

    def __init__(
        self,
        policy: RetryPolicy,
        what: str,
        transient: Callable[[Exception], bool],
        on_retry: OnRetry | None,
        clock: Clock,
    ) -> None:
        self.policy, self.what, self.transient = policy, what, transient
        self.on_retry, self.clock = on_retry, clock
        self.started = clock.monotonic()
        self.failed = 0

    def wait_after(self, exc: Exception) -> float | None:
        """The wait before the next attempt, or None when ``exc`` is not transient (the
        caller re-raises it as it is); raises RetriesExhaustedError when the policy gives up."""
        self.failed += 1
        if not self.transient(exc):
            return None
        if self.policy.gives_up(self.failed, self.clock.monotonic() - self.started):
            raise RetriesExhaustedError(self.what, self.failed, exc) from exc
        delay = self.policy.delay(self.failed)
        if self.on_retry is not None:
            self.on_retry(self.failed, delay, exc)
        return delay


def retry_call(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    transient: Callable[[Exception], bool] = _always,
    on_retry: OnRetry | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> T:
    """``call()`` until it succeeds, sleeping on ``clock`` between transient failures."""
    attempts = _Attempts(policy, what, transient, on_retry, clock)
    while True:
        try:
            return call()
        except Exception as exc:
            delay = attempts.wait_after(exc)
            if delay is None:
                raise
            clock.sleep(delay)


async def retry_async(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    transient: Callable[[Exception], bool] = _always,
    on_retry: OnRetry | None = None,
    clock: Clock = SYSTEM_CLOCK,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``await call()`` until it succeeds, awaiting ``sleep`` between transient failures;
    cancellation is never retried."""
    attempts = _Attempts(policy, what, transient, on_retry, clock)
    while True:
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = attempts.wait_after(exc)
            if delay is None:
                raise
            await sleep(delay)
