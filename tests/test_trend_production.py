"""The trend's production rows (#28) and `evaltui trend`: each run's production estimate,
and corrected for the grader's errors when asked (each run by its own calibration on the
verdict, or why not), as the comparison computes them; the policy in force deciding what
the app shows (gate/in_force.py); the command's table and JSON, with values; and the
header's corrected line in the words that fit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from evaltui import gate
from evaltui.cli import cli
from evaltui.compare import Comparison
from evaltui.compare.production import corrected_short, from_store
from evaltui.compare.production_corrected import ASSUMPTION
from evaltui.estimate.calibration import clip01, rogan_gladen
from evaltui.estimate.traffic import read_traffic
from evaltui.estimate.weighted import Settings
from evaltui.gate.in_force import production_in_force
from evaltui.review.calibration.report import figures
from evaltui.store import traffic as traffic_store
from evaltui.store.runs.grader import VERDICT
from evaltui.tui.widgets.header import fit
from evaltui.views.trend import trend, trend_json, with_production

from .helpers import write_jsonl
from .test_production_calibrated_gate import RULES, judge
from .test_production_gate import TRAFFIC, demo_counts, production_policy
from .test_trend import suite_runs  # noqa: F401 (a fixture)

NO_PASS = "no judged result is a pass: the grader's sensitivity (TPR) is unknown"


@pytest.fixture
def traffic_demo(demo_store):
    traffic_store.keep_demo(demo_store)
    return demo_store


def calibrated(store, draws: int = 300):
    production = from_store(store, settings=Settings(draws=draws))
    assert production is not None
    production.calibrated = True
    return production


def by_hand(store, run_id: int, role: str) -> float:
    """A run's corrected estimate over covered traffic, computed here: each cell's rate
    (counted from the demo files) corrected by Rogan-Gladen with the run's TPR and TNR,
    weighted by the cell's share of the covered traffic."""
    cal = figures(store.conn, [run_id], VERDICT).calibration
    tpr, tnr = cal.tpr.value, cal.tnr.value
    rates, _ = demo_counts()
    counts = {c.values: c.amount for c in read_traffic(TRAFFIC).cells}
    covered = {k: counts[k] for k in rates[role]}
    total = sum(covered.values())
    return sum(
        covered[k] / total * clip01(rogan_gladen(p / n, tpr, tnr))
        for k, (n, p) in rates[role].items()
    )


# -- the data ---------------------------------------------------------------------------------


def test_each_runs_corrected_estimate_is_its_cells_corrected_by_its_own_calibration(
    traffic_demo,
):
    judge(traffic_demo, 1)
    judge(traffic_demo, 2)
    production = calibrated(traffic_demo)
    t = with_production(traffic_demo.path, 2, production, dimensions=["task"])
    assert [r.id for r in t.runs] == [1, 2] and t.refused == [None, None]
    assert t.corrected is not None and t.production is not None
    assert t.corrected[0] == pytest.approx(by_hand(traffic_demo, 1, "baseline"), abs=1e-12)
    assert t.corrected[1] == pytest.approx(by_hand(traffic_demo, 2, "candidate"), abs=1e-12)
    # what `compare --calibrated` gives for each run, to the digit it prints
    with Comparison(traffic_demo.path, 1, 2, dimensions=["task", "risk"]) as cmp:
        c = production.as_json(cmp)["calibrated"]
    assert round(t.corrected[0], 6) == c["baseline"]["covered"]["point"]
    assert round(t.corrected[1], 6) == c["candidate"]["covered"]["point"]
    assert t.corrected != t.production  # the grader errs: the correction moves it


def test_a_refused_calibration_leaves_the_run_without_a_corrected_figure_and_says_why(
    traffic_demo,
):
    judge(traffic_demo, 2)  # the candidate only
    t = with_production(traffic_demo.path, 2, calibrated(traffic_demo))
    assert t.corrected is not None and t.corrected[0] is None and t.corrected[1] is not None
    assert t.refused == [NO_PASS, None]


def test_not_asked_nothing_is_corrected(traffic_demo):
    judge(traffic_demo, 2)
    production = calibrated(traffic_demo)
    production.calibrated = False
    t = with_production(traffic_demo.path, 2, production)
    assert t.production is not None and t.corrected is None and t.refused == []
    assert with_production(traffic_demo.path, 2, None).production is None


