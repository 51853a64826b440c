"""Sending a local file: one request up to 512 MB, the Uploads API in 64 MB parts above.

The bytes are hashed as they are sent. The upload's name carries the sha256 the plan computed
(``ftctl-<sha256>-<name>``), and later plans trust that name; so if the file was edited between
planning and sending, the new upload is deleted and ``ContentChanged`` raised instead of leaving
an upload whose name lies about its content.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveFile
from reconciler.api.ports import Progress

if TYPE_CHECKING:
    from reconciler.api.client import Transport

UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
SIMPLE_UPLOAD_LIMIT = 512 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024


class ContentChanged(Exception):
    """The file's bytes are no longer those the plan hashed."""


class _Hashing:
    """A file wrapper that hashes (and reports) the bytes read through it, in order from the start."""

    def __init__(self, f: BinaryIO, progress: Progress | None) -> None:
        self.f, self.progress = f, progress
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.digest.update(chunk)
        if self.progress is not None:
            self.progress(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) == (0, 0):
            self.digest = hashlib.sha256()  # read again from the start: hash again from the start
        return self.f.seek(offset, whence)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)


def send_file(transport: Transport, path: Path, filename: str, key: str, sha256: str,
              progress: Progress | None) -> LiveFile:
    provider = transport.target.provider
    form = {"purpose": "fine-tune"}
    if provider.file_expiry_seconds is not None:  # required by some services (Azure)
        form |= {"expires_after[anchor]": "created_at", "expires_after[seconds]": str(provider.file_expiry_seconds)}
    with path.open("rb") as f:
        stream = _Hashing(f, progress)
        if path.stat().st_size > SIMPLE_UPLOAD_LIMIT and provider.file_parts:
            uploaded = _in_parts(transport, stream, filename, path.stat().st_size, key)
        else:
            data = transport.once("POST", "files", files={"file": (filename, stream)}, data=form,
                                  timeout=UPLOAD_TIMEOUT, headers={"Idempotency-Key": key})
            uploaded = LiveFile.model_validate(data)
    sent = stream.digest.hexdigest()
    if sent != sha256:
        with contextlib.suppress(ApiError):  # best effort: a later plan ignores it anyway if this fails
            transport.once("DELETE", f"files/{uploaded.id}")
        raise ContentChanged(f"{path} changed after the plan was made (sha256 {sha256[:12]} planned, "
                             f"{sent[:12]} read); its upload was deleted; run plan again")
    return uploaded


def _in_parts(transport: Transport, stream: _Hashing, filename: str, size: int, key: str) -> LiveFile:
    upload = transport.once("POST", "uploads", json={
        "filename": filename, "purpose": "fine-tune", "bytes": size, "mime_type": "application/jsonl"},
        headers={"Idempotency-Key": key})
    part_ids = []
    while chunk := stream.read(PART_SIZE):
        part = transport.once("POST", f"uploads/{upload['id']}/parts", files={"data": ("part", chunk)},
                              timeout=UPLOAD_TIMEOUT)
        part_ids.append(part["id"])
    done = transport.once("POST", f"uploads/{upload['id']}/complete", json={"part_ids": part_ids})
    return LiveFile.model_validate(done["file"])
