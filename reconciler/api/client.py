"""HTTP access to an OpenAI-compatible API: ``Reader`` and ``Writer`` (see ``ports``).

``Reader`` only sends GETs: it is all that ``plan`` and ``status`` receive. ``Writer`` sends the
POSTs that ``apply`` needs. A reader retries each GET under its ``RetryPolicy`` (a GET is safe to
repeat); the applier gives its readers ``NO_RETRY`` because it retries whole steps instead. Writes
are never retried here: their callers know how to check first whether the write already happened
(``reconciler.apply``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import TypeAdapter

from reconciler import logs
from reconciler.api.errors import ApiError, retry_after
from reconciler.api.models import TAG_STACK, LiveCheckpoint, LiveEvent, LiveFile, LiveJob
from reconciler.api.ports import Progress
from reconciler.api.retry import RetryPolicy
from reconciler.api.upload import send_file
from reconciler.providers import COMPATIBLE, Provider

_JOBS, _FILES = TypeAdapter(list[LiveJob]), TypeAdapter(list[LiveFile])
"""Listings validated whole (thousands of items per plan): one call into pydantic-core, not one per item."""

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class Target:
    """Where requests go and how they authenticate. ``repr`` never shows the key."""

    base_url: str
    key: str = field(repr=False)
    provider: Provider = COMPATIBLE
    label: str = ""
    bearer: bool = False
    """The key is a bearer token whatever the provider's key header (Azure: a Microsoft Entra ID token)."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.bearer else self.provider.headers(self.key)


def _error_from(response: httpx.Response, provider: Provider) -> ApiError:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    body = (payload.get("error") or _detail(payload.get("detail"))) if isinstance(payload, dict) else {}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    message = body.get("message") or response.reason_phrase or "request failed"
    code = body.get("code") if isinstance(body.get("code"), str) else None
    return ApiError(response.status_code, str(message), code, body.get("param"), retry_after(response.headers),
                    provider.error_kind(response.status_code, code))


def _detail(detail: Any) -> dict[str, Any]:
    """A FastAPI server's error (OPEA's service): ``{"detail": "…"}``, or the list of what its request
    model refused (``{"detail": [{"loc": ["body", "seed"], "msg": "…"}]}``), as an error body."""
    if isinstance(detail, str):
        return {"message": detail}
    if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
        where = [".".join(str(p) for p in (d.get("loc") or [])[1:]) for d in detail]
        said = [f"{w}: {d.get('msg')}" if w else str(d.get("msg")) for w, d in zip(where, detail, strict=True)]
        return {"message": "; ".join(said), "param": where[0] or None}
    return {}


