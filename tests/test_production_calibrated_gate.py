"""The corrected production estimate through the store (#28, opt-in): `compare --json
--calibrated` (`production_estimate.calibrated`, absent when not asked), the policy's
`[production] calibrated = true` (the record names the calibration and the assumption; a
refused calibration leaves the weighted rules without evidence), and its checks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.estimate.traffic import read_traffic
from evaltui.estimate.weighted import SegmentCounts
from evaltui.estimate.weighted_corrected import corrected_rate_estimate
from evaltui.review.calibration import judgments, samples
from evaltui.review.calibration.report import figures
from evaltui.store import traffic as traffic_store
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT

from .test_gate import FIXED
from .test_production_gate import TRAFFIC, demo_counts, production_policy, wrule


@pytest.fixture
def traffic_demo(demo_store):
    traffic_store.keep_demo(demo_store)
    return demo_store


def judge(store, run_id: int, n: int = 80) -> None:
    """A blind judgment of a seeded sample on the verdict: people agree with the grader
    except on every fourth result."""
    kept = samples.draw(store, run_id, VERDICT, n=n, seed=11)
    said = grader.verdicts(store.conn, kept.items, VERDICT)
    for i, ref in enumerate(kept.items):
        if said[ref] is None:
            continue
        human = said[ref] if i % 4 else ("fail" if said[ref] == "pass" else "pass")
        judgments.record(store, ref, VERDICT, human, reviewer="ana", sample=kept.uid)


def compare(db_path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2", "--json", *args])
    return r.exit_code, r.output


def test_compare_json_gains_the_corrected_estimate_only_when_asked(traffic_demo, db_path):
    judge(traffic_demo, 1)
    judge(traffic_demo, 2)
    code, plain = compare(db_path)
    assert code == 0 and "calibrated" not in json.loads(plain)["production_estimate"]
    code, out = compare(db_path, "--calibrated")
    assert code == 0, out
    data = json.loads(out)
    pe = data.pop("production_estimate")
    c = pe.pop("calibrated")
    assert {k: v for k, v in json.loads(plain).items() if k != "production_estimate"} == data
    assert json.loads(plain)["production_estimate"] == pe  # the uncorrected one unchanged
    assert "err alike in every traffic cell" in c["assumption"]
    fig = figures(traffic_demo.conn, [2], VERDICT)
    assert c["calibrations"]["candidate"]["judged"] == fig.judged > 0
    assert c["calibrations"]["candidate"]["judgment_set_sha256"] == fig.judgment_set_sha256
    assert c["candidate"]["calibration"] == "candidate"
    assert c["delta"]["calibration"] == "baseline, candidate"
    rates, _ = demo_counts()
    segs = [SegmentCounts(k, n, p) for k, (n, p) in sorted(rates["candidate"].items())]
    want = corrected_rate_estimate(segs, read_traffic(TRAFFIC).weights(), fig.calibration)
    assert want.estimate is not None and want.estimate.covered is not None
    assert c["candidate"]["covered"]["point"] == round(want.estimate.covered.point, 6)
    assert c["candidate"]["covered"]["lower"] == round(want.estimate.covered.lower, 6)


def test_calibrated_without_traffic_is_refused(demo_store, db_path):
    code, out = compare(db_path, "--calibrated")
    assert code == 2 and "--calibrated corrects the production estimate" in out


def test_without_judgments_the_corrected_estimate_is_refused_saying_why(traffic_demo, db_path):
    code, out = compare(db_path, "--calibrated")
    assert code == 0, out
    c = json.loads(out)["production_estimate"]["calibrated"]
    assert c["candidate"]["refused"].startswith("no corrected estimate: no judged result")
    assert c["delta"]["refused"].startswith(
        "no corrected estimate: the calibration of both runs' judgments: no judged result"
    )


RULES = wrule("users", "weighted_pass_rate", "min = 0.5", 'bound = "lower"\n') + wrule(
    "no-worse", "weighted_pass_rate_delta", "min = -0.5", 'bound = "lower"\n'
)


def test_a_weighted_rule_lacks_evidence_when_the_calibration_is_refused(traffic_demo, tmp_path):
    path = production_policy(tmp_path, RULES, "calibrated = true\n")
    rec = gate.evaluate(traffic_demo, gate.load_policy(path), 1, 2, **FIXED)
    by = {r.id: r for r in rec.rules}
    assert by["users"].insufficient and by["users"].uncalibrated is not None
    assert by["users"].uncalibrated.startswith(
        "the production estimate is not corrected: no corrected estimate: no judged result"
    )
    assert by["no-worse"].insufficient and rec.decision == "hold"  # insufficient_evidence
    assert rec.production is not None and rec.production.calibrated is not None
    users = next(m for m in rec.production.margins if m.rule == "users")  # no margin, why
    assert (users.value, users.direction, users.closest) == (None, None, [])
    assert users.text.startswith(
        "users: weighted_pass_rate lower no data (corrected), must be >= 50.0%: "
    )
    assert users.text.endswith("no corrected estimate: no judged result is a pass: the "
                               "grader's sensitivity (TPR) is unknown, no margin")  # fmt: skip


def test_the_record_names_the_corrected_estimate_and_its_calibration(traffic_demo, tmp_path):
    judge(traffic_demo, 1)
    judge(traffic_demo, 2)
    path = production_policy(tmp_path, RULES, "calibrated = true\n")
    rec = gate.evaluate(traffic_demo, gate.load_policy(path), 1, 2, **FIXED)
    sec = rec.production
    assert sec is not None and sec.calibrated is not None
    cal = sec.calibrated.calibrations
    fig = figures(traffic_demo.conn, [2], VERDICT)
    assert cal["candidate"].judged == fig.judged
    assert cal["candidate"].judgment_set_sha256 == fig.judgment_set_sha256
    by = {r.id: r for r in rec.rules}
    assert not by["users"].insufficient and by["users"].evidence["calibrated"] is True
    corrected = sec.calibrated.candidate
    assert corrected is not None
    assert by["users"].value == corrected["covered"]["lower"]
    assert by["users"].value != sec.candidate.covered.lower  # type: ignore[union-attr]
    text = "\n".join(gate.production.lines(sec))
    assert "corrected for the grader's errors" in text and "assumption: " in text
    # each margin searched on the corrected figure (test_production_calibrated_margin_gate)
    users = next(m for m in sec.margins if m.rule == "users")
    assert users.value == by["users"].value and users.direction == "down"
    assert users.text.startswith("users: weighted_pass_rate lower ") and "(corrected)" in users.text
    assert f"margin: {users.text}" in text and "not searched" not in text
    # the record reads the same again (verify)
    again = gate.evaluate(traffic_demo, gate.load_policy(path), 1, 2, **FIXED)
    assert gate.production.changes(rec.as_dict(), again.as_dict()) == []


@pytest.mark.parametrize(
    ("production", "needle"),
    [
        ('calibrated = "yes"\n', "field 'production.calibrated': Input should be a valid boolean"),
        ('method = "mover_wilson"\ncalibrated = true\n',
         "line 7: field 'production.calibrated': the corrected estimate is Monte Carlo only"),
    ],
)  # fmt: skip
def test_bad_calibrated_settings_name_the_file_line_and_field(tmp_path, production, needle):
    path = production_policy(tmp_path, RULES, production)
    with pytest.raises(InputError) as exc:
        gate.load_policy(path)
    assert needle in str(exc.value), str(exc.value)
