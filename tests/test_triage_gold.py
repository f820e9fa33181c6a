"""Hidden gold in the triage queue (#27): a gold answer on a candidate's result is scored
against each reviewer's triage verdict on the case (real_regression / accepted keep the
grader's verdict of the candidate, grader_wrong turns it over); `evaltui findings gold`
shows each reviewer's accuracy, and nothing a reviewer reads marks a case as gold."""

from __future__ import annotations

import json

from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.review.calibration.triage_gold import implied
from evaltui.store import runs
from evaltui.store.runs import grader

CAND = "cand-2026-11-20"


def run(*args: str, reviewer: str = "tester"):
    res = CliRunner().invoke(cli, ["--reviewer", reviewer, *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def changed() -> dict[str, list[str]]:
    return json.loads(run("compare", "1", "2", "--json"))["changed"]


def test_implied_verdicts():
    assert implied("real_regression", "fail") == "fail"
    assert implied("accepted", "pass") == "pass"
    assert implied("grader_wrong", "fail") == "pass"
    assert implied("grader_wrong", "pass") == "fail"
    assert implied("flaky", "fail") is None and implied(None, "fail") is None
    assert implied("accepted", None) is None


def test_triage_answers_on_gold_are_scored_per_reviewer(demo_store):
    base = json.loads(run("runs", "--json"))[0]["name"]
    keys = {k: runs.resolve_case(demo_store, k) for ks in changed().values() for k in ks}
    said = grader.case_verdicts(demo_store.conn, 2, keys.values(), grader.VERDICT)
    uniform = {k: said[c] for k, c in keys.items() if len(said[c]) == 1}
    regressed, other = [k for k in changed()["regressed"] if uniform.get(k) == {"fail"}][:2]
    improved = next(k for k in changed()["improved"] if uniform.get(k) == {"pass"})
    mixed = next(k for k in changed()["regressed"] if k not in uniform)
    run("findings", "adjudicators", "--add", "lead", reviewer="lead")
    before = {
        "list": run("findings", "list", "--json"),
        "case": run("case", base, CAND, regressed, "--json"),
    }
    assert "No triage answer on a gold case yet." in run("findings", "gold")
    for key in (regressed, improved, mixed):
        run("gold", "add", CAND, key, "--epoch", "0", "--answer", "fail", reviewer="lead")
    # ana: right on the regression (the candidate fails), wrong on the improvement
    run("label", base, CAND, regressed, "--verdict", "real_regression", reviewer="ana")
    run("label", base, CAND, improved, "--verdict", "accepted", reviewer="ana")
    # bob: says the regression is the grader's mistake (the candidate passes): wrong;
    # then a flaky verdict on the improvement, which is not scored
    run("label", base, CAND, regressed, "--verdict", "grader_wrong", reviewer="bob")
    run("label", base, CAND, improved, "--verdict", "flaky", reviewer="bob")
    # carol labels a case that is not gold: not scored, not listed
    run("label", base, CAND, other, "--verdict", "real_regression", reviewer="carol")
    # nor a case whose samples the grader scored differently (the answer is the case's)
    run("label", base, CAND, mixed, "--verdict", "real_regression", reviewer="carol")
    data = json.loads(run("findings", "gold", "--json"))
    assert [(g["reviewer"], g["correct"], g["answered"]) for g in data] == [
        ("ana", 1, 2),
        ("bob", 0, 1),
    ]
    ana = data[0]
    assert ana["accuracy"] == 0.5 and ana["on_fail"] == {
        "correct": 1,
        "answered": 2,
        "accuracy": 0.5,
        "interval": ana["interval"],
    }
    assert ana["on_pass"]["answered"] == 0 and ana["interval"][0] < 0.5 < ana["interval"][1]
    text = run("findings", "gold")
    assert text.splitlines()[0].startswith("ana 1/2 right, 50.0% (")
    assert "bob 0/1 right, 0.0%" in text
    listed = run("findings", "list")
    assert "on hidden gold (triage answers, every comparison): ana 1/2 right" in listed
    # ana undoes her answer on the improvement: her answer in force is none, not scored
    run("findings", "undo", base, CAND, reviewer="ana")
    data = json.loads(run("findings", "gold", "--json"))
    assert [(g["reviewer"], g["correct"], g["answered"]) for g in data] == [
        ("ana", 1, 1),
        ("bob", 0, 1),
    ]
    # what a reviewer reads of the queue never says which case is gold
    after_list = json.loads(run("findings", "list", "--json"))
    assert "gold" not in json.dumps(after_list) and "gold" not in before["list"]
    assert "gold" not in run("case", base, CAND, regressed, "--json").lower()
    assert "gold" not in before["case"].lower()
