"""Three-way paths and the first divergence (#31 item 4): hand-built paths, and the shared
agent pair (fixtures/agents) with a fallback run.

The expected first divergences of the pair were worked out by reading the files: the tool
calls of each sample's assistant messages (Inspect's `.eval` members) and its last
assistant message, aligned by hand the way `trajectory.align` aligns (longest common
subsequence on the tool name; a baseline-only call before a candidate-only one):

    cancel-01    S            | L S            row 0: + lookup_account     tool-added
    cancel-02    -            | S              row 0: + search_policy      tool-added
    escalate-01  L            | L S E          row 1: + search_policy      tool-added
    giftcard-01  S            | -              row 0: - search_policy      tool-removed
    lookup-01    L            | L L L L L      row 1: + lookup_account     tool-added
    notfound-01  L(A-9999)    | L(A-9999) L(A9999)   row 1              tool-added
    privacy-01   S            | L              row 0: - search_policy      tool-removed
    refund-02    L S          | L S R          row 2: + issue_refund       tool-added
    refund-03    L S R        | L S R          same calls; the answers end differently:
                 "... Duplicate charges ..." | "... Charges ..."  -> 3, other-final-state
    refund-04    L S E        | L R            row 1: - search_policy      tool-removed
    refund-05    L            | L S R          row 1: + search_policy      tool-added
    refund-06    L R          | L S R          row 1: + search_policy      tool-added
    refund-07    L R          | L S            row 1: - issue_refund       tool-removed
    shipping-01  S            | -              row 0: - search_policy      tool-removed
    refund-01, chargeback-01: the same calls and the same answer     -> none

The fallback is Inspect's react agent on the baseline's model (inspect_variants/
react-baseline): its calls and final answers equal the baseline's on all 16 cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaltui import service
from evaltui.compare import Comparison
from evaltui.divergence import align3, describe, first_divergence
from evaltui.trajectory import Step

from .conftest import FIXTURES

AGENTS = FIXTURES / "agents"
INSPECT = [
    next((AGENTS / "inspect_ai" / side).glob("*.eval")) for side in ("baseline", "candidate")
]
OTEL = [AGENTS / "otel_genai" / f"{side}.otlp.jsonl" for side in ("baseline", "candidate")]
REACT = next((AGENTS / "inspect_variants" / "react-baseline").glob("*.eval"))

EXPECTED = {
    "cancel-01": (0, "tool-added"), "cancel-02": (0, "tool-added"),
    "escalate-01": (1, "tool-added"), "giftcard-01": (0, "tool-removed"),
    "lookup-01": (1, "tool-added"), "notfound-01": (1, "tool-added"),
    "privacy-01": (0, "tool-removed"), "refund-02": (2, "tool-added"),
    "refund-03": (3, "other-final-state"), "refund-04": (1, "tool-removed"),
    "refund-05": (1, "tool-added"), "refund-06": (1, "tool-added"),
    "refund-07": (1, "tool-removed"), "shipping-01": (0, "tool-removed"),
    "refund-01": None, "chargeback-01": None,
}  # fmt: skip


def call(name: str, **args) -> Step:
    return Step(kind="tool_call", name=name, arguments=args)


def answer(text: str) -> Step:
    return Step(kind="message", role="assistant", text=text)


# -- hand-built paths --------------------------------------------------------------------------


def test_each_kind_of_divergence_in_words():
    base = [call("lookup", id=1), call("search", q="a"), answer("done")]
    cases = {
        "added": [call("lookup", id=1), call("refund", n=5), call("search", q="a")],
        "removed": [call("lookup", id=1), answer("done")],
        "arguments": [call("lookup", id=1), call("search", q="b"), answer("done")],
        "order": [call("search", q="a"), call("lookup", id=1), answer("done")],
        "state": [call("lookup", id=1), call("search", q="a"), answer("other")],
        "agree": [call("lookup", id=1), call("search", q="a"), answer("done")],
    }
    got = {k: first_divergence(base, v) for k, v in cases.items()}
    said = {k: (d.index, d.kind, describe(d)) if d else describe(d) for k, d in got.items()}
    assert said == {
        "added": (1, "tool-added", "first divergence at call 2: tool added"),
        "removed": (1, "tool-removed", "first divergence at call 2: tool removed"),
        "arguments": (1, "other-arguments",
                      "first divergence at call 2: same tool, other arguments"),
        "order": (0, "other-order", "first divergence at call 1: the same calls in another order"),
        "state": (2, "other-final-state",
                  "first divergence after the last call: the same calls, another final state"),
        "agree": "no divergence: the same calls and the same final state",
    }  # fmt: skip
    # call ids and turns are not the path; a limit that stopped one run is its final state
    moved = Step(kind="tool_call", name="a", arguments={"k": 1}, call_id="x", turn=3)
    assert first_divergence([call("a", k=1)], [moved]) is None
    limited = first_divergence([], [Step(kind="limit", text="message_limit")])
    assert (limited.index, limited.kind) == (0, "other-final-state")
    assert limited.description == "at the end (no tool calls): the same calls, another final state"


def test_three_paths_aligned_on_the_baselines_calls():
    """Each baseline call is one row with what the others made of it; calls a run added
    between two baseline calls come between them, a tool both added on one row."""
    base = [call("lookup", id=1), call("search", q="a"), call("escalate")]
    cand = [call("lookup", id=1), call("refund", n=5), call("search", q="b")]
    fall = [call("lookup", id=1), call("refund", n=9), call("search", q="a"), call("escalate"),
            call("notify")]  # fmt: skip
    rows = [
        (r.baseline and r.baseline.name, r.candidate and r.candidate.name,
         r.fallback and r.fallback.name, r.candidate_op, r.fallback_op, r.pair)
        for r in align3(base, cand, fall)
    ]  # fmt: skip
    assert rows == [
        ("lookup", "lookup", "lookup", "same", "same", 0),
        (None, "refund", "refund", "inserted", "inserted", 1),
        ("search", "search", "search", "changed", "same", 2),
        ("escalate", None, "escalate", "removed", "same", 3),
        (None, None, "notify", None, "inserted", None),
    ]
    assert align3([], [], []) == []
    only = align3([], [call("a")], [call("b")])
    assert [(r.candidate_op, r.fallback_op, r.pair) for r in only] == [
        ("inserted", None, 0),
        (None, "inserted", None),
    ]


# -- the shared agent pair ---------------------------------------------------------------------


def _runs(store, files: list[Path]) -> list[int]:
    return [service.import_path(store, f)[0].run_id for f in files]


@pytest.mark.parametrize("files", [INSPECT, OTEL], ids=["inspect", "otlp"])
def test_first_divergences_of_the_shared_pair(store, db_path, files):
    """The same divergences whichever format the pair was written in."""
    b, c = _runs(store, files)
    got = {}
    with Comparison(db_path, b, c) as cmp:
        for key in EXPECTED:
            _, detail, _ = cmp.read_case(cmp.find(None, key))
            d = first_divergence(detail.baseline[0].trajectory or [],
                                 detail.candidate[0].trajectory or [])  # fmt: skip
            got[key] = (d.index, d.kind) if d else None
    assert got == EXPECTED


def test_the_pair_with_a_fallback_aligned_three_ways(store, db_path):
    b, c, f = _runs(store, [*INSPECT, REACT])
    with Comparison(db_path, b, c, f) as cmp:
        for key in EXPECTED:
            _, detail, _ = cmp.read_case(cmp.find(None, key))
            base, cand, fall = (s[0].trajectory or [] for s in
                                (detail.baseline, detail.candidate, detail.fallback))  # fmt: skip
            # the fallback keeps the baseline's path
            assert first_divergence(base, fall) is None, key
            rows = align3(base, cand, fall)
            assert [r.pair for r in rows if r.pair is not None] == list(range(len(rows)))
            if key == "refund-04":
                assert [(r.baseline and r.baseline.name, r.candidate and r.candidate.name,
                         r.fallback and r.fallback.name, r.candidate_op, r.fallback_op)
                        for r in rows] == [
                    ("lookup_account", "lookup_account", "lookup_account", "same", "same"),
                    ("search_policy", None, "search_policy", "removed", "same"),
                    ("escalate", None, "escalate", "removed", "same"),
                    (None, "issue_refund", None, "inserted", None),
                ]  # fmt: skip


# -- case --json and the compare filter ---------------------------------------------------------


def _cli(store, *args: str):
    from click.testing import CliRunner

    from evaltui.cli import cli

    return CliRunner().invoke(cli, ["--db", str(store.path), *args])


def test_case_json_has_the_first_divergence_and_the_three_way_rows(store):
    b, c, f = (str(r) for r in _runs(store, [*INSPECT, REACT]))

    def paths(*args: str) -> dict:
        out = _cli(store, "case", b, c, *args, "--json")
        assert out.exit_code == 0, out.output
        return json.loads(out.output)["paths"]

    r4 = paths("refund-04", "--fallback", f)
    assert r4["first_divergence"] == {
        "index": 1, "kind": "tool-removed", "description": "at call 2: tool removed"
    }  # fmt: skip
    assert r4["fallback_first_divergence"] is None  # the fallback keeps the baseline's path
    assert [(r["op"], *((r[s] or {}).get("name") for s in ("baseline", "candidate", "fallback")))
            for r in r4["aligned3"]] == [
        ({"candidate": "same", "fallback": "same"},
         "lookup_account", "lookup_account", "lookup_account"),
        ({"candidate": "removed", "fallback": "same"}, "search_policy", None, "search_policy"),
        ({"candidate": "removed", "fallback": "same"}, "escalate", None, "escalate"),
        ({"candidate": "inserted", "fallback": None}, None, "issue_refund", None),
    ]  # fmt: skip
    assert r4["aligned3"][3]["candidate"]["arguments"] == {"account_id": "A-1004", "amount": 600.0}
    keys = list(r4)
    assert keys[:4] == ["runs", "aligned", "tools_changed", "first_divergence"]
    assert keys[4:] == ["aligned3", "fallback_first_divergence"]
    r3 = paths("refund-03")  # no fallback: no three-way keys
    assert r3["first_divergence"]["kind"] == "other-final-state"
    assert r3["first_divergence"]["index"] == 3 and not r3["tools_changed"]
    assert "aligned3" not in r3 and "fallback_first_divergence" not in r3
    assert paths("refund-01")["first_divergence"] is None
    text = _cli(store, "case", b, c, "refund-04", "--fallback", f).output
    assert "candidate: first divergence at call 2: tool removed\n" in text
    assert "fallback: no divergence: the same calls and the same final state\n" in text


def test_compare_lists_the_cases_of_one_kind_of_divergence(store, db_path):
    from evaltui.compare.filter import Filter
    from evaltui.compare.kinds import CHANGES
    from evaltui.errors import InputError

    b, c = (str(r) for r in _runs(store, INSPECT))
    out = _cli(store, "compare", b, c, "--divergence", "tool-removed", "--json")
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)["divergence"]
    assert found["kind"] == "tool-removed"
    assert set(found["cases"]) == {k for k, v in EXPECTED.items() if v and v[1] == "tool-removed"}
    # in list order: the regressions first, then the improvement, then the tool changes
    assert found["cases"] == ["privacy-01", "refund-04", "refund-07", "giftcard-01", "shipping-01"]
    text = _cli(store, "compare", b, c, "--divergence", "other-final-state")
    assert "first divergence other-final-state (1):\n  refund-03\n" in text.output
    plain = _cli(store, "compare", b, c, "--json")
    assert "divergence" not in json.loads(plain.output)  # only when asked
    bad = _cli(store, "compare", b, c, "--divergence", "sideways")
    assert bad.exit_code == 2
    assert bad.output == (
        "Error: --divergence: unknown divergence 'sideways'; one of tool-added, tool-removed, "
        "other-arguments, other-order, other-final-state\n"
    )
    # the app's filter language: the same filter
    flt = Filter(changes=frozenset(CHANGES)).parse("divergence:Tool-Added untriaged")
    assert flt.divergence == "tool-added" and flt.search_text() == "untriaged divergence:tool-added"
    with Comparison(db_path, int(b), int(c)) as cmp:
        added = {r.case_key for r in cmp.page(flt.with_(triage=None), limit=100)}
        assert added == {k for k, v in EXPECTED.items() if v and v[1] == "tool-added"}
        assert cmp.count(flt.with_(triage=None, divergence="other-arguments")) == 0
        with pytest.raises(InputError, match="unknown divergence 'x'"):
            cmp.page(flt.with_(divergence="x"))


# -- the app -----------------------------------------------------------------------------------


def _marked(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith(">")]


async def test_d_highlights_the_first_divergence_beside_the_fallback(store, db_path):
    """`d` moves the path cursor to where the candidate's path first parts from the
    baseline's and says how; the fallback is a third column aligned to the other two."""
    from evaltui.tui.app import EvaltuiApp
    from evaltui.tui.screens.help import HelpScreen

    from .tui.conftest import open_compare, pane_text, settle

    b, c, f = _runs(store, [*INSPECT, REACT])
    for mark, run in (("baseline", b), ("candidate", c), ("fallback", f)):
        service.mark_run(store, mark, run)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        for _ in range(16):
            if screen.current.case_key == "refund-04":
                break
            await pilot.press("j")
            await settle(app, pilot)
        assert screen.current.case_key == "refund-04"
        text = pane_text(screen)
        assert "path: tool calls, baseline | candidate | fallback (3 | 2 | 3)" in text
        assert _marked(text) == []
        await pilot.press("d")
        await settle(app, pilot)
        text = pane_text(screen)
        (line,) = _marked(text)
        # the candidate skips search_policy; the fallback makes it as the baseline does
        assert line.lstrip().startswith(">- ") and line.count("search_policy") == 2, line
        assert "candidate: first divergence at call 2: tool removed" in text
        assert "fallback: no divergence: the same calls and the same final state" in text
        assert "First divergence at call 2: tool removed" in [
            str(n.message) for n in app._notifications
        ]
        await pilot.press("j")  # the next case starts with none highlighted
        await settle(app, pilot)
        assert _marked(pane_text(screen)) == []
        await pilot.press("question_mark")  # the help lists the key, from its binding
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        (key,) = [k for k in app.screen.keys if k.binding_id == "compare.first-divergence"]
        assert (key.key, key.description) == ("d", "Divergence")