def test_the_policy_in_force_decides_what_the_app_shows(traffic_demo, tmp_path):
    found = production_in_force(traffic_demo)  # no policy: the weights in force, uncorrected
    assert found.production is not None and not found.production.calibrated
    assert (found.calibrated, found.refused) == (False, None)
    gate.set_policy_path(traffic_demo, str(tmp_path / "gone.toml"))  # unreadable: asks nothing
    assert not production_in_force(traffic_demo).calibrated
    gate.set_policy_path(traffic_demo, str(production_policy(tmp_path, RULES)))
    assert not production_in_force(traffic_demo).calibrated  # a [production] without it
    path = production_policy(tmp_path, RULES, "calibrated = true\nseed = 7\n")
    gate.set_policy_path(traffic_demo, str(path))
    found = production_in_force(traffic_demo)
    assert found.calibrated and found.refused is None and found.production is not None
    p = found.production
    assert p.calibrated and (p.settings.draws, p.settings.seed) == (500, 7)  # the policy's
    assert p.alpha == gate.load_policy(path).policy.alpha
    path = production_policy(tmp_path, RULES, 'calibrated = true\ntraffic = "nosuch"\n')
    gate.set_policy_path(traffic_demo, str(path))
    found = production_in_force(traffic_demo)
    assert found.calibrated and found.production is None
    assert found.refused is not None
    assert found.refused.startswith("the policy's traffic weights: no traffic weights named")


def test_asked_with_no_weights_in_force_is_refused(demo_store, tmp_path):
    path = production_policy(tmp_path, RULES, "calibrated = true\n")
    gate.set_policy_path(demo_store, str(path))
    found = production_in_force(demo_store)
    assert found.production is None and found.calibrated
    assert found.refused == "no traffic weights are in force (`evaltui traffic import FILE`)"


def test_trend_json_has_every_field_with_its_value(store, suite_runs):  # noqa: F811
    from evaltui.compare import Reducer

    t = trend(store.path, suite_runs[-1], dimensions=["region"], max_cases=2)
    got = trend_json(t, suite_runs[-1], Reducer())
    assert got == {
        "schema": "evaltui.trend/1",
        "run": suite_runs[-1],
        "reducer": "worst",
        "runs": [
            {"id": suite_runs[0], "name": "r0", "at": "2026-01-01T00:00:00+00:00"},
            {"id": suite_runs[1], "name": "r1", "at": "2026-01-02T00:00:00+00:00"},
            {"id": suite_runs[2], "name": "r2", "at": "2026-01-03T00:00:00+00:00"},
        ],
        "segments": [
            {"dimension": "all", "value": "all", "rates": [0.75, 0.25, 0.5]},
            {"dimension": "region", "value": "eu", "rates": [0.666667, 0.333333, 0.5]},
            {"dimension": "region", "value": "us", "rates": [1.0, 0.0, 0.5]},
        ],
        "production": None,
        "failing": 4,
        "standing": 1,
        "cases": [
            {"suite": "s", "case_key": "standing", "history": ["fail"] * 3, "failed": 3,
             "runs": 3},
            {"suite": "s", "case_key": "flips", "history": ["pass", "fail", "pass"],
             "failed": 1, "runs": 3},
        ],
    }  # fmt: skip


# -- the header's corrected line: the words that fit --------------------------------------------

C = {
    "candidate": {"calibration": "candidate", "covered": {"point": 0.9, "lower": 0.8, "upper": 0.95}},
    "baseline": {"calibration": "baseline", "refused": "no corrected estimate: too few"},
    "fallback": None,
    "delta": {"calibration": "baseline, candidate",
              "covered": {"point": 0.05, "lower": -0.01, "upper": 0.1}},
}  # fmt: skip


def test_the_corrected_line_in_three_wordings_longest_first():
    assert corrected_short(C) == [
        "corrected for grader errors (assumes errors alike in every cell): candidate 90.0% "
        "(80.0%-95.0%); baseline none (too few); delta +5.0 pts (-1.0 to +10.0)",
        "corrected for grader errors (assumes errors alike in every cell): candidate 90.0% "
        "(80.0%-95.0%); delta +5.0 pts (-1.0 to +10.0)",
        "corrected (grader errs alike in every cell): candidate 90.0% (80.0%-95.0%)",
    ]
    refused = {**C, "candidate": {"refused": "no corrected estimate: " + NO_PASS}}
    assert corrected_short(refused) == [f"corrected for grader errors: none: {NO_PASS}"]


def test_fit_takes_the_longest_wording_that_fits_else_shortens_at_a_word():
    console = Console(width=300)
    words = corrected_short(C)
    assert fit(words, 200, 1, console) == words[0]
    assert fit(words, 140, 1, console) == words[1]
    assert fit(words, 78, 1, console) == words[2]
    assert fit(words, 90, 2, console) == words[0]
    line = fit([f"corrected for grader errors: none: {NO_PASS}"], 60, 1, console)
    assert line == "corrected for grader errors: none: no judged result is a …"
    assert len(line) <= 60


# -- evaltui trend ----------------------------------------------------------------------------


def run(db_path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db_path), "trend", *args])


