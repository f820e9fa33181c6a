"""The gate on production traffic (#28): the weighted metrics through the registry, the
policy's [production], the record's section (weights hash, method, seed, estimates,
margins), `verify` noticing changed weights, and `compare --json`'s production_estimate.

The demo's traffic file (fixtures/demo/traffic.csv) weights the demo runs by task x risk;
its policy x high cell has no eval case (0.5% of traffic)."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.estimate.margin import _flip
from evaltui.estimate.traffic import read_traffic
from evaltui.estimate.weighted import (
    PairedCounts,
    SegmentCounts,
    Settings,
    estimate_delta,
    estimate_rate,
)
from evaltui.store import traffic as traffic_store

from .conftest import DEMO, FIXTURES
from .test_gate import FIXED, policy_file

TRAFFIC = DEMO / "traffic.csv"
DRAWS = 500  # a few hundred draws keep each decision well under a second


def production_policy(tmp_path: Path, rules: str, production: str = "") -> Path:
    draws = "" if "draws =" in production else f"draws = {DRAWS}\n"
    head = f'promise = "p"\ndimensions = ["task", "risk"]\n\n[production]\n{draws}{production}'
    return policy_file(tmp_path, rules, head=head)


def wrule(rid: str, metric: str, threshold: str, extra: str = "", action: str = "hold") -> str:
    return (f'\n[[rule]]\nid = "{rid}"\nmetric = "{metric}"\n{threshold}\naction = "{action}"\n'
            f'owner = "team"\nwhy = "because"\n{extra}')  # fmt: skip


RULES = (
    wrule("no-worse", "weighted_pass_rate_delta", "min = -0.02", 'bound = "lower"\n')
    + wrule("users", "weighted_pass_rate", "min = 0.8", 'bound = "lower"\nbasis = "worst"\n')
    + wrule("covered", "uncovered_traffic", "max = 0.02")
    + wrule("point", "weighted_pass_rate", "min = 0.9")  # fails: the point is 89.0%
)


@pytest.fixture
def traffic_demo(demo_store):
    traffic_store.keep_demo(demo_store)
    return demo_store


def demo_counts() -> tuple[dict, dict]:
    """Per (task, risk): each run's (cases, passed) under worst-of-N, and the paired table,
    counted from the demo files themselves (not through evaltui)."""
    verdicts: dict[str, dict[str, list[bool]]] = {"production": {}, "candidate": {}}
    cell_of: dict[str, tuple[str, str]] = {}
    for run in verdicts:
        for text in (DEMO / f"{run}.jsonl").read_text().splitlines():
            row = json.loads(text)
            if "case_key" not in row:
                continue
            cell_of[row["case_key"]] = (row["attributes"]["task"], row["attributes"]["risk"])
            verdicts[run].setdefault(row["case_key"], []).append(row["verdict"] == "pass")
    rates: dict[str, dict] = {"baseline": defaultdict(lambda: [0, 0]),
                              "candidate": defaultdict(lambda: [0, 0])}  # fmt: skip
    paired: dict = defaultdict(lambda: [0, 0, 0, 0])
    for key, cell in cell_of.items():
        b, c = all(verdicts["production"][key]), all(verdicts["candidate"][key])
        for role, ok in (("baseline", b), ("candidate", c)):
            rates[role][cell][0] += 1
            rates[role][cell][1] += ok
        paired[cell][0 if b and c else 1 if c else 2 if b else 3] += 1
    return rates, paired


def test_the_weighted_metrics_read_the_estimate_of_the_demo_counts(traffic_demo, tmp_path):
    rec = gate.evaluate(traffic_demo, gate.load_policy(production_policy(tmp_path, RULES)),
                        1, 2, 3, **FIXED)  # fmt: skip
    by = {r.id: r for r in rec.rules}
    rates, paired = demo_counts()
    weights = read_traffic(TRAFFIC).weights()
    st = Settings(draws=DRAWS)
    cand = estimate_rate([SegmentCounts(k, n, p) for k, (n, p) in sorted(rates["candidate"].items())],
                         weights, st)  # fmt: skip
    delta = estimate_delta([PairedCounts(k, *v) for k, v in sorted(paired.items())], weights, st)
    assert cand.covered is not None and delta.covered is not None
    assert by["no-worse"].value == round(delta.covered.lower, 6) and by["no-worse"].passed
    assert by["users"].value == round(cand.worst.lower, 6) and by["users"].passed
    # the point, as exact fractions: sum of share x rate over the covered cells, renormalised
    counts = {c.values: Fraction(int(c.amount)) for c in read_traffic(TRAFFIC).cells}
    cov = {k: v for k, v in counts.items() if k in rates["candidate"]}
    point = sum(cov[k] * Fraction(p, n) for k, (n, p) in rates["candidate"].items()) / sum(
        cov.values()
    )
    assert by["point"].value == round(float(point), 6) and not by["point"].passed
    assert rec.decision == "hold"
    # uncovered traffic: the one cell with no eval case, exactly its share
    assert by["covered"].value == 0.005 == 1200 / 240_000 and by["covered"].passed
    sec = rec.production
    assert sec is not None and sec.candidate is not None
    assert sec.candidate.uncovered == [{"task": "policy", "risk": "high"}]
    assert sec.candidate.uncovered_share.point == 0.005
    assert (sec.traffic["sha256"], sec.traffic["name"]) == (
        read_traffic(TRAFFIC).sha256,
        "demo-traffic",
    )
    assert (sec.method, sec.seed, sec.draws, sec.weights_uncertain) == (
        "monte_carlo",
        0,
        DRAWS,
        True,
    )
    print(f"eval set: candidate {rec.segments[0].candidate.rate:.1%}; production estimate "
          f"{cand.covered.point:.1%} [{cand.covered.lower:.1%}, {cand.covered.upper:.1%}]")  # fmt: skip


def crosses(m, items, key, k: int, threshold: float, side: str) -> bool:
    """Whether the rule passes with k cases of cell `key` flipped the margin's way,
    re-estimated from the counts with the decision's settings."""
    fn = estimate_rate if isinstance(items[0], SegmentCounts) else estimate_delta
    variant = [_flip(it, k, m.direction) if it.key == key else it for it in items]
    fig = fn(variant, read_traffic(TRAFFIC).weights(), Settings(draws=DRAWS)).figure(m.basis)
    assert fig is not None
    v = fig.at(m.bound)
    return v >= threshold if side == "min" else v <= threshold


