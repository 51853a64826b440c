"""Uploaded files are found by content: ``ftctl-<sha256>-<original name>``.

The name makes an upload findable from any machine without a state file. The name alone is not
trusted: a copy of another size is not these bytes (the API does not let fine-tune files be
downloaded, so the size is the check that can be made). ``UploadIndex`` reads the live file list
once, so that matching N local files against M live files costs N + M, not N × M.

When there are copies of the same bytes (two applies uploaded them at once, against an API that
ignores ``Idempotency-Key``), the oldest a run sees is the one it uses; an apply deletes a copy it
uploaded itself when strictly newer (``apply/applier.py``). Creation times are whole seconds, so
copies of the same second stay: a run that listed before the other existed may be using either.

Most plans never ask about a file (nothing to create: the jobs' spec hashes decide), and an account's
file list can be many pages long, so the planner gets the list as a loader (``UploadIndex.lazy``):
it is read at the first question about a file, and only then.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
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


FilesLoader = Callable[[], Iterable[LiveFile]]
"""Reads the live file list (the API's ``GET /files``); called at most once per index."""


class UploadIndex:
    """The live files, indexed by ID and by the sha256 in their upload name; read at the first
    question when made ``lazy``."""

    def __init__(self, files: Iterable[LiveFile]) -> None:
        self._loader: FilesLoader | None = None
        self._index(files)

    @classmethod
    def lazy(cls, loader: FilesLoader) -> UploadIndex:
        index = cls(())
        index._loader = loader
        return index

    @property
    def read(self) -> bool:
        """Whether the list was read (a lazy index that was never asked has not)."""
        return self._loader is None

    def _index(self, files: Iterable[LiveFile]) -> None:
        self._by_id: dict[str, LiveFile] = {}
        self._by_sha: dict[str, list[LiveFile]] = {}
        for f in files:
            self._by_id[f.id] = f
            parsed = parse_upload_name(f.filename)
            if parsed is not None and usable(f):
                self._by_sha.setdefault(parsed[0], []).append(f)

    def _load(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            self._index(loader())

    def get(self, file_id: str | None) -> LiveFile | None:
        """The live file ``file_id``, or None (deleted, or never there)."""
        self._load()
        return self._by_id.get(file_id or "")

    def holds(self, file_id: str | None, sha256: str, size: int | None) -> bool:
        """Whether the live file ``file_id`` is an upload of the bytes with this digest and size."""
        live = self.get(file_id)
        parsed = parse_upload_name(live.filename) if live is not None else None
        return live is not None and parsed is not None and parsed[0] == sha256 and live.bytes == size

    def copies(self, sha256: str) -> list[LiveFile]:
        """The usable uploads named with this digest, of any size."""
        self._load()
        return self._by_sha.get(sha256, [])

    def same(self, sha256: str, size: int) -> list[LiveFile]:
        """The uploads of the bytes with this digest and size, oldest first: by creation time, then
        by id — an order every run computes alike, whatever order the listing gives ties in."""
        return sorted((f for f in self.copies(sha256) if f.bytes == size), key=lambda f: (f.created_at, f.id))

    def find(self, sha256: str, size: int) -> LiveFile | None:
        """The copy of these bytes that every plan and apply uses, the oldest; or None."""
        return next(iter(self.same(sha256, size)), None)
