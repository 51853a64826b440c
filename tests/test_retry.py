"""The one retry policy: which errors are retried, how long it waits, and when it stops."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from reconciler.api.client import Reader, Target, Transport
from reconciler.api.errors import MAX_RETRY_AFTER, ApiError, retry_after
from reconciler.api.retry import RetryPolicy


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5  # OpenAI's precise header wins
    assert retry_after({"Retry-After": "4"}) == 4.0
    when = email.utils.formatdate(1_000_020, usegmt=True)
    assert retry_after({"Retry-After": when}, now=1_000_000) == 20.0  # an HTTP date
    assert retry_after({"Retry-After": "86400"}) == MAX_RETRY_AFTER  # capped
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None


def test_backoff_is_jittered_exponential_and_capped() -> None:
    low = RetryPolicy(base=1, cap=8, jitter=lambda: 0.0)
    high = RetryPolicy(base=1, cap=8, jitter=lambda: 0.999)
    assert [low.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [round(high.delay(n), 2) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert low.delay(0, ApiError(429, "slow down", retry_after=7)) == 7  # the server's wish wins


def test_retryable_errors_are_retried_up_to_the_attempts_with_the_waits_in_between() -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, base=1, jitter=lambda: 0.0, sleep=slept.append)
    attempts: list[int] = []

    def flaky(attempt: int) -> str:
        attempts.append(attempt)
        raise ApiError(503, "busy")

    with pytest.raises(ApiError):
        policy.run(flaky)
    assert attempts == [0, 1, 2] and slept == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 404, 409])
def test_other_errors_are_not_retried(status: int) -> None:
    slept: list[float] = []
    calls: list[int] = []

    def refused(attempt: int) -> None:
        calls.append(attempt)
        raise ApiError(status, "no")

    with pytest.raises(ApiError):
        RetryPolicy(sleep=slept.append).run(refused)
    assert calls == [0] and slept == []


def test_the_budget_stops_retries_by_the_injected_clock() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = RetryPolicy(attempts=100, base=10, cap=10, budget=25, jitter=lambda: 1.0, sleep=sleep,
                         clock=lambda: now[0])
    calls: list[int] = []

    def fail(attempt: int) -> None:
        calls.append(attempt)
        raise ApiError(0, "no answer")

    with pytest.raises(ApiError):
        policy.run(fail)
    assert calls == [0, 1, 2, 3] and now[0] == 30  # waits of 10 s until 25 s had passed


def test_a_get_honours_the_servers_retry_after_ms() -> None:
    answers = [httpx.Response(429, headers={"retry-after-ms": "250"}, json={"error": {"message": "slow"}}),
               httpx.Response(200, json={"id": "ftjob-1", "status": "running"})]
    http = httpx.Client(base_url="https://api.example/v1/", transport=httpx.MockTransport(lambda r: answers.pop(0)))
    slept: list[float] = []
    reader = Reader(Transport(Target("https://api.example/v1", "k"), http), retry=RetryPolicy(sleep=slept.append))
    assert reader.get_job("ftjob-1").status == "running"
    assert slept == [0.25]
