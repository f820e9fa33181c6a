"""Never touch a store evaltui did not make: the demo's own store, --fresh that refuses, read
commands that never create, one run per file under concurrent imports, outputs checked first."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.paths import demo_db_path
from evaltui.store import Store
from evaltui.store.runs import AlreadyImported, import_run

from .conftest import DEMO, FIXTURES
from .helpers import line, write_jsonl

EVALTUI = Path(sys.executable).parent / "evaltui"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def user_store(tmp_path) -> Path:
    """A store with a run of the user's own (not the demo's)."""
    path = tmp_path / "user.db"
    src = write_jsonl(
        tmp_path / "mine.jsonl", [line("a"), line("b", "fail")], header={"name": "mine"}
    )
    with Store(path) as store:
        service.import_path(store, src)
    return path


def test_the_demo_never_uses_the_store_evaltui_db_names(user_store, monkeypatch):
    monkeypatch.setenv("EVALTUI_DB", str(user_store))
    before = digest(user_store)
    r = invoke("demo", "--no-open", "--fresh")
    assert r.exit_code == 0, r.output
    assert digest(user_store) == before  # not deleted, not changed
    assert r.output.strip().splitlines()[-1] == str(demo_db_path())
    with Store(demo_db_path()) as demo:
        assert len(service.list_runs(demo)) == 3


def test_demo_fresh_refuses_to_delete_a_store_with_other_runs(user_store):
    before = digest(user_store)
    r = invoke("--db", str(user_store), "demo", "--no-open", "--fresh")
    assert r.exit_code == 3
    assert (
        "holds 1 run(s) that are not the demo's (mine)" in r.output
        and "nothing was deleted" in r.output
    )
    assert digest(user_store) == before


def test_demo_fresh_refuses_a_file_that_is_not_an_evaltui_store(tmp_path):
    other = tmp_path / "other-app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = digest(other)
    r = invoke("--db", str(other), "demo", "--no-open", "--fresh")
    assert r.exit_code == 3 and "not an evaltui demo store" in r.output
    assert digest(other) == before


@pytest.mark.parametrize("content", [b"not sqlite at all\n" * 64, b""], ids=["text", "empty"])
def test_demo_fresh_refuses_a_file_it_cannot_read_as_a_store_and_writes_nothing(tmp_path, content):
    """Read through the store's own door (Store.reader, not migrated): nothing is written
    beside it either (no journal, no WAL), and the file is kept as it was."""
    other = tmp_path / "notes.db"
    other.write_bytes(content)
    r = invoke("--db", str(other), "demo", "--no-open", "--fresh")
    assert r.exit_code == 3, r.output
    said = f"Error: demo --fresh would delete {other}, which is not an evaltui demo store ("
    assert r.output.startswith(said) and r.output.endswith("; nothing was deleted\n")
    assert other.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_demo_fresh_replaces_its_own_store(tmp_path):
    path = tmp_path / "demo.db"
    assert invoke("--db", str(path), "demo", "--no-open").exit_code == 0
    assert invoke("--db", str(path), "label", "1", "2", "billing-001", "--note", "x").exit_code == 0
    assert invoke("--db", str(path), "demo", "--no-open", "--fresh").exit_code == 0
    with Store(path) as store:  # a fresh demo: the label is gone, the demo's notes are back
        notes = [r[0] for r in store.conn.execute("SELECT note FROM findings")]
        assert len(notes) == 9 and "x" not in notes


@pytest.mark.parametrize(
    "args",
    [["runs"], ["compare", "1", "2"], ["findings", "list"], ["cases"], ["decisions"], ["log"],
     ["taxonomy"], ["stale"]],
    ids=lambda a: a[0] if len(a) == 1 else "-".join(a[:2]),
)  # fmt: skip
def test_commands_that_only_read_refuse_a_missing_store(tmp_path, args):
    missing = tmp_path / "typo.db"
    r = invoke("--db", str(missing), *args)
    assert r.exit_code == 3, r.output
    assert r.output == f"Error: no store at {missing}; `evaltui import` creates one\n"
    assert not missing.exists()


def test_commands_that_write_create_the_store_and_say_so(tmp_path):
    new = tmp_path / "new.db"
    r = CliRunner().invoke(cli, ["--db", str(new), "import", str(DEMO / "fallback.jsonl")])
    assert r.exit_code == 0 and f"created a new store at {new}" in r.output and new.exists()


def test_the_same_file_twice_in_one_transaction_is_refused(store, tmp_path):
    src = write_jsonl(tmp_path / "r.jsonl", [line("a")], header={"name": "r"})
    (first,) = service.import_path(store, src)
    from evaltui.importers import ImportOptions, detect, sha256_file

    (item,) = detect(src).read(src, ImportOptions())
    item.run.sha256 = sha256_file(src)
    with pytest.raises(AlreadyImported) as info:
        import_run(store, item.run, item.records, unique=True)
    assert info.value.run_id == first.run_id
    assert store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_concurrent_imports_of_one_file_make_one_run(tmp_path):
    db = tmp_path / "race.db"
    src = write_jsonl(tmp_path / "big.jsonl", [line(f"k{i}", output="o" * 200) for i in range(20_000)],
                      header={"name": "big"})  # fmt: skip
    Store(db).close()
    procs = [
        subprocess.Popen([str(EVALTUI), "--db", str(db), "import", str(src)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    with Store(db) as store:
        assert [r.name for r in service.list_runs(store)] == ["big"]
    said = [o.split(" ", 1)[0] for o, _ in outs]
    assert sorted(said) == ["imported", "skipped", "skipped"], outs


def test_gate_output_paths_are_checked_before_a_decision_is_recorded(demo_store, db_path, tmp_path):
    policy = FIXTURES / "policies" / "support-assistant.toml"
    for bad, message in (
        (tmp_path / "missing" / "d.json", "does not exist"),
        (tmp_path, "is a directory"),
    ):
        r = invoke(
            "--db", str(db_path), "gate", "1", "2", "--policy", str(policy), "--out", str(bad)
        )
        assert r.exit_code == 2 and message in r.output, r.output
    assert demo_store.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
    assert json.loads(invoke("--db", str(db_path), "decisions", "--json").output) == []
