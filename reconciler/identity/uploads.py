"""Uploaded files are found by content: ``ftctl-<sha256>-<original name>``.

The name makes an upload findable from any machine without a state file. The name alone is not
trusted: a copy of another size is not these bytes (the API does not let fine-tune files be
downloaded, so the size is the check that can be made). ``UploadIndex`` reads the live file list
once, so that matching N local files against M live files costs N + M, not N × M.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from reconciler.api.models import LiveFile

_UPLOAD_NAME = re.compile(r"^ftctl-([0-9a-f]{64})-(.*)$")


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def upload_filename(sha256: str, path: str) -> str:
    return f"ftctl-{sha256}-{PurePosixPath(path).name}"


def parse_upload_name(filename: str) -> tuple[str, str] | None:
    """(sha256, original name) of a file ftctl uploaded, or None for any other file."""
    match = _UPLOAD_NAME.match(filename) if filename.startswith("ftctl-") else None
    return (match.group(1), match.group(2)) if match else None


def usable(f: LiveFile) -> bool:
    return f.purpose == "fine-tune" and f.status != "error"


class UploadIndex:
    """The live files, indexed by ID and by the sha256 in their upload name."""

    def __init__(self, files: Iterable[LiveFile]) -> None:
        self.by_id: dict[str, LiveFile] = {}
        self.by_sha: dict[str, list[LiveFile]] = {}
        for f in files:
            self.by_id[f.id] = f
            parsed = parse_upload_name(f.filename)
            if parsed is not None and usable(f):
                self.by_sha.setdefault(parsed[0], []).append(f)

    def holds(self, file_id: str | None, sha256: str, size: int | None) -> bool:
        """Whether the live file ``file_id`` is an upload of the bytes with this digest and size."""
        live = self.by_id.get(file_id or "")
        parsed = parse_upload_name(live.filename) if live is not None else None
        return live is not None and parsed is not None and parsed[0] == sha256 and live.bytes == size

    def find(self, sha256: str, size: int) -> LiveFile | None:
        """An uploaded copy of the bytes with this digest and size, or None."""
        return next((f for f in self.by_sha.get(sha256, ()) if f.bytes == size), None)
