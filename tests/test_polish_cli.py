"""The first hour, polished (#26): the command line's tables, messages and exit codes as a
new user meets them."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.store.runs import list_runs
from tests.conftest import DEMO


def run(*args: str, code: int = 0, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)
    assert result.exit_code == code, result.output
    return result


# -- tables: a number is never cut -----------------------------------------------------------

BIG = {"cases": 200_000, "results": 1_399_912, "passed": 1_200_004, "failed": 139_908,
       "errored": 60_000, "limit": 12_345, "unscored": 7}  # fmt: skip


@pytest.fixture
def big_runs(monkeypatch):
    """The demo's runs with figures of a large eval (six- and seven-digit counts), and
    long names that differ only at their end."""
    from evaltui import service

    run("import", str(DEMO / "production.jsonl"), str(DEMO / "candidate.jsonl"))
    real = service.list_runs

    def big(store):
        return [
            s.model_copy(
                update={
                    **BIG,
                    "name": f"support_agent mockllm/support-bot-v2 2026-12-01 21:19 #{s.id}",
                }
            )
            for s in real(store)
        ]

    monkeypatch.setattr(service, "list_runs", big)


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 220])
def test_runs_never_cuts_a_number_at_any_width(big_runs, width):
    out = run("runs", env={"COLUMNS": str(width)}).output
    lines = out.splitlines()
    header = lines[0].split()
    assert lines[0].startswith("id name")
    shown = [h for h in ("cases", "results", "pass", "fail", "error", "limit", "unscored")
             if h in header]  # fmt: skip
    want = {"cases": "200,000", "results": "1,399,912", "pass": "1,200,004", "fail": "139,908",
            "error": "60,000", "limit": "12,345", "unscored": "7"}  # fmt: skip
    for row in lines[1:]:
        for h in shown:
            assert re.search(rf"(?<![\d,]){re.escape(want[h])}(?![\d,])", row), (h, row)
        assert "%" in row and "…%" not in row  # the pass rate, whole
        assert len(row) <= width
    assert {"pass", "fail"} <= set(header)  # the figures that matter stay at 60 columns
    if width >= 160:  # room for every figure, and the whole name
        assert set(shown) == set(want) and "#2" in out and "support-bot-v2" in out


def test_runs_gives_the_name_room_before_the_hash_and_the_time(big_runs):
    out = run("runs", env={"COLUMNS": "160"}).output
    assert "support_agent mockllm/support-bot-v2 2026-12-01 21:19 #1" in out
    # at 80 columns the name is cut in its middle: its end, where the runs differ, stays
    out = run("runs", env={"COLUMNS": "80"}).output
    names = [re.split(r"\s{2,}", line.strip())[0] for line in out.splitlines()[1:]]
    assert [n.split()[1] for n in names] == ["support_agen…01", "support_agen…01"]
    assert [n.split()[-1] for n in names] == ["#1", "#2"]


def test_print_rows_keeps_numbers_whole_when_nothing_fits(monkeypatch):
    """Even where the columns that cannot go do not fit, a figure is printed whole (the
    line is longer than the terminal), never cut to a wrong one."""
    from evaltui.cli.output import make_table, print_rows

    monkeypatch.setenv("COLUMNS", "20")
    table = make_table(("name", "left"), ("results", "right"), ("failed", "right"))
    runner = CliRunner()

    import click

    @click.command()
    def show():
        print_rows(table, [["a very long run name indeed", "1,234,567", "765,432"]])

    out = runner.invoke(show).output
    assert "1,234,567" in out and "765,432" in out
    assert "a very long run name indeed" not in out  # the text gave way


# -- log, cases, case ----------------------------------------------------------------------


@pytest.fixture
def demo_pair():
    run("import", str(DEMO / "production.jsonl"), str(DEMO / "candidate.jsonl"))
    return "1", "2"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_log_names_runs_and_cases_and_never_cuts_the_time(demo_pair, width):
    run("label", "1", "2", "refunds-001", "--verdict", "real_regression")
    run("retire", "refunds-002", "--reason", "duplicate", "--note", "same as 001")
    events = json.loads(run("log", "--json").output)
    out = run("log", env={"COLUMNS": str(width)}).output
    lines = out.splitlines()
    assert len(lines) == 1 + len(events)
    for e, line in zip(events, lines[1:], strict=True):
        assert e["at"][:16].replace("T", " ") in line  # the time whole
        assert e["action"] in line
    imports, label, retire = lines[1:3], lines[3], lines[4]
    if width >= 80:
        assert "prod-2026-11-02" in imports[0] and "cand-2026-11-20" in imports[1]
    if width >= 80:
        assert "support-assistant/refunds-001 (1 vs 2)" in label
        assert "support-assistant/refunds-002" in retire
    else:  # cut in its middle: the end, where cases differ, stays
        assert label.endswith("001 (1 vs 2)") and retire.rstrip().endswith("refunds-002")
    assert not re.search(r"\b\d+:\d+:\d+\b", out)  # no internal `base:cand:case_id`


def test_cases_retired_shows_who_when_and_the_note(demo_pair):
    run("retire", "refunds-002", "--reason", "duplicate", "--note", "same as 001")
    (row,) = json.loads(run("cases", "--status", "retired", "--json").output)
    for width in (60, 80, 120):
        out = run("cases", "--status", "retired", env={"COLUMNS": str(width)}).output
        header, line = out.splitlines()[:2]
        assert header.split() == ["case", "status", "reason", "by", "at", "note"]
        assert "tester" in line and row["at"][:16].replace("T", " ") in line
        assert "same as" in line


def test_case_takes_suite_slash_key_and_suggests_close_keys(demo_pair):
    whole = run("case", "1", "2", "support-assistant/refunds-001").output
    assert whole.splitlines()[0].startswith("support-assistant / refunds-001")
    assert whole == run("case", "1", "2", "refunds-001").output
    miss = run("case", "1", "2", "refnds-001", code=4).output
    assert (
        "no case 'refnds-001' in these runs; did you mean 'support-assistant/refunds-001'" in miss
    )
    far = run("case", "1", "2", "zzzzzz", code=4).output
    assert "did you mean" not in far
    assert (
        "did you mean 'support-assistant/refunds-001'"
        in run("label", "1", "2", "refunds-01", "--verdict", "real_regression", code=4).output
    )


# -- one p-value format ----------------------------------------------------------------------


def test_fmt_p_writes_what_the_record_keeps_the_same_as_the_full_figure():
    from evaltui.units import fmt_p

    assert fmt_p(None) == "-"
    assert fmt_p(1.16e-10) == fmt_p(round(1.16e-10, 6)) == fmt_p(0.0) == "<0.001"
    assert fmt_p(4.23e-05) == fmt_p(4e-05) == "<0.001"
    assert fmt_p(0.0784123) == fmt_p(round(0.0784123, 6)) == "0.0784"
    assert fmt_p(0.001) == "0.001" and fmt_p(0.00154) == "0.00154" and fmt_p(1.0) == "1"


def test_p_values_read_the_same_in_the_app_the_cli_and_markdown(demo_pair, tmp_path, db_path):
    """The app's scoreboard writes the comparison's own p-values; `compare` and the
    Markdown of a decision the six-decimal ones they keep: the same text on every surface."""
    from evaltui.compare import Comparison
    from evaltui.units import fmt_p, segment_label

    with Comparison(db_path, 1, 2) as cmp:
        app = {segment_label(s.dimension, s.value): (fmt_p(s.p_value), fmt_p(s.p_adjusted))
               for s in cmp.segments()}  # fmt: skip
    assert any(p == "<0.001" for p, _ in app.values())  # the demo has a p far below 0.001
    md = tmp_path / "d.md"
    policy = str(DEMO.parent / "policies" / "support-assistant.toml")
    CliRunner().invoke(cli, ["gate", "1", "2", "--policy", policy, "--md", str(md), "--no-record"])
    table = md.read_text().split("### Segments", 1)[1].split("\n\n")[1].splitlines()[2:]
    seen = {}
    for row in table:
        cells = [c.strip() for c in row.strip("|").split("|")]
        seen[cells[0].replace("\\", "")] = (cells[-2], cells[-1])
    assert seen == app
    out = run("compare", "1", "2", env={"COLUMNS": "200"}).output
    for label, (p, p_adj) in app.items():
        line = next(x for x in out.splitlines() if x.startswith(label + " "))
        assert line.split()[-3:-1] == [p, p_adj] or line.split()[-2:] == [p, p_adj], line


# -- the demo keeps its triage ---------------------------------------------------------------


def test_make_demo_keeps_the_triage_and_demo_fresh_resets_it_and_says_so(tmp_path):
    from tests.conftest import ROOT

    targets = dict(
        re.findall(r"^([\w-]+):[^\n]*\n\t\$\(BIN\)/(.+)$", (ROOT / "Makefile").read_text(), re.M)
    )
    assert targets["demo"] == "evaltui demo" and targets["demo-fresh"] == "evaltui demo --fresh"
    db = str(tmp_path / "demo.db")
    first = run("--db", db, "demo", "--no-open").output
    assert "loaded 3 demo runs" in first and "reusing" not in first
    run("--db", db, "label", "1", "2", "billing-001", "--class", "unsupported_claim")
    again = run("--db", db, "demo", "--no-open").output
    assert f"reusing the demo store at {db}: its runs and your triage are kept" in again
    assert "make demo-fresh" in again and "loaded" not in again
    assert again.splitlines()[-1] == db
    listed = json.loads(run("--db", db, "findings", "list", "--json").output)
    assert {r["case_key"]: r["class"] for r in listed}["billing-001"] == "unsupported_claim"
    fresh = run("--db", db, "demo", "--no-open", "--fresh").output
    assert f"deleted the demo store at {db}, and the triage in it" in fresh
    assert "loaded 3 demo runs" in fresh
    listed = json.loads(run("--db", db, "findings", "list", "--json").output)
    assert len(listed) == 8 and all(r["class"] is None for r in listed)  # the demo's notes alone


def test_the_readme_first_five_minutes_says_what_make_does():
    from evaltui.paths import demo_db_path
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The first five minutes", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    targets = [line.split()[1] for line in block.strip().splitlines()]
    makefile = (ROOT / "Makefile").read_text()
    for target in targets:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target
    assert "make demo-fresh" in section and "reusing the demo store" in section
    assert "360 cases, 576 results each" in section
    run("demo", "--no-open")
    rows = json.loads(run("--db", str(demo_db_path()), "runs", "--json").output)
    assert [(r["role"], r["cases"], r["results"]) for r in rows] == [
        ("production", 360, 576), ("candidate", 360, 576), ("fallback", 360, 576)
    ]  # fmt: skip


# -- Ctrl+C in an import ----------------------------------------------------------------------

# `evaltui import` held inside the NTH file's import, after HALF its records were read into
# the run's open transaction: the process writes one byte to fd READY, then waits for one on
# fd GO (EOF if the test died: no hang). The test then sends SIGINT (Ctrl+C).
HOLD_INSIDE_IMPORT = """
import os, sys
import signal
# Ctrl+C as at a terminal, whatever the runner left (a background job ignores SIGINT)
signal.signal(signal.SIGINT, signal.default_int_handler)
from evaltui.importers import base
from evaltui.cli.app import main
nth, half, ready, go = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
real, calls = base.checked_records, [0]
def held(path, records, options):
    calls[0] += 1
    for i, record in enumerate(real(path, records, options)):
        if calls[0] == nth and i == half:
            os.write(ready, b"r")
            os.read(go, 1)
        yield record
