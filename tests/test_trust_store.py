"""The store and the files evaltui opens (#24): no process deletes a store it did not
fill, a store path is checked before anything is made, a full disk is said so, a
tampered store is refused, and every user-given file is a bounded regular file."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import files
from evaltui.cli import cli
from evaltui.errors import InputError, StoreTamperedError
from evaltui.review import taxonomy
from evaltui.store import Store
from evaltui.store.events import chain_hash
from evaltui.store.runs import list_runs
from evaltui.store.schema import SCHEMA_OBJECTS
from evaltui.views import view_state
from tests.conftest import DEMO
from tests.helpers import line, write_jsonl

EVALTUI = Path(sys.executable).parent / "evaltui"

# `evaltui import` held at one point by a pipe barrier: the process writes one byte to fd
# READY, then waits for one byte on fd GO (EOF if the test died: no hang). WHERE: before or
# after its NTH call of service.import_path, or just before or after the os.link that
# publishes a new store (guard.publish; the probe link of guard.make_private is not held).
BARRIER_IMPORT = """
import os, sys
import signal
# Ctrl+C as at a terminal, whatever the runner left (a background job ignores SIGINT)
signal.signal(signal.SIGINT, signal.default_int_handler)
from evaltui import service
from evaltui.cli.app import main
where, nth, ready, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
real_import, real_link, calls = service.import_path, os.link, [0]
def barrier():
    os.write(ready, b"r")
    os.read(go, 1)
def hooked(*args, **kwargs):
    calls[0] += 1
    if where == "before" and calls[0] == nth:
        barrier()
    try:
        return real_import(*args, **kwargs)
    finally:
        if where == "after" and calls[0] == nth:
            barrier()
def link(src, dst, **kwargs):
    publishing = not str(dst).endswith(".link")
    if where == "link" and publishing:
        barrier()
    try:
        return real_link(src, dst, **kwargs)
    finally:
        if where == "linked" and publishing:
            barrier()
service.import_path = hooked
os.link = link
sys.argv = ["evaltui", *sys.argv[5:]]
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


def private_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.new-*"))