def test_each_margin_is_exact_on_the_demo(traffic_demo, tmp_path):
    """Apply the stated flips in the closest cells and the rule's outcome changes; one fewer
    and it does not (re-estimated with the same settings and seed)."""
    rec = gate.evaluate(traffic_demo, gate.load_policy(production_policy(tmp_path, RULES)),
                        1, 2, 3, **FIXED)  # fmt: skip
    assert rec.production is not None
    rates, paired = demo_counts()
    rules = {r.id: r for r in rec.rules}
    checked = 0
    for m in rec.production.margins:
        ((side, threshold),) = rules[m.rule].threshold.items()
        items: list = (
            [SegmentCounts(k, n, p) for k, (n, p) in sorted(rates["candidate"].items())]
            if m.metric == "weighted_pass_rate"
            else [PairedCounts(k, *v) for k, v in sorted(paired.items())]
        )
        for c in m.closest:
            key = (c.cell["task"], c.cell["risk"])
            assert c.cases is not None
            assert crosses(m, items, key, c.cases, threshold, side) != m.passes, (m.rule, c)
            assert crosses(m, items, key, c.cases - 1, threshold, side) == m.passes, (m.rule, c)
            checked += 1
    assert checked >= 10
    assert {m.rule for m in rec.production.margins} == {"no-worse", "users", "point"}
    point = next(m for m in rec.production.margins if m.rule == "point")
    assert not point.passes and point.direction == "up" and "would clear it" in point.text
    no_worse = next(m for m in rec.production.margins if m.rule == "no-worse")
    # untriaged regressions can only be cleared: a passing min rule on the delta is locked
    assert no_worse.open_cases == len(rec.untriaged_regressions) > 0 and no_worse.locked
    assert no_worse.text.startswith("no-worse: weighted_pass_rate_delta lower ")
    assert (
        f"locked: holds whatever the {no_worse.open_cases} untriaged regressions" in no_worse.text
    )