base.checked_records = held
sys.argv = ["evaltui", *sys.argv[5:]]
main()
"""


def interrupted_import(db, *files, nth: int, half: int):
    import os
    import signal
    import subprocess
    import sys

    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_INSIDE_IMPORT, str(nth), str(half), str(ready_w), str(go_r),
         "--db", str(db), "import", *map(str, files)],
        pass_fds=(ready_w, go_r), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(ready_w)
    os.close(go_r)
    try:
        assert os.read(ready_r, 1) == b"r", proc.communicate()  # held mid-import
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(ready_r)
        os.close(go_w)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


@pytest.fixture
def three_files(tmp_path):
    from tests.helpers import line, write_jsonl

    def rows(n, verdict="pass"):
        return [line(f"c{i:05d}", verdict) for i in range(n)]

    return [
        write_jsonl(tmp_path / "first.jsonl", rows(10), header={"name": "first"}),
        write_jsonl(tmp_path / "big.jsonl", rows(4000, "fail"), header={"name": "big"}),
        write_jsonl(tmp_path / "last.jsonl", rows(10), header={"name": "last"}),
    ]


def test_ctrl_c_in_an_import_exits_130_saying_what_was_kept(tmp_path, three_files):
    from evaltui.store import Store

    db = tmp_path / "s.db"
    run("--db", str(db), "import", str(DEMO / "fallback.jsonl"))
    first, big, last = three_files
    code, out, err = interrupted_import(db, first, big, last, nth=2, half=2000)
    assert code == 130, (out, err)
    assert err.splitlines()[-1] == (
        f"Interrupted while importing {big}: nothing of that file was kept (its import is one "
        "transaction, rolled back); kept: the 1 run(s) imported before it (run 2: first); "
        "1 file(s) not started"
    )
    assert "Traceback" not in err and "Aborted" not in err
    with Store(db) as store:
        assert [(r.name, r.results) for r in list_runs(store)] == [
            ("fallback-2026-11-20", 576), ("first", 10)
        ]  # fmt: skip
        assert store.integrity_check() == "ok" and store.verify_chain() == []
        assert store.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 586
        cases = store.conn.execute("SELECT COUNT(*) FROM cases WHERE suite = 's'").fetchone()
        assert cases == (10,)  # none of the interrupted file's 4,000 cases
    # the file interrupted imports whole afterwards
    again = run("--db", str(db), "import", str(big)).output
    assert "as run 3 (big): 4,000 results" in again


def test_ctrl_c_in_an_import_into_a_new_path_says_no_store_was_made(tmp_path, three_files):
    db = tmp_path / "new.db"
    code, out, err = interrupted_import(db, *three_files, nth=2, half=10)
    assert code == 130 and out == ""
    assert err.splitlines() == [
        f"Interrupted while importing {three_files[1]}: nothing was imported, and no store was "
        f"made at {db} (a new store appears only when its import finishes)"
    ]
    assert not db.exists()


# -- --help names the store --------------------------------------------------------------------


def test_help_shows_the_store_in_use_as_the_readme_says(tmp_path, monkeypatch):
    from tests.conftest import ROOT

    assert "(`evaltui --help` shows it)" in (ROOT / "README.md").read_text()
    monkeypatch.delenv("EVALTUI_DB")
    out = run("--help", env={"COLUMNS": "300"}).output
    default = tmp_path / "xdg-data" / "evaltui" / "evaltui.db"
    assert out.endswith(
        f"Store:\n  {default}\n"
        "  (the per-user default; --db or $EVALTUI_DB for another; no store there yet)\n"
    )
    assert not default.parent.exists()  # saying where it would be makes no directory
    db = tmp_path / "mine.db"
    run("--db", str(db), "import", str(DEMO / "fallback.jsonl"))
    out = run("--help", env={"COLUMNS": "300", "EVALTUI_DB": str(db)}).output
    assert out.endswith(f"Store:\n  {db}\n  ($EVALTUI_DB)\n")
    out = run("--db", str(tmp_path / "other.db"), "--help", env={"COLUMNS": "300"}).output
    assert out.endswith(f"Store:\n  {tmp_path / 'other.db'}\n  (--db; no store there yet)\n")


# -- docs that agree with the code --------------------------------------------------------------


def test_docs_cli_has_one_true_log_section():
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "cli.md").read_text()
    assert len(re.findall(r"^## `evaltui log", doc, re.M)) == 1
    section = doc.split("## `evaltui log", 1)[1].split("\n## ", 1)[0]
    assert "later release" not in section and "--verify" in section
    source = "\n".join(  # the app's binding ids (`case.down`) are not actions
        p.read_text() for p in (ROOT / "evaltui").rglob("*.py") if "tui" not in p.parts
    )
    firsts = re.findall(r"log_event\(\s*([^,]+),", source)  # a literal, or `a if x else b`
    actions = {a for first in firsts for a in re.findall(r"\"([\w.]+)\"", first)}
    actions |= set(re.findall(r"action=\"([\w.]+)\"", source))  # lifecycle's, passed down
    assert {"import", "set", "finding.label", "case.retire", "decision"} <= actions
    for action in actions:
        assert f"`{action}`" in section, action


def test_the_long_tests_switch_has_one_name():
    from tests.conftest import ROOT

    texts = [ROOT / "pyproject.toml", ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
             *(ROOT / "tests").glob("*.py")]  # fmt: skip
    names = set()
    for path in texts:
        if path.name != "test_polish_cli.py":
            names |= set(re.findall(r"EVALTUI_LONG\w*", path.read_text()))
    assert names == {"EVALTUI_LONG"}
    assert "EVALTUI_LONG=1" in (ROOT / "pyproject.toml").read_text()


# -- the README's tour --------------------------------------------------------------------------


def git_status(root) -> str:
    import subprocess

    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_the_readmes_tour_runs_in_a_temp_dir_and_leaves_the_checkout_as_it_was(tmp_path):
    """README "A short tour of the command line", run as written by bash from the checkout
    (the venv's evaltui on PATH; the last line, which opens the app, left out): every
    command succeeds (the gate with a decision's code), what it writes lands in the temp
    dir it makes, `git status` is what it was, and the case it retires is one `stale`
    proposes to retire, for the reason `stale` gives."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import ROOT

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A short tour of the command line", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = [x.strip() for x in block.strip().splitlines()]
    assert lines[0] == ". .venv/bin/activate" and lines[-1].split("#")[0].strip() == "evaltui"
    assert "/tmp" not in block
    commands = [re.sub(r"\s+#\s.*$", "", x) for x in lines[1:-1]]  # comments out
    outs = tmp_path / "outs"
    outs.mkdir()
    script = "\n".join(
        f'{cmd} > "$OUTS/{i}.out" 2> "$OUTS/{i}.err"; echo $? > "$OUTS/{i}.rc"'
        for i, cmd in enumerate(commands)
    )
    work = tmp_path / "tmp"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TMPDIR": str(work),  # mktemp -d makes the tour's folder here
        "OUTS": str(outs),
        "COLUMNS": "200",
    }
    env.pop("EVALTUI_DB")
    before = git_status(ROOT)
    subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, check=True, timeout=600)
    assert git_status(ROOT) == before
    rc = {}
    for i, cmd in enumerate(commands):
        rc[cmd] = int((outs / f"{i}.rc").read_text())
        err = (outs / f"{i}.err").read_text()
        if cmd.startswith("evaltui gate"):
            assert rc[cmd] in (0, 10, 11, 12, 13), (cmd, err)
        else:
            assert rc[cmd] == 0, (cmd, err)
    (folder,) = work.iterdir()
    written = {p.name for p in folder.iterdir()}
    assert {"tour.db", "findings.jsonl", "decision.json", "decision.md", "gate.xml"} <= written
    out = {
        cmd.split("#")[0].strip(): (outs / f"{i}.out").read_text() for i, cmd in enumerate(commands)
    }
    assert (
        "prod-2026-11-02" not in out["evaltui runs"]
        and "qa mockllm/baseline" in out["evaltui runs"]
    )
    # the retired case: one `stale` proposes to retire, for the reason it gives
    retire = next(c for c in out if c.startswith("evaltui retire"))
    case, reason = retire.split()[2], retire.split("--reason ")[1].split()[0]
    stale = next(v for c, v in out.items() if c.startswith("evaltui stale"))
    row = next(x for x in stale.splitlines() if x.startswith(case + " "))
    assert row.split()[1:3] == [reason, reason], row  # rule, and retire? = that reason
    assert f"retired 1 case(s) ({reason})" in out[retire]
    # the notes without a class propose the class the tour ratifies; its cases get labelled
    assert "hedges_sure" in out["evaltui codebook propose 1 2"]
    said = {
        c.split()[2]: v for c, v in out.items() if c.startswith(("evaltui codebook", "evaltui tax"))
    }
    assert "taxonomy version 2; no finding changed: 3 suggested labels" in said["ratify"]
    assert "labelled 3 cases as hedged_answer" in said["confirm"]
    assert "+ hedged_answer: Hedged answer -> prompting" in said["diff"]