def test_hostile_tool_names_and_arguments_stay_inert_in_three_columns(store, db_path, tmp_path):
    from rich.console import Console

    from evaltui.tui.path_view import path_renderables

    name, arg = "[bold red]boom[/]\x1b[2J", "[link=http://x]y[/link]\u202e"
    runs = []
    for side, steps in (("b", [call("ok")]), ("c", [call(name, q=arg)]), ("f", [call("ok")])):
        line = {"suite": "s", "case_key": "k", "verdict": "pass",
                "trajectory": [s.model_dump(exclude_defaults=True) for s in steps]}  # fmt: skip
        path = tmp_path / f"{side}.jsonl"
        path.write_text(json.dumps({"run": {"name": side}}) + "\n" + json.dumps(line) + "\n")
        runs.append(service.import_path(store, path)[0].run_id)
    with Comparison(db_path, *runs) as cmp:
        _, detail, _ = cmp.read_case(cmp.find(None, "k"))
    console = Console(width=160, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for part in path_renderables(detail, cursor=0, width=150):
        console.print(part)
    text = console.export_text()
    assert "[bold red]boom[/]" in text and "[link=http://x]" in text  # shown literally
    assert "\x1b" not in text and "\u202e" not in text
    assert "candidate: first divergence at call 1: tool removed" in text


def test_a_divergence_past_the_aligned_calls_is_still_found(monkeypatch):
    """Paths longer than MAX_ALIGN calls are aligned in part: a divergence after the cut
    is found all the same, at the end of the rows."""
    from evaltui import divergence, trajectory

    monkeypatch.setattr(trajectory, "MAX_ALIGN", 2)
    monkeypatch.setattr(divergence, "MAX_ALIGN", 2)
    base = [call("a"), call("b"), call("c", n=1)]
    other = first_divergence(base, [call("a"), call("b"), call("c", n=2)])
    assert (other.index, other.kind) == (2, "other-arguments")
    added = first_divergence(base, [*base, call("d")])
    assert (added.index, added.kind) == (2, "tool-added")
    assert first_divergence(base, list(base)) is None
