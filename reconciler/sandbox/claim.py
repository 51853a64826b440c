"""Who has a sandbox database open, so that a fresh one is removed only when nobody uses it.

A command refused on a project's first use of the sandbox (no manifests, a refused confirmation)
should leave no sandbox behind; but another ftctl process may have opened the database it just
made — two commands started together on a fresh project — and removing it under that process
would lose its writes. So every process holds a shared lock on ``<db>.lock`` for as long as it has
the database open (``Store`` takes it before the database is made), and the remover takes the lock
exclusively, without waiting: if anyone holds it, the sandbox stays. Under the exclusive lock the
database is read once more and removed only if nothing was ever stored or kept in it (``used``:
a command that succeeded, a saved plan naming it), the lock file last.

A process that opened the lock file just before it was removed ends up holding a lock on a file no
longer there; so a claim checks, once locked, that the path still names the file it locked, and
starts again if not (the usual way with lock files that get deleted). The lock file lies beside
the database, so every process reaching the database — whatever its user, temp folder or mount —
reaches the same lock. Where ``fcntl`` is missing, nothing is ever removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def lock_file(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def _locked(db: Path, how: int) -> int | None:
    """A descriptor of the lock file, locked ``how``, that is still the file the path names; None
    when a non-blocking lock is held by another process."""
    assert fcntl is not None
    while True:
        db.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock_file(db), os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            continue  # the folder was removed meanwhile: make it again
        try:
            fcntl.flock(fd, how)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(lock_file(db)).st_ino == os.fstat(fd).st_ino:
                    return fd
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # removed meanwhile: lock the new one


class Claim:
    """A shared claim on a sandbox database, held until ``release``."""

    def __init__(self, db: Path) -> None:
        self.fd = _locked(db, fcntl.LOCK_SH) if fcntl is not None else None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd = None


def remove_if_unused(db: Path, made: list[Path]) -> bool:
    """Remove ``db`` (with its files, and its folder when in ``made``) if no process holds a claim
    on it and it was never used; whether it was removed."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return False
    fd = _locked(db, fcntl.LOCK_EX | fcntl.LOCK_NB)
    if fd is None:
        return False  # another process has it open
    try:
        if not _unused(db):
            return False
        for suffix in ("", "-wal", "-shm", "-journal"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        shutil.rmtree(db.with_name(db.name + ".files"), ignore_errors=True)
        lock_file(db).unlink(missing_ok=True)  # while still locked: a waiter on it starts again
        if db.parent in made:
            with contextlib.suppress(OSError):
                db.parent.rmdir()
        return True
    finally:
        os.close(fd)


def _unused(db: Path) -> bool:
    """Whether the database holds no file, job or upload and was never marked used; False when it
    cannot be read."""
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return not conn.execute(
                "SELECT EXISTS (SELECT 1 FROM files) OR EXISTS (SELECT 1 FROM jobs) OR EXISTS (SELECT 1 FROM "
                "uploads) OR EXISTS (SELECT 1 FROM settings WHERE key = 'used')").fetchone()[0]
    except sqlite3.Error:
        return False
