"""SQLite persistence of the sandbox: files, jobs, idempotency keys, the clock.

File bytes live on disk beside the database (``<db>.files/``) so that large uploads stream
instead of passing through memory. One connection guarded by a lock: the sandbox is for
tests and demos, and serialising writes is also what makes idempotency keys race-free. The
handlers call it from worker threads, never from the event loop.

Job metadata is also kept as rows of ``job_tags`` under an index, so that the list filter
``metadata[k]=v`` is an index look-up rather than JSON parsing of every job. A file may become
visible only later (``available_at``: a job's result file, once the job has succeeded).

The clock: ``real`` is wall time plus the offset that ``advance`` adds; ``manual`` starts at the
wall time the database was created and moves only through ``advance``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.sandbox.claim import Claim
from reconciler.sandbox.lifecycle import Job

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL, filename TEXT NOT NULL, purpose TEXT NOT NULL, available_at REAL);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, body TEXT NOT NULL,
    metadata TEXT, created_at REAL);
CREATE TABLE IF NOT EXISTS job_tags (job_seq INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS job_tags_by_pair ON job_tags (key, value, job_seq);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (created_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT NOT NULL, route TEXT NOT NULL, body_hash TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, PRIMARY KEY (key, route));
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path, clock: str = "real") -> None:
        self.path = path
        self.claim = Claim(path)  # before the file is made: see claim.py
        try:
            self._open(path, clock)
        except BaseException:
            self.claim.release()
            raise

    def _open(self, path: Path, clock: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.blobs = path.with_name(path.name + ".files")
        self.blobs.mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # survives a killed server, not a power cut: a sandbox
        self._migrate()
        self.db.executescript(SCHEMA)
        self.manual = clock == "manual"
        self._start()

    def _migrate(self) -> None:
        """Databases of earlier versions: add the columns and rows this one reads."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, column, kind in (("files", "available_at", "REAL"), ("jobs", "created_at", "REAL")):
            if table in tables and column not in {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")  # fixed names, not input
        if "jobs" in tables and "job_tags" not in tables:
            self.db.executescript(SCHEMA)
            for seq, body, metadata in self.db.execute("SELECT seq, body, metadata FROM jobs").fetchall():
                self._tag(seq, json.loads(metadata or "null"))
                self.db.execute("UPDATE jobs SET created_at = ? WHERE seq = ?", (json.loads(body)["created_at"], seq))

    def _start(self) -> None:
        """A new (or reset) database gets its identity and the start of its manual clock."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO settings VALUES ('sandbox_id', ?)", ("sbx-" + secrets.token_hex(8),))
            self.db.execute("INSERT OR IGNORE INTO settings VALUES ('clock_start', ?)", (str(time.time()),))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.db.close()
        self.claim.release()

    # -- clock ------------------------------------------------------------------------------
    def now(self) -> float:
        base = float(self.setting("clock_start", "0")) if self.manual else time.time()
        return base + float(self.setting("clock_offset", "0"))

    def advance(self, seconds: float) -> float:
        with self.transaction():
            offset = float(self.setting("clock_offset", "0")) + seconds
            self.db.execute("INSERT OR REPLACE INTO settings VALUES ('clock_offset', ?)", (str(offset),))
        return self.now()

    def identity(self) -> str:
        """A random ID made when this database was created (or reset): saved plans name it, so a plan
        is never applied to another project's sandbox."""
        return self.setting("sandbox_id", "")

    def mark_used(self) -> None:
        """Kept from now on, even empty: a command succeeded on it (a saved plan may name it)."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO settings VALUES ('used', '1')")

    def setting(self, key: str, default: str) -> str:
        with self.lock:
            row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def reset(self) -> None:
        with self.transaction():
            for table in ("files", "jobs", "job_tags", "idempotency", "uploads", "settings"):
                self.db.execute(f"DELETE FROM {table}")  # fixed table names, not input
        shutil.rmtree(self.blobs, ignore_errors=True)
        self.blobs.mkdir(exist_ok=True)
        self._start()

    # -- files ------------------------------------------------------------------------------
    def blob(self, file_id: str) -> Path:
        return self.blobs / file_id

    def add_file(self, row: dict[str, Any], available_at: float | None = None) -> None:
        self.add_files([row], available_at)

    def add_files(self, rows: Iterable[dict[str, Any]], available_at: float | None = None) -> None:
        """Many files in one transaction (seeding a large sandbox: one commit, not one per file). A row
        without ``created_at`` is stamped inside the transaction, so that creation times follow the
        order files become visible in: a file listed later is never older (``identity/uploads.py``)."""
        with self.transaction():
            now = int(self.now())
            self.db.executemany(
                "INSERT OR IGNORE INTO files (id, bytes, created_at, filename, purpose, available_at) "
                "VALUES (?,?,?,?,?,?)",
                [(r["id"], r["bytes"], r.get("created_at", now), r["filename"], r["purpose"], available_at)
                 for r in rows])

    def make_available(self, file_id: str, at: float | None) -> None:
        """When a file (a job's results) appears; None: never (the job will not succeed as planned)."""
        with self.transaction():
            self.db.execute("UPDATE files SET available_at = ? WHERE id = ?", (at if at is not None else 1e18,
                                                                              file_id))

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT id, bytes, created_at, filename, purpose FROM files WHERE id = ? AND "
                                  "(available_at IS NULL OR available_at <= ?)", (file_id, self.now())).fetchone()
        return _file(row) if row else None

    def list_files(self, purpose: str | None, after: str | None, limit: int, asc: bool) -> tuple[
            list[dict[str, Any]], bool]:
        where: list[str] = ["(available_at IS NULL OR available_at <= ?)"]
        args: list[Any] = [self.now()]
        if purpose:
            where, args = [*where, "purpose = ?"], [*args, purpose]
        rows, more = self._page("files", "id, bytes, created_at, filename, purpose", where, args, after, limit, asc)
        return [_file(r) for r in rows], more

    def delete_file(self, file_id: str) -> bool:
        with self.transaction():
            gone = self.db.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount > 0
        self.blob(file_id).unlink(missing_ok=True)
        return gone

    # -- jobs -------------------------------------------------------------------------------
    def add_job(self, job: Job) -> None:
        self.add_jobs([job])

    def add_jobs(self, jobs: Iterable[Job]) -> None:
        """Jobs in one transaction, in the order given (the list's creation order)."""
        with self.transaction():
            for job in jobs:
                metadata = job.request.get("metadata") or None
                seq = self.db.execute("INSERT INTO jobs (id, body, metadata, created_at) VALUES (?, ?, ?, ?)",
                                      (job.id, _dump(job), json.dumps(metadata), job.created_at)).lastrowid
                self._tag(seq, metadata)

    def _tag(self, seq: int | None, metadata: dict[str, str] | None) -> None:
        self.db.executemany("INSERT INTO job_tags VALUES (?, ?, ?)", [(seq, k, v) for k, v in (metadata or {}).items()])

    def count_jobs_since(self, since: float) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM jobs WHERE created_at >= ?", (since,)).fetchone()[0])

    def all_jobs(self) -> list[Job]:
        with self.lock:
            return [Job(**json.loads(r[0])) for r in self.db.execute("SELECT body FROM jobs").fetchall()]

    def save_job(self, job: Job) -> None:
        with self.transaction():
            self.db.execute("UPDATE jobs SET body = ? WHERE id = ?", (_dump(job), job.id))

    def get_job(self, job_id: str) -> Job | None:
        with self.lock:
            row = self.db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job(**json.loads(row[0])) if row else None

    def jobs_ending_with(self, tail: str) -> list[Job]:
        """The jobs whose ID ends with ``tail`` (a fine-tuned model's name ends with eight characters of it)."""
        with self.lock:
            rows = self.db.execute("SELECT body FROM jobs WHERE substr(id, -8) = ?", (tail,)).fetchall()
        return [Job(**json.loads(r[0])) for r in rows]

    def list_jobs(self, after: str | None, limit: int, metadata: dict[str, str] | None,
                  no_metadata: bool) -> tuple[list[Job], bool]:
        where: list[str] = ["(metadata IS NULL OR metadata = 'null')"] if no_metadata else []
        args: list[Any] = []
        for key, value in (metadata or {}).items():  # one index look-up per pair
            where.append("seq IN (SELECT job_seq FROM job_tags WHERE key = ? AND value = ?)")
            args.extend([key, value])
        rows, more = self._page("jobs", "body", where, args, after, limit, asc=False)
        return [Job(**json.loads(r[0])) for r in rows], more

    def _page(self, table: str, columns: str, where: list[str], args: list[Any], after: str | None, limit: int,
              asc: bool) -> tuple[list[tuple[Any, ...]], bool]:
        """One page in creation order (``seq``), after the row with ID ``after``; and whether more follow."""
        if after:
            where = [*where, f"seq {'>' if asc else '<'} (SELECT seq FROM {table} WHERE id = ?)"]
            args = [*args, after]
        sql = f"SELECT {columns} FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
        sql += f" ORDER BY seq {'ASC' if asc else 'DESC'} LIMIT ?"
        with self.lock:
            rows = self.db.execute(sql, [*args, limit + 1]).fetchall()
        return rows[:limit], len(rows) > limit

    # -- idempotency ------------------------------------------------------------------------
    def idempotent(self, key: str, route: str) -> tuple[str, int, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT body_hash, status, response FROM idempotency WHERE key=? AND route=?",
                                  (key, route)).fetchone()
        return (row[0], row[1], json.loads(row[2])) if row else None

    def remember(self, key: str, route: str, body_hash: str, status: int, response: Any) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?)",
                            (key, route, body_hash, status, json.dumps(response)))

    # -- uploads ----------------------------------------------------------------------------
    def put_upload(self, upload: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO uploads VALUES (?, ?)", (upload["id"], json.dumps(upload)))

    def get_upload(self, upload_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT body FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        return json.loads(row[0]) if row else None


def _file(row: tuple[Any, ...]) -> dict[str, Any]:
    file_id, size, created, filename, purpose = row
    return {"id": file_id, "object": "file", "bytes": size, "created_at": created, "filename": filename,
            "purpose": purpose, "status": "processed"}


def _dump(job: Job) -> str:
    return json.dumps(job.__dict__)
