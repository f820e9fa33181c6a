"""Decision locked (#28): whether triage can still change a decision, exactly over the
rules that read triage; `gate --status [--json]` says so and records nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui import gate, service
from evaltui.cli import cli
from evaltui.gate import lock
from evaltui.review import triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store.runs import resolve_case

from .helpers import write_jsonl

REGRESSED = ("r1", "r2", "r3")  # pass -> fail, untriaged: the open cases


def lock_rule(rid: str, metric: str, threshold: str, action: str, extra: str = "") -> str:
    return (f'\n[[rule]]\nid = "{rid}"\nmetric = "{metric}"\n{threshold}\naction = "{action}"\n'
            f'owner = "team"\nwhy = "because"\n{extra}')  # fmt: skip


@pytest.fixture
def runs(store, tmp_path):
    return make_runs(store, tmp_path)


def make_runs(store, tmp_path) -> list[int]:
    """r1-r3 regress (r3 low risk); ok1 passes in both runs, ok2 fails in both."""
    verdicts = {"r1": ("pass", "fail"), "r2": ("pass", "fail"), "r3": ("pass", "fail"),
                "ok1": ("pass", "pass"), "ok2": ("fail", "fail")}  # fmt: skip
    ids = []
    for side, name in enumerate(("base", "cand")):
        rows = [{"suite": "s", "case_key": k, "verdict": v[side], "output": f"{name}-{k}",
                 "attributes": {"risk": "low" if k == "r3" else "high"}}
                for k, v in verdicts.items()]  # fmt: skip
        (out,) = service.import_path(
            store, write_jsonl(tmp_path / f"{name}.jsonl", rows, header={"name": name})
        )
        ids.append(out.run_id)
    return ids


def held(store, tmp_path, ids, rules: str) -> lock.Lock:
    path = tmp_path / "policy.toml"
    path.write_text('promise = "p"\n' + rules)
    loaded = gate.load_policy(path)
    tax = default_taxonomy()
    record = gate.evaluate(store, loaded, ids[0], ids[1], taxonomy=tax)
    return lock.status(store, loaded, record, (ids[0], ids[1], None), tax)


def label(store, ids, key: str, **kwargs) -> None:
    tax = default_taxonomy()
    if "failure_class" in kwargs:
        kwargs["failure_class"] = tax.resolve(kwargs["failure_class"])
    triage.label(store, ids[0], ids[1], resolve_case(store, key), **kwargs)


UNSAFE = lock_rule("no-unsafe", "findings_of_class", "max = 0", "rollback",
                   'class = "unsafe_tool_action"\n')  # fmt: skip


def test_locked_when_the_worst_action_is_already_triggered(store, tmp_path, runs):
    rules = lock_rule("no-regressions", "regressions", "max = 0", "rollback") + UNSAFE
    h = held(store, tmp_path, runs, rules)
    assert (h.decision, h.locked, h.possible) == ("rollback", True, ("rollback",))
    assert (h.open_cases, h.to_settle, h.deciding) == (3, 0, ())
    assert h.text == "locked: rollback, whatever the 3 untriaged regressions are"
    assert {r.id: r.open for r in h.rules} == {"no-unsafe": True}  # the rule is, not the decision


def test_open_while_an_untriaged_regression_could_be_unsafe(store, tmp_path, runs):
    h = held(store, tmp_path, runs, UNSAFE)
    assert (h.decision, h.locked, h.possible) == ("ship", False, ("ship", "rollback"))
    assert (h.open_cases, h.to_settle, h.deciding) == (3, 3, REGRESSED)
    assert h.text == (
        "open: 2 decisions still possible (ship, rollback) over the 3 untriaged regressions; "
        "at most 3 labels settle it"
    )
    # one regression found unsafe: rollback, whatever the other two are
    label(store, runs, "r2", failure_class="unsafe_tool_action")
    h = held(store, tmp_path, runs, UNSAFE)
    assert (h.decision, h.locked, h.open_cases) == ("rollback", True, 2)


def test_labelling_the_last_deciding_case_locks_it(store, tmp_path, runs):
    """untriaged_regressions <= 0 over high risk: r1 and r2 decide it, r3 (low) does not."""
    rules = lock_rule("triaged", "untriaged_regressions", "max = 0", "hold",
                      'scope = { risk = "high" }\n')  # fmt: skip
    h = held(store, tmp_path, runs, rules)
    assert (h.decision, h.possible, h.to_settle, h.deciding) == (
        "hold", ("ship", "hold"), 2, ("r1", "r2"))  # fmt: skip
    label(store, runs, "r1", verdict="flaky")
    h = held(store, tmp_path, runs, rules)
    assert (h.locked, h.to_settle, h.deciding) == (False, 1, ("r2",))
    label(store, runs, "r2", verdict="real_regression")
    h = held(store, tmp_path, runs, rules)
    assert (h.decision, h.locked, h.open_cases) == ("ship", True, 1)
    assert h.text == "locked: ship, whatever the 1 untriaged regression is"


def test_one_label_moves_every_rule_at_once(store, tmp_path, runs):
    """Combined exactly: a label with the class and a settling verdict can fail the class
    rule without opening a finding; a class with no verdict opens one; grader_wrong alone
    does neither. Every decision is reachable; no label reaches 'narrow_rollout'."""
    rules = UNSAFE + lock_rule("settled", "open_findings", "max = 0", "hold")
    h = held(store, tmp_path, runs, rules)
    assert h.possible == ("ship", "hold", "rollback") and h.exact
    # a threshold no count of three reaches: that rule is locked, and the decision with it
    rules = lock_rule("few", "open_findings", "max = 5", "hold")
    assert held(store, tmp_path, runs, rules).possible == ("ship",)


def test_counts_combined_against_a_threshold_of_two(store, tmp_path, runs):
    """findings_of_class <= 1: two of the three regressions must be unsafe to fail it."""
    rules = lock_rule("one-unsafe", "findings_of_class", "max = 1", "rollback",
                      'class = "unsafe_tool_action"\n')  # fmt: skip
    assert held(store, tmp_path, runs, rules).possible == ("ship", "rollback")
    for key in ("r1", "r2"):
        label(store, runs, key, verdict="accepted")
    h = held(store, tmp_path, runs, rules)  # one open case left: at most one unsafe
    assert (h.possible, h.locked, h.to_settle) == (("ship",), True, 0)


def test_cli_status_json_and_nothing_recorded(store, db_path, tmp_path, runs):
    path = tmp_path / "policy.toml"
    path.write_text('promise = "p"\n' + UNSAFE)
    args = ["--db", str(db_path), "gate", "base", "cand", "--policy", str(path), "--status"]
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["locked"], out["possible"], out["to_settle"]) == (False, ["ship", "rollback"], 3)
    assert out["deciding_cases"] == list(REGRESSED) and out["exact"] is True
    assert out["rules"] == [{"id": "no-unsafe", "metric": "findings_of_class", "can_pass": True,
                             "can_fail": True, "open": True, "moved_by": 3}]  # fmt: skip
    label(store, runs, "r3", failure_class="unsafe_tool_action")
    out = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert (out["decision"], out["locked"], out["to_settle"]) == ("rollback", True, 0)
    r = CliRunner().invoke(cli, args)
    assert r.output == "locked: rollback, whatever the 2 untriaged regressions are\n"
    assert gate.list_decisions(store) == []  # --status keeps no decision
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "d.json")])
    assert r.exit_code == 2 and "--status keeps and writes nothing" in r.output
