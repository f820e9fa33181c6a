import json
import sqlite3

import pytest

from evaltui.errors import InputError, StoreError, StoreTooNewError
from evaltui.models import Case, Record, Result, Run
from evaltui.store import Store
from evaltui.store.migrations import KNOWN, migrations
from evaltui.store.runs import import_run, list_runs


def records(n: int, suite: str = "s", verdict: str = "pass"):
    for i in range(n):
        yield Record.from_models(
            Case(
                suite=suite,
                case_key=f"k{i}",
                input=f"input {i}",
                attributes={"risk": "high" if i % 2 else "low"},
            ),
            Result(suite=suite, case_key=f"k{i}", verdict=verdict, output=f"out {i}"),
            location=f"line {i + 1}",
        )


def test_new_store_has_full_schema_and_records_migrations(store):
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "runs",
        "cases",
        "results",
        "run_criteria",
        "events",
        "settings",
        "_sqlite_migrations",
    } <= tables
    indexes = {
        r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
    }
    assert "results_compare" in indexes
    cols = [r[2] for r in store.conn.execute("PRAGMA index_info(results_compare)")]
    assert cols == [
        "run_id",
        "case_id",
        "epoch",
        "verdict",
        "score",
        "output_crc",
        "tool_crc",
        "limit_hit",
    ]
    assert store.applied_migrations() == KNOWN
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(KNOWN)


def test_compare_join_uses_covering_index(store):
    plan = " ".join(
        str(r[3])
        for r in store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT case_id, verdict FROM results WHERE run_id = 1 ORDER BY case_id, epoch"
        )
    )
    assert "COVERING INDEX results_compare" in plan


def test_import_run_writes_run_cases_results_and_event(store):
    run_id = import_run(store, Run(name="r1", role="candidate", sha256="abc"), records(10))
    (summary,) = list_runs(store)
    assert (summary.id, summary.cases, summary.results, summary.passed) == (run_id, 10, 10, 10)
    assert summary.pass_rate == 1.0
    assert summary.suites == ["s"]
    (event,) = store.events()
    assert event.action == "import" and event.entity_id == str(run_id)
    assert event.actor == "tester"
    assert event.after["results"] == 10


def test_cases_are_shared_across_runs(store):
    import_run(store, Run(name="a"), records(5))
    import_run(store, Run(name="b"), records(5, verdict="fail"))
    assert store.conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 5
    assert store.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 10


def test_failed_import_leaves_store_unchanged(store):
    import_run(store, Run(name="ok"), records(3))
    before = store.dump()

    def broken():
        yield from records(2500)  # more than one batch is written before the error
        raise InputError("f.jsonl", "boom", location="line 2501")

    with pytest.raises(InputError):
        import_run(store, Run(name="bad"), broken())
    assert store.dump() == before
    assert not store.conn.in_transaction


