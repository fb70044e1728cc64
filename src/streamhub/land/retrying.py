"""The lander's retry rule: transient failures are retried with backoff for ``retry_for_s``,
then, or at once for any other failure, the lander stops without committing its batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from streamhub.core.clock import Clock
from streamhub.core.errors import RetriesExhaustedError
from streamhub.core.retry import RetryPolicy, retry_call
from streamhub.land.clickhouse import Failure, classify
from streamhub.land.errors import LandingFailedError
from streamhub.serde.errors import SerdeError

T = TypeVar("T")

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 5.0


def land_policy(retry_for_s: float) -> RetryPolicy:
    """Delays from 0.1 s doubling to 5 s, until the next wait would end past ``retry_for_s``."""
    return RetryPolicy(
        attempts=None, first_s=FIRST_DELAY_S, max_s=MAX_DELAY_S, within_s=retry_for_s
    )


@dataclass(frozen=True)
class Retrier:
    policy: RetryPolicy
    clock: Clock
    on_retry: Callable[[str, Exception], None] | None = None  # (what, transient failure)

    def __call__(
        self,
        call: Callable[[], T],
        what: str,
        transient: Callable[[Exception], bool] = lambda _: False,
    ) -> T:
        """``call()``, retrying what ``transient`` or :func:`classify` call transient. A
        serde error that is not transient propagates as it is (the message is dead-lettered);
        anything else becomes a :class:`LandingFailedError` naming ``what``."""
        try:
            return retry_call(
                call,
                self.policy,
                what=what,
                transient=lambda exc: transient(exc) or classify(exc) is Failure.TRANSIENT,
                on_retry=self._on_retry(what),
                clock=self.clock,
            )
        except RetriesExhaustedError as exc:
            raise _stopped(what, exc.last) from exc.last
        except SerdeError:
            raise
        except Exception as exc:
            raise _stopped(what, exc) from exc

    def _on_retry(self, what: str) -> Callable[[int, float, Exception], None] | None:
        report = self.on_retry
        if report is None:
            return None
        return lambda _attempt, _delay, exc: report(what, exc)


def _stopped(what: str, exc: Exception) -> LandingFailedError:
    return LandingFailedError(
        f"{what}: {exc}; nothing of the current batch was committed — fix the "
        "cause and restart the lander, it resumes from the last commit"
    )
