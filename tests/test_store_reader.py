"""Store.reader: the one door for reading a store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evaltui.errors import StoreError
from evaltui.store import Store


def test_reader_reads_a_store_and_cannot_write(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store(db).close()
    conn = Store.reader(db)
    try:
        assert conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO settings(key, value) VALUES ('x', '1')")
        conn.execute("CREATE TEMP TABLE scratch(x)")  # a comparison's temp tables are allowed
    finally:
        conn.close()


def test_reader_refuses_a_file_that_is_not_a_store_and_leaves_it_unchanged(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE notes(x)")
    before = other.read_bytes()
    with pytest.raises(StoreError, match="not an evaltui store"):
        Store.reader(other, migrate=False)
    assert other.read_bytes() == before


def test_reader_of_a_missing_store_makes_no_file(tmp_path: Path) -> None:
    for migrate in (True, False):
        with pytest.raises(StoreError, match="No store"):
            Store.reader(tmp_path / "none.db", migrate=migrate)
    assert list(tmp_path.iterdir()) == []
