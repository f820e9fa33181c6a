"""The store and the files evaltui opens (#24): no process deletes a store it did not
fill, a store path is checked before anything is made, a full disk is said so, a
tampered store is refused, and every user-given file is a bounded regular file."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import files, taxonomy, view_state
from evaltui.cli import cli
from evaltui.errors import InputError, StoreTamperedError
from evaltui.store import Store
from evaltui.store.events import chain_hash
from evaltui.store.schema import SCHEMA_OBJECTS
from tests.conftest import DEMO
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
    run_cli("--db", str(db), "import", str(good))  # the empty file left is made a store later


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_file_system_is_sqlite_full(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = mnt / "s.db"
        run_cli("--db", str(db), "import", str(write_jsonl(tmp_path / "small.jsonl", [line("a")])))
        before = snapshot(db)
        done = run_cli("--db", str(db), "import", str(big_run(tmp_path / "big.jsonl", 6000)),
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
