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
    started = clock.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:
            if not transient(exc):
                raise
            if policy.gives_up(attempt, clock.monotonic() - started):
                raise RetriesExhaustedError(what, attempt, exc) from exc
            delay = policy.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, delay, exc)
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
    started = clock.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not transient(exc):
                raise
            if policy.gives_up(attempt, clock.monotonic() - started):
                raise RetriesExhaustedError(what, attempt, exc) from exc
            delay = policy.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, delay, exc)
            await sleep(delay)
