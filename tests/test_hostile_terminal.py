"""The hostile corpus in a real terminal: every CLI command and every screen, prompt,
picker and notification of the app, driven in tmux with the clipboard and renaming on.

Each variant is a mix of the payloads in fixtures/hostile/generate.py (escape sequences
that set the title, write the clipboard, link, clear; C0/C1 controls; bidi; Rich markup),
cut at random points, placed in every field of every input kind: result files (run
name, case key, input, expected, outputs, grader explanation, error, segment attribute),
trajectories (transcript turns, tool names, call ids, arguments, results, errors,
sources: from native files, and from a real OTLP trace whose every string is poisoned),
a taxonomy, findings (owner, note, reviewer), a gate policy, a stale marker's reason.

Default size fits CI (EVALTUI_HOSTILE_VARIANTS=24 cases, each shown on screen);
`EVALTUI_HOSTILE_VARIANTS=1000 pytest tests/test_hostile_terminal.py` is the long run
(docs/security.md). Asserted after every screen: no raw control byte in the pane (only
the terminal's own SGR colour codes), the pane title and window name unchanged, no
tmux paste buffer (OSC 52), and the payloads' visible forms on screen.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from evaltui import service
from evaltui.review import taxonomy, triage
from evaltui.review.taxonomy import FailureClass, Taxonomy
from evaltui.store import Store

from .conftest import FIXTURES

sys.path.insert(0, str(FIXTURES / "hostile"))
from generate import PAYLOADS

pytestmark = pytest.mark.tmux
TMUX = shutil.which("tmux")
EVALTUI = Path(sys.executable).parent / "evaltui"
N = int(os.environ.get("EVALTUI_HOSTILE_VARIANTS", "24"))
SGR = re.compile(r"\x1b\[[0-9;:]*m")
RAW = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2028\u2029\ufeff]"
)


def variant(i: int) -> str:
    """A deterministic mix: 1-3 payloads, each possibly cut short (half a sequence)."""
    rng = random.Random(i)
    names = rng.sample(sorted(PAYLOADS), rng.randint(1, 3))
    parts = []
    for name in names:
        p = PAYLOADS[name]
        if rng.random() < 0.3:
            p = p[: rng.randint(1, len(p))]
        parts.append(p)
    return f"V{i}:" + rng.choice(["", " ", "x"]).join(parts)


def hostile_path(i: int, side: int) -> list[dict[str, object]]:
    """A trajectory whose every text field carries a variant: transcript turns, tool names,
    call ids, arguments (keys and values), results, errors, sources (id, title, uri,
    excerpt) and a cited id."""
    v = variant(50_000 + i * 7 + side)
    return [
        {"kind": "message", "role": "user", "text": f"ask {v}"},
        {"kind": "message", "role": f"assistant {v}"[:40], "turn": 1, "text": f"thinking {v}"},
        {"kind": "tool_call", "turn": 1, "name": f"tool {v}", "call_id": f"c {v}",
         "arguments": {f"key {v}": f"arg {v}", "n": [v, {"deep": v}]}},
        {"kind": "tool_result", "turn": 1, "name": f"tool {v}", "call_id": f"c {v}",
         "text": f"result {v}"},
        {"kind": "tool_call", "turn": 1, "name": f"other {v}", "call_id": "c2", "arguments": v},
        {"kind": "tool_result", "turn": 1, "call_id": "c2", "error": f"failed {v}"},
        {"kind": "source", "turn": 1, "source_id": f"kb/{v}", "title": f"title {v}",
         "uri": f"https://x/{v}", "text": f"excerpt {v}", "cited": True},
        {"kind": "message", "role": "assistant", "turn": 2, "text": f"answer [kb/{v}] {v}"},
        {"kind": "limit", "turn": 2, "text": f"limit {v}"},
    ]  # fmt: skip


def hostile_trace(tmp: Path, n: int) -> Path:
    """The real GenAI trace file (fixtures/agents/otel_genai), every string attribute value
    and event attribute carrying a variant, JSON-array attributes kept JSON."""
    src = FIXTURES / "agents" / "otel_genai" / "baseline.otlp.jsonl"
    out = tmp / "hostile.otlp.jsonl"
    lines = []
    for k, raw in enumerate(src.read_text().splitlines()[: max(n // 4, 2)]):
        obj = json.loads(raw)

        def poison(value: object, depth: int = 0, k: int = k) -> object:
            if isinstance(value, str):
                return value + " " + variant(60_000 + k * 31 + depth)
            if isinstance(value, list):
                return [poison(x, depth + 1) for x in value]
            if isinstance(value, dict):
                return {key: poison(x, depth + 1) for key, x in value.items()}
            return value

        for rs in obj["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    for a in [*span.get("attributes", []),
                              *(x for e in span.get("events", []) for x in e.get("attributes", []))]:  # fmt: skip
                        text = a["value"].get("stringValue")
                        if text is None or a["key"] in ("test.case.result.status", "gen_ai.operation.name",
                                                        "gen_ai.evaluation.score.label"):  # fmt: skip
                            continue
                        try:
                            inner = json.loads(text)
                        except ValueError:
                            inner = None
                        a["value"]["stringValue"] = (
                            json.dumps(poison(inner)) if isinstance(inner, list | dict) else poison(text)
                        )  # fmt: skip
        lines.append(json.dumps(obj))
    out.write_text("\n".join(lines) + "\n")
    return out


def build_store(db: Path, tmp: Path, n: int) -> None:
    """A baseline and a candidate whose every text field carries a variant; a taxonomy,
    findings and the marks, all hostile."""

    def run_file(name: str, verdict: str, side: int) -> Path:
        path = tmp / f"{name}.jsonl"
        with path.open("w") as fh:
            fh.write(json.dumps({"run": {"name": f"{name} {variant(10_000 + side)}"}}) + "\n")
            for i in range(n):
                v = variant(i)
                fh.write(json.dumps({
                    "suite": "hostile", "case_key": f"k{i:04d} {v}", "input": f"in {v}",
                    "expected": f"exp {v}", "verdict": verdict if i % 5 else "error",
                    "output": f"{name} said {variant(i + side * 7)}",
                    "explanation": f"grader {v}", "error": f"err {v}" if i % 5 == 0 else None,
                    "attributes": {"segment": variant(i % 4)},
                    "trajectory": hostile_path(i, side),
                }) + "\n")  # fmt: skip
        return path

    with Store(db) as store:
        (b,) = service.import_path(store, run_file("base", "pass", 1))
        (c,) = service.import_path(store, run_file("cand", "fail", 2))
        service.mark_run(store, "baseline", b.run_id)
        service.mark_run(store, "candidate", c.run_id)
        service.import_path(store, hostile_trace(tmp, n))  # run 3: a hostile OTLP trace
        evil = variant(20_000)
        taxonomy.save(store, Taxonomy([
            FailureClass(key="evil_class", name=evil[:80], owner=variant(20_001)[:80],
                         description=variant(20_002)),
            *taxonomy.default_taxonomy().classes[1:],
        ]))  # fmt: skip
        ids = [r[0] for r in store.conn.execute("SELECT id FROM cases ORDER BY case_key")]
        tax = taxonomy.load(store)
        for k, cid in enumerate(ids[: min(6, n)]):
            triage.label(store, b.run_id, c.run_id, cid, failure_class=tax.classes[0],
                         owner=variant(30_000 + k), note=variant(31_000 + k),
                         reviewer=variant(32_000 + k)[:60])  # fmt: skip


class HostileTerminal:
    """tmux with what hostile output would act on switched on: the clipboard (OSC 52 to a
    paste buffer), renaming (OSC 0/2 titles, window names)."""

    def __init__(self, command: str, env: dict[str, str], tmp: Path) -> None:
        self.socket = f"evaltui-hostile-{uuid.uuid4().hex[:8]}"
        conf = tmp / "tmux.conf"
        conf.write_text("set -g set-clipboard on\nsetw -g allow-rename on\nset -g allow-passthrough on\n"
                        "set -g history-limit 50000\n")  # fmt: skip
        exports = " ".join(f"{k}='{v}'" for k, v in env.items())
        subprocess.run(
            [TMUX, "-L", self.socket, "-f", str(conf), "new-session", "-d", "-x", "160", "-y", "45",
             "-n", "evaltui-win", f"env -u COLUMNS -u LINES {exports} {command}; echo EXITED=$?; sleep 60"],
            check=True, timeout=20,
        )  # fmt: skip
        time.sleep(0.3)
        self.title = self.fmt("#{pane_title}")

    def tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=20).stdout  # fmt: skip

    def fmt(self, spec: str) -> str:
        return self.tmux("display-message", "-p", spec).strip()

    def screen(self, history: bool = False) -> str:
        return self.tmux("capture-pane", "-p", "-e", *(["-S", "-"] if history else []))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (s := self.screen()):
                return s
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{self.screen()}")

    def keys(self, *keys: str, pause: float = 0.25) -> None:
        for key in keys:
            self.tmux("send-keys", key)
            time.sleep(pause)

    def check(self, where: str, history: bool = False) -> str:
        """Nothing reached the terminal raw: the captured text, the title, the window
        name and the paste buffers say so. Returns the screen."""
        text = self.screen(history)
        plain = SGR.sub("", text)
        bad = RAW.search(plain)
        assert bad is None, (
            f"{where}: raw {bad.group()!r} on screen:\n{plain[max(0, bad.start() - 200) : bad.start() + 200]}"
        )
        assert self.fmt("#{window_name}") == "evaltui-win", where
        assert self.fmt("#{pane_title}") == self.title, (where, self.fmt("#{pane_title}"))
        assert self.tmux("list-buffers").strip() == "", (where, self.tmux("list-buffers"))
        assert "PWNED" not in self.fmt("#{pane_title}#{window_name}#{session_name}")
        return plain

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    db = tmp_path / "hostile.db"
    build_store(db, tmp_path, N)
    return db


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_every_screen_prompt_and_picker_of_the_real_app_stays_inert(hostile_store, tmp_path):
    env = {"EVALTUI_DB": str(hostile_store), "EVALTUI_REVIEWER": "tester", "TERM": "xterm-256color"}
    term = HostileTerminal(str(EVALTUI), env, tmp_path)
    shown = 0
    try:
        term.wait_for("cand V10002")  # the runs are listed
        assert "␛" in term.check("runs screen")  # the run names' escapes, shown as data
        term.keys("Enter")
        term.wait_for("regression")
        visible_forms = set()
        for i in range(N):  # every case on screen once
            plain = term.check(f"case {i}")
            visible_forms |= {f for f in ("␛", "\\x9b", "<U+202E>", "[/]") if f in plain}
            shown += 1
            term.keys("j", pause=0.12)
        assert {"␛", "<U+202E>"} <= visible_forms, visible_forms
        term.keys(*["k"] * min(N, 5), pause=0.12)  # back among the cases with findings
        for key, name, back in [
            ("w", "owner prompt (pre-filled with a hostile owner)", "Escape"),
            ("e", "note prompt (pre-filled with a hostile note)", "Escape"),
            ("0", "class picker (hostile class name)", "Escape"),
            ("v", "verdict picker", "Escape"),
            ("X", "retire/quarantine picker", "Escape"),
            ("1", "assign notification (hostile class, case key)", None),
            ("a", "accept notification", None),
            ("u", "undo notification", None),
            ("o", "case screen (whole case)", "Escape"),
            ("z", "zoom", "z"),
            ("slash", "search prompt", "Escape"),
            ("s", "segment filter (hostile segment values)", "Escape"),
            ("question", "help", "Escape"),
            ("S", "stale screen", "Escape"),
            ("g", "gate screen", "Escape"),
        ]:
            term.keys(key, pause=0.6)
            term.check(name)
            if back:
                term.keys(back, pause=0.4)
        term.keys("Escape", pause=0.5)
        term.check("back on the runs screen")
        term.keys("q", pause=0.5)
        term.wait_for("EXITED=")
        term.check("after exit, with the scrollback", history=True)
    finally:
        term.close()
    assert shown == N


CLI_COMMANDS = [
    ["runs"], ["runs", "--json"], ["log"], ["cases"], ["taxonomy"], ["taxonomy", "--json"],
    ["taxonomy", "export"], ["findings", "list"], ["findings", "list", "--json"],
    ["findings", "agreement"], ["stale", "--runs", "2"], ["compare", "1", "2", "--keys"],
    ["compare", "1", "2", "--json"], ["compare", "1", "2", "--criteria"],
    ["runs", "3"], ["compare", "1", "3", "--json"], ["trend", "2"], ["trend", "2", "--json"],
]  # fmt: skip


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_every_cli_command_prints_the_hostile_store_inertly(hostile_store, tmp_path):
    policy = tmp_path / "policy.toml"
    evil = variant(40_000).replace("\\", "\\\\").replace('"', '\\"')
    esc = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in evil)
    policy.write_text(
        f'promise = "{esc}"\n[[rule]]\nid = "r1"\nmetric = "regressions"\nmax = 0\n'
        f'action = "hold"\nowner = "{esc}"\nwhy = "{esc}"\n'
    )
    record = tmp_path / "decision.json"
    script = tmp_path / "cli.sh"
    lines = [f"{EVALTUI} {' '.join(args)}" for args in CLI_COMMANDS]
    lines += [
        f"{EVALTUI} gate 1 2 --policy {policy} --out {record} --md {tmp_path / 'd.md'}",
        f"{EVALTUI} verify {record}",
        f"{EVALTUI} findings export {tmp_path / 'f.jsonl'}",
        f"cat {tmp_path / 'd.md'}",
    ]
    with Store(hostile_store) as store:  # every path, in both forms: native and OTLP
        keys = [(r, k) for r, k in store.conn.execute(
            "SELECT r.run_id, c.case_key FROM results r JOIN cases c ON c.id = r.case_id "
            "WHERE r.epoch = 0 ORDER BY r.run_id, c.case_key")]  # fmt: skip
    picked = [x for x in keys if x[0] == 1][:N] + [x for x in keys if x[0] == 3]
    for run, key in picked:
        quoted = "'" + key.replace("'", "'\\''") + "'"
        pair = "3 3" if run == 3 else "1 2"  # the trace's run against itself: its path shown
        lines += [f"{EVALTUI} case {pair} {quoted}", f"{EVALTUI} case {pair} {quoted} --json"]
    script.write_text("\n".join(lines) + "\n")
    env = {"EVALTUI_DB": str(hostile_store), "EVALTUI_REVIEWER": "tester", "TERM": "xterm-256color",
           "COLUMNS": "200"}  # fmt: skip
    term = HostileTerminal(f"sh {script}", env, tmp_path)
    try:
        term.wait_for("EXITED=", timeout=120)
        out = term.check("every CLI command", history=True)
    finally:
        term.close()
    assert "Traceback" not in out
    assert "␛" in out or "\\u001b" in out  # shown as data
    passable = [k for _, k in picked if "\x00" not in k]  # a shell argument cannot hold NUL
    assert out.count("tool calls, baseline | candidate") >= len(passable)  # every path shown
    assert "refund" in out or "lookup_account" in out  # the trace's tools among them
