"""Agent runs: trajectories from Inspect AI and OpenTelemetry GenAI traces (fixtures/agents,
written by the tools themselves), the aligned tool calls, tools_changed, `evaltui case`.

The expected figures are the scenario's (fixtures/agents/README.md): 26 tool calls in the
baseline and 36 in the candidate; the tool path differs on 13 of 16 cases; lookup-01 loops.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service, trajectory
from evaltui.cli import cli
from evaltui.compare import Comparison
from evaltui.importers.inspect_ai import _read_member
from evaltui.store.runs import resolve_case
from evaltui.trajectory import Step

from .conftest import FIXTURES

AGENTS = FIXTURES / "agents"
INSPECT = [
    next((AGENTS / "inspect_ai" / side).glob("*.eval")) for side in ("baseline", "candidate")
]
OTEL = [AGENTS / "otel_genai" / f"{side}.otlp.jsonl" for side in ("baseline", "candidate")]
PROMPTFOO = [AGENTS / "promptfoo" / f"{side}.json" for side in ("baseline", "candidate")]
LANGSMITH = [AGENTS / "langsmith" / f"{side}.jsonl" for side in ("baseline", "candidate")]
IDENTICAL = {"refund-01", "refund-03", "chargeback-01"}


def pair(store, files: list[Path], mark: bool = False) -> tuple[int, int]:
    """Import the baseline and candidate files; `mark` them so the app opens on them."""
    b, c = (service.import_path(store, f)[0].run_id for f in files)
    if mark:
        service.mark_run(store, "baseline", b)
        service.mark_run(store, "candidate", c)
    return b, c


def call(name: str, **args) -> Step:
    return Step(kind="tool_call", name=name, arguments=args)


# -- the domain: alignment, loops, sources ------------------------------------------------------


def test_alignment_of_hand_checked_paths():
    base = [call("lookup", id=1), call("search", q="a"), call("escalate", r="x")]
    cand = [call("lookup", id=1), call("refund", amount=600), call("search", q="b")]
    ops = [(a.op, a.baseline and a.baseline.name, a.candidate and a.candidate.name)
           for a in trajectory.align(base, cand)]  # fmt: skip
    assert ops == [("same", "lookup", "lookup"), ("inserted", None, "refund"),
                   ("changed", "search", "search"), ("removed", "escalate", None)]  # fmt: skip
    assert trajectory.align([], []) == []
    assert [a.op for a in trajectory.align(base, [])] == ["removed"] * 3


def test_loops_and_fingerprints():
    looped = [call("lookup", id="A-1007")] * 5
    assert trajectory.loops(looped) == [("lookup", 5)]
    assert trajectory.loops(looped[:2]) == []
    same = [call("a", x=1), call("b")]
    assert trajectory.fingerprint(same) == trajectory.fingerprint([call("a", x=1), call("b")])
    assert trajectory.fingerprint(same) != trajectory.fingerprint([call("a", x=2), call("b")])
    assert trajectory.fingerprint([Step(kind="message", role="user", text="hi")]) == 0


def test_sources_retrieved_cited_and_ungrounded():
    steps = trajectory.with_sources([
        Step(kind="tool_result", name="search", call_id="c1",
             text=json.dumps([{"id": "kb/a#1", "title": "A", "text": "..."}, {"id": "kb/b#2"}])),
        Step(kind="message", role="assistant", text="See [kb/a#1] and [kb/z#9]."),
    ])  # fmt: skip
    retrieved, cited = trajectory.sources(steps)
    assert retrieved == ["kb/a#1", "kb/b#2"] and cited == ["kb/a#1", "kb/z#9"]


# -- importers: what the files hold -------------------------------------------------------------


def _inspect_calls(path: Path) -> dict[str, list[tuple[str, dict]]]:
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("samples/"):
                s = json.loads(bytes(_read_member(path, zf, info)))
                out[str(s["id"])] = [(c["function"], c["arguments"]) for m in s["messages"]
                                     for c in m.get("tool_calls") or []]  # fmt: skip
    return out


@pytest.mark.parametrize("files", [INSPECT, OTEL, PROMPTFOO, LANGSMITH],
                         ids=["inspect", "otlp", "promptfoo", "langsmith"])  # fmt: skip
def test_tool_calls_equal_what_the_files_hold(store, db_path, files):
    b, c = pair(store, files)
    with Comparison(db_path, b, c) as cmp:
        tools = cmp.summary().dump()["tools"]
        assert tools["baseline"]["tool_calls"] == 26 and tools["candidate"]["tool_calls"] == 36
        assert (
            tools["candidate"]["cases_with_loops"] == 1
            and tools["baseline"]["cases_with_loops"] == 0
        )
        assert tools["baseline"]["tool_errors"] == 1 and tools["candidate"]["tool_errors"] == 2
        differ = set()
        for key in [r[0] for r in store.conn.execute("SELECT case_key FROM cases")]:
            _, detail, _ = cmp.read_case(cmp.find(None, key))
            steps = [detail.baseline[0].trajectory or [], detail.candidate[0].trajectory or []]
            if files is INSPECT:
                want = _inspect_calls(files[1])[key]
                assert [(s.name, s.arguments) for s in trajectory.calls(steps[1])] == want
            if any(a.op != "same" for a in trajectory.align(*steps)):
                differ.add(key)
        assert len(differ) == 13 and not (differ & IDENTICAL)


@pytest.mark.parametrize("files", [INSPECT, OTEL, PROMPTFOO, LANGSMITH],
                         ids=["inspect", "otlp", "promptfoo", "langsmith"])  # fmt: skip
def test_tools_changed_counts_the_held_passes_on_another_path(store, db_path, files):
    b, c = pair(store, files)
    with Comparison(db_path, b, c) as cmp:
        counts = cmp.counts()
        keys = cmp.changed_keys(["tools_changed"])["tools_changed"]
        assert counts["tools_changed"] == len(keys) > 0
        assert not (set(keys) & IDENTICAL)
        for key in keys:
            row = cmp.find(None, key)
            assert row is not None and row.change == "tools_changed"


def _paths(store, db_path, files: list[Path]) -> tuple[dict[str, tuple], set[str]]:
    """Each case's tool calls (baseline, candidate: names and arguments) and the
    tools_changed set, from a pair imported in any format."""
    b, c = pair(store, files)
    with Comparison(db_path, b, c) as cmp:
        out = {}
        for key in [r[0] for r in store.conn.execute("SELECT case_key FROM cases")]:
            _, detail, _ = cmp.read_case(cmp.find(None, key))
            out[key] = tuple(
                [(s.name, s.arguments) for s in trajectory.calls(side[0].trajectory or [])]
                for side in (detail.baseline, detail.candidate)
            )
        return out, set(cmp.changed_keys(["tools_changed"])["tools_changed"])


@pytest.mark.parametrize("files", [PROMPTFOO, LANGSMITH], ids=["promptfoo", "langsmith"])
def test_every_format_gives_the_same_calls_and_tools_changed(tmp_path, files):
    """promptfoo with tracing on and LangSmith run exports of the same scenario: the same
    tool calls per case as the Inspect logs and the OTel traces, and the same tools_changed
    set as the OTel pair (whose verdict is every check passing, as promptfoo's assertions
    and the LangSmith feedback give it; Inspect's verdict is its headline scorer alone, so
    its set differs by the verdicts, not by the paths)."""
    from evaltui.store import Store

    got = {}
    for name, fs in (("inspect", INSPECT), ("otlp", OTEL), ("new", files)):
        db = tmp_path / f"{name}.db"
        with Store(db) as store:
            got[name] = _paths(store, db, fs)
    assert got["new"][0] == got["otlp"][0] == got["inspect"][0] and len(got["new"][0]) == 16
    assert got["new"][1] == got["otlp"][1] == {"cancel-01", "notfound-01"}


def test_sources_show_wrong_missing_and_ungrounded(store):
    b, c = pair(store, OTEL)
    run = CliRunner()

    def case(key: str) -> dict:
        out = run.invoke(cli, ["--db", str(store.path), "case", str(b), str(c), key, "--json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    r6 = case("refund-06")["paths"]["runs"]["baseline"]["sources"]
    assert r6["retrieved"] == [] and r6["cited_not_retrieved"] == ["policy/refunds#1"]
    g1 = case("giftcard-01")["paths"]["runs"]
    assert g1["baseline"]["sources"]["cited"] and not g1["candidate"]["sources"]["retrieved"]
    r4 = case("refund-04")
    assert [a["op"] for a in r4["paths"]["aligned"]].count("inserted") == 1
    assert r4["paths"]["tools_changed"] and r4["change"] == "regressed"
    assert case("lookup-01")["paths"]["runs"]["candidate"]["loops"] == [
        {"tool": "lookup_account", "times": 5}
    ]


def test_case_command_text_and_unknown_case(store):
    b, c = pair(store, INSPECT)
    out = CliRunner().invoke(cli, ["--db", str(store.path), "case", str(b), str(c), "refund-02"])
    assert out.exit_code == 0 and "issue_refund" in out.output and "+ " in out.output
    missing = CliRunner().invoke(cli, ["--db", str(store.path), "case", str(b), str(c), "no-such"])
    assert missing.exit_code != 0 and "no case 'no-such'" in missing.output


def test_native_trajectory_field_round_trips(store, tmp_path):
    steps = [Step(kind="message", role="user", text="hi"), call("lookup", id=1),
             Step(kind="tool_result", call_id="x", name="lookup", text="{}")]  # fmt: skip
    line = {"suite": "s", "case_key": "k", "verdict": "pass",
            "trajectory": [s.model_dump(exclude_defaults=True) for s in steps]}  # fmt: skip
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (out,) = service.import_path(store, path)
    with Comparison(store.path, out.run_id, out.run_id) as cmp:
        _, detail, _ = cmp.read_case(cmp.find(None, "k"))
    assert detail.baseline[0].trajectory == steps


async def test_the_case_pane_shows_the_aligned_path(store, db_path):
    from .tui.test_compare_screen import open_compare, pane_text, settle

    pair(store, INSPECT, mark=True)
    from evaltui.tui.app import EvaltuiApp

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        screen = await open_compare(app, pilot)
        text = pane_text(screen)
        if "refund-02" not in text:  # step to it
            for _ in range(16):
                await pilot.press("j")
                await settle(app, pilot)
                text = pane_text(screen)
                if "refund-02" in text.splitlines()[0]:
                    break
        assert "path: tool calls, baseline | candidate" in text
        line = next(line for line in text.splitlines() if "issue_refund" in line)
        assert line.lstrip().startswith("+")  # only the candidate refunds


def test_the_readmes_agent_runs_section_holds(tmp_path):
    """README "Agent runs": the commands run as written and say what the README says."""
    import os
    import re
    import subprocess
    import sys

    readme = (FIXTURES.parent / "README.md").read_text()
    section = readme.split("## Agent runs", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    env = {**os.environ, "EVALTUI_DB": str(tmp_path / "agents.db")}
    evaltui = str(Path(sys.executable).parent / "evaltui")
    outputs = []
    for cmd in commands:
        if cmd.startswith("export") or "| jq" in cmd:
            continue
        args = cmd.split()[1:]
        done = subprocess.run(
            [evaltui, *args], capture_output=True, text=True, env=env, cwd=FIXTURES.parent
        )
        assert done.returncode == 0, (cmd, done.stderr)
        outputs.append(done.stdout)
    assert re.search(r"tools changed [1-9]", outputs[1])
    case = outputs[2]
    line = next(x for x in case.splitlines() if "issue_refund" in x)
    assert line.startswith("+") and "regressed" in case.splitlines()[0]
    assert (FIXTURES.parent / "docs" / "img" / "agents.svg").exists()


@pytest.mark.parametrize("files", [INSPECT, OTEL, PROMPTFOO, LANGSMITH],
                         ids=["inspect", "otlp", "promptfoo", "langsmith"])  # fmt: skip
def test_tool_and_source_filters(store, db_path, files):
    from evaltui.compare.filter import Filter
    from evaltui.compare.kinds import CHANGES

    b, c = pair(store, files)
    everything = Filter(changes=frozenset(CHANGES))
    with Comparison(db_path, b, c) as cmp:
        refunds = {r.case_key for r in cmp.page(everything.parse("tool:issue_refund"), limit=100)}
        assert {"refund-01", "refund-02", "refund-04", "refund-07"} <= refunds
        assert "giftcard-01" not in refunds and "lookup-01" not in refunds
        cited = {
            r.case_key for r in cmp.page(everything.parse("source:policy/refunds#4"), limit=100)
        }
        assert "refund-04" in cited
        changed = cmp.page(everything.parse("tools_changed"), limit=100)
        assert {r.change for r in changed} == {"tools_changed"} and len(changed) == cmp.counts()[
            "tools_changed"
        ]
        assert (
            everything.parse("tool:escalate untriaged").search_text() == "untriaged tool:escalate"
        )


async def test_the_path_cursor_steps_between_calls_and_unfolds(store, db_path):
    """`]` highlights the next aligned call (which one is shown, and how it is marked),
    `[` the previous, `=` shows its results whole; a new case starts with none."""
    from .tui.test_compare_screen import open_compare, pane_text, settle

    pair(store, INSPECT, mark=True)
    from evaltui.tui.app import EvaltuiApp

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        screen = await open_compare(app, pilot)
        for _ in range(16):
            if screen.current.case_key == "refund-02":
                break
            await pilot.press("j")
            await settle(app, pilot)
        assert screen.current.case_key == "refund-02"

        def marked() -> list[str]:
            return [
                line for line in pane_text(screen).splitlines() if line.lstrip().startswith(">")
            ]

        assert marked() == []
        for _ in range(3):
            await pilot.press("right_square_bracket")
        await settle(app, pilot)
        (line,) = marked()
        assert (
            line.lstrip().startswith(">+") and "issue_refund" in line
        )  # the third call: only the candidate's
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        (line,) = marked()
        assert "search_policy" in line
        before = pane_text(screen)
        await pilot.press("equals_sign")
        await settle(app, pilot)
        assert "Refund window" in pane_text(screen) and len(pane_text(screen)) > len(before)
        await pilot.press("j")
        await settle(app, pilot)
        assert marked() == []


async def test_a_10000_message_transcript_is_shown_in_part(store, db_path, tmp_path):
    """The whole-case view of a 10,000-message agent run draws a bounded part of it, and
    says how much more there is; the case list never reads trajectories."""
    from evaltui.tui.app import EvaltuiApp
    from evaltui.tui.path_view import TRANSCRIPT_SHOWN
    from evaltui.tui.screens.case import CaseScreen

    from .tui.test_compare_screen import open_compare, settle

    steps = []
    for i in range(5000):
        steps.append(
            Step(kind="tool_call", turn=i, name="lookup", call_id=f"c{i}", arguments={"i": i})
        )
        steps.append(Step(kind="message", role="assistant", turn=i, text=f"turn {i} " + "x" * 200))
    rows = []
    for side, verdict in (("b", "pass"), ("c", "fail")):
        line = {"suite": "s", "case_key": "long", "verdict": verdict, "output": side,
                "trajectory": [s.model_dump(exclude_defaults=True) for s in steps]}  # fmt: skip
        path = tmp_path / f"{side}.jsonl"
        path.write_text(json.dumps({"run": {"name": side}}) + "\n" + json.dumps(line) + "\n")
        rows.append(service.import_path(store, path)[0].run_id)
    service.mark_run(store, "baseline", rows[0])
    service.mark_run(store, "candidate", rows[1])
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.current.case_key == "long"
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseScreen)
        from rich.console import Console

        console = Console(width=170, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        for widget in app.screen.query("Static"):
            console.print(widget.content)
        text = console.export_text()
        assert f"… {10_000 - TRANSCRIPT_SHOWN:,} more steps" in text
        assert text.count("turn ") < 2 * TRANSCRIPT_SHOWN + 10


@pytest.mark.tmux
@pytest.mark.skipif(__import__("shutil").which("tmux") is None, reason="tmux is not installed")
def test_the_real_app_steps_through_calls_in_tmux(store, db_path):
    from .test_tmux import Terminal

    pair(store, INSPECT, mark=True)
    store.close()
    import sys

    evaltui = Path(sys.executable).parent / "evaltui"
    env = {"EVALTUI_DB": str(db_path), "EVALTUI_REVIEWER": "tmux", "TERM": "xterm-256color"}
    term = Terminal(str(evaltui), env, width=170, height=60)
    try:
        term.wait_for("support_agent")
        term.keys("Enter")
        term.wait_for("privacy-01   REGRESSED", timeout=60)  # the first case; refund-02 is next
        term.keys("j")
        term.wait_for("refund-02   REGRESSED", timeout=60)
        term.keys("]")
        term.wait_for("> ", timeout=30)  # the first call is highlighted (the same in both runs)
        term.keys("]", "]")
        screen = term.wait_for(">+", timeout=30)
        line = next(x for x in screen.splitlines() if ">+" in x)
        assert "issue_refund" in line
        term.keys("q")
    finally:
        term.close()


# -- triage on the path -----------------------------------------------------------------------


def test_a_finding_points_at_a_call_and_the_gate_counts_it_by_tool(store, tmp_path):
    """`label --step N` points the finding at the N-th aligned call; the step travels in
    findings files; a findings_of_class rule with `tool` counts only those; a tool no run
    calls is refused, never a silent zero."""
    from evaltui import gate
    from evaltui.errors import InputError
    from evaltui.review import triage
    from evaltui.review.findings_files import FindingLine, export

    b, c = pair(store, INSPECT)
    run = CliRunner()
    base = ["--db", str(store.path)]
    out = run.invoke(
        cli,
        [
            *base,
            "label",
            str(b),
            str(c),
            "refund-02",
            "--class",
            "unsafe_tool_action",
            "--step",
            "3",
        ],
    )
    assert out.exit_code == 0, out.output
    out = run.invoke(
        cli, [*base, "label", str(b), str(c), "refund-04", "--class", "unsafe_tool_action"]
    )
    assert out.exit_code == 0, out.output
    bad = run.invoke(
        cli,
        [
            *base,
            "label",
            str(b),
            str(c),
            "refund-02",
            "--class",
            "unsafe_tool_action",
            "--step",
            "99",
        ],
    )
    assert bad.exit_code == 2 and "there is no call 99" in bad.output
    (f,) = [x for x in triage.history(store, b, c, resolve_case(store, "refund-02")) if x.step]
    assert f.step is not None
    assert (f.step.tool, f.step.run, f.step.index) == ("issue_refund", "candidate", 2)
    # the step travels in a findings file
    path = tmp_path / "f.jsonl"
    export(store, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [
        line.get("step", {}).get("tool") for line in lines if line["case_key"] == "refund-02"
    ] == ["issue_refund"]
    assert all("step" not in line for line in lines if line["case_key"] == "refund-04")
    # the model that reads a line writes it, byte for byte
    assert [FindingLine.model_validate_json(x).text() for x in path.read_text().splitlines()] == (
        path.read_text().splitlines()
    )

    def decide(tool: str) -> dict:
        policy = tmp_path / f"p-{tool}.toml"
        policy.write_text(
            'promise = "p"\n[[rule]]\nid = "refunds"\nmetric = "findings_of_class"\nclass = "unsafe_tool_action"\n'
            f'tool = "{tool}"\nmax = 0\naction = "rollback"\nowner = "safety"\nwhy = "w"\n'
        )
        rec = gate.evaluate(store, gate.load_policy(policy), b, c)
        return next(r for r in rec.rules if r.id == "refunds").model_dump()

    rule = decide("issue_refund")
    assert rule["value"] == 1 and rule["evidence"]["cases"] == [
        "refund-02"
    ]  # refund-04 names no call
    with pytest.raises(
        InputError, match=r"no tool 'issue_refunds' is called.*did you mean 'issue_refund'"
    ):
        decide("issue_refunds")


async def test_a_class_key_on_a_highlighted_call_points_the_finding_at_it(store, db_path):
    from evaltui.review import triage

    from .tui.test_compare_screen import open_compare, settle

    b, c = pair(store, INSPECT, mark=True)
    from evaltui.tui.app import EvaltuiApp

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        screen = await open_compare(app, pilot)
        key = screen.current.case_key
        await pilot.press("right_square_bracket", "6")
        await settle(app, pilot)
        said = str(screen.query_one("#status").content)
        assert "(at call 1:" in said, said
    (f,) = triage.history(store, b, c, resolve_case(store, key))
    assert f.step is not None and f.step.index == 0 and f.class_key == "unsafe_tool_action"


async def test_the_compare_screen_shows_each_runs_tool_line(store, db_path):
    from evaltui.tui.app import EvaltuiApp

    from .tui.test_compare_screen import open_compare, settle

    pair(store, OTEL, mark=True)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        counts = str(screen.query_one("#counts").content)
        assert "baseline tools: 26 calls (1.6/case), 1 errors" in counts
        assert "candidate tools: 36 calls (2.2/case), 2 errors, 1 case(s) looping" in counts


@pytest.mark.parametrize("variant", ["span", "lean"])
def test_otlp_written_with_other_options_reads_the_same(store, variant):
    """The same runs written one span per line (traces spread over lines) or without
    system instructions: the same cases, verdicts, criteria and tool paths."""
    from evaltui.importers import ImportOptions
    from evaltui.importers.otel_genai import OtelGenAIImporter

    def read(path: Path) -> dict[str, tuple]:
        (run,) = OtelGenAIImporter().read(path, ImportOptions())
        return {r.case_key: (r.verdict, sorted((k, c.verdict) for k, c in r.criteria.items()),
                             [(s.name, s.arguments) for s in trajectory.calls(r.trajectory or [])],
                             trajectory.sources(r.trajectory or []))
                for r in run.records}  # fmt: skip

    for side in ("baseline", "candidate"):
        want = read(AGENTS / "otel_genai" / f"{side}.otlp.jsonl")
        got = read(AGENTS / "otel_variants" / f"{side}.{variant}.otlp.jsonl")
        assert got == want and len(got) == 16


def test_the_inspect_pair_as_json_logs_gives_the_same_paths(store):
    """The same logs converted to .json by Inspect itself (streamed): the same paths."""
    from evaltui.importers import ImportOptions
    from evaltui.importers.inspect_ai import InspectImporter

    def read(path: Path) -> dict[str, tuple]:
        (run,) = InspectImporter().read(path, ImportOptions())
        return {r.case_key: (r.verdict, [(s.name, s.arguments) for s in trajectory.calls(r.trajectory or [])],
                             trajectory.sources(r.trajectory or []), trajectory.tool_errors(r.trajectory or []))
                for r in run.records}  # fmt: skip

    for side, eval_file in zip(("baseline", "candidate"), INSPECT, strict=True):
        (json_file,) = (AGENTS / "inspect_json" / side).glob("*.json")
        assert read(json_file) == read(eval_file)


VARIANTS = AGENTS / "inspect_variants"


def _variant(name: str) -> Path:
    return next((VARIANTS / name).glob("*.eval"))


def test_inspect_agent_variants_written_by_inspect(store, db_path):
    """react agents (answer via submit), two epochs, and an approval policy that rejects
    every issue_refund: paths, errors and samples as the logs hold them."""
    generate = service.import_path(store, INSPECT[0])[0].run_id
    react = service.import_path(store, _variant("react-baseline"))[0].run_id
    with Comparison(db_path, generate, react) as cmp:
        assert cmp.counts()["tools_changed"] == 0  # the same paths, whatever the agent loop
        tools = cmp.summary().dump()["tools"]
        assert (
            tools["baseline"] == tools["candidate"] and tools["baseline"]["calls_per_case"] == 1.625
        )
    approval = service.import_path(store, _variant("approval-candidate"))[0].run_id
    epochs = service.import_path(store, _variant("epochs2-candidate"))[0].run_id
    with Comparison(db_path, epochs, approval) as cmp:
        _, detail, _ = cmp.read_case(cmp.find(None, "refund-02"))
        steps = detail.candidate[0].trajectory
        refunds = [s for s in steps if s.kind == "tool_result" and s.name == "issue_refund"]
        assert refunds and all(s.error for s in refunds)  # rejected by the approval policy
        assert len(detail.baseline) == 2 and all(s.trajectory for s in detail.baseline)
        assert cmp.summary().dump()["tools"]["candidate"]["tool_errors"] >= len(refunds)