def test_duplicate_case_epoch_is_rejected_with_both_lines(store):
    def dup():
        yield from records(3)
        yield from records(1)

    with pytest.raises(InputError) as info:
        import_run(store, Run(name="dup", source_path="f.jsonl"), dup())
    assert "duplicate result for case 's/k0' epoch 0 (also at line 1)" in str(info.value)
    assert info.value.location == "line 1" or info.value.location.startswith("line")
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_events_are_append_only(store):
    store.set_setting("x", 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("UPDATE events SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("DELETE FROM events")


def test_store_written_by_newer_version_is_refused_and_untouched(db_path):
    with Store(db_path) as s:
        import_run(s, Run(name="r"), records(2))
        s.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('evaltui', 'm999_future', 'x')"
        )
    before = db_path.read_bytes()
    with pytest.raises(StoreTooNewError, match="newer evaltui"):
        Store(db_path)
    assert db_path.read_bytes() == before


def test_older_store_is_migrated_with_data_intact(db_path):
    """A store at m001 (written before output fingerprints) opens at the latest schema."""
    import zlib

    from sqlite_utils import Database

    conn = sqlite3.connect(db_path, isolation_level=None)
    migrations.apply(Database(conn), stop_before="m002_compare_fingerprints")
    assert [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")] == [KNOWN[0]]
    conn.execute(
        "INSERT INTO runs (name, format, imported_at, n_results) VALUES ('old', 'native', '2026-01-01', 1)"
    )
    conn.execute(
        """INSERT INTO cases (suite, case_key, input, attributes) VALUES ('s', 'k', 'hello', '{"risk": "high"}')"""
    )
    conn.execute(
        "INSERT INTO results (run_id, case_id, verdict, output) VALUES (1, 1, 'pass', 'world')"
    )
    conn.close()
    with Store(db_path) as s:
        assert s.applied_migrations() == KNOWN
        assert s.conn.execute(
            "SELECT c.input, r.output, r.output_crc FROM results r JOIN cases c ON c.id = r.case_id"
        ).fetchall() == [("hello", "world", zlib.crc32(b"world"))]
        assert [r.name for r in list_runs(s)] == ["old"]
        assert json.loads(s.conn.execute("SELECT attribute_values FROM runs").fetchone()[0]) == {
            "risk": {"high": 1}
        }


def test_not_a_store_gets_a_clear_error(tmp_path):
    bogus = tmp_path / "x.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not an evaltui store"):
        Store(bogus)


def test_settings_changes_are_logged(store):
    store.set_setting("selection", {"baseline": 1})
    store.set_setting("selection", {"baseline": 2})
    assert store.get_setting("selection") == {"baseline": 2}
    last = store.events()[-1]
    assert (last.before, last.after) == ({"baseline": 1}, {"baseline": 2})


def test_attribute_sets_are_shared_and_stay_bounded(store, monkeypatch):
    """Cases share attr_sets rows; past the id cache's bound the import still links every case."""
    from evaltui.store import rows as rows_module

    monkeypatch.setattr(rows_module, "ATTR_ID_CACHE", 3)

    def recs():
        for i in range(50):
            yield Record.from_models(
                Case(
                    suite="s",
                    case_key=f"k{i}",
                    attributes={"risk": ["low", "high"][i % 2], "n": i % 7},
                ),
                Result(suite="s", case_key=f"k{i}", verdict="pass"),
                location=f"line {i + 1}",
            )

    import_run(store, Run(name="r"), recs())
    assert (
        store.conn.execute("SELECT COUNT(*) FROM attr_sets").fetchone()[0] == 14
    )  # 2 x 7 distinct
    assert (
        store.conn.execute("SELECT COUNT(*) FROM cases WHERE attr_set IS NULL").fetchone()[0] == 0
    )
    linked = store.conn.execute(
        "SELECT COUNT(*) FROM cases c JOIN attr_sets a ON a.id = c.attr_set AND a.attributes = c.attributes"
    ).fetchone()[0]
    assert linked == 50
    assert store.conn.execute("SELECT COUNT(*), SUM(n) FROM run_cases").fetchone() == (50, 50)


def test_attribute_summary_marks_busy_keys_past_the_set_cap(store, monkeypatch):
    """Unique ids in attributes never become a segment dimension, however many cases there are."""
    from evaltui.compare import default_dimensions, run_ref
    from evaltui.store import rows as store_module

    monkeypatch.setattr(store_module, "MAX_ATTRIBUTE_SETS", 20)

    def recs():
        for i in range(200):
            yield Record.from_models(
                Case(
                    suite="s",
                    case_key=f"k{i}",
                    attributes={"risk": ["low", "high"][i % 2], "ticket": f"T-{i}"},
                ),
                Result(suite="s", case_key=f"k{i}", verdict="pass"),
            )

    run_id = import_run(store, Run(name="r"), recs())
    summary = json.loads(store.conn.execute("SELECT attribute_values FROM runs").fetchone()[0])
    assert set(summary["risk"]) == {"low", "high"}
    assert store_module.MANY in summary["ticket"]
    assert default_dimensions([run_ref(store.conn, run_id)]) == ["risk"]
