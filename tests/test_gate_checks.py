"""A decision that cannot be silently wrong: policies checked before measuring, evidence guards,
significance corrected across segments."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui import gate, service
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.review import triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.stats import holm, mcnemar_exact

from .conftest import FIXTURES
from .test_gate import FIXED, crafted, policy_file, rule  # noqa: F401  (crafted is a fixture)

POLICY = FIXTURES / "policies" / "support-assistant.toml"


@pytest.fixture
def unsafe_demo(demo_store):
    """The demo with one confirmed unsafe tool action: the shipped policy says ROLLBACK."""
    sel = service.get_selection(demo_store)
    cid = demo_store.conn.execute("SELECT id FROM cases WHERE case_key = 'refunds-004'").fetchone()[
        0
    ]
    triage.label(demo_store, sel["baseline"], sel["candidate"], cid,
                 failure_class=default_taxonomy().get("unsafe_tool_action"), reviewer="ana")  # fmt: skip
    return demo_store


def gate_cli(db_path, policy, *extra):
    return CliRunner().invoke(
        cli, ["--db", str(db_path), "gate", "prod-2026-11-02", "cand-2026-11-20", "--fallback",
              "fallback-2026-11-20", "--policy", str(policy), *extra],
    )  # fmt: skip


def test_the_correct_policy_rolls_back(unsafe_demo, db_path):
    r = gate_cli(db_path, POLICY, "--no-record")
    assert r.exit_code == 13, r.output


@pytest.mark.parametrize(
    ("old", "new", "message", "hint"),
    [
        ('risk = "high"', 'rsik = "high"', "scope attribute 'rsik' is not an attribute", "did you mean 'risk'?"),
        ('risk = "high"', 'risk = "High"', "scope value risk = 'High' occurs in none", "did you mean 'high'?"),
        ('class = "unsafe_tool_action"', 'class = "unsafe_tool_actoin"', "unknown failure class 'unsafe_tool_actoin'",
         "did you mean 'unsafe_tool_action'?"),
    ],
    ids=["attribute", "value-case", "class"],
)  # fmt: skip
def test_a_typo_in_a_policy_is_refused_with_file_rule_and_line(
    unsafe_demo, db_path, tmp_path, old, new, message, hint
):
    text = POLICY.read_text()
    assert old in text
    policy = tmp_path / "typo.toml"
    policy.write_text(text.replace(old, new, 1))
    line = next(n for n, row in enumerate(policy.read_text().splitlines(), 1) if new in row)
    before = unsafe_demo.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    r = gate_cli(db_path, policy)
    assert r.exit_code == 2, r.output  # never HOLD or SHIP instead of ROLLBACK
    (out,) = r.output.strip().splitlines()
    assert out.startswith(f"Error: {policy}") and f"line {line}" in out and "rule " in out
    assert message in out and hint in out
    assert unsafe_demo.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == before


def test_an_empty_scope_is_an_error_unless_allowed(unsafe_demo, db_path, tmp_path):
    sel = service.get_selection(unsafe_demo)
    body = rule("regressions", "max = 0", extra='scope = { risk = "high", task = "policy" }\n')
    with pytest.raises(InputError) as info:
        gate.evaluate(unsafe_demo, gate.load_policy(policy_file(tmp_path, body)), sel["baseline"],
                      sel["candidate"], **FIXED)  # fmt: skip
    assert "matches no case" in info.value.message and info.value.location.startswith("rule 1")
    # allowed: a count rule on an empty scope still never passes
    rec = gate.evaluate(unsafe_demo, gate.load_policy(policy_file(tmp_path, body + "allow_empty = true\n")),
                        sel["baseline"], sel["candidate"], **FIXED)  # fmt: skip
    (r,) = rec.rules
    assert (r.n, r.insufficient, r.passed, rec.decision) == (0, True, False, "hold")


def test_a_rule_over_too_few_cases_is_insufficient_evidence(store, tmp_path, crafted):  # noqa: F811
    # risk = high holds 2 cases (a, b); the pass rate there is 50%, the threshold easy
    body = rule(
        "pass_rate", "min = 0.1", "narrow_rollout", extra='scope = { risk = "high" }\nmin_n = 3\n'
    )
    rec = gate.evaluate(
        store, gate.load_policy(policy_file(tmp_path, body)), crafted[0], crafted[1], **FIXED
    )
    (r,) = rec.rules
    assert (r.n, r.min_n, r.insufficient, r.passed, r.triggers) == (2, 3, True, False, "hold")
    assert r.value == 0.5 and r.result == "insufficient evidence: 2 cases in scope, min_n 3"
    assert rec.decision == "hold" and "insufficient evidence: 2 cases over risk = high" in rec.why
    # the policy names the action; a policy-wide min_n applies to rules without their own
    head = 'promise = "p"\nmin_n = 5\ninsufficient_evidence = "rollback"\n'
    body = rule("pass_rate", "min = 0.1", "narrow_rollout", extra='scope = { risk = "high" }\n')
    rec = gate.evaluate(store, gate.load_policy(policy_file(tmp_path, body, head)), crafted[0], crafted[1],
                        **FIXED)  # fmt: skip
    assert (rec.rules[0].min_n, rec.decision, rec.exit_code) == (5, "rollback", 13)
    # enough cases: the rule decides as before
    body = rule(
        "pass_rate", "min = 0.1", "narrow_rollout", extra='scope = { risk = "high" }\nmin_n = 2\n'
    )
    rec = gate.evaluate(
        store, gate.load_policy(policy_file(tmp_path, body)), crafted[0], crafted[1], **FIXED
    )
    assert (rec.rules[0].passed, rec.decision) == (True, "ship")


def test_the_markdown_names_the_rules_that_lacked_evidence(store, tmp_path, crafted):  # noqa: F811
    from evaltui.exporters import to_markdown

    body = rule("pass_rate", "min = 0.1", extra='scope = { risk = "high" }\nmin_n = 3\n')
    rec = gate.evaluate(
        store, gate.load_policy(policy_file(tmp_path, body)), crafted[0], crafted[1], **FIXED
    )
    md = to_markdown(rec)
    assert (
        "**NO EVIDENCE**" in md and "**Rules that lacked evidence**" in md and "(2 cases, min" in md
    )


def test_holm_against_hand_computed_values():
    # sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1, raised to 0.06)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_segment_significance_is_holm_adjusted_in_the_record(demo_store, tmp_path):
    sel = service.get_selection(demo_store)
    rec = gate.evaluate(demo_store, gate.load_policy(POLICY), sel["baseline"], sel["candidate"],
                        sel["fallback"], **FIXED)  # fmt: skip
    raw = [mcnemar_exact(s.flips.pass_to_fail, s.flips.fail_to_pass) for s in rec.segments]
    assert [s.p_adjusted for s in rec.segments] == pytest.approx(holm(raw), abs=1e-6)
    by = {s.label: s for s in rec.segments}
    # task=billing: raw p 0.0117 would be "significant"; adjusted over 15 rows it is not
    assert by["task=billing"].p_value < 0.05 and not by["task=billing"].significant
    assert by["risk=high"].significant
    # opting out keeps the raw test
    text = POLICY.read_text().replace('correction = "holm"', 'correction = "none"')
    policy = tmp_path / "none.toml"
    policy.write_text(text)
    rec = gate.evaluate(demo_store, gate.load_policy(policy), sel["baseline"], sel["candidate"],
                        sel["fallback"], **FIXED)  # fmt: skip
    assert {s.label: s for s in rec.segments}["task=billing"].significant


def test_significant_regression_rules_use_the_adjusted_p(demo_store, tmp_path):
    sel = service.get_selection(demo_store)
    ids = [sel["baseline"], sel["candidate"]]
    # intent = adversarial: raw p 0.0127 < 0.05, adjusted 0.105: not a significant drop
    body = rule("significant_regression", "max = 0", extra='scope = { intent = "adversarial" }\n')
    rec = gate.evaluate(demo_store, gate.load_policy(policy_file(tmp_path, body)), *ids, **FIXED)
    ev = rec.rules[0].evidence
    assert ev["p_value"] < 0.05 < ev["p_adjusted"] and rec.rules[0].value == 0.0
    head = 'promise = "p"\ncorrection = "none"\n'
    rec = gate.evaluate(
        demo_store, gate.load_policy(policy_file(tmp_path, body, head)), *ids, **FIXED
    )
    assert rec.rules[0].value == 1.0


def test_compare_json_reports_raw_and_adjusted_p(demo_store, db_path):
    r = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2", "--json"])
    data = json.loads(r.output)
    assert data["correction"] == "holm"
    assert [s["p_adjusted"] for s in data["segments"]] == pytest.approx(
        holm([s["p_value"] for s in data["segments"]]), abs=1e-5
    )
