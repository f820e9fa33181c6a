"""The import reader process (evaltui/service/import_process.py): same store, same errors, nothing lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evaltui import service
from evaltui.errors import InputError
from evaltui.importers import ImportOptions, Progress
from evaltui.models import Run
from evaltui.service import import_process
from evaltui.store import Store
from evaltui.store.runs import import_run, list_runs

from .conftest import DEMO, FIXTURES
from .helpers import line, write_jsonl

# Tables whose rows carry import times or migration times: compared apart.
TIMED = {"runs", "events", "_sqlite_migrations"}


def _import(tmp_path: Path, name: str, src: Path, monkeypatch, process: bool, **kw):
    monkeypatch.setenv("EVALTUI_IMPORT_PROCESS", "1" if process else "0")
    db = tmp_path / f"{name}.db"
    seen: list[tuple[int, int]] = []
    with Store(db) as store:
        progress_of: list[Progress] = []

        def hook(item):
            progress_of.append(item.progress)
            return lambda _n: seen.append((item.progress.done, item.progress.total))

        outcomes = service.import_path(store, src, progress=hook, **kw)
        dump = store.dump()
        runs = store.conn.execute(
            "SELECT name, role, format, sha256, n_cases, n_results, n_passed, n_failed,"
            " n_errored, suites, attribute_values FROM runs ORDER BY id"
        ).fetchall()
    return outcomes, dump, runs, seen


@pytest.mark.parametrize(
    "src",
    [
        DEMO / "candidate.jsonl",
        next((FIXTURES / "inspect_ai" / "baseline").glob("*.eval")),
        FIXTURES / "openai_evals" / "fixture-match_candidate.jsonl",
        next((FIXTURES / "lm_eval" / "fixture-lm").glob("*candidate*/samples_fixture_gen_*.jsonl")),
    ],
    ids=["native", "inspect-eval", "openai-evals", "lm-eval-samples"],
)
def test_reader_process_writes_exactly_what_a_serial_import_writes(tmp_path, monkeypatch, src):
    serial, s_dump, s_runs, s_seen = _import(tmp_path, "serial", src, monkeypatch, process=False)
    piped, p_dump, p_runs, seen = _import(tmp_path, "piped", src, monkeypatch, process=True)
    assert [o.results for o in piped] == [o.results for o in serial]
    assert serial[0].results > 0
    assert p_runs == s_runs  # totals, per-attribute counts, suites
    for table, rows in s_dump.items():
        if table not in TIMED:
            assert p_dump[table] == rows, table
    # progress comes back from the reader as a serial import reports it (bytes, or samples)
    assert seen and seen == s_seen
    assert seen[-1][0] == seen[-1][1] > 0


def test_a_big_native_file_through_the_reader_process(tmp_path, monkeypatch):
    rows = [
        line(f"k{i:05d}", ["pass", "fail", "error"][i % 3], epoch=i % 2,
             attributes={"task": f"t{i % 7}", "risk": "high" if i % 5 == 0 else "low"},
             criteria={"grounded": {"verdict": "pass" if i % 4 else "fail", "score": 0.5}},
             output=f"out {i} [bold]x[/]")
        for i in range(9_000)
    ]  # fmt: skip
    src = write_jsonl(tmp_path / "big.jsonl", rows, {"name": "big", "role": "candidate"})
    _, s_dump, s_runs, _ = _import(tmp_path, "serial", src, monkeypatch, process=False)
    piped, p_dump, p_runs, seen = _import(tmp_path, "piped", src, monkeypatch, process=True)
    assert piped[0].results == 9_000
    assert p_runs == s_runs
    assert {t: r for t, r in p_dump.items() if t not in TIMED} == {
        t: r for t, r in s_dump.items() if t not in TIMED
    }
    assert len(seen) == 5  # 2,000-result batches
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)


def test_a_bad_line_found_by_the_reader_process_is_named_and_nothing_is_written(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("EVALTUI_IMPORT_PROCESS", "1")
    rows = [line(f"k{i}") for i in range(5_000)]
    rows[4_321]["verdict"] = "maybe"
    src = write_jsonl(tmp_path / "bad.jsonl", rows, {"name": "bad"})
    with Store(tmp_path / "s.db") as store:
        service.load_demo(store)
        before = store.dump()
        with pytest.raises(InputError) as err:
            service.import_path(store, src)
        assert store.dump() == before
    assert err.value.path == str(src)
    assert err.value.location == "line 4323"  # header + 1-based
    assert err.value.field == "verdict"
    assert "bad.jsonl, line 4323: field 'verdict'" in err.value.message


def test_a_duplicate_sample_found_after_the_reader_process_rolls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_IMPORT_PROCESS", "1")
    rows = [line(f"k{i}") for i in range(3_000)] + [line("k17")]
    src = write_jsonl(tmp_path / "dup.jsonl", rows)
    with Store(tmp_path / "s.db") as store:
        before = store.dump()
        with pytest.raises(InputError, match=r"duplicate result for case 's/k17' epoch 0"):
            service.import_path(store, src)
        assert store.dump() == before


def test_when_the_reader_process_fails_the_run_is_rolled_back(tmp_path):
    """A reader that dies of something unexpected (here: a folder where a file should be)."""
    with Store(tmp_path / "s.db") as store:
        before = store.dump()
        rows = import_process.rows_from_reader("native", tmp_path, ImportOptions(), 0, Progress())
        with pytest.raises(RuntimeError, match="import reader process failed"):
            import_run(store, Run(name="x", format="native"), [], rows=rows)
        assert store.dump() == before
        assert store.integrity_check() == "ok"


def test_a_script_without_a_main_guard_can_import_through_the_reader_process(tmp_path):
    """The reader is a fresh interpreter: the caller's script is not run again in it
    (multiprocessing's spawn would, and the second run would find the store locked)."""
    import subprocess
    import sys

    script = tmp_path / "load.py"
    script.write_text(
        "from evaltui import service\n"
        "from evaltui.store import Store\n"
        f"with Store({str(tmp_path / 'lib.db')!r}) as store:\n"
        f"    out = service.import_path(store, {str(DEMO / 'candidate.jsonl')!r})\n"
        "print('imported', out[0].results)\n"
    )
    env = {**os.environ, "EVALTUI_IMPORT_PROCESS": "1"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["imported 576"]  # every result of the demo candidate


def test_when_to_use_a_reader_process(tmp_path, monkeypatch):
    small = write_jsonl(tmp_path / "s.jsonl", [line("a")])
    monkeypatch.delenv("EVALTUI_IMPORT_PROCESS", raising=False)
    assert not import_process.worth_it(small)  # too small to pay for the start-up
    monkeypatch.setattr(import_process, "MIN_BYTES", 10)
    assert import_process.worth_it(small) is (len(import_process.os.sched_getaffinity(0)) >= 2)
    monkeypatch.setenv("EVALTUI_IMPORT_PROCESS", "0")
    assert not import_process.worth_it(small)
    monkeypatch.setenv("EVALTUI_IMPORT_PROCESS", "1")
    assert import_process.worth_it(small)
    assert not import_process.worth_it(tmp_path)  # a folder (lm-eval output) is never piped
    from evaltui.importers import get_importer

    assert import_process.handles(get_importer("native"))

    class Plugin:  # an importer registered from outside: the reader could not find it
        name = "plugin"

    assert not import_process.handles(Plugin())


def test_new_stores_use_64k_pages_and_old_ones_keep_theirs(tmp_path, monkeypatch):
    from evaltui.store import store as store_module

    with Store(tmp_path / "new.db") as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 65_536
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 256  # 16 MiB
    monkeypatch.setattr(store_module, "PAGE_SIZE", 4096)  # a store made by an older evaltui
    with Store(tmp_path / "old.db") as store:
        service.load_demo(store)
    monkeypatch.undo()
    with Store(tmp_path / "old.db") as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 4096
        assert len(list_runs(store)) == 3
