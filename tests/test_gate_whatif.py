"""`gate --what-if` (#28): the decision under a policy edit or hypothetical labels, as a
diff against the decision as it stands; the store is left byte for byte as it was."""

from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli
from evaltui.review import triage
from evaltui.store import Store

from .conftest import FIXTURES

POLICY = FIXTURES / "policies" / "support-assistant.toml"
RUNS = ["prod-2026-11-02", "cand-2026-11-20", "--fallback", "fallback-2026-11-20"]


def what_if(db_path, *args: str):
    base = ["--db", str(db_path), "gate", *RUNS, "--policy", str(POLICY), "--what-if"]
    return CliRunner().invoke(cli, [*base, *args])


def snapshot(db_path) -> tuple[str, list[str]]:
    """The store file's bytes (hashed) and the files beside it."""
    return (hashlib.sha256(db_path.read_bytes()).hexdigest(),
            sorted(p.name for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)))  # fmt: skip


def test_assumed_labels_change_the_decision_and_the_store_is_unchanged(demo_store, db_path):
    demo_store.close()  # the store as a user leaves it: closed, checkpointed
    before = snapshot(db_path)
    r = what_if(db_path, "--assume", "refunds-004=6,real_regression", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["decision"] == {"before": "hold", "after": "rollback"} and out["changed"]
    assert out["recorded"] is False
    assert [(c["id"], c["before"]["value"], c["after"]["value"]) for c in out["rules"]] == [
        ("no-unsafe-actions", 0.0, 1.0), ("triage-complete", 37.0, 36.0)]  # fmt: skip
    r = what_if(db_path, "--assume", "untriaged=grader_wrong")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "what if: assume untriaged=grader_wrong",
        "decision: hold (unchanged)",
        "  rule triage-complete: 37 -> 0, must be <= 0 (fail -> pass; triggers repair)",
        "nothing recorded (measured on a scratch copy of the store)",
    ]
    assert snapshot(db_path) == before  # byte for byte: no decision, no event, no finding
    with Store(db_path) as store:
        assert gate.list_decisions(store) == [] and triage.list_findings(store) == []


def test_policy_edits_by_set_and_by_file(demo_store, db_path, tmp_path):
    demo_store.close()
    before = snapshot(db_path)
    r = what_if(db_path, "--set", "high-risk-pass-rate.min=0.3", "--set",
                "high-risk-no-significant-drop.action=repair", "--set", "cost.max=")  # fmt: skip
    assert r.exit_code == 2 and "exactly one of min or max" in r.output  # max removed: none left
    r = what_if(db_path, "--set", "high-risk-pass-rate.min=0.3", "--set",
                "high-risk-no-significant-drop.action=repair")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[:3] == [
        "what if: set high-risk-pass-rate.min=0.3; set high-risk-no-significant-drop.action=repair",
        "decision: hold -> repair",
        "  rule high-risk-pass-rate: 32.4% -> 32.4%, must be >= 60.0% -> >= 30.0% "
        "(fail -> pass; triggers hold)",
    ]
    other = tmp_path / "other.toml"
    other.write_text(POLICY.read_text().replace("min = 0.60", "min = 0.30"))
    r = what_if(db_path, "--what-if-policy", str(other), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["decision"] == {"before": "hold", "after": "hold"}
    assert [c["id"] for c in out["rules"]] == ["high-risk-pass-rate"]
    assert snapshot(db_path) == before


def test_bad_edits_are_one_error_line_and_change_nothing(demo_store, db_path):
    demo_store.close()
    before = snapshot(db_path)
    cases = [
        (["--set", "high-risk-pass-rat.min=0.5"],
         "Error: --set: field 'high-risk-pass-rat.min': no rule 'high-risk-pass-rat' in "
         "support-assistant.toml; did you mean 'high-risk-pass-rate'?"),
        (["--set", "cost.max=abc"], "Error: --set cost.max=abc: field 'rule[9].max': Input should "
         "be a valid number, unable to parse string as a number"),
        (["--set", "cost.action=panic"], "Error: --set cost.action=panic, rule 10 (cost): field "
         "'action': unknown action 'panic'; use one of ship, narrow_rollout, repair, hold, rollback"),
        (["--assume", "refunds-004=unsafe_tool_actoin"],
         "Error: --assume: field 'refunds-004': 'unsafe_tool_actoin' is neither a verdict "
         "(real_regression, accepted, grader_wrong, flaky, bad_case) nor a failure class; "
         "did you mean 'unsafe_tool_action'?"),
    ]  # fmt: skip
    for args, line in cases:
        r = what_if(db_path, *args)
        assert (r.exit_code, r.output) == (2, line + "\n"), args
    assert what_if(db_path).exit_code == 2  # an edit is needed
    r = CliRunner().invoke(cli, ["--db", str(db_path), "gate", *RUNS, "--policy", str(POLICY),
                                 "--set", "cost.max=1"])  # fmt: skip
    assert r.exit_code == 2 and "go with --what-if" in r.output
    assert snapshot(db_path) == before
