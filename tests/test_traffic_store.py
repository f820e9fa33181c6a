"""Traffic weights kept in the store (#28): `evaltui traffic import / show / use`, kept whole
with their hash and provenance, append-only, one event per change; a bad file changes
nothing (not even by making a store)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.errors import InputError, StoreError
from evaltui.estimate.traffic import read_traffic
from evaltui.store import Store
from evaltui.store import traffic as traffic_store

GOOD = (
    "# Traffic for the December release\n"
    "# period: 2026-11-01/2026-11-30\n"
    "# source: gateway request logs\n"
    "task,risk,count\n"
    "billing,low,600\n"
    "billing,high,100\n"
    "refunds,low,300\n"
)


def run(db: Path, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(cli, ["--db", str(db), *args])
    return done.exit_code, done.output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def traffic_file(tmp_path: Path) -> Path:
    path = tmp_path / "december.csv"
    path.write_text(GOOD)
    return path


def test_import_keeps_the_file_whole_with_its_hash_and_puts_it_in_force(db_path, traffic_file):
    code, out = run(db_path, "traffic", "import", str(traffic_file))
    assert code == 0, out
    sha = hashlib.sha256(traffic_file.read_bytes()).hexdigest()
    assert "traffic weights december #1 kept and in force: 3 cells by task x risk" in out
    assert sha[:12] in out
    code, out = run(db_path, "traffic", "--json")
    (row,) = json.loads(out)
    assert row["sha256"] == sha and row["in_force"] and row["cells"] == 3
    assert (row["name"], row["kind"], row["period"]) == (
        "december",
        "count",
        "2026-11-01/2026-11-30",
    )
    assert row["source"] == "gateway request logs" and row["source_path"] == str(traffic_file)
    code, out = run(db_path, "traffic", "show", "--json")
    shown = json.loads(out)
    assert [(c["task"], c["risk"], c["count"], c["share"]) for c in shown["cells"]] == [
        ("billing", "low", 600, 0.6), ("billing", "high", 100, 0.1), ("refunds", "low", 300, 0.3)
    ]  # fmt: skip
    # the kept bytes are the file's: parsed again, the same weights
    with Store(db_path) as store:
        kept = traffic_store.in_force(store)
        assert kept is not None
        assert traffic_store.weights(store, kept) == read_traffic(traffic_file)
        events = store.conn.execute(
            "SELECT action, entity, entity_id FROM events ORDER BY id"
        ).fetchall()
    assert events == [("traffic.import", "traffic", "1"), ("traffic.use", "traffic", "1")]
    code, out = run(db_path, "log")
    assert code == 0 and out.count("traffic weights #1") == 2


def test_the_same_bytes_are_kept_once_and_a_new_version_takes_over(db_path, traffic_file):
    assert run(db_path, "traffic", "import", str(traffic_file))[0] == 0
    code, out = run(db_path, "traffic", "import", str(traffic_file))
    assert code == 0 and "december #1 already kept and in force" in out
    traffic_file.write_text(GOOD.replace("300", "310"))
    code, out = run(db_path, "traffic", "import", str(traffic_file))
    assert code == 0 and "december #2 kept and in force" in out
    with Store(db_path) as store:
        assert [k.id for k in traffic_store.listing(store)] == [1, 2]
        assert traffic_store.resolve(store, "december").id == 2  # a name: its latest
        assert traffic_store.resolve(store, "#1").id == 1
    code, out = run(db_path, "traffic", "use", "#1")
    assert (code, out.strip()) == (0, "in force: december #1")
    code, out = run(db_path, "traffic", "use", "none")
    assert (code, out.strip()) == (0, "no traffic weights in force")
    code, out = run(db_path, "traffic")
    assert "none in force" in out and "*" not in out
    code, out = run(db_path, "traffic", "use", "decembre")
    assert code == 4 and "did you mean 'december'?" in out


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (GOOD.replace("600", "six hundred"), "line 5: field 'count': 'six hundred' is not"),
        (GOOD.replace("# period: 2026-11-01/2026-11-30\n", ""), "field 'period': say which"),
        (GOOD.replace("refunds,low,300", "billing,low,30"), "line 7: field 'task': the same"),
        ("\xff\xfe".encode("latin-1").decode("latin-1"), "not UTF-8"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_line_and_field_and_changes_nothing(
    db_path, tmp_path, traffic_file, text, where
):
    assert run(db_path, "traffic", "import", str(traffic_file))[0] == 0
    before = digest(db_path)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    code, out = run(db_path, "traffic", "import", str(bad))
    assert code == 2, out
    (line,) = out.strip().splitlines()
    assert line.startswith(f"Error: {bad}") and where in line, line
    assert digest(db_path) == before


def test_a_bad_file_or_name_makes_no_store(tmp_path, traffic_file):
    db = tmp_path / "new.db"
    bad = tmp_path / "bad.csv"
    bad.write_text("task,count\n")
    assert run(db, "traffic", "import", str(bad))[0] == 2
    code, out = run(db, "traffic", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and out.startswith("Error: ") and len(out.strip().splitlines()) == 1
    code, out = run(db, "traffic", "import", str(traffic_file), "--name", "bad name!")
    assert code == 2 and "not a usable name" in out
    assert not db.exists()


def test_kept_weights_are_append_only_and_checked_against_their_hash(db_path, traffic_file):
    assert run(db_path, "traffic", "import", str(traffic_file))[0] == 0
    with closing(sqlite3.connect(db_path)) as conn:
        for sql in ("UPDATE traffic_weights SET source = 'x'", "DELETE FROM traffic_weights"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        # someone holding the file edits the bytes, trigger and all
        conn.execute("DROP TRIGGER traffic_weights_no_update")
        conn.execute(
            "UPDATE traffic_weights SET data = CAST(replace(CAST(data AS TEXT), '600', '900') AS BLOB)"
        )
        conn.execute(
            "CREATE TRIGGER traffic_weights_no_update BEFORE UPDATE ON traffic_weights "
            "BEGIN SELECT RAISE(ABORT, 'traffic weights are append-only'); END"
        )
        conn.commit()
    with Store(db_path) as store:
        kept = traffic_store.in_force(store)
        assert kept is not None
        with pytest.raises(StoreError, match="do not match their SHA-256"):
            traffic_store.weights(store, kept)


def test_names_are_checked(tmp_path):
    for bad in ("", "none", "a b", "-x", "x" * 81, "a\x1b[31m"):
        with pytest.raises(InputError, match="not a usable name"):
            traffic_store.check_name(bad)
    assert traffic_store.default_name(tmp_path / "Dec traffic (final).csv") == "Dec-traffic-final"
