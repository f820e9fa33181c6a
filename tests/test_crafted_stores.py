"""Stores you can trust to open: a file that is not evaltui's, a newer one, or one with triggers
evaltui did not make is refused byte-for-byte untouched (journal mode included)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.errors import StoreError, StoreTooNewError
from evaltui.store import Store
from evaltui.store.schema import APPLICATION_ID

from .conftest import DEMO


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


def refused_untouched(path: Path, *message: str) -> None:
    before, mode = digest(path), journal_mode(path)
    r = CliRunner().invoke(cli, ["--db", str(path), "runs"])
    assert r.exit_code == 3 and r.output.startswith("Error: "), r.output
    for m in message:
        assert m in r.output, r.output
    assert digest(path) == before and journal_mode(path) == mode
    assert not Path(f"{path}-wal").exists()


@pytest.fixture
def our_store(tmp_path) -> Path:
    path = tmp_path / "ours.db"
    with Store(path) as store:
        service.import_path(store, DEMO / "fallback.jsonl")
    with sqlite3.connect(path) as conn:  # as a copy would arrive: no WAL beside it
        conn.execute("PRAGMA journal_mode = DELETE")
    return path


def test_a_new_store_is_marked_as_evaltuis(tmp_path):
    Store(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_another_programs_database_is_refused_untouched(tmp_path):
    other = tmp_path / "other-app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('mine')")
    refused_untouched(other, "is not an evaltui store", "tables notes", "it was not changed")


def test_a_store_from_a_newer_evaltui_is_refused_untouched(our_store):
    with sqlite3.connect(our_store) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('evaltui', 'm999_future', '2030-01-01')")  # fmt: skip
    refused_untouched(our_store, "written by a newer evaltui", "m999_future")
    with pytest.raises(StoreTooNewError):
        Store(our_store)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TRIGGER forge AFTER INSERT ON findings BEGIN DELETE FROM case_triage; END",
        "CREATE TRIGGER loop AFTER INSERT ON events BEGIN INSERT INTO settings VALUES ('x', '1'); END",
        "CREATE VIEW runs_view AS SELECT * FROM runs",
    ],
    ids=["forging-trigger", "trigger-on-events", "view"],
)
def test_a_store_with_triggers_or_views_evaltui_did_not_make_is_refused(our_store, sql):
    with sqlite3.connect(our_store) as conn:
        conn.execute(sql)
    refused_untouched(our_store, "evaltui did not make", "it was not changed")


def test_an_altered_append_only_trigger_is_refused(our_store):
    with sqlite3.connect(our_store) as conn:
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute("CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT 1; END")
    refused_untouched(our_store, "(events_no_delete)")


def test_a_store_made_before_the_application_id_is_recognised(our_store):
    with sqlite3.connect(our_store) as conn:
        conn.execute("PRAGMA application_id = 0")
    with Store(our_store) as store:
        assert len(service.list_runs(store)) == 1
    with sqlite3.connect(our_store) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_garbage_is_not_a_store(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all\n" * 100)
    before = digest(junk)
    with pytest.raises(StoreError, match="not an evaltui store"):
        Store(junk)
    assert digest(junk) == before
