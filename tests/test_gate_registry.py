"""The metric registry: the one list of metrics, the docs generated from it, one entry to add
a metric; every parameter that names something checked; numbers the gate cannot compute with."""

from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner

from evaltui import gate, service
from evaltui.cli import cli
from evaltui.compare import measures
from evaltui.compare.measures import METRICS, PARAMS, Metric, Param
from evaltui.errors import InputError
from evaltui.exporters.text import fmt_threshold, fmt_value

from .conftest import ROOT
from .helpers import write_jsonl
from .test_gate import FIXED, crafted, policy_file, rule  # noqa: F401  (crafted is a fixture)
from .test_gate_checks import gate_cli, unsafe_demo  # noqa: F401  (unsafe_demo is a fixture)

GATE_DOC = ROOT / "docs" / "gate.md"
_BLOCK = re.compile(r"(<!-- metrics: generated -->\n)(.*?)(<!-- /metrics -->)", re.S)


# -- the registry is the one list ----------------------------------------------------------------


def test_the_docs_metric_tables_are_the_registry():
    text = GATE_DOC.read_text()
    found = _BLOCK.search(text)
    assert found, "docs/gate.md holds the generated block"
    if os.environ.get("UPDATE_DOCS"):
        text = _BLOCK.sub(lambda m: m[1] + measures.metric_table() + m[3], text)
        GATE_DOC.write_text(text)
        found = _BLOCK.search(text)
        assert found
    assert found[2] == measures.metric_table()
    for name in METRICS:
        assert f"| `{name}` |" in found[2]


def test_a_metric_name_is_listed_in_one_module():
    """No module but the registry lists metric names (a second list drifts). Before the
    registry, gate/policy.py held a second list, kept equal by an import-time assert."""
    package = ROOT / "evaltui"
    quoted = {
        str(p.relative_to(package)): {n for n in METRICS if f'"{n}"' in p.read_text()}
        for p in package.rglob("*.py")
    }
    # the registry: its entries, and the two families measured elsewhere (calibration, production)
    registry = {"compare/measures.py", "compare/families.py"}
    assert {m for m, names in quoted.items() if len(names) > 2} == registry
    # the few others name a metric for what it is: decide.py the one a correction adjusts
    # (and the record's own untriaged_regressions list), policy.py the rule that
    # require_signed_findings adds
    assert quoted["gate/decide.py"] == {"significant_regression", "untriaged_regressions"}
    assert quoted["gate/policy.py"] == {"unverified_findings"}


def test_every_metric_is_measured_by_a_test():
    """Adding a metric is one entry plus its test: every metric is named by a test."""
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert [m for m in METRICS if f'"{m}"' not in tests] == []


def test_each_unit_is_written_as_before():
    """Values and thresholds read as they did when the formatting lived in compare/ (golden)."""
    cases = {
        ("pass_rate", 0.324074): "32.4%", ("pass_rate_delta", -0.02): "-2.0 pts",
        ("candidate_vs_fallback", 0.005556): "+0.6 pts", ("cost_delta", 0.25): "+25.0%",
        ("p95_latency", 1234.5): "1,234 ms", ("p95_latency_delta", 50.0): "50 ms",
        ("regressions", 37.0): "37", ("significant_regression", 1.0): "1",
        ("no_such_metric", 2.5): "2.5", ("pass_rate", None): "no data",
    }  # fmt: skip
    for (metric, value), shown in cases.items():
        assert fmt_value(value, metric) == shown, metric
    assert fmt_threshold({"min": -0.02}, "pass_rate_delta") == ">= -2.0 pts"
    assert fmt_threshold({"max": 0.25}, "cost_delta") == "<= +25.0%"


def test_adding_a_metric_is_one_entry(store, tmp_path, crafted, monkeypatch):  # noqa: F811
    """One Metric in the registry: the policy takes its name and its parameter, checks what the
    parameter names (did-you-mean), measures it and writes its value in its unit."""
    by = Param("by_attribute", "attribute", "an attribute of the cases")
    entry = Metric(
        "share_with_attribute", "cases in scope that have attribute `by_attribute`", "rate",
        lambda q: (q.one("COUNT(*)")[0] / 6, {"attribute": q.args["by_attribute"]}),
        params=(Param("by_attribute", "attribute", "an attribute of the cases", required=True),),
    )  # fmt: skip
    monkeypatch.setitem(METRICS, entry.name, entry)
    monkeypatch.setitem(PARAMS, by.key, entry.params[0])
    body = rule("share_with_attribute", "min = 0.5", extra='by_attribute = "risk"\n')
    rec = gate.evaluate(store, gate.load_policy(policy_file(tmp_path, body)), crafted[0],
                        crafted[1], **FIXED)  # fmt: skip
    (r,) = rec.rules
    assert (r.value, r.passed, r.evidence) == (1.0, True, {"attribute": "risk"})
    assert fmt_value(r.value, r.metric) == "100.0%" and "100.0%" not in rec.why
    assert "| `share_with_attribute` |" in measures.metric_table()
    typo = policy_file(tmp_path, body.replace('"risk"', '"rsik"'))
    with pytest.raises(InputError) as info:
        gate.evaluate(store, gate.load_policy(typo), crafted[0], crafted[1], **FIXED)
    assert info.value.field == "by_attribute" and "did you mean 'risk'?" in info.value.message
    with pytest.raises(InputError, match="needs by_attribute"):
        gate.load_policy(policy_file(tmp_path, rule("share_with_attribute", "min = 0.5")))


# -- every parameter that names something is checked (#24) --------------------------------------


