"""Empty the embedded sandbox for ``make demo``, keeping what was there: ``python scripts/empty_sandbox.py DB``.

The demo runs in the project's own sandbox (``.ftctl/sandbox.db``, the one ``ftctl … --sandbox``
uses), so that ``ftctl status --sandbox`` and ``ftctl wait --sandbox`` show its jobs afterwards; and
it starts from an empty one, so that every run shows the same plan. But the sandbox may hold the
user's own jobs: its files (the database, SQLite's side files, the uploaded bytes) are moved to
``<name>-before-demo/`` beside it, replacing what an earlier demo moved there, not deleted.

Every ftctl process that has the database open holds a shared lock on ``<db>.lock`` (see
``reconciler/sandbox/claim.py``); this takes it exclusively without waiting, so a running ``sandbox
serve`` or ``wait`` is never pulled from under its feet: the demo stops and says so instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from pathlib import Path

SIDE_FILES = ("", "-wal", "-shm", "-journal", ".files")


def empty(db: Path) -> str:
    """Move the sandbox's files aside; what was done, in a sentence. Exits when the sandbox is in use."""
    lock = db.with_name(db.name + ".lock")
    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(f"make demo: {db} is open in another ftctl process (a `ftctl sandbox serve`, a `wait`?); "
                     "stop it, then run make demo again")
        found = [path for path in (db.with_name(db.name + s) for s in SIDE_FILES) if path.exists()]
        if not found:
            return f"The demo's sandbox state goes to {db} (empty)."
        kept = db.with_name(f"{db.stem}-before-demo")
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir()
        for path in found:
            path.rename(kept / path.name)
        lock.unlink()  # while still locked, as claim.py does: a process waiting on it starts again
        return (f"The demo resets the sandbox state in {db}; what was there is kept in {kept}/ "
                f"(to get it back: mv {kept}/* {db.parent}/).")
    finally:
        os.close(fd)


if __name__ == "__main__":
    print(empty(Path(sys.argv[1])))