def test_a_record_that_reads_no_weights_has_no_production_section(traffic_demo, tmp_path):
    path = policy_file(tmp_path, wrule("r", "regressions", "max = 1000"))
    rec = gate.evaluate(traffic_demo, gate.load_policy(path), 1, 2, **FIXED)
    assert rec.production is None and "production" not in rec.as_dict()


def gate_cli(db: Path, policy: Path, *args: str):
    return CliRunner().invoke(
        cli, ["--db", str(db), "gate", "1", "2", "--policy", str(policy), *args]
    )


@pytest.mark.parametrize(
    ("rules", "production", "needle"),
    [
        (wrule("u", "weighted_pass_rate", "min = 0.5", 'bound = "lowr"\n'), "",
         "rule 1 (u), line 14: field 'bound': 'lowr' is not a bound of the estimate's interval; did you mean 'lower'?"),
        (wrule("u", "weighted_pass_rate", "min = 0.5", 'basis = "worse"\n'), "",
         "field 'basis': 'worse' is not a basis of the production estimate; did you mean 'worst'?"),
        (wrule("u", "weighted_pass_rate", "min = 0.5", 'scope = { risk = "high" }\n'), "",
         "rule 1 (u), line 14: field 'scope': weighted_pass_rate is measured over all production traffic"),
        (wrule("u", "uncovered_traffic", "max = 0.5"), "drows = 3\n",
         "line 6: field 'production.drows': Extra inputs are not permitted"),
        (wrule("u", "uncovered_traffic", "max = 0.5"), "draws = 10\n",
         "line 5: field 'production.draws': Input should be greater than or equal to 100"),
        (wrule("u", "uncovered_traffic", "max = 0.5"), 'traffic = "demo-trafic"\n',
         "no traffic weights named 'demo-trafic' in this store; did you mean 'demo-traffic'?"),
        (wrule("u", "uncovered_traffic", "max = 0.5"), 'traffic_file = "nowhere.csv"\n',
         "nowhere.csv: no such traffic weights file"),
    ],
)  # fmt: skip
def test_a_weighted_rule_is_checked_before_anything_is_decided(
    traffic_demo, db_path, tmp_path, rules, production, needle
):
    path = production_policy(tmp_path, rules, production)
    r = gate_cli(db_path, path)
    assert r.exit_code in (2, 4), r.output
    (line,) = r.output.strip().splitlines()
    assert line.startswith("Error: ") and needle in line, line
    assert traffic_demo.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0


def test_a_weighted_rule_with_no_weights_in_force_is_refused(demo_store, db_path, tmp_path):
    path = policy_file(tmp_path, wrule("u", "weighted_pass_rate", "min = 0.5"))
    r = gate_cli(db_path, path)
    assert r.exit_code == 2, r.output
    assert r.output.startswith(f"Error: {path}, rule 1 (u), line 5: field 'metric': ")
    assert "weighted_pass_rate needs traffic weights: none are in force" in r.output


def test_weights_by_an_attribute_no_case_has_are_refused_with_did_you_mean(
    demo_store, db_path, tmp_path
):
    bad = tmp_path / "topic.csv"
    bad.write_text("# period: 2026-11-01/2026-11-30\n# source: s\ntopic,share\nbilling,1\n")
    traffic_store.keep(demo_store, traffic_store.read_file(bad))
    path = policy_file(tmp_path, wrule("u", "weighted_pass_rate", "min = 0.5"))
    r = gate_cli(db_path, path)
    assert r.exit_code == 2, r.output
    assert r.output.strip() == (
        f"Error: {bad}, line 3: field 'topic': attribute 'topic' is not a segment attribute "
        "of these runs"
    )