@pytest.mark.parametrize("key", sorted(PARAMS))
def test_every_naming_parameter_refuses_a_name_that_does_not_exist(
    store,
    tmp_path,
    crafted,  # noqa: F811
    key,
):
    """Generic over the registry: each parameter, given a name that exists nowhere, is a
    refusal naming the file, the rule, the key and its line, never an empty match."""
    metric = next(m for m in METRICS.values() if PARAMS[key] in m.params)
    valid = {"class": "unsafe_tool_action", "for_owner": "safety", "tool": None}
    extra = (
        "".join(
            f'{p.key} = "{valid[p.key]}"\n'
            for p in metric.params
            if p.key != key and p.required and valid.get(p.key)
        )
        + f'{key} = "zz-exists-nowhere"\n'
    )
    path = policy_file(tmp_path, rule(metric.name, "max = 0", "rollback", extra))
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if "zz-exists" in row)
    with pytest.raises(InputError) as info:
        gate.evaluate(store, gate.load_policy(path), crafted[0], crafted[1], **FIXED)
    err = info.value
    assert (err.field, err.location) == (key, f"rule 1 ({metric.name}), line {line}"), err.message
    assert str(path) in str(err) and "zz-exists-nowhere" in err.message


def test_a_typo_in_for_owner_is_refused_where_the_right_owner_rolls_back(
    unsafe_demo,  # noqa: F811
    db_path,
    tmp_path,
):
    """The red team's case: `for_owner = "saftey"` gave SHIP where "safety" gives ROLLBACK."""
    body = rule("open_findings", "max = 0", "rollback", 'for_owner = "safety"\n').replace(
        'owner = "team"', 'owner = "release"'
    )
    path = policy_file(tmp_path, body)
    assert gate_cli(db_path, path, "--no-record").exit_code == 13
    path = policy_file(tmp_path, body.replace('for_owner = "safety"', 'for_owner = "saftey"'))
    r = gate_cli(db_path, path, "--no-record")
    assert r.exit_code == 2, r.output
    (out,) = r.output.strip().splitlines()
    assert out.startswith(f"Error: {path}, rule 1 (open_findings), line 10: field 'for_owner'")
    assert "'saftey'" in out and "did you mean 'safety'?" in out


# -- numbers the gate cannot compute with (#24) ------------------------------------------------


def test_a_non_finite_alpha_is_refused_at_load(tmp_path):
    path = policy_file(
        tmp_path, rule("regressions", "max = 0"), head='promise = "p"\nalpha = nan\n'
    )
    with pytest.raises(InputError) as info:
        gate.load_policy(path)
    assert (info.value.location, info.value.field) == ("line 2", "alpha")
    assert "finite number" in info.value.message


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+inf"])
def test_a_non_finite_threshold_is_refused_at_load(db_path, tmp_path, value):
    path = policy_file(tmp_path, rule("p95_latency_delta", f"max = {value}"))
    r = CliRunner().invoke(cli, ["--db", str(db_path), "gate", "1", "2", "--policy", str(path)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"Error: {path}, rule 1 (p95_latency_delta), line 6: field 'max'")
    assert "finite number" in r.output


@pytest.mark.parametrize(
    ("base", "cand", "run", "key"),
    [
        ([1.0, 1.0], [1e308, 1.7e308], "cand", 1),  # the candidate's total overflows
        ([1.7e308, 1.7e308], [1.7e308, 1.7e308], "base", 0),  # both do
        ([1e-300, 1e-300], [1e10, 1e10], "cand", 0),  # the relative change does
    ],
)
def test_costs_that_overflow_are_a_refusal_naming_run_line_and_field(
    store, db_path, tmp_path, base, cand, run, key
):
    """Finite costs whose sum or ratio overflows: exit 2 naming the run, line and field (the
    largest cost), nothing kept; never a traceback."""
    for name, costs in (("base", base), ("cand", cand)):
        rows = [{"suite": "s", "case_key": f"k{i}", "verdict": "pass", "cost": c}
                for i, c in enumerate(costs)]  # fmt: skip
        service.import_path(
            store, write_jsonl(tmp_path / f"{name}.jsonl", rows, header={"name": name})
        )
    policy = policy_file(tmp_path, rule("cost_delta", "max = 1") + rule("pass_rate", "min = 0.5"))
    r = CliRunner().invoke(
        cli, ["--db", str(db_path), "gate", "base", "cand", "--policy", str(policy)]
    )
    assert r.exit_code == 2, r.output
    (out,) = r.output.strip().splitlines()
    assert out.startswith(f"Error: {tmp_path / run}.jsonl, line {key + 2}: field 'cost': "), out
    assert f"case 'k{key}'" in out and "overflows" in out
    assert store.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_a_huge_value_that_stays_finite_still_decides(store, db_path, tmp_path):
    """1e308 alone is a number: a p95 of it decides (no refusal where nothing overflows)."""
    for side, name in enumerate(("base", "cand")):
        rows = [
            {"suite": "s", "case_key": "k", "verdict": "pass", "latency_ms": 1e308 if side else 1.0}
        ]
        service.import_path(
            store, write_jsonl(tmp_path / f"{name}.jsonl", rows, header={"name": name})
        )
    policy = policy_file(tmp_path, rule("p95_latency_delta", "max = 300", "narrow_rollout"))
    r = CliRunner().invoke(
        cli, ["--db", str(db_path), "gate", "base", "cand", "--policy", str(policy)]
    )
    assert r.exit_code == 10, r.output  # narrow_rollout: the latency rule failed
