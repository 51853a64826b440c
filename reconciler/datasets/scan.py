"""One streaming pass over a local training file: sha256 of its bytes and the format check.

Reading once for both keeps ``plan`` on a 1 GB file to one read of 1 GB, and memory to a few
chunks (the one being checked, its lines, the one still being hashed), whatever the file's size; a
line longer than any example can be (``MAX_LINE``) is hashed but not kept, and reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reconciler.datasets.formats import MAX_LINE, Counter, TooLong, check_lines
from reconciler.datasets.report import Report

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Scan:
    path: Path
    sha256: str
    bytes: int
    report: Report


def _lines(path: Path, digest: hashlib._Hash) -> Iterator[bytes]:
    """The file's lines; a line over ``MAX_LINE`` is skipped (hashed, not kept) and given as ``TooLong``.

    Each chunk is hashed on a thread of its own while its lines are checked here: hashlib lets go of
    the GIL on large buffers, so the digest costs no time beside the checks (one chunk in flight).
    The lines wholly inside a chunk (shorter than ``MAX_LINE``, as a chunk is) go out as they are;
    only the line that spans chunks is pieced together (or counted and skipped)."""
    parts: list[bytes] = []  # the line so far, in pieces: no copying per chunk
    kept = skipped = 0
    threaded = path.stat().st_size > CHUNK  # a file of one chunk is hashed at once: no thread to start
    with path.open("rb") as f, ThreadPoolExecutor(1 if threaded else None, "ftctl-sha256") as hasher:
        hashed: Future[None] | None = None
        while chunk := f.read(CHUNK):
            if hashed is not None:
                hashed.result()  # in order, and never more than one chunk waiting
            if threaded:
                hashed = hasher.submit(digest.update, chunk)
            else:
                digest.update(chunk)
            lines = chunk.split(b"\n")
            if len(lines) > 1:  # the spanning line ends in this chunk
                first = lines[0]
                if skipped or kept + len(first) > MAX_LINE:
                    yield TooLong((skipped or kept) + len(first))
                else:
                    yield b"".join([*parts, first]) if parts else first
                parts, kept, skipped = [], 0, 0
                if len(chunk) <= MAX_LINE:  # as always but in tests: no line inside is too long
                    yield from lines[1:-1]
                else:
                    yield from (p if len(p) <= MAX_LINE else TooLong(len(p)) for p in lines[1:-1])
            last = lines[-1]
            if skipped or kept + len(last) > MAX_LINE:
                skipped, parts, kept = (skipped or kept) + len(last), [], 0
            else:
                parts.append(last)
                kept += len(last)
        if hashed is not None:
            hashed.result()
    if skipped:
        yield TooLong(skipped)
    elif kept:
        yield b"".join(parts)


def scan_file(path: Path, fmt: str, context_tokens: int | None = None, required: dict[str, str] | None = None,
              count: Counter | None = None) -> Scan:
    digest = hashlib.sha256()
    report = check_lines(_lines(path, digest), fmt, context_tokens, required, count)
    return Scan(path, digest.hexdigest(), path.stat().st_size, report)
