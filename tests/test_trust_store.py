"""The store and the files evaltui opens (#24): no process deletes a store it did not
fill, a store path is checked before anything is made, a full disk is said so, a
tampered store is refused, and every user-given file is a bounded regular file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evaltui.store import Store
from tests.helpers import line, write_jsonl

EVALTUI = Path(sys.executable).parent / "evaltui"

# `evaltui import` with a barrier around service.import_path: the process writes one
# byte to fd READY, then waits for one byte on fd GO (EOF if the test died: no hang).
BARRIER_IMPORT = """
import os, sys
from evaltui import service
from evaltui.cli.app import main
real = service.import_path
where, ready, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def barrier():
    os.write(ready, b"r")
    os.read(go, 1)
def hooked(*args, **kwargs):
    if where == "before":
        barrier()
    try:
        return real(*args, **kwargs)
    finally:
        if where == "after":
            barrier()
service.import_path = hooked
sys.argv = ["evaltui", *sys.argv[4:]]
main()
"""


def run_cli(*args: str, check_code: int | None = 0, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(EVALTUI), *args], capture_output=True, text=True, timeout=120, **kwargs
    )
    if check_code is not None:
        assert done.returncode == check_code, (done.returncode, done.stdout, done.stderr)
    return done


def store_runs(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM runs ORDER BY id")]


@pytest.mark.parametrize(
    ("where", "loser"),
    [("after", "bad"), ("before", "duplicate")],
    ids=["bad-file-fails-after-the-other-commits", "duplicate-of-the-other"],
)
def test_two_imports_into_a_new_store_never_lose_the_good_run(tmp_path, where, loser):
    """Process A makes the store and imports nothing (a bad file, or the file B imports:
    a duplicate); B imports a good run in between, held there by a pipe barrier. The
    good run is always in the store afterwards, however often it is tried."""
    good = write_jsonl(
        tmp_path / "good.jsonl", [line("a"), line("b", "fail")], header={"name": "good"}
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line("a")) + "\n" + '{"case_key": "b", "verdict": "meh"}\n')
    a_file = bad if loser == "bad" else good
    for attempt in range(4):
        db = tmp_path / f"new-{attempt}.db"
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        proc_a = subprocess.Popen(
            [sys.executable, "-c", BARRIER_IMPORT, where, str(ready_w), str(go_r),
             "--db", str(db), "import", str(a_file)],
            pass_fds=(ready_w, go_r), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        os.close(ready_w)
        os.close(go_r)
        try:
            assert os.read(ready_r, 1) == b"r", proc_a.communicate()  # A holds the new store
            assert db.exists()
            done_b = run_cli("--db", str(db), "import", str(good))
            assert "imported" in done_b.stdout and "created a new store" not in done_b.stderr
            os.write(go_w, b"g")
            out_a, err_a = proc_a.communicate(timeout=120)
        finally:
            os.close(ready_r)
            os.close(go_w)
            if proc_a.poll() is None:
                proc_a.kill()
        assert db.exists() and store_runs(db) == ["good"], (attempt, err_a)
        assert proc_a.returncode == (2 if loser == "bad" else 0), (out_a, err_a)
        # A made the file and says so, truthfully; it deleted nothing
        assert f"created a new store at {db}; nothing was imported into it" in err_a


def test_only_the_process_that_made_the_store_file_says_it_created_it(tmp_path):
    db = tmp_path / "s.db"
    first, second = Store(db), Store(db)
    assert (first.created, second.created) == (True, False)
    first.close()
    second.close()
    with Store(db) as again:
        assert not again.created