def test_a_traffic_file_named_by_the_policy_is_read_and_hashed(demo_store, tmp_path):
    (tmp_path / "t.csv").write_bytes(TRAFFIC.read_bytes())
    path = production_policy(tmp_path, wrule("u", "uncovered_traffic", "max = 0.01"),
                             'traffic_file = "t.csv"\n')  # fmt: skip
    rec = gate.evaluate(demo_store, gate.load_policy(path), 1, 2, **FIXED)
    assert rec.production is not None and rec.rules[0].value == 0.005
    assert rec.production.traffic["source_path"] == str(tmp_path / "t.csv")
    assert rec.production.traffic["sha256"] == read_traffic(TRAFFIC).sha256


def test_verify_notices_changed_weights(traffic_demo, db_path, tmp_path):
    path = production_policy(tmp_path, wrule("u", "weighted_pass_rate", "min = 0.5"),
                             'traffic = "demo-traffic"\n')  # fmt: skip
    out = tmp_path / "decision.json"
    assert gate_cli(db_path, path, "--out", str(out)).exit_code == 0
    verify = ["--db", str(db_path), "verify", str(out), "--policy", str(path)]
    r = CliRunner().invoke(cli, verify)
    assert r.exit_code == 0, r.output
    # the same name, other counts: the policy now reads demo-traffic #2
    changed = tmp_path / "traffic.csv"
    changed.write_text(TRAFFIC.read_text().replace("policy,high,1200", "policy,high,24000"))
    traffic_store.keep(traffic_demo, traffic_store.read_file(changed), "demo-traffic")
    r = CliRunner().invoke(cli, verify)
    assert r.exit_code != 0, r.output
    old, new = read_traffic(TRAFFIC).sha256[:12], read_traffic(changed).sha256[:12]
    assert (
        f"the traffic weights changed: demo-traffic #1 sha256 {old} -> demo-traffic #2 sha256 {new}"
        in r.output
    )
    assert "the production estimate of the candidate changed" in r.output


def test_compare_json_gains_production_estimate_only_when_traffic_is_set(demo_store, db_path):
    def compare(*args: str) -> dict:
        r = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2", "--json", *args])
        assert r.exit_code == 0, r.output
        return json.loads(r.output)

    plain = compare()
    assert "production_estimate" not in plain
    traffic_store.keep_demo(demo_store)
    with_traffic = compare()
    pe = with_traffic.pop("production_estimate")
    assert with_traffic == plain  # every other key as before (task and risk were segments)
    assert compare("--traffic", "none") == plain
    assert pe["traffic"]["name"] == "demo-traffic" and pe["settings"]["seed"] == 0
    assert pe["candidate"]["uncovered_share"]["point"] == 0.005
    assert pe["candidate"]["uncovered"] == [{"task": "policy", "risk": "high"}]
    seg = {(s["values"]["task"], s["values"]["risk"]): s for s in pe["segments"]}
    assert (
        seg[("policy", "high")]["status"] == "no_cases"
        and seg[("policy", "high")]["share"] == 0.005
    )
    rates, _ = demo_counts()
    for key, (n, passed) in rates["candidate"].items():
        assert (seg[key]["candidate_n"], seg[key]["candidate"]) == (n, round(passed / n, 6))
    # the same figures as the gate's, with the same settings
    policy = FIXTURES / "policies" / "production.toml"
    rec = gate.evaluate(demo_store, gate.load_policy(policy), 1, 2, **FIXED)
    assert rec.production is not None and rec.production.candidate is not None
    assert rec.production.candidate.model_dump() == pe["candidate"]
    text = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2"]).output
    assert (
        "production estimate (traffic demo-traffic #1, 2026-11-01/2026-11-30): candidate " in text
    )
    assert "uncovered traffic 0.5% (task=policy, risk=high)" in text