class Transport:
    """Requests to one target. The HTTP client (its TLS set-up costs tens of milliseconds) is made at
    the first request: a command that sends nothing never pays for it, and ``plan`` pays for it on
    the thread that reads while the manifests become requests."""

    def __init__(self, target: Target, client: httpx.Client | None = None) -> None:
        self.target = target
        self._http = client
        self._closed = False
        self._making = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        if self._http is None or self._closed:
            with self._making:
                if self._closed:  # a read still running on its thread when the command ended
                    raise ApiError(0, f"{self.target.base_url}: the connection was closed")
                if self._http is None:
                    self._http = httpx.Client(base_url=self.target.base_url.rstrip("/") + "/", timeout=TIMEOUT,
                                              headers={**self.target.headers(), "User-Agent": "ftctl"})
        return self._http

    def close(self) -> None:
        with self._making:
            self._closed = True
            if self._http is not None:
                self._http.close()

    def once(self, method: str, path: str, text: bool = False, **kwargs: Any) -> Any:
        """One request, no retry; an ``ApiError`` with status 0 when no answer arrived. Each request
        is one debug line (the key is in a header, never logged). The answer parsed as JSON, or with
        ``text`` as it came."""
        started = time.monotonic()
        try:
            response = self.http.request(method, path.lstrip("/"), **kwargs)
        except httpx.TimeoutException as exc:
            logs.debug("http", method=method, path=path, outcome="timeout")
            raise ApiError(0, f"{method} {self._url(path)}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            logs.debug("http", method=method, path=path, outcome=type(exc).__name__)
            raise ApiError(0, f"{method} {self._url(path)}: no answer ({type(exc).__name__}: {exc})") from None
        logs.debug("http", method=method, path=path, params=dict(kwargs.get("params") or {}) or None,
                   status=response.status_code, ms=round((time.monotonic() - started) * 1000))
        if response.status_code >= 400:
            error = _error_from(response, self.target.provider)
            provider = self.target.provider
            if response.status_code == 404 and not self._base_path().endswith(provider.base_path):
                error.message += (f" (the API base URL {self.target.base_url} may be wrong: on {provider.name} it "
                                  f"usually ends in {provider.base_path}, as in {provider.example_base})")
            raise error
        if text:
            return response.text
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, f"{method} {path}: the answer is not JSON (is "
                           f"{self.target.base_url} an OpenAI-compatible API?)") from None

    def _url(self, path: str) -> str:
        return f"{self.target.base_url.rstrip('/')}/{path.lstrip('/')}"

    def _base_path(self) -> str:
        return urlsplit(self.target.base_url).path.rstrip("/")



class Reader:
    """Read-only access: the only API that ``plan`` and ``status`` get. Every GET is retried under
    ``retry``."""

    def __init__(self, transport: Transport, retry: RetryPolicy | None = None, metadata_filter: bool = True) -> None:
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self.metadata_filter = metadata_filter and transport.target.provider.metadata_filter

    def _get(self, path: str, params: Any = None) -> Any:
        return self.retry.run(lambda _: self.transport.once("GET", path, params=params))

    def _pages(self, path: str, params: dict[str, Any], limit: int | None = None) -> Iterator[dict[str, Any]]:
        after: str | None = None
        count = 0
        while True:
            page = self._get(path, params={**params, **({"after": after} if after else {})})
            data = page.get("data") or []
            for item in data:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
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
        jobs = _JOBS.validate_python(raw)
        return [j for j in jobs if all(j.tags.get(k) == v for k, v in wanted.items())]

    def stack_jobs(self, stack: str) -> list[LiveJob]:
        return self.list_jobs({TAG_STACK: stack})

    def get_job(self, job_id: str) -> LiveJob:
        return LiveJob.model_validate(self._get(f"fine_tuning/jobs/{job_id}"))

    def list_files(self) -> list[LiveFile]:
        return _FILES.validate_python(list(self._pages("files", {"purpose": "fine-tune"})))

    def list_events(self, job_id: str, limit: int | None = None) -> list[LiveEvent]:
        raw = self._pages(f"fine_tuning/jobs/{job_id}/events", {"limit": min(limit or 100, 100)}, limit)
        return [LiveEvent.model_validate(item) for item in raw]

    def list_checkpoints(self, job_id: str) -> list[LiveCheckpoint]:
        raw = self._pages(f"fine_tuning/jobs/{job_id}/checkpoints", {"limit": 100})
        return [LiveCheckpoint.model_validate(item) for item in raw]

    def file_content(self, file_id: str) -> str:
        return str(self.retry.run(lambda _: self.transport.once("GET", f"files/{file_id}/content", text=True)))


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

    def upload(self, path: Path, filename: str, idempotency_key: str, sha256: str,
               progress: Progress | None = None) -> LiveFile:
        """Upload ``path``; the bytes sent must hash to ``sha256`` (the digest in ``filename``), or the
        upload is deleted and ``ContentChanged`` raised: a file edited after planning never hides
        behind the digest of its old bytes."""
        return send_file(self.transport, path, filename, idempotency_key, sha256, progress)

    def delete_file(self, file_id: str) -> None:
        self.transport.once("DELETE", f"files/{file_id}")