def test_trend_json_reads_the_production_estimate_run_by_run(traffic_demo, db_path):
    r = run(db_path, "cand-2026-11-20", "--json", "--cases", "3")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    compare = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2", "--json"])
    pe = json.loads(compare.output)["production_estimate"]
    prod = data["production"]
    assert prod["traffic"] == pe["traffic"]
    assert prod["rates"] == [
        pe["baseline"]["covered"]["point"],
        pe["candidate"]["covered"]["point"],
    ]
    assert prod["rates"] == [0.82105, 0.890192] and prod["calibrated"] is None
    assert [s["rates"] for s in data["segments"] if s["dimension"] == "all"] == [[0.744444, 0.75]]
    assert [(r["id"], r["name"]) for r in data["runs"]] == [
        (1, "prod-2026-11-02"),
        (2, "cand-2026-11-20"),
    ]
    assert (data["failing"], data["standing"], len(data["cases"])) == (129, 53, 3)
    assert data["cases"][0] == {"suite": "support-assistant", "case_key": "account-access-001",
                                "history": ["fail", "fail"], "failed": 2, "runs": 2}  # fmt: skip
    none = json.loads(run(db_path, "2", "--json", "--traffic", "none").output)
    assert none["production"] is None


def test_trend_json_calibrated_matches_compare_calibrated(traffic_demo, db_path):
    judge(traffic_demo, 2)
    data = json.loads(run(db_path, "2", "--json", "--calibrated").output)
    c = data["production"]["calibrated"]
    out = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "1", "2", "--json",
                                   "--calibrated"]).output  # fmt: skip
    want = json.loads(out)["production_estimate"]["calibrated"]
    assert c == {
        "criterion": "verdict",
        "rates": [None, want["candidate"]["covered"]["point"]],
        "refused": [NO_PASS, None],
        "assumption": ASSUMPTION,
    }
    assert want["baseline"]["refused"] == f"no corrected estimate: {NO_PASS}"


def test_trend_table_has_the_production_rows_and_says_why_one_is_empty(traffic_demo, db_path):
    judge(traffic_demo, 1)
    r = CliRunner().invoke(cli, ["--db", str(db_path), "trend", "2", "--calibrated"],
                           env={"COLUMNS": "120"})  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    prod = next(x for x in lines if x.startswith("production (demo-traffic #1) "))
    assert prod.split()[-4:] == ["▇█", "82.1%", "89.0%", "82.1%"]
    corrected = next(x for x in lines if x.startswith("production (corrected) ")).split()
    at = lines.index(prod)  # under "all", the corrected row under it
    assert lines[at - 1].startswith("all ") and lines[at + 1].startswith("production (corr")
    spark, first, last, lowest = corrected[-4:]
    assert spark[0] != "·" and spark[1] == "·" and first == last == lowest  # the baseline only
    assert f"production (corrected): none for cand-2026-11-20: {NO_PASS}" in r.output
    assert f"assumption: {ASSUMPTION}" in " ".join(r.output.split())
    assert "129 cases failed in at least one run; 53 failed in every run" in r.output


def test_trend_refuses_bad_input_in_one_line(traffic_demo, db_path):
    r = run(db_path, "nosuch")
    assert r.exit_code == 4 and r.output.startswith("Error: No run 'nosuch'")
    r = run(db_path, "2", "--traffic", "none", "--calibrated")
    assert r.exit_code == 2 and "--calibrated corrects the production estimate" in r.output
    r = run(db_path, "2", "--reducer", "declared")
    assert r.exit_code == 2 and "Error: --reducer: unknown reducer 'declared'" in r.output


HOSTILE_NAME = "[bold red]run[/] \x1b[2J\x1b]52;c;SGk=\x07 \u202eevil"


def test_run_names_are_inert_in_the_table_and_the_json(store, db_path, tmp_path):
    rows = [{"suite": "s", "case_key": "[red]k\x1b[1m", "verdict": "fail",
             "attributes": {"region": "eu"}}]  # fmt: skip
    from evaltui import service

    path = write_jsonl(tmp_path / "h.jsonl", rows, header={"name": HOSTILE_NAME})
    (out,) = service.import_path(store, path)
    r = run(db_path, str(out.run_id))
    assert r.exit_code == 0, r.output
    for ch in ("\x1b", "\x07", "\u202e"):
        assert ch not in r.output
    assert "[bold red]run[/]" in r.output and "[red]k" in r.output  # literal, not markup
    j = run(db_path, str(out.run_id), "--json")
    for ch in ("\x1b", "\x07", "\u202e"):
        assert ch not in j.output
    data = json.loads(j.output)
    assert data["runs"][0]["name"] == HOSTILE_NAME  # exact once parsed
    assert data["cases"][0]["case_key"] == "[red]k\x1b[1m"
