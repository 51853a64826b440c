"""``ApiError``: an answer the API gave (status >= 400) or the lack of one (status 0).

Kept apart from the HTTP client so that the applier and the fakes use it without importing httpx.
Whether an error is worth retrying, and whether the request may have been carried out anyway, are
properties of the error: every retry decision in ftctl reads them from here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from reconciler.providers import ErrorKind

MAX_RETRY_AFTER = 30.0
"""A server may ask for a long pause; waiting longer than this is not worth it inside one run."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 retry_after: float | None = None, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.retry_after = retry_after
        self.kind = kind
        """What the error means on its provider (``ErrorKind``), from its code."""

    @property
    def ambiguous(self) -> bool:
        """True when the request may or may not have been carried out."""
        return self.status == 0 or self.status >= 500 or self.status == 408

    @property
    def quota(self) -> bool:
        """Refused for a quota (active jobs, creates per day): waiting seconds does not help."""
        return self.kind == "quota"

    @property
    def retryable(self) -> bool:
        return self.ambiguous or (self.status == 429 and not self.quota)

    def __str__(self) -> str:
        where = f" (param {self.param})" if self.param else ""
        return f"HTTP {self.status}: {self.message}{where}" if self.status else self.message


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms`` (OpenAI), else ``Retry-After`` in
    seconds or as an HTTP date; capped at ``MAX_RETRY_AFTER``; None when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    seconds: float | None = None
    if "retry-after-ms" in lowered:
        try:
            seconds = float(lowered["retry-after-ms"]) / 1000
        except ValueError:
            seconds = None
    if seconds is None and "retry-after" in lowered:
        value = lowered["retry-after"].strip()
        try:
            seconds = float(value)
        except ValueError:
            import email.utils  # an HTTP date, rarely sent: not imported at every start-up

            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds is None or seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
