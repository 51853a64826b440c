"""A fresh sandbox is removed only when no process has it open and it is still empty."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.sandbox.claim import remove_if_unused
from reconciler.sandbox.store import Store


def test_a_sandbox_another_process_has_open_is_left(tmp_path: Path) -> None:
    db = tmp_path / ".ftctl" / "sandbox.db"
    other = Store(db)  # another command on the same fresh project, still running
    try:
        assert remove_if_unused(db, [db.parent, db]) is False
        assert db.exists()
    finally:
        other.close()


def test_an_unused_empty_sandbox_is_removed_with_its_folder(tmp_path: Path) -> None:
    db = tmp_path / ".ftctl" / "sandbox.db"
    Store(db).close()
    assert remove_if_unused(db, [db.parent, db]) is True
    assert not db.parent.exists()  # the lock file went too
    again = Store(db)  # the next command makes a fresh one, and holds its claim as before
    try:
        assert db.exists() and remove_if_unused(db, [db]) is False
    finally:
        again.close()


def test_a_sandbox_written_meanwhile_is_left(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:  # another process uploaded a file, then exited
        conn.execute("INSERT INTO files (id, bytes, created_at, filename, purpose) VALUES ('file-1', 1, 1, 'a', 'b')")
    assert remove_if_unused(db, [db]) is False
    assert db.exists() and tmp_path.exists()


def test_a_sandbox_a_command_succeeded_on_is_kept_even_empty(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    store = Store(db)
    store.mark_used()  # a plan saved against it names it
    store.close()
    assert remove_if_unused(db, [db]) is False and db.exists()


def test_a_store_that_cannot_open_drops_its_claim(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    db.mkdir()  # not a database
    with pytest.raises(sqlite3.Error):
        Store(db)
    db.rmdir()
    Store(db).close()
    assert remove_if_unused(db, [db]) is True  # no claim was left behind by the failed open
