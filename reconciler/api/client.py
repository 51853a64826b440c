"""HTTP access to an OpenAI-compatible API, split into a reader and a writer.

``Reader`` only sends GETs: it is all that ``plan`` and ``status`` receive. ``Writer`` sends the
POSTs that ``apply`` needs. GETs are retried on 429/5xx/connection errors (they are safe to
repeat); writes are retried only by their callers, who know how to check first whether the write
already happened (see ``reconciler.apply.steps``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import httpx

from reconciler.api.models import TAG_STACK, LiveFile, LiveJob

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
GET_ATTEMPTS = 5
MAX_RETRY_AFTER = 30.0
SIMPLE_UPLOAD_LIMIT = 512 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class ApiError(Exception):
    """An answer the API gave (status >= 400) or the lack of one (status 0)."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.retry_after = retry_after

    @property
    def ambiguous(self) -> bool:
        """True when the request may or may not have been carried out."""
        return self.status == 0 or self.status >= 500 or self.status == 408

    @property
    def retryable(self) -> bool:
        return self.ambiguous or self.status == 429

    def __str__(self) -> str:
        where = f" (param {self.param})" if self.param else ""
        return f"HTTP {self.status}: {self.message}{where}" if self.status else self.message


@dataclass(frozen=True)
class Target:
    """Where requests go and how they authenticate. ``repr`` never shows the key."""

    base_url: str
    key: str = field(repr=False)
    azure: bool = False
    label: str = ""

    def headers(self) -> dict[str, str]:
        return {"api-key": self.key} if self.azure else {"Authorization": f"Bearer {self.key}"}


def check_base_url(url: str) -> str | None:
    """A reason to refuse ``url``, or None. Plain http is allowed to loopback hosts only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--api-base {url!r} is not an http(s) URL"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not parts.hostname.startswith("127."):
        return f"--api-base {url!r}: plain http is only allowed to loopback hosts; use https"
    return None


def _error_from(response: httpx.Response) -> ApiError:
    try:
        body = response.json().get("error") or {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    retry_after = None
    if "retry-after" in response.headers:
        try:
            retry_after = float(response.headers["retry-after"])
        except ValueError:
            retry_after = None
    message = body.get("message") or response.reason_phrase or "request failed"
    return ApiError(response.status_code, str(message), body.get("code"), body.get("param"), retry_after)


def backoff(attempt: int, error: ApiError | None = None) -> float:
    if error is not None and error.retry_after is not None:
        return min(float(error.retry_after), MAX_RETRY_AFTER)
    return min(0.25 * 2.0**attempt, 8.0)


class Transport:
    def __init__(self, target: Target, client: httpx.Client | None = None,
                 sleep: Any = time.sleep) -> None:
        self.target = target
        self.http = client or httpx.Client(base_url=target.base_url.rstrip("/") + "/", timeout=TIMEOUT,
                                           headers={**target.headers(), "User-Agent": "ftctl"})
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()

    def once(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, no retry; an ``ApiError`` with status 0 when no answer arrived."""
        try:
            response = self.http.request(method, path.lstrip("/"), **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(0, f"{method} {path}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ApiError(0, f"{method} {path}: no answer ({type(exc).__name__}: {exc})") from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json()

    def get(self, path: str, params: Any = None) -> Any:
        for attempt in range(GET_ATTEMPTS):
            try:
                return self.once("GET", path, params=params)
            except ApiError as exc:
                if not exc.retryable or attempt == GET_ATTEMPTS - 1:
                    raise
                self.sleep(backoff(attempt, exc))
        raise AssertionError("unreachable")


class Reader:
    """Read-only access: the only API that ``plan`` and ``status`` get."""

    def __init__(self, transport: Transport, metadata_filter: bool = True) -> None:
        self.transport = transport
        self.metadata_filter = metadata_filter and not transport.target.azure

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            page = self.transport.get(path, params={**params, **({"after": after} if after else {})})
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = data[-1]["id"]

    def list_jobs(self, metadata: dict[str, str] | None = None) -> list[LiveJob]:
        """Jobs whose metadata holds every pair of ``metadata``, newest first.

        The filter runs on the server when it has one (OpenAI, the sandbox) and always again here,
        so a server that ignores it (Azure OpenAI v1) gives the same answer, only slower.
        """
        wanted = metadata or {}
        params: dict[str, Any] = {"limit": 100}
        if self.metadata_filter:
            params.update({f"metadata[{k}]": v for k, v in wanted.items()})
        try:
            raw = list(self._pages("fine_tuning/jobs", params))
        except ApiError as exc:
            if not (self.metadata_filter and exc.status == 400 and wanted):
                raise
            self.metadata_filter = False  # a server without the filter: list everything instead
            return self.list_jobs(metadata)
        jobs = [LiveJob.model_validate(item) for item in raw]
        return [j for j in jobs if all(j.tags.get(k) == v for k, v in wanted.items())]

    def stack_jobs(self, stack: str) -> list[LiveJob]:
        return self.list_jobs({TAG_STACK: stack})

    def get_job(self, job_id: str) -> LiveJob:
        return LiveJob.model_validate(self.transport.get(f"fine_tuning/jobs/{job_id}"))

    def list_files(self) -> list[LiveFile]:
        raw = self._pages("files", {"purpose": "fine-tune"})
        return [LiveFile.model_validate(item) for item in raw]


class Writer:
    """The writes ``apply`` performs. Each call is one attempt: callers decide about retries."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        data = self.transport.once("POST", "fine_tuning/jobs", json=body,
                                   headers={"Idempotency-Key": idempotency_key})
        return LiveJob.model_validate(data)

    def act(self, job_id: str, action: str) -> LiveJob:
        """``cancel``, ``pause`` or ``resume`` a job."""
        return LiveJob.model_validate(self.transport.once("POST", f"fine_tuning/jobs/{job_id}/{action}"))

    def upload(self, path: Path, filename: str, idempotency_key: str,
               progress: Any = None) -> LiveFile:
        size = path.stat().st_size
        if size > SIMPLE_UPLOAD_LIMIT:
            return self._upload_parts(path, filename, size, idempotency_key, progress)
        with path.open("rb") as f:
            stream: BinaryIO = _Progress(f, progress) if progress else f  # type: ignore[assignment]
            data = self.transport.once("POST", "files", files={"file": (filename, stream)},
                                       data={"purpose": "fine-tune"}, timeout=UPLOAD_TIMEOUT,
                                       headers={"Idempotency-Key": idempotency_key})
        return LiveFile.model_validate(data)

    def _upload_parts(self, path: Path, filename: str, size: int, key: str, progress: Any) -> LiveFile:
        upload = self.transport.once("POST", "uploads", json={
            "filename": filename, "purpose": "fine-tune", "bytes": size, "mime_type": "application/jsonl"},
            headers={"Idempotency-Key": key})
        part_ids = []
        with path.open("rb") as f:
            while chunk := f.read(PART_SIZE):
                part = self.transport.once("POST", f"uploads/{upload['id']}/parts",
                                           files={"data": ("part", chunk)}, timeout=UPLOAD_TIMEOUT)
                part_ids.append(part["id"])
                if progress:
                    progress(len(chunk))
        done = self.transport.once("POST", f"uploads/{upload['id']}/complete", json={"part_ids": part_ids})
        return LiveFile.model_validate(done["file"])


class _Progress:
    """A file wrapper that reports bytes read, for a progress bar."""

    def __init__(self, f: BinaryIO, report: Any) -> None:
        self.f, self.report = f, report

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.report(len(chunk))
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)
