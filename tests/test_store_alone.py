"""A large import writes the store alone, through a rollback journal (Store.alone)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evaltui import service
from evaltui.errors import StoreError
from evaltui.store import Store
from evaltui.store import store as store_module
from evaltui.store.runs import list_runs

from .conftest import DEMO

TIMED = {"runs", "events", "_sqlite_migrations"}
EVALTUI = Path(sys.executable).parent / "evaltui"


def _mode(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def test_alone_uses_a_rollback_journal_and_goes_back_to_wal(tmp_path):
    db = tmp_path / "store.db"
    with Store(db) as store:
        with store.alone() as alone:
            assert alone is True
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == (
            store_module.BUSY_TIMEOUT_MS
        )
    assert _mode(db) == "wal"


def test_with_another_connection_open_alone_stays_in_wal_without_waiting(tmp_path):
    db = tmp_path / "store.db"
    with Store(db) as store, Store(db) as other:
        list_runs(other)  # an open app: its connection has read the store
        started = time.monotonic()
        with store.alone() as alone:
            assert alone is False
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            (out,) = service.import_path(store, DEMO / "candidate.jsonl")
            assert [r.id for r in list_runs(other)] == [out.run_id]  # both keep working
        assert time.monotonic() - started < 5  # no busy wait on the switch
        assert out.results > 0


def test_an_import_alone_writes_what_an_import_through_the_wal_writes(tmp_path, monkeypatch):
    dumps = {}
    for alone in ("0", "1"):
        monkeypatch.setenv("EVALTUI_IMPORT_ALONE", alone)
        with Store(tmp_path / f"{alone}.db") as store:
            service.load_demo(store)
            dumps[alone] = store.dump()
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert store.integrity_check() == "ok"
    for table, rows in dumps["0"].items():
        if table not in TIMED:
            assert dumps["1"][table] == rows, table
    assert len(dumps["1"]["results"]) == len(dumps["0"]["results"]) > 0


def test_a_failed_import_alone_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_IMPORT_ALONE", "1")
    db = tmp_path / "store.db"
    bad = tmp_path / "bad.jsonl"
    good = (DEMO / "fallback.jsonl").read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([*good[:400], '{"case_key": "x", "verdict": "maybe"}']) + "\n")
    with Store(db) as store:
        service.import_path(store, DEMO / "production.jsonl")
        before = store.dump()
        with pytest.raises(Exception, match="verdict"):
            service.import_path(store, bad)
        assert store.dump() == before
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not (tmp_path / "store.db-journal").exists()


def _hold_alone(db: Path, spilled: threading.Event, release: threading.Event) -> None:
    """An import alone that has written pages to the file (so it holds the lock)."""
    with Store(db) as store, store.alone() as alone:
        assert alone
        store.conn.execute("PRAGMA cache_size = 10")  # spill early, like a large import
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)",
                ((f"k{i}", "x" * 2000) for i in range(3000)),
            )
            spilled.set()
            release.wait(10)


def test_a_store_opened_during_an_import_alone_waits_for_it(tmp_path):
    db = tmp_path / "store.db"
    Store(db).close()
    spilled, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_alone, args=(db, spilled, release))
    holder.start()
    assert spilled.wait(10)
    waited: list[bool] = []

    def waiting() -> None:  # the store says it waits: only then does the import commit
        waited.append(True)
        release.set()

    with Store(db, on_wait=waiting) as late:  # waits for the commit, then opens (back in WAL)
        assert late.conn.execute("SELECT COUNT(*) FROM settings").fetchone()[0] >= 3000
    holder.join()
    assert waited == [True]
    assert _mode(db) == "wal"


def test_a_store_opened_during_a_long_import_alone_says_why_it_cannot_open(tmp_path, monkeypatch):
    db = tmp_path / "store.db"
    Store(db).close()
    spilled, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_alone, args=(db, spilled, release))
    holder.start()
    try:
        assert spilled.wait(10)
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
        with pytest.raises(StoreError, match="busy: another evaltui holds it"):
            Store(db)
    finally:
        release.set()
        holder.join()
    with Store(db) as store:
        assert store.integrity_check() == "ok"


def test_the_cli_says_it_waits_for_an_import_alone_then_answers(tmp_path):
    db = tmp_path / "store.db"
    with Store(db) as store:
        service.import_path(store, DEMO / "production.jsonl")
    spilled, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_alone, args=(db, spilled, release))
    holder.start()
    try:
        assert spilled.wait(10)
        env = {**os.environ, "EVALTUI_DB": str(db)}
        # the import lets go once the CLI has said it waits (state, not a timer: a loaded
        # machine may take seconds to start the CLI)
        proc = subprocess.Popen(
            [str(EVALTUI), "runs", "--json"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        said = proc.stderr.readline()
        release.set()
        out, rest = proc.communicate(timeout=120)
    finally:
        release.set()
        holder.join()
    stderr = said + rest
    assert proc.returncode == 0, stderr
    assert "Waiting for" in said and "importing a large file" in said
    assert [r["name"] for r in json.loads(out)] == ["prod-2026-11-02"]


async def test_an_open_app_keeps_imports_from_taking_the_store_alone(tmp_path):
    from evaltui.tui.app import EvaltuiApp

    db = tmp_path / "store.db"
    with Store(db) as store:
        service.import_path(store, DEMO / "production.jsonl")
    app = EvaltuiApp(db)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        # the runs screen has loaded and closed its own connection: the app's stays
        with Store(db) as importer, importer.alone() as alone:
            assert alone is False
    with Store(db) as importer, importer.alone() as alone:  # the app has quit
        assert alone is True