# -- runs told apart ---------------------------------------------------------------------------


def test_lm_evals_system_label_is_one_line_that_tells_the_runs_apart():
    from tests.conftest import FIXTURES

    run("import", str(FIXTURES / "lm_eval" / "fixture-lm"))
    systems = [r["system"] for r in json.loads(run("runs", "--json").output)]
    assert systems == [
        "fixture-org/baseline-7b variant=baseline", "fixture-org/candidate-7b variant=candidate"
    ]  # fmt: skip
    out = run("runs", env={"COLUMNS": "200"}).output
    assert "␊" not in out and all(s in out for s in systems)


@pytest.mark.parametrize("width", [80, 120, 160])
def test_runs_of_one_agent_eval_are_told_apart_in_the_runs_table(width):
    """Six Inspect runs of one task and model family (two at the same minute, so `#2` and
    `#3`): at 120 columns and more every name is whole; at 80 each is cut in its middle,
    its end kept, beside its id."""
    from tests.conftest import FIXTURES

    for folder in ("inspect_ai", "inspect_variants"):
        run("import", str(FIXTURES / "agents" / folder))
    names = [r["name"] for r in json.loads(run("runs", "--json").output)]
    assert len(set(names)) == len(names) == 6
    rows = run("runs", env={"COLUMNS": str(width)}).output.splitlines()[1:]
    cells = [re.split(r"\s{2,}", row.strip(), maxsplit=1)[0] for row in rows]
    if width >= 120:
        assert cells == [f"{i} {n}" for i, n in enumerate(names, 1)]
    else:
        for cell, name in zip(cells, names, strict=True):
            head, tail = cell.split(" ", 1)[1].split("…")
            assert name.startswith(head) and name.endswith(tail) and len(tail) >= 8
        assert len(set(cells)) == 6


