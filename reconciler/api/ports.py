"""The two interfaces to a fine-tuning API: what may read and what may write.

``plan`` and ``status`` receive an ``ApiReader`` only, so they cannot change anything; ``apply``
also gets an ``ApiWriter``. The HTTP client implements both, and so does the in-memory fake of the
unit tests. Each write is one attempt: the caller, who knows how to check whether a write already
happened, decides about retries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from reconciler.api.models import LiveCheckpoint, LiveEvent, LiveFile, LiveJob

Progress = Callable[[int], None]


class ApiReader(Protocol):
    def list_jobs(self, metadata: dict[str, str] | None = None) -> list[LiveJob]:
        """Jobs whose metadata holds every pair of ``metadata``, newest first."""
        ...

    def stack_jobs(self, stack: str) -> list[LiveJob]: ...

    def get_job(self, job_id: str) -> LiveJob: ...

    def list_files(self) -> list[LiveFile]:
        """Files with purpose ``fine-tune``."""
        ...

    def list_events(self, job_id: str, limit: int | None = None) -> list[LiveEvent]:
        """The job's events, newest first: the latest ``limit``, or all of them."""
        ...

    def list_checkpoints(self, job_id: str) -> list[LiveCheckpoint]:
        """The job's checkpoints, newest first."""
        ...

    def file_content(self, file_id: str) -> str:
        """A file's bytes as text (a job's results file: CSV)."""
        ...


class ApiWriter(Protocol):
    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob: ...

    def act(self, job_id: str, action: str) -> LiveJob:
        """``cancel``, ``pause`` or ``resume`` a job."""
        ...

    def upload(self, path: Path, filename: str, idempotency_key: str, sha256: str,
               progress: Progress | None = None) -> LiveFile:
        """Upload ``path``; raise ``ContentChanged`` (and leave no upload) unless its bytes hash to
        ``sha256``."""
        ...

    def delete_file(self, file_id: str) -> None: ...
