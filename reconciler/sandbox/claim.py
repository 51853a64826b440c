"""Who has a sandbox database open, so that a fresh one is removed only when nobody uses it.

A command refused on a project's first use of the sandbox (no manifests, a refused confirmation)
should leave no sandbox behind; but another ftctl process may have opened the database it just
made — two commands started together on a fresh project — and removing it under that process
would lose its writes. So every process holds a shared lock for as long as it has the database
open (``Store`` takes it before the file is made), and the remover takes the lock exclusively,
without waiting: if anyone holds it, the sandbox stays. Under the exclusive lock the database is
read once more and removed only if still empty; a process arriving meanwhile waits for the
shared lock and then makes a fresh database of its own.

The lock file lives in the temporary folder, named by the database's path, so removing the
sandbox leaves nothing in the project. Where ``fcntl`` is missing, nothing is ever removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def _lock_file(db: Path) -> Path:
    digest = hashlib.sha256(str(db.resolve()).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"ftctl-sandbox-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}.lock"


class Claim:
    """A shared claim on a sandbox database, held until ``release``."""

    def __init__(self, db: Path) -> None:
        self.fd: int | None = None
        if fcntl is not None:
            self.fd = os.open(_lock_file(db), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd = None


def remove_if_unused(db: Path, made: list[Path]) -> bool:
    """Remove ``db`` (with its files, and its folder when in ``made``) if no process holds a claim
    on it and it is still empty; whether it was removed."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return False
    fd = os.open(_lock_file(db), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another process has it open
        if not _empty(db):
            return False
        for suffix in ("", "-wal", "-shm", "-journal"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        shutil.rmtree(db.with_name(db.name + ".files"), ignore_errors=True)
        if db.parent in made:
            with contextlib.suppress(OSError):
                db.parent.rmdir()
        return True
    finally:
        os.close(fd)


def _empty(db: Path) -> bool:
    """Whether the database holds no file, job or upload; False when it cannot be read."""
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return not conn.execute("SELECT EXISTS (SELECT 1 FROM files) OR EXISTS (SELECT 1 FROM jobs) OR "
                                    "EXISTS (SELECT 1 FROM uploads)").fetchone()[0]
    except sqlite3.Error:
        return False
