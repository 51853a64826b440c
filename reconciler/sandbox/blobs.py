"""Bytes into the sandbox's blob files (``<db>.files/``): one copy loop for every way they arrive.

A file upload (``POST /files``), a part of an upload (``POST /uploads/{id}/parts``) and the completion
of an upload (its parts, in order, into one file) all copy streams into a blob a chunk at a time, so
memory stays constant whatever the size, while counting the bytes against a limit and feeding the
digests the route needs (the sha256 an idempotency key compares, the md5 a completion checks).

A copy that does not finish leaves nothing behind: past the limit (``TooLarge``), or on any error
(a disk full, a client gone), the partial blob is removed before the error goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


class Digest(Protocol):
    """What ``hashlib``'s objects offer that a copy needs."""

    def update(self, data: bytes, /) -> None: ...


class TooLarge(Exception):
    """The sources hold more bytes than the limit; the blob was removed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


def copy_into(blob: Path, sources: Iterable[BinaryIO], limit: int | None = None,
              digests: Iterable[Digest] = ()) -> int:
    """Write the ``sources``, one after the other, into ``blob``; return the number of bytes. Each
    chunk goes to every digest too."""
    digests = tuple(digests)
    size = 0
    try:
        with blob.open("wb") as out:
            for source in sources:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLarge(limit)
                    for digest in digests:
                        digest.update(chunk)
                    out.write(chunk)
    except BaseException:
        blob.unlink(missing_ok=True)
        raise
    return size


def opened(paths: Iterable[Path]) -> Iterator[BinaryIO]:
    """The files at ``paths``, each open for reading only while it is read (a source list for ``copy_into``)."""
    for path in paths:
        with path.open("rb") as f:
            yield f
