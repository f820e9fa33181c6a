"""kill -9 the importer at random points; two sessions and an import on one store at once.

Default sizes fit `make test`; `EVALTUI_LONG=1` kills 50 times (docs/security.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evaltui import service
from evaltui.review import triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store import Store

from .conftest import FIXTURES
from .helpers import line

LONG = bool(os.environ.get("EVALTUI_LONG"))
EVALTUI = Path(sys.executable).parent / "evaltui"


def big_file(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        fh.write(json.dumps({"run": {"name": "big", "suite": "big"}}) + "\n")
        for i in range(n):
            fh.write(
                json.dumps(
                    line(f"k{i:06d}", "pass" if i % 3 else "fail", output="o" * 300, suite="big")
                )
                + "\n"
            )
    return path


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _running(pid: int) -> bool:
    try:  # a zombie nobody reaps (no init in a container) has finished
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("reader_process", "alone"),
    [(False, False), (True, False), (True, True)],
    ids=["serial", "reader-process", "reader-process-alone"],
)
def test_kill_9_during_import_leaves_whole_runs_or_none(tmp_path, reader_process, alone):
    n = 40_000
    src = big_file(tmp_path / "big.jsonl", n)
    db = tmp_path / "store.db"
    with Store(db) as store:  # a store with confirmed triage actions, to keep
        service.load_demo(store)
        sel = service.get_selection(store)
        cid = store.conn.execute("SELECT id FROM cases WHERE case_key = 'refunds-004'").fetchone()[
            0
        ]
        triage.label(store, sel["baseline"], sel["candidate"], cid,
                     failure_class=default_taxonomy().get("unsafe_tool_action"))  # fmt: skip
    rng = random.Random(7)
    kills = 50 if LONG else 6  # half at random delays, half at observed milestones
    outcomes = {"killed_mid_import": 0, "finished_first": 0}
    env = {**os.environ, "EVALTUI_DB": str(db),
           "EVALTUI_IMPORT_PROCESS": "1" if reader_process else "0",
           "EVALTUI_IMPORT_ALONE": "1" if alone else "0"}  # fmt: skip
    orphans_checked = hot_journals = 0
    wal, journal = tmp_path / "store.db-wal", tmp_path / "store.db-journal"

    def writing(since: float) -> bool:
        """The import is inside its transaction: the rollback journal exists (alone), or the
        WAL was written after the import started (pages spill from its transaction)."""
        if alone:
            return journal.exists()
        try:
            return wal.stat().st_mtime_ns > since
        except OSError:
            return False

    for i in range(kills):
        # Kill points: a random delay (anywhere, before the transaction included), and
        # milestones observed from outside, so that every run kills at least once inside the
        # write transaction (and, with a reader process, once it is running) whatever the
        # machine's speed: never a timing guess the assertions below depend on.
        started = time.time_ns()
        proc = subprocess.Popen([str(EVALTUI), "import", str(src), "--force"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if i % 2 == 0:
            time.sleep(rng.uniform(0.05, 1.6))
        else:
            deadline = time.monotonic() + 60
            while (
                proc.poll() is None
                and time.monotonic() < deadline
                and not (writing(started) and (not reader_process or _children(proc.pid)))
            ):
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.05))  # early in the transaction: it lasts about a second
        children = _children(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            outcomes["killed_mid_import"] += 1
        else:
            outcomes["finished_first"] += 1
        proc.wait()
        hot_journals += (tmp_path / "store.db-journal").exists()
        # the reader process (and multiprocessing's helper) never outlive the importer
        deadline = time.monotonic() + 10
        while any(_running(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [c for c in children if _running(c)], "a reader process outlived its importer"
        orphans_checked += len(children)
        with Store(db) as store:  # after a kill alone: the hot journal is rolled back here
            assert store.integrity_check() == "ok"
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            for run_id, n_results in store.conn.execute(
                "SELECT id, n_results FROM runs WHERE name = 'big'"
            ):
                got = store.conn.execute(
                    "SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)
                ).fetchone()[0]
                assert got == n_results == n  # whole, never partial
            assert (
                triage.list_findings(store)[0].class_key == "unsafe_tool_action"
            )  # confirmed action kept
    assert outcomes["killed_mid_import"] >= 1, outcomes
    if reader_process:
        assert orphans_checked >= 1  # the importer did start a reader process
    assert not (tmp_path / "store.db-journal").exists()
    if alone:
        assert hot_journals >= 1  # a kill did land inside an import alone
    print(outcomes, "reader processes watched:", orphans_checked, "hot journals:", hot_journals)


def test_two_sessions_and_an_import_at_once(tmp_path):
    """Two reviewers label while a CLI import runs: serialized, nothing lost, no raw lock error."""
    db = tmp_path / "store.db"
    with Store(db) as store:
        service.load_demo(store)
        sel = service.get_selection(store)
        keys = [r[0] for r in store.conn.execute("SELECT id FROM cases ORDER BY id LIMIT 60")]
    src = big_file(tmp_path / "big.jsonl", 30_000)
    env = {**os.environ, "EVALTUI_DB": str(db)}
    importer = subprocess.Popen(
        [str(EVALTUI), "import", str(src)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[BaseException] = []
    tax = default_taxonomy()

    def reviewer(name: str, case_ids: list[int]) -> None:
        try:
            with Store(db) as store:  # each session its own connection
                for i, cid in enumerate(case_ids):
                    triage.label(store, sel["baseline"], sel["candidate"], cid,
                                 failure_class=tax.active[i % 9], reviewer=name)  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(f"rev{i}", keys[i::2])) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _out, err = importer.communicate(timeout=120)
    assert errors == []
    assert importer.returncode == 0, err
    assert "locked" not in err.lower()
    with Store(db) as store:
        rows = store.conn.execute(
            "SELECT reviewer, COUNT(*) FROM findings GROUP BY reviewer"
        ).fetchall()
        assert dict(rows) == {"rev0": 30, "rev1": 30}
        assert (
            store.conn.execute("SELECT n_results FROM runs WHERE name = 'big'").fetchone()[0]
            == 30_000
        )
        assert store.integrity_check() == "ok"


async def test_an_app_sees_another_sessions_changes_when_it_refreshes(demo_store, db_path):
    from textual.widgets import DataTable

    from evaltui.tui.app import EvaltuiApp

    from .tui.test_compare_screen import open_compare, settle

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        first = screen.current
        sel = service.get_selection(demo_store)
        # another session (its own connection) labels the case on screen, and imports a run
        with Store(db_path) as other:
            triage.label(other, sel["baseline"], sel["candidate"], first.case_id,
                         failure_class=default_taxonomy().get("wrong_source"), reviewer="other")  # fmt: skip
        await pilot.press("j", "k")  # stepping reads the row again
        await settle(app, pilot)
        assert screen.current.triage_class == "wrong_source"
        await pilot.press("escape")
        await settle(app, pilot)
        service.import_path(demo_store, FIXTURES / "promptfoo" / "candidate.json")
        await pilot.press("r")  # refresh the runs screen
        await settle(app, pilot)
        assert app.screen.query_one(DataTable).row_count == 4