def test_the_import_progress_bar_on_a_terminal_shows_the_run_name_not_a_style_name(tmp_path):
    """On a terminal (a pty) the bar's label is the run's name: the CLI's console parses
    no markup, so a str column showed `[progress.description]NAME`."""
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "evaltui"), "--db", str(tmp_path / "s.db"), "import",
         str(DEMO / "production.jsonl")],
        stdin=child, stdout=child, stderr=child, env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    os.close(child)
    out = b""
    while True:  # until the process closes the terminal: no timing
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(main)
    assert proc.wait(timeout=120) == 0
    text = out.decode()
    assert "\x1b[2Kprod-2026-11-02 " in text  # the bar, labelled with the run's name
    assert "[progress." not in text and "imported" in text


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160])
def test_compare_never_cuts_a_figure_and_says_what_it_left_out(width):
    from evaltui.units import fmt_ci, fmt_delta, fmt_p, pct, segment_label

    run(
        "import",
        *(str(DEMO / f) for f in ("production.jsonl", "candidate.jsonl", "fallback.jsonl")),
    )
    summary = json.loads(run("compare", "1", "2", "--fallback", "3", "--json").output)
    out = run("compare", "1", "2", "--fallback", "3", env={"COLUMNS": str(width)}).output
    lines = out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("segment "))
    header = lines[at].replace("95% CI", "CI").replace("p adj", "padj").split()
    shown = set(header)
    for seg in summary["segments"]:
        label = segment_label(seg["dimension"], seg["value"])
        row = next(x for x in lines[at + 1 :] if x.startswith(label + " ")).split()
        want = {
            "n": f"{seg['n']:,}", "baseline": pct(seg["baseline"]["rate"]),
            "candidate": pct(seg["candidate"]["rate"]), "delta": fmt_delta(seg["delta"]),
            "fallback": pct(seg["fallback"]["rate"]),
            "p>f": str(seg["flips"]["pass_to_fail"]), "f>p": str(seg["flips"]["fail_to_pass"]),
            "p": fmt_p(seg["p_value"]), "padj": fmt_p(seg["p_adjusted"]),
        }  # fmt: skip
        cis = [
            fmt_ci(seg["baseline"]["passed"], seg["n"]),
            fmt_ci(seg["candidate"]["passed"], seg["n"]),
        ]
        got = dict(zip(header, row, strict=False))
        for name, value in want.items():
            if name in shown:
                assert got[name] == value, (width, label, name, row)
        if "CI" in shown:
            assert [row[header.index("baseline") + 1], row[header.index("candidate") + 1]] == cis
        assert "…" not in " ".join(row[1:])
    assert {"segment", "n", "baseline", "candidate", "delta", "padj"} <= shown
    note = " ".join(lines[lines.index(next(x for x in lines if x.startswith("p>f / f>p"))) :])
    missing = [h for h in ("fallback", "p>f", "f>p", "p") if h not in shown]
    if missing or "CI" not in shown:
        assert "not shown at this width:" in note
    else:
        assert "not shown" not in note
    if width >= 120:
        assert shown >= {"CI", "fallback", "p>f", "f>p", "p"}
