"""The gate on corrected figures (#27): each calibration metric of the registry measured on
the demo's story, the policy's [calibration] standard (a rule on an uncalibrated criterion
lacks evidence), the record's Calibration section, verify noticing a changed judgment set,
and the Markdown and JUnit exports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from evaltui import exporters, gate
from evaltui.compare import Comparison
from evaltui.errors import InputError
from evaltui.review import triage
from evaltui.review.calibration import demo, judgments
from evaltui.store import runs
from evaltui.store.runs import grader

from .conftest import FIXTURES, ROOT
from .test_gate import FIXED, policy_file, rule

SCHEMA = json.loads((ROOT / "docs" / "decision.schema.json").read_text())
GROUNDED = FIXTURES / "policies" / "grounded.toml"
PROD, CAND = 1, 2


@pytest.fixture
def story(demo_store):
    demo.load(demo_store)
    return demo_store


def measure(
    store,
    tmp_path,
    metric: str,
    threshold: str = "min = -1",
    extra: str = 'criterion = "grounded"\n',
    head: str = 'promise = "p"\n',
):
    path = policy_file(tmp_path, rule(metric, threshold, extra=extra), head=head)
    rec = gate.evaluate(store, gate.load_policy(path), PROD, CAND, **FIXED)
    (r,) = rec.rules
    return r, rec


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("calibrated_pass_rate", (525 / 568 + 2 / 9 - 1) / (2 / 9)),  # Rogan-Gladen, 21/21, 2/9
        ("calibrated_pass_rate_delta", -0.115544),
        ("grader_pass_rate_delta", (83 - 16) / 564),
        ("grader_tpr_lower", 0.91958),  # Clopper-Pearson of 44 of 44
        ("grader_tnr_lower", 0.24651),  # of 8 of 16
        ("judged_results", 60.0),
        ("reviewer_accuracy_lower", 0.529112),  # ana: Wilson of 7 of 8
    ],
)  # fmt: skip
def test_each_calibration_metric_on_the_demo_story(story, tmp_path, metric, value):
    r, _ = measure(story, tmp_path, metric)
    assert r.value == pytest.approx(value, abs=1e-6), r.evidence
    assert r.evidence["criterion"] == "grounded"


def test_the_calibrated_rate_reads_the_rules_scope(story, tmp_path):
    r, _ = measure(
        story,
        tmp_path,
        "calibrated_pass_rate",
        extra='criterion = "grounded"\nscope = { risk = "high" }\n',
    )
    assert (r.evidence["passes"], r.evidence["results"]) == (290, 318)  # the grader in scope
    assert r.value == pytest.approx((290 / 318 + 2 / 9 - 1) / (2 / 9), abs=1e-6)
    assert r.evidence["judged"] == 30  # the run's calibration: its whole sample


def test_a_refused_correction_is_no_data_and_fails_closed(demo_store, tmp_path):
    r, _ = measure(demo_store, tmp_path, "calibrated_pass_rate")  # no judgment at all
    assert (r.value, r.passed) == (None, False) and "no judged result" in r.evidence["refused"]


def test_the_verified_delta_counts_audits(demo_store, tmp_path):
    r0, _ = measure(demo_store, tmp_path, "verified_pass_rate_delta", extra="")
    assert r0.value is None and "audited" in r0.evidence["refused"]
    keys = changed_keys(demo_store)
    regressions, improvements = keys["regressed"], keys["improved"]
    for key in regressions:  # every regression audited: 3 grader errors, the rest real
        verdict = "grader_wrong" if key in regressions[:3] else "real_regression"
        triage.label(demo_store, PROD, CAND, runs.resolve_case(demo_store, key), verdict=verdict)
    for key in improvements:
        triage.label(demo_store, PROD, CAND, runs.resolve_case(demo_store, key), verdict="accepted")
    r, _ = measure(demo_store, tmp_path, "verified_pass_rate_delta", extra="")
    n = r.evidence["cases"]
    real = len(regressions) - 3
    assert r.value == pytest.approx((len(improvements) - real) / n, abs=1e-6)
    assert r.evidence["regressions"] == {"cases": len(regressions), "real": real, "grader_wrong": 3}
    assert r.evidence["interval"][0] <= r.value <= r.evidence["interval"][1]


def changed_keys(store) -> dict[str, list[str]]:
    """The keys of the regressed and improved cases of the demo comparison."""
    reducer = gate.load_policy(GROUNDED).policy.reducer
    with Comparison(store.path, PROD, CAND, reducer=reducer) as cmp:
        return cmp.changed_keys(["regressed", "improved"])


# -- the policy's [calibration] ---------------------------------------------------------------


CAL = 'promise = "p"\ninsufficient_evidence = "rollback"\n'


def test_a_rule_on_an_uncalibrated_criterion_lacks_evidence(story, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        CAL
        + rule("grader_pass_rate_delta", "min = -0.02", extra='criterion = "grounded"\n')
        + rule("pass_rate", "min = 0").replace('id = "pass_rate"', 'id = "overall"')
        + '\n[calibration]\ncriteria = ["grounded"]\nmin_judgments = 100\n'
    )
    rec = gate.evaluate(story, gate.load_policy(path), PROD, CAND, **FIXED)
    grounded, overall = rec.rules
    assert grounded.value == pytest.approx(0.118794, abs=1e-6)  # measured, but it cannot decide
    assert (grounded.passed, grounded.insufficient, grounded.triggers) == (False, True, "rollback")
    assert grounded.uncalibrated == (
        "the grader of grounded is not calibrated: 60 agreed judgments, the policy needs 100"
    )
    assert grounded.result == f"insufficient evidence: {grounded.uncalibrated}"
    assert overall.uncalibrated is None and overall.passed  # `verdict` is not required
    assert rec.decision == "rollback" and "not calibrated: 60 agreed judgments" in rec.why
    assert "uncalibrated" not in rec.as_dict()["rules"][1]  # written only when it applies
    junit = ET.fromstring(exporters.to_junit(rec))
    failure = junit.find(".//testcase[@name='grader_pass_rate_delta']/failure")
    assert failure is not None and failure.get("type") == "uncalibrated"
    md = exporters.to_markdown(rec)
    assert "### Calibration" in md and "**no**: 60 agreed judgments, the policy needs 100" in md


@pytest.mark.parametrize(
    ("standard", "why"),
    [
        ("min_judgments = 40", None),
        ("min_judgments = 40\nmin_tpr = 0.95", "TPR's lower bound 0.920 is below the policy's 0.95"),
        ("min_judgments = 40\nmin_tnr = 0.3", "TNR's lower bound 0.247 is below the policy's 0.3"),
    ],
)  # fmt: skip
def test_the_standard_floors_the_exact_lower_bounds(story, tmp_path, standard, why):
    head = f'promise = "p"\n[calibration]\ncriteria = ["grounded"]\n{standard}\n'
    path = tmp_path / "p.toml"
    path.write_text(
        head + rule("grader_pass_rate_delta", "min = -1", extra='criterion = "grounded"\n')
    )
    rec = gate.evaluate(story, gate.load_policy(path), PROD, CAND, **FIXED)
    (c,) = rec.calibration.criteria
    assert (c.calibrated, c.why_not) == (why is None, why)
    assert rec.rules[0].insufficient is (why is not None)


@pytest.mark.parametrize(
    ("text", "field", "where", "message"),
    [
        ("[calibration]\ncriteria = []\n", "calibration.criteria", "line 3", "at least 1 item"),
        ("[calibration]\ncriteria = [\"grounded\"]\nmin_tpr = 2\n", "calibration.min_tpr", "line 4", "less than or equal to 1"),
        ("[calibration]\ncriteria = [\"grounded\"]\ncolour = 1\n", "calibration.colour", "line 4", "Extra inputs"),
    ],
)  # fmt: skip
def test_a_bad_calibration_table_names_its_line_and_key(tmp_path, text, field, where, message):
    path = tmp_path / "p.toml"
    path.write_text('promise = "p"\n' + text + rule("pass_rate", "min = 0"))
    with pytest.raises(InputError) as info:
        gate.load_policy(path)
    assert (info.value.field, info.value.location) == (
        field,
        where,
    ) and message in info.value.message


def test_a_required_criterion_the_runs_do_not_score_is_refused(story, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        'promise = "p"\n[calibration]\ncriteria = ["groundd"]\n' + rule("pass_rate", "min = 0")
    )
    with pytest.raises(InputError) as info:
        gate.evaluate(story, gate.load_policy(path), PROD, CAND, **FIXED)
    assert (
        info.value.field == "calibration.criteria[0]"
        and "did you mean 'grounded'" in info.value.message
    )


# -- the record, verify --------------------------------------------------------------------------


def test_a_policy_without_calibration_writes_the_record_as_before(demo_store, tmp_path):
    _, rec = measure(demo_store, tmp_path, "pass_rate", "min = 0", extra="")
    data = rec.as_dict()
    assert "calibration" not in data and all("uncalibrated" not in r for r in data["rules"])


def test_the_demo_story_raw_ships_calibrated_holds(story):
    rec = gate.evaluate(story, gate.load_policy(GROUNDED), PROD, CAND, **FIXED)
    by = {r.id: r for r in rec.rules}
    assert by["grounded-raw"].passed and by["grounded-raw"].value == pytest.approx(
        0.118794, abs=1e-6
    )
    assert not by["grounded-calibrated"].passed
    assert by["grounded-calibrated"].value == pytest.approx(-0.115544, abs=1e-6)
    assert by["reviewers-on-gold"].passed
    assert rec.decision == "hold" and rec.why.startswith("grounded-calibrated (hold")
    data = rec.as_dict()
    jsonschema.validate(data, SCHEMA)
    cal = data["calibration"]
    (c,) = cal["criteria"]
    assert (cal["judgments"], c["judged_baseline"], c["judged_candidate"]) == (60, 30, 30)
    assert [s["seed"] for s in c["samples"]] == [2026, 2026] and c["reviewers"] == ["ana", "ben"]
    assert c["grader"].startswith("grounded (native)") and c["calibrated"] is True


def test_verify_notices_a_changed_judgment_set(story):
    rec = gate.evaluate(story, gate.load_policy(GROUNDED), PROD, CAND, **FIXED)
    gate.record_decision(story, rec)
    assert gate.verify(story, rec) == []
    (case_id,) = story.conn.execute(
        "SELECT id FROM cases WHERE case_key = 'billing-010'"
    ).fetchone()
    ref = grader.resolve_result(story.conn, PROD, case_id, None)
    judgments.record(story, ref, "grounded", "fail", reviewer="carol")
    problems = gate.verify(story, rec)
    assert any(
        p.startswith("the judgment set of grounded changed: 60 -> 61 judged results")
        for p in problems
    ), problems
