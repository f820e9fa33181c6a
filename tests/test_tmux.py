"""Drive the real `evaltui` process in a real terminal (tmux): read the screen, press keys."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from evaltui import service
from evaltui.store import Store

pytestmark = pytest.mark.tmux

TMUX = shutil.which("tmux")
EVALTUI = Path(sys.executable).parent / "evaltui"


class Terminal:
    """One tmux server with one pane running a command."""

    def __init__(
        self, command: str, env: dict[str, str], width: int = 140, height: int = 40
    ) -> None:
        self.socket = f"evaltui-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        # pytest exports COLUMNS/LINES (80x24), which Textual would honour over the pane size.
        self.tmux(
            "new-session",
            "-d",
            "-x",
            str(width),
            "-y",
            str(height),
            f"env -u COLUMNS -u LINES {exports} {command}; echo EXITED=$?; sleep 30",
        )

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            [TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=20
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, text: str, timeout: float = 30, *, gone: bool = False) -> str:
        """Until `text` is on the screen (`gone`: no longer on it). The timeout only turns
        a hang into a failure that shows the screen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if (text in screen) != gone:
                return screen
            time.sleep(0.2)
        said = "never went" if gone else "never appeared"
        raise AssertionError(f"{text!r} {said}; screen was:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        """Keys in one write. Escape only last: a key after it in the same read is taken
        as Alt+key, so the caller waits for what Escape does before the next key."""
        assert "Escape" not in keys[:-1], "wait for what Escape does before the next key"
        self.tmux("send-keys", *keys)

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal_env(db_path: Path) -> dict[str, str]:
    with Store(db_path) as store:
        service.load_demo(store)
    return {"EVALTUI_DB": str(db_path), "EVALTUI_REVIEWER": "tmux-tester", "TERM": "xterm-256color"}


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_real_process_shows_runs_marks_and_quits(terminal_env, db_path):
    term = Terminal(str(EVALTUI), terminal_env)
    try:
        screen = term.wait_for("73.1%")  # the production run's pass rate, loaded by a worker
        assert "cand-2026-11-20" in screen and "fallback-2026-11-20" in screen
        assert "Traceback" not in screen
        assert "b Baseline" in screen and "q Quit" in screen  # footer from the real bindings
        term.keys("?")
        term.wait_for("runs.mark-candidate")
        term.keys("Escape")
        term.wait_for("runs.mark-candidate", gone=True)  # the help is closed
        term.keys("Down", "Down", "c")  # the fallback run becomes the candidate
        term.wait_for("is now the candidate (saved)")
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()
    with Store(db_path) as store:
        assert service.get_selection(store)["candidate"] == 3
        assert store.events()[-1].actor == "tmux-tester"


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_demo_command_opens_the_app(tmp_path):
    env = {
        "EVALTUI_DB": str(tmp_path / "demo.db"),
        "TERM": "xterm-256color",
        "HOME": os.environ["HOME"],
    }
    term = Terminal(f"{EVALTUI} demo", env)
    try:
        screen = term.wait_for("73.1%")
        assert "baseline: prod-2026-11-02" in screen
        assert "candidate: cand-2026-11-20" in screen
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_real_process_opens_a_comparison_and_steps(terminal_env, db_path):
    from evaltui.compare import Comparison

    with Comparison(db_path, 1, 2, 3) as cmp:
        first, second = (r.case_key for r in cmp.page(limit=2))
    term = Terminal(str(EVALTUI), terminal_env, width=160, height=45)
    try:
        term.wait_for("73.1%")
        term.keys("Enter")
        screen = term.wait_for("case 1 of 302")
        assert "REGRESSED 37" in screen and "risk=high" in screen
        # the case pane draws once it is laid out: the frame after the list (how soon is
        # measured by `make bench`, never asserted here)
        screen = term.wait_for(f"support-assistant / {first}")
        term.keys("j")
        screen = term.wait_for("case 2 of 302")
        assert f"support-assistant / {second}" in screen
        term.keys("o")
        term.wait_for("outputs, sample 2")  # the full case shows every sample
        term.keys("Escape")
        term.wait_for("case 2 of 302")
        term.keys("Escape")
        term.wait_for("73.1%")
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
@pytest.mark.parametrize("size", [(160, 45), (100, 30), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_first_comparison_draws_the_case_column_whole_before_any_key(
    terminal_env, db_path, size
):
    """#26: the first drawing of the demo's comparison, nothing pressed after Enter: every
    case key on screen is whole (the column is sized from the rows before the first
    draw), the candidate column is there, and no key is cut to `refun…`."""
    from evaltui.compare import Comparison

    with Comparison(db_path, 1, 2, 3) as cmp:
        keys = [r.case_key for r in cmp.page(limit=40)]
    term = Terminal(str(EVALTUI), terminal_env, width=size[0], height=size[1])
    try:
        term.wait_for("73.1%")
        term.keys("Enter")
        term.wait_for("case 1 of 302")
        screen = term.wait_for(keys[1])  # the list's second row: not the one the cursor is on
        lines = screen.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("change "))
        assert "cand" in lines[header].split("│")[0].split()
        rows = [line.split("│")[0] for line in lines[header + 1 :] if "REGRESSED" in line]
        assert len(rows) >= 5
        for key, drawn in zip(keys, rows, strict=False):
            assert f" {key} " in drawn, (key, drawn)
        assert not re.search(r"\b\w+…", "\n".join(rows)), screen
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_keys_sent_at_once_all_land(terminal_env, db_path):
    """100 presses of j in one write move exactly 100 cases (across the 60-row pages), and
    End then Home jump to the ends of the list."""
    from evaltui.compare import Comparison

    with Comparison(db_path, 1, 2, 3) as cmp:
        keys = [r.case_key for r in cmp.page(limit=400)]
    term = Terminal(str(EVALTUI), terminal_env, width=160, height=45)
    try:
        term.wait_for("73.1%")
        term.keys("Enter")
        term.wait_for("case 1 of 302")
        term.tmux("send-keys", "j" * 100)  # one write: typed ahead of every repaint
        term.wait_for("case 101 of 302")
        term.wait_for(f"support-assistant / {keys[100]}")
        term.keys("End")
        term.wait_for("case 302 of 302")
        term.wait_for(f"support-assistant / {keys[301]}")
        term.tmux("send-keys", "k" * 45)
        term.wait_for("case 257 of 302")
        term.keys("Home")
        term.wait_for("case 1 of 302")
        term.wait_for(f"support-assistant / {keys[0]}")  # its page, then the case
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()


def _kill_9(db_path: Path) -> None:
    """SIGKILL the evaltui process working on this store (no cleanup, no atexit)."""
    out = subprocess.run(
        ["pgrep", "-f", f"{EVALTUI}"], capture_output=True, text=True
    ).stdout.split()
    mine = []
    for pid in out:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"EVALTUI_DB={db_path}".encode() in env:
            mine.append(int(pid))
    assert mine, "the evaltui process was not found"
    for pid in mine:
        os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in mine):
        assert time.monotonic() < deadline, "the process survived kill -9"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_kill_9_after_a_confirmed_action_loses_nothing(terminal_env, db_path):
    """Assign a class, see '(saved)', kill -9 the app: the finding and its event are in the store."""
    from evaltui.compare import Comparison

    with Comparison(db_path, 1, 2, 3) as cmp:
        first = cmp.page(limit=1)[0].case_key
    term = Terminal(str(EVALTUI), terminal_env, width=160, height=45)
    try:
        term.wait_for("73.1%")
        term.keys("Enter")
        term.wait_for("case 1 of 302")
        term.keys("6")
        term.wait_for("Unsafe tool action → safety (saved)")
        term.keys("e")
        term.wait_for("Note on")  # the note prompt is open
        term.tmux("send-keys", "-l", "killed right after")
        term.keys("Enter")
        term.wait_for(": note (saved)")
        _kill_9(db_path)  # the terminal is left as it was: no exit code line to wait for
    finally:
        term.close()
    with Store(db_path) as store:
        assert store.integrity_check() == "ok"
        from evaltui.review import triage

        rows = triage.list_findings(store)
        by_key = {r.case_key: r for r in rows}
        assert by_key[first].class_key == "unsafe_tool_action"
        noted = [r for r in rows if r.note == "killed right after"]
        assert len(noted) == 1
        actions = [e.action for e in store.events()]
        assert actions.count("finding.label") == 2


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_two_real_apps_and_an_import_on_one_store(terminal_env, db_path, tmp_path):
    """Two evaltui processes triage while a CLI import runs; each sees the other's work."""
    import json as _json

    from evaltui.review import triage

    big = tmp_path / "big.jsonl"
    with big.open("w") as fh:
        fh.write(_json.dumps({"run": {"name": "big", "suite": "big"}}) + "\n")
        for i in range(30_000):
            fh.write(
                _json.dumps({"case_key": f"k{i}", "verdict": "pass", "output": "o" * 300}) + "\n"
            )
    a = Terminal(str(EVALTUI), {**terminal_env, "EVALTUI_REVIEWER": "ana"}, width=160, height=45)
    b = Terminal(str(EVALTUI), {**terminal_env, "EVALTUI_REVIEWER": "bo"}, width=160, height=45)
    try:
        for t in (a, b):
            t.wait_for("73.1%")
            t.keys("Enter")
            t.wait_for("case 1 of 302")
        importer = subprocess.Popen(
            [str(EVALTUI), "import", str(big)], env={**os.environ, **terminal_env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        a.keys("6")  # ana: case 1 is an unsafe tool action
        a.wait_for("Unsafe tool action → safety (saved)")
        b.keys("j")
        b.wait_for("case 2 of 302")
        b.keys("2")  # bo: case 2 is a wrong source
        b.wait_for("Wrong source → retrieval (saved)")
        b.keys("k", "k")  # back to case 1: bo's app shows ana's finding
        screen = b.wait_for("case 1 of 302")
        b.wait_for("class unsafe_tool_action")
        _out, err = importer.communicate(timeout=120)
        assert importer.returncode == 0 and "locked" not in err.lower(), err
        for t in (a, b):
            t.keys("Escape")
            t.wait_for("b Baseline")  # back on the runs screen (its footer)
            t.keys("q")
            t.wait_for("EXITED=0")
    finally:
        a.close()
        b.close()
    assert "Traceback" not in screen
    with Store(db_path) as store:
        rows = {(r.reviewers[0], r.class_key) for r in triage.list_findings(store)}
        assert rows == {("ana", "unsafe_tool_action"), ("bo", "wrong_source")}
        assert (
            store.conn.execute("SELECT n_results FROM runs WHERE name = 'big'").fetchone()[0]
            == 30_000
        )
        assert store.integrity_check() == "ok"


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_importing_several_files_on_a_terminal_keeps_every_line(tmp_path):
    """On a terminal each run has a live progress bar; every `imported ...` line stays
    above it (and the live display's own output passes the console's door)."""
    from .conftest import FIXTURES

    files = [*sorted((FIXTURES / "inspect_ai" / "round2" / "reducer").glob("*.eval")),
             FIXTURES / "promptfoo" / "candidate.json",
             *sorted((FIXTURES / "openai_evals").glob("*.jsonl"))]  # fmt: skip
    env = {"EVALTUI_DB": str(tmp_path / "t.db"), "TERM": "xterm-256color"}
    term = Terminal(f"{EVALTUI} import {' '.join(map(str, files))}", env, width=220, height=40)
    try:
        screen = term.wait_for("EXITED=", timeout=60)
    finally:
        term.close()
    assert "EXITED=0" in screen and "Error" not in screen
    assert sum(line.startswith("imported ") for line in screen.splitlines()) == len(files)
    assert f"{len(files)} run(s) imported from {len(files)} file(s)" in screen