def test_the_gate_shows_the_estimate_and_each_margin(traffic_demo, db_path, tmp_path):
    r = gate_cli(db_path, production_policy(tmp_path, RULES), "--fallback", "3", "--no-record")
    assert r.exit_code == 12, r.output
    assert "production estimate (traffic demo-traffic #1" in r.output
    assert "margin: point: weighted_pass_rate point 89.0%, must be >= 90.0%: fails; " in r.output
    md = tmp_path / "d.md"
    assert gate_cli(db_path, production_policy(tmp_path, RULES), "--md", str(md)).exit_code == 12
    assert "### Production estimate" in md.read_text()


def test_a_policy_settings_are_the_estimators(traffic_demo, tmp_path):
    closed = production_policy(tmp_path, wrule("u", "weighted_pass_rate", "min = 0.5",
                                               'bound = "lower"\n'), 'method = "mover_wilson"\n')  # fmt: skip
    rec = gate.evaluate(traffic_demo, gate.load_policy(closed), 1, 2, **FIXED)
    assert rec.production is not None and rec.production.method == "mover_wilson"
    assert rec.production.weights_uncertain is False
    rates, _ = demo_counts()
    est = estimate_rate([SegmentCounts(k, n, p) for k, (n, p) in sorted(rates["candidate"].items())],
                        read_traffic(TRAFFIC).weights(), Settings(method="mover_wilson"))  # fmt: skip
    assert est.covered is not None and rec.rules[0].value == round(est.covered.lower, 6)
    with pytest.raises(InputError, match="traffic or traffic_file, not both"):
        gate.evaluate(traffic_demo, gate.load_policy(production_policy(
            tmp_path, wrule("u", "uncovered_traffic", "max = 1"),
            'traffic = "demo-traffic"\ntraffic_file = "x.csv"\n')), 1, 2, **FIXED)  # fmt: skip
    assert dataclasses.is_dataclass(Settings())


def test_untrusted_cell_values_are_shown_literally(demo_store, db_path, tmp_path):
    hostile = tmp_path / "hostile.csv"
    hostile.write_text(
        "# period: 2026-11-01/2026-11-30\n# source: [bold red]boom[/] \x1b[31mred\n"
        'task,count\nbilling,90\n"[b]x\x1b[2J\u202e",10\n'
    )
    traffic_store.keep(demo_store, traffic_store.read_file(hostile))
    for args in (["compare", "1", "2"], ["traffic", "show"], ["traffic"]):
        r = CliRunner().invoke(cli, ["--db", str(db_path), *args])
        assert r.exit_code == 0, r.output
        assert "\x1b" not in r.output and "\u202e" not in r.output
    r = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2"])
    assert "uncovered traffic 10.0% (task=[b]x" in r.output


def test_calibration_standard_holds_weighted_rules_on_the_verdict(traffic_demo, tmp_path):
    """A weighted pass rate rests on the grader's verdicts as pass_rate does: a policy whose
    [calibration] requires `verdict` lets no weighted rate decide on an uncalibrated grader.
    uncovered_traffic counts cases per cell, not verdicts: it still decides."""
    rules = (wrule("no-worse", "weighted_pass_rate_delta", "min = -0.02", 'bound = "lower"\n')
             + wrule("users", "weighted_pass_rate", "min = 0.5")
             + wrule("covered", "uncovered_traffic", "max = 0.02"))  # fmt: skip
    path = production_policy(tmp_path, rules + '\n[calibration]\ncriteria = ["verdict"]\n')
    rec = gate.evaluate(traffic_demo, gate.load_policy(path), 1, 2, **FIXED)
    no_worse, users, covered = rec.rules
    for r in (no_worse, users):  # measured, but they cannot decide
        assert r.value is not None and (r.passed, r.insufficient) == (False, True)
        assert r.uncalibrated is not None and r.uncalibrated.startswith(
            "the grader of verdict is not calibrated: "
        )
    assert covered.uncalibrated is None and covered.passed
    assert rec.decision == "hold"
    # without the standard the same rules pass
    plain = gate.evaluate(traffic_demo, gate.load_policy(production_policy(tmp_path, rules)),
                          1, 2, **FIXED)  # fmt: skip
    assert [r.passed for r in plain.rules] == [True, True, True] and plain.decision == "ship"