def held(db: Path, where: str, *files: Path, nth: int = 1, during=None, send: int = 0):
    """`evaltui --db DB import FILES` held at `where` (BARRIER_IMPORT); `during(db)` is
    called while it is held; then it is released, or sent the signal `send`. Returns (its
    exit code, stdout, stderr, what `during` returned)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", BARRIER_IMPORT, where, str(nth), str(ready_w), str(go_r),
         "--db", str(db), "import", *map(str, files)],
        pass_fds=(ready_w, go_r), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(ready_w)
    os.close(go_r)
    try:
        assert os.read(ready_r, 1) == b"r", proc.communicate()  # it is held
        seen = during(db) if during else None
        if send:
            proc.send_signal(send)
        else:
            os.write(go_w, b"g")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(ready_r)
        os.close(go_w)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err, seen


@pytest.fixture
def runs_files(tmp_path):
    good = write_jsonl(
        tmp_path / "good.jsonl", [line("a"), line("b", "fail")], header={"name": "good"}
    )
    other = write_jsonl(tmp_path / "other.jsonl", [line("a", "fail")], header={"name": "other"})
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line("a")) + "\n" + '{"case_key": "b", "verdict": "meh"}\n')
    return {"good": good, "other": other, "bad": bad, "duplicate": good}


# (A's file, where A is held while B imports good.jsonl into the same fresh path)
RACES = [
    ("bad", "before"), ("bad", "after"),
    ("duplicate", "before"), ("duplicate", "after"), ("duplicate", "link"),
    ("other", "before"), ("other", "after"), ("other", "link"), ("other", "linked"),
]  # fmt: skip


@pytest.mark.parametrize(("a_file", "where"), RACES, ids=[f"{a}-{w}" for a, w in RACES])
def test_two_imports_into_a_new_store_keep_every_good_run(tmp_path, runs_files, a_file, where):
    """Process A imports into a path where no store is, held by a pipe barrier at a point
    of the race (its private store made and empty, imported, about to publish, just
    published) while B imports good.jsonl into the same path. Every good run is in the
    store afterwards, a bad file leaves one line and nothing else, each process says it
    created the store only when it published it, and no private file is left."""
    db = tmp_path / "new.db"

    def b_imports(db: Path) -> subprocess.CompletedProcess[str]:
        # A's store appears at the path only once A published it
        assert db.exists() == (where == "linked") and private_files(tmp_path), where
        return run_cli("--db", str(db), "import", str(runs_files["good"]))

    code, out, err, done_b = held(db, where, runs_files[a_file], during=b_imports)
    assert "imported" in done_b.stdout and done_b.stderr.count("\n") == (where != "linked")
    b_made_it = f"created a new store at {db}\n" in done_b.stderr
    assert b_made_it == (where != "linked")
    expected = {"bad": ["good"], "duplicate": ["good"], "other": ["good", "other"]}[a_file]
    if where == "linked":
        expected = ["other", "good"]
    assert store_runs(db) == expected, (out, err)
    assert private_files(tmp_path) == []
    if a_file == "bad":
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"Error: {runs_files['bad']}, line 2: ")
    else:
        assert code == 0, err
        assert ("created a new store" in err) == (where == "linked"), err
        said = "skipped" if a_file == "duplicate" else "imported"
        assert out.startswith(f"{said} {runs_files[a_file]}") and out.count("\n") == 1, out


def test_a_failed_import_into_a_new_path_leaves_no_file_and_one_line(tmp_path, runs_files):
    db = tmp_path / "new.db"
    for args in ([runs_files["bad"]], [runs_files["bad"], tmp_path / "missing.jsonl"]):
        done = run_cli("--db", str(db), "import", *map(str, args), check_code=2)
        lines = done.stderr.splitlines()
        assert all(x.startswith("Error: ") for x in lines[: len(args)]), done.stderr
        assert len(lines) == (1 if len(args) == 1 else 3)  # + "0 run(s) imported from 2..."
        assert "created" not in done.stderr and done.stdout == ""
        assert sorted(os.listdir(tmp_path)) == ["bad.jsonl", "good.jsonl", "other.jsonl"]
    # a run that went in makes the store, even when another file failed
    done = run_cli("--db", str(db), "import", str(runs_files["bad"]), str(runs_files["good"]),
                   check_code=2)  # fmt: skip
    assert done.stderr.endswith(f"created a new store at {db}\n") and store_runs(db) == ["good"]
    assert private_files(tmp_path) == []


def test_a_new_store_is_published_whole_as_a_store_made_in_place(tmp_path, runs_files):
    """The published file is what a store opened at its path is: WAL recorded in its
    header, 64 KiB pages, no -wal/-shm/-journal beside it, and no name of the private file
    anywhere in it. A large import (Store.alone, the reader process) goes the same way."""
    made_in_place = tmp_path / "in-place.db"
    Store(made_in_place).close()
    env = {**os.environ, "EVALTUI_IMPORT_ALONE": "1", "EVALTUI_IMPORT_PROCESS": "1"}
    for name, extra in (("plain.db", {}), ("large.db", env)):
        db = tmp_path / name
        done = run_cli(
            "--db", str(db), "import", str(runs_files["good"]), **({"env": extra} if extra else {})
        )
        assert done.stderr == f"created a new store at {db}\n"
        assert sorted(p.name for p in tmp_path.glob(f"{name}*")) == [name]
        assert private_files(tmp_path) == []
        header = db.read_bytes()[16:20]
        assert header == made_in_place.read_bytes()[16:20] == b"\x00\x01\x02\x02"  # 64 KiB, WAL
        assert b".new-" not in db.read_bytes() and f".{name}".encode() not in db.read_bytes()
        with Store(db) as store:
            assert store.integrity_check() == "ok" and not store.created
            assert [r.name for r in list_runs(store)] == ["good"]
            assert store.verify_chain() == []


def test_a_kill_mid_import_into_a_new_path_leaves_nothing_at_the_path(tmp_path, runs_files):
    """SIGKILL while the new store is being built (one run committed in it, the next being
    imported; or all in, about to publish): nothing at the path. The private file left is
    never read as the store, is named by the next import, and is not deleted by it."""
    db = tmp_path / "new.db"
    files = (runs_files["good"], runs_files["other"])
    for where, nth in (("before", 2), ("link", 1)):
        code, *_ = held(db, where, *files, nth=nth, send=signal.SIGKILL)
        assert code == -9 and not os.path.lexists(db)
    left = [n for n in private_files(tmp_path) if n.endswith(tuple("0123456789abcdef"))]
    assert len(left) == 2, private_files(tmp_path)
    done = run_cli("--db", str(db), "import", str(runs_files["bad"]), check_code=2)
    assert done.stderr.count("\n") == 1 and not os.path.lexists(db)  # a refusal stays one line
    done = run_cli("--db", str(db), "import", str(runs_files["other"]))
    assert store_runs(db) == ["other"]  # a new store: nothing of the killed imports in it
    assert f"created a new store at {db}\n" in done.stderr
    assert all(n in done.stderr for n in left) and "may be deleted" in done.stderr
    assert set(left) <= set(private_files(tmp_path))  # not deleted: evaltui did not make them here


@pytest.mark.parametrize(("where", "nth"), [("before", 2), ("after", 2), ("link", 1)])
def test_ctrl_c_mid_import_into_a_new_path_leaves_no_file_at_all(tmp_path, runs_files, where, nth):
    db = tmp_path / "new.db"
    code, out, err, _ = held(
        db, where, runs_files["good"], runs_files["other"], nth=nth, send=signal.SIGINT
    )
    assert code == 130 and "no store was made" in err and "created" not in err and out == "", (
        out,
        err,
    )
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl", "good.jsonl", "other.jsonl"]


def test_a_private_file_of_an_import_under_way_is_not_called_left_over(tmp_path, runs_files):
    db = tmp_path / "new.db"

    def other_import(db: Path) -> str:
        return run_cli("--db", str(db), "import", str(runs_files["other"])).stderr

    code, _, _, said = held(db, "before", runs_files["good"], during=other_import)
    # the held process is alive: its private file is its own, not a leftover to name
    assert said == f"created a new store at {db}\n" and code == 0
    assert store_runs(db) == ["other", "good"] and private_files(tmp_path) == []


def test_where_hard_links_fail_a_new_store_is_made_in_place_and_kept(tmp_path, runs_files):
    """A file system without hard links (vfat, some network shares): the old way, the
    store made at its path with O_EXCL and never deleted, even when nothing went in."""
    db = tmp_path / "new.db"
    no_links = "import os, sys\ndef link(*a, **k):\n    raise PermissionError(1, 'Operation not permitted')\nos.link = link\nfrom evaltui.cli.app import main\nsys.argv = ['evaltui', *sys.argv[1:]]\nmain()\n"
    done = subprocess.run([sys.executable, "-c", no_links, "--db", str(db), "import",
                           str(runs_files["bad"])], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.splitlines()[1:] == [
        f"created a new store at {db}; nothing was imported into it"
    ]
    assert store_runs(db) == [] and private_files(tmp_path) == []
    done = subprocess.run([sys.executable, "-c", no_links, "--db", str(tmp_path / "b.db"),
                           "import", str(runs_files["good"])], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and store_runs(tmp_path / "b.db") == ["good"]
    assert private_files(tmp_path) == []


def test_only_the_process_that_made_the_store_file_says_it_created_it(tmp_path):
    db = tmp_path / "s.db"
    first, second = Store(db), Store(db)
    assert (first.created, second.created) == (True, False)
    first.close()
    second.close()
    with Store(db) as again:
        assert not again.created


# -- the store path ------------------------------------------------------------


@pytest.mark.parametrize("command", [["import", "GOOD"], ["runs"], ["demo", "--no-open"], []])
@pytest.mark.parametrize("under", ["file/x.db", "file/deeper/x.db"])
def test_a_store_under_a_regular_file_is_one_line_exit_2(tmp_path, command, under):
    (tmp_path / "file").write_text("a regular file\n")
    good = write_jsonl(tmp_path / "good.jsonl", [line("a")])
    db = tmp_path / under
    args = [str(good) if a == "GOOD" else a for a in command]
    done = run_cli("--db", str(db), *args, check_code=2)
    assert done.stderr == (
        f"Error: {db}: cannot be a store: {tmp_path / 'file'} is a file, not a directory\n"
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert (tmp_path / "file").read_text() == "a regular file\n"


@pytest.mark.parametrize("via", ["option", "env"])
def test_a_write_command_with_a_mistyped_db_creates_no_directory(tmp_path, via):
    good = write_jsonl(tmp_path / "good.jsonl", [line("a")])
    db = tmp_path / "typo" / "sub" / "x.db"
    env = {**os.environ, "EVALTUI_DB": str(db)}
    args = ["--db", str(db)] if via == "option" else []
    for command in (["import", str(good)], ["demo", "--no-open"] if via == "option" else ["runs"]):
        done = run_cli(*args, *command, check_code=2, env=env)
        assert done.stderr == (
            f"Error: {db}: cannot be a store: the directory {db.parent} does not exist "
            "(evaltui does not create it: check the path, or create the directory first)\n"
        )
    assert not (tmp_path / "typo").exists()


def test_the_default_store_location_is_still_made_on_first_use(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EVALTUI_DB"}
    good = write_jsonl(tmp_path / "good.jsonl", [line("a")], header={"name": "r"})
    done = run_cli("import", str(good), env=env)
    default = tmp_path / "xdg-data" / "evaltui" / "evaltui.db"
    assert f"created a new store at {default}" in done.stderr
    assert store_runs(default) == ["r"]


# -- a full disk ---------------------------------------------------------------


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, read without writing a byte."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {
            t: sorted(conn.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in tables
        }


def big_run(path: Path, n: int = 4000) -> Path:
    return write_jsonl(
        path, [line(f"c{i}", output="o" * 2000) for i in range(n)], header={"name": "big"}
    )


def limited(max_bytes: int):
    """preexec_fn: files this process writes stop at `max_bytes` (EFBIG, as on a full
    disk), with SIGXFSZ ignored so the write fails instead of killing the process."""
    import resource
    import signal

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def test_a_full_disk_during_an_import_is_said_so_and_changes_nothing(tmp_path):
    db = tmp_path / "s.db"
    run_cli("--db", str(db), "import", str(write_jsonl(tmp_path / "small.jsonl", [line("a")])))
    before = snapshot(db)
    budget = max(p.stat().st_size for p in tmp_path.glob("s.db*")) + (1 << 20)
    done = run_cli("--db", str(db), "import", str(big_run(tmp_path / "big.jsonl")),
                   check_code=3, preexec_fn=limited(budget))  # fmt: skip
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        f"Error: The store {db} could not be written: the file size limit"
    )
    assert "nothing was changed" in done.stderr and "not an evaltui store" not in done.stderr
    assert snapshot(db) == before
    run_cli("--db", str(db), "import", str(tmp_path / "big.jsonl"))  # room again: it goes in


def test_a_full_disk_while_making_a_new_store_is_not_called_a_foreign_file(tmp_path):
    db = tmp_path / "new.db"
    good = write_jsonl(tmp_path / "good.jsonl", [line("a")])
    done = run_cli("--db", str(db), "import", str(good), check_code=3, preexec_fn=limited(40_000))
    assert done.stderr.startswith(
        f"Error: The store {db} could not be written: the file size limit"
    )
    assert "not an evaltui store" not in done.stderr and done.stderr.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["good.jsonl"]  # nothing left: not even its name
    run_cli("--db", str(db), "import", str(good))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_file_system_is_sqlite_full(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    # 16 MiB: a new store and its WAL take about 6 MiB (64 KiB pages, a page per table and index)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = mnt / "s.db"
        run_cli("--db", str(db), "import", str(write_jsonl(tmp_path / "small.jsonl", [line("a")])))
        before = snapshot(db)
        done = run_cli("--db", str(db), "import", str(big_run(tmp_path / "big.jsonl", 12000)),
                       check_code=3)  # fmt: skip
        assert done.stderr == (
            f"Error: The store {db} could not be written: the disk is full (SQLITE_FULL); "
            "nothing was changed. Free some space and try again.\n"
        )
        assert snapshot(db) == before
    finally:
        subprocess.run(
            ["umount", "-l", str(mnt)], check=False
        )  # lazy: an open handle must not leave it mounted


# -- a tampered store ------------------------------------------------------------

APPEND_ONLY = sorted(n for n in SCHEMA_OBJECTS if n.endswith(("_no_update", "_no_delete")))
POLICY = Path(__file__).parent.parent / "fixtures" / "policies" / "support-assistant.toml"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("trigger", APPEND_ONLY)
def test_a_store_whose_append_only_trigger_was_dropped_is_refused(demo_store, db_path, trigger):
    demo_store.close()
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute(f"DROP TRIGGER {trigger}")
    before = digest(db_path)
    with pytest.raises(StoreTamperedError, match=f"append-only trigger {trigger} was dropped"):
        Store(db_path)
    for command in (["runs"], ["import", str(DEMO / "production.jsonl"), "--force"], ["log"]):
        done = CliRunner().invoke(cli, ["--db", str(db_path), *command])
        assert done.exit_code == 3, (command, done.output)
        assert done.output.startswith(f"Error: {db_path} was changed outside evaltui: its ")
        assert "The store is refused (it was not changed)" in done.output
    assert digest(db_path) == before
    # the command that looks for tampering examines it, and says what it found
    done = CliRunner().invoke(cli, ["--db", str(db_path), "log", "--verify"])
    assert done.exit_code == 5
    assert f"the append-only trigger {trigger} was dropped outside evaltui" in done.output
    # and only while it looks: the next command refuses it again
    assert CliRunner().invoke(cli, ["--db", str(db_path), "runs"]).exit_code == 3


def rewrite_event(db: Path, event_id: int, **changes: str) -> None:
    """A forger holding the file: edits one event, recomputes the chain from there on,
    and puts the trigger back, so every link agrees and the store opens."""
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        sets = ", ".join(f"{k} = ?" for k in changes)
        conn.execute(f"UPDATE events SET {sets} WHERE id = ?", (*changes.values(), event_id))
        prev = conn.execute("SELECT hash FROM events WHERE id = ?", (event_id - 1,)).fetchone()
        prev = prev[0] if prev else ""
        cols = "id, at, actor, action, entity, entity_id, before, after, context"
        for row in conn.execute(
            f"SELECT {cols} FROM events WHERE id >= ? ORDER BY id", (event_id,)
        ).fetchall():
            prev = chain_hash(prev, tuple(row))
            conn.execute("UPDATE events SET hash = ? WHERE id = ?", (prev, row[0]))
        conn.execute(SCHEMA_OBJECTS["events_no_update"])


def gate_out(db: Path, out: Path) -> Path:
    done = CliRunner().invoke(
        cli, ["--db", str(db), "gate", "1", "2", "--policy", str(POLICY), "--out", str(out)]
    )
    assert done.exit_code == 12, done.output
    return out


def decision_events(db: Path) -> list[int]:
    with closing(sqlite3.connect(db)) as conn:
        return [
            r[0]
            for r in conn.execute("SELECT id FROM events WHERE action = 'decision' ORDER BY id")
        ]


def test_an_event_edited_under_a_recomputed_chain_is_named_not_called_deleted(
    demo_store, db_path, tmp_path
):
    demo_store.close()
    first = gate_out(db_path, tmp_path / "d1.json")
    second = gate_out(db_path, tmp_path / "d2.json")  # made right after: its head is d1's event
    d1_event, d2_event = decision_events(db_path)
    assert d2_event == d1_event + 1
    run = lambda *a: CliRunner().invoke(cli, ["--db", str(db_path), *a])  # noqa: E731
    assert run("log", "--verify").exit_code == 0
    # the event that logged decision 1 is edited (its content hash made another's)
    rewrite_event(db_path, d1_event, after='{"content_hash":"forged","decision":"ship"}')
    named = f"event {d1_event} (decision, "
    for args in (("log", "--verify"), ("verify", str(second))):
        done = run(*args)
        assert done.exit_code == 5, (args, done.output)
        assert named in done.output and "was edited after decision 2 was made" in done.output
        assert "chain recomputed" in done.output and "deleted" not in done.output
    # an import event before decision 1: only the range can be named (no head before it)
    rewrite_event(db_path, 1, actor="someone-else")
    done = run("verify", str(first))
    assert done.exit_code == 5 and "deleted" not in done.output
    assert f"one of events 1 to {d1_event - 1} was edited after decision 1 was made" in done.output
    done = run("log", "--verify")
    assert f"one of events 1 to {d1_event - 1} was edited after decision 1" in done.output
    assert "the heads 1 other kept decision(s) recorded are gone as well" in done.output


# -- files a user names: regular, bounded, read once -------------------------------


def hostile_file(tmp_path: Path, kind: str) -> Path:
    """A path that is not a small regular file: a FIFO nobody writes to, a device, a
    folder, a 3 GB (sparse) file."""
    path = tmp_path / f"{kind}.input"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        with path.open("wb") as fh:
            fh.truncate(3 << 30)
    return path


SAYS = {
    "fifo": "is not a regular file: it is a named pipe (FIFO)",
    "device": "is not a regular file: it is a device",
    "folder": "is not a regular file: it is a folder",
    "huge": "is larger than",
}


@pytest.mark.parametrize("kind", list(SAYS))
def test_read_regular_refuses_before_reading(tmp_path, kind):
    path = hostile_file(tmp_path, kind)
    with pytest.raises(InputError) as info:
        files.read_regular(path, "thing", 1 << 20)  # returns at once: no block, no read
    assert info.value.path == str(path) and f"the thing {SAYS[kind]}" in info.value.message


def test_read_regular_reads_the_bytes_once_and_bounded(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 100)
    assert files.read_regular(path, "thing", 100) == b"x" * 100
    with pytest.raises(InputError, match="larger than 99 bytes"):
        files.read_regular(path, "thing", 99)
    monkeypatch.setenv("EVALTUI_MAX_SMALL_FILE_BYTES", "50")  # the documented override
    with pytest.raises(InputError, match="larger than 50 bytes"):
        files.read_regular(path, "thing")
    link = tmp_path / "link.txt"
    link.symlink_to(path)
    with pytest.raises(InputError, match="symbolic link"):
        files.open_regular(link, "thing", follow=False)
    done = subprocess.run(
        [sys.executable, "-c", "from evaltui import files; import sys; "
         "sys.stdout.write(files.read_regular('-', 'thing', 10, stdin=True).decode())"],
        input="from stdin", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout == "from stdin"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_given_to_import_is_refused_without_hanging(tmp_path, kind):
    path = hostile_file(tmp_path, kind)
    done = run_cli("--db", str(tmp_path / "s.db"), "import", str(path), check_code=2)
    assert done.stderr.startswith(f"Error: {path}: the results file {SAYS[kind]}\n")


@pytest.mark.parametrize("kind", list(SAYS))
def test_a_config_that_is_not_a_small_regular_file_stops_the_app_at_once(
    demo_store, db_path, tmp_path, kind
):
    demo_store.close()
    path = hostile_file(tmp_path, kind)
    env = {**os.environ, "EVALTUI_CONFIG": str(path)}
    done = run_cli("--db", str(db_path), check_code=2, env=env, stdin=subprocess.DEVNULL)
    assert done.stderr == f"Error: {path}: the config file {SAYS[kind]}" + (
        " 65,536 bytes (3,221,225,472)\n" if kind == "huge" else "\n"
    )


@pytest.mark.parametrize(
    ("keys", "twice"), [("j,j", "j"), ("down, j ,down", "down"), ("ctrl+n,x,ctrl+n", "ctrl+n")]
)
def test_a_keymap_listing_a_key_twice_is_one_line_naming_file_line_and_field(
    demo_store, db_path, tmp_path, keys, twice
):
    demo_store.close()
    path = tmp_path / "config.toml"
    path.write_text(f'theme = "textual-dark"\n[keymap]\n"compare.next" = "{keys}"\n')
    done = CliRunner().invoke(cli, ["--db", str(db_path)], env={"EVALTUI_CONFIG": str(path)})
    assert done.exit_code == 2
    assert done.output == (
        f"Error: {path}:3: compare.next: key '{twice}' is listed twice; list each key once\n"
    )


# -- a saved view row that is not a view ---------------------------------------------

BAD_VIEWS = {
    "not-json": ("{position: 4,", "Expecting property name"),
    "deeply-nested": ("[" * 50_000 + "]" * 50_000, "more than 65,536"),  # 100 KB: over the limit
    "nested-within-the-limit": (
        '{"changes": ' + "[" * 5_000 + "]" * 5_000 + "}",
        "nested too deeply",
    ),
    "huge": ('{"search": "' + "x" * (1 << 20) + '"}', "characters long, more than 65,536"),
    "not-an-object": ('"regressed"', "valid dictionary"),
}


def write_view_row(db: Path, text: str) -> str:
    name = view_state.key(1, 2, 3, "tester")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (name, text))
    return name


@pytest.mark.parametrize("kind", list(BAD_VIEWS))
def test_a_saved_view_row_that_is_not_a_view_is_refused_naming_the_setting(
    demo_store, db_path, kind
):
    text, says = BAD_VIEWS[kind]
    name = write_view_row(db_path, text)
    with pytest.raises(InputError) as info:
        view_state.load(demo_store, 1, 2, 3)
    assert info.value.path == f"setting {name}" and says in info.value.message, info.value.message
    # and saving a good view over it works (the app does on leaving the comparison)
    view_state.save(demo_store, 1, 2, 3, view_state.ViewState(position=3))
    assert view_state.load(demo_store, 1, 2, 3).position == 3


@pytest.mark.parametrize("kind", ["not-json", "nested-within-the-limit"])
async def test_the_app_says_a_broken_saved_view_was_not_applied(demo_store, db_path, kind):
    from evaltui.tui.app import EvaltuiApp
    from tests.tui.test_compare_screen import open_compare, settle

    write_view_row(db_path, BAD_VIEWS[kind][0])
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        assert screen.position == 1
        said = [n.message for n in app._notifications]
        assert any("saved view was not applied" in m and BAD_VIEWS[kind][1] in m for m in said), (
            said
        )


def test_an_unreadable_setting_elsewhere_is_a_store_error_naming_it(demo_store, db_path):
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("INSERT OR REPLACE INTO settings VALUES (?, '{not json')", (taxonomy.SETTING,))
    done = CliRunner().invoke(cli, ["--db", str(db_path), "taxonomy"])
    assert done.exit_code == 3, done.output
    assert done.output.startswith(
        f"Error: the setting {taxonomy.SETTING} in {db_path} is unreadable: "
    )


# -- an output that cannot write every character -------------------------------------


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_an_ascii_or_latin1_output_gets_escaped_text_never_a_crash(tmp_path, encoding):
    name = "caf\u00e9 \u65e5\u672c \U0001f600"
    src = write_jsonl(tmp_path / "r\u00e9sultats.jsonl", [line(name)], header={"name": name})
    db = tmp_path / "s.db"
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    utf8 = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    run_cli("--db", str(db), "import", str(src), env=env, encoding=encoding)
    for command in (["runs"], ["cases"], ["log"], ["runs", "--json"], ["log", "--json"],
                    ["import", str(tmp_path / "\u00e9-missing.jsonl")]):  # fmt: skip
        done = run_cli("--db", str(db), *command, check_code=None, env=env, encoding=encoding)
        assert done.returncode in (0, 2) and "Traceback" not in done.stderr, (command, done)
        assert "UnicodeEncodeError" not in done.stdout + done.stderr
        out = done.stdout + done.stderr
        out.encode(encoding)  # everything written fits the stream
        if encoding == "ascii":
            assert "\\u00e9" in out, (command, out)
        if "--json" in command:  # JSON stays exact: the escapes are JSON's own
            exact = run_cli("--db", str(db), *command, env=utf8).stdout
            assert json.loads(done.stdout) == json.loads(exact)
    assert "\\ud83d\\ude00" in run_cli("--db", str(db), "cases", env=env, encoding=encoding).stdout


@pytest.mark.parametrize(
    "command",
    [
        ["label", "1", "2", "qa/x", "--class", "format_violation"],
        ["retire", "qa/x", "--reason", "bad_case"],
        ["quarantine", "qa/x"],
        ["restore", "qa/x"],
        ["findings", "undo", "1", "2"],
    ],
)
def test_a_write_command_that_needs_runs_never_makes_a_store(tmp_path, command):
    """Only import, demo and taxonomy import can succeed on a path with no store; the
    commands that act on runs and cases refuse it in one line and make no file."""
    db = tmp_path / "none.db"
    done = run_cli("--db", str(db), *command, check_code=None)
    assert done.returncode != 0
    assert done.stderr.splitlines() == [f"Error: no store at {db}; `evaltui import` creates one"]
    assert list(tmp_path.iterdir()) == []
