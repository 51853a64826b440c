"""The one retry policy of ftctl, used by every call site that retries (built on tenacity).

A call is retried only when its error says it may succeed later (``ApiError.retryable``: no
answer, 408, 429, 5xx). The wait is jittered exponential backoff, or what the server asked for
(``retry-after-ms`` / ``Retry-After``, already capped in ``ApiError.retry_after``). Clock, sleep and
jitter are injected so that tests run without waiting.

Retries never nest: a retried unit is one whole idempotent step (the applier's "re-read, then act"
or one GET); whatever it calls inside is tried once and fails into the unit's own loop.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from reconciler.api.errors import ApiError

T = TypeVar("T")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base: float = 0.5
    """Ceiling of the first wait in seconds; it doubles with each retry up to ``cap``."""
    cap: float = 8.0
    budget: float = 120.0
    """No retry starts later than this many seconds after the first attempt."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, retry: int, error: BaseException | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        if isinstance(error, ApiError) and error.retry_after is not None:
            return error.retry_after
        ceiling = min(self.cap, self.base * 2.0**retry)
        return ceiling / 2 + self.jitter() * ceiling / 2  # "equal jitter": never 0, never in lockstep

    def run(self, fn: Callable[[int], T], on_retry: Callable[[int, ApiError, float], None] | None = None) -> T:
        """``fn(attempt)`` until it returns or raises an error not worth retrying; attempts count from 0."""
        started = self.clock()

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.delay(state.attempt_number - 1, error)

        def stop(state: tenacity.RetryCallState) -> bool:
            return state.attempt_number >= self.attempts or self.clock() - started >= self.budget

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if on_retry is not None and isinstance(error, ApiError):
                on_retry(state.attempt_number - 1, error, state.upcoming_sleep)

        retrying = tenacity.Retrying(stop=stop, wait=wait, retry=tenacity.retry_if_exception(_retryable),
                                     sleep=self.sleep, before_sleep=before_sleep, reraise=True)
        for attempt in retrying:
            with attempt:
                result = fn(attempt.retry_state.attempt_number - 1)
            if not attempt.retry_state.outcome or not attempt.retry_state.outcome.failed:
                return result
        raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover


NO_RETRY = RetryPolicy(attempts=1)
