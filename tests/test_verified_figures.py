"""Verified figures beside the grader's (#27): `compare --json` gains `calibrated` when some
result of the two runs has a blind judgment (the demo's story: the grader says +11.9
points, corrected the delta is -11.6 with its interval), and nothing otherwise."""

from __future__ import annotations

import json

from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.compare.verified import scoreboard_rows
from evaltui.review.calibration import demo


def compare_json() -> tuple[str, dict]:
    res = CliRunner().invoke(cli, ["compare", "1", "2", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output, json.loads(res.output)


def test_no_judgments_no_calibrated_key_and_the_json_unchanged(demo_store):
    before, data = compare_json()
    assert "calibrated" not in data
    demo.load(demo_store)
    after, judged = compare_json()
    judged.pop("calibrated")
    assert judged == data  # every other key as it was
    assert after.startswith(before.rstrip()[:-2])  # the same text, one key added at the end


def test_the_demo_story_corrected_beside_the_grader(demo_store):
    demo.load(demo_store)
    cal = compare_json()[1]["calibrated"]
    assert "corrected for the grader's errors" in cal["note"]
    (grounded,) = cal["criteria"]
    assert grounded["criterion"] == "grounded"
    b, c, d = grounded["baseline"], grounded["candidate"], grounded["delta"]
    assert (b["grader"], b["corrected"], b["interval"]) == (
        0.805944,
        0.773601,
        [0.645111, 0.887908],
    )
    assert (b["judged"], b["tpr"], b["tnr"], b["results"]) == (30, 1.0, 0.857143, 572)
    assert (c["grader"], c["corrected"], c["interval"]) == (0.924296, 0.659331, [0.470246, 1.0])
    assert (c["judged"], c["tnr"], c["method"]) == (30, 0.222222, "lang-reiczigel")
    assert (d["grader"], d["corrected"], d["interval"]) == (0.118794, -0.115544, [-1.0, 0.430229])
    assert (d["method"], d["calibration"], d["results"], d["grader_differs"]) == (
        "bootstrap",
        "per-run",
        564,
        False,
    )
    audited = cal["audited_delta"]
    assert (audited["grader"], audited["cases"]) == (0.005556, 360)
    assert audited["regressions"]["cases"] == 37 and audited["improvements"]["cases"] == 39
    assert audited["verified"] is None and "refused" in audited  # nothing audited yet


def test_the_scoreboard_rows_say_what_they_are(demo_store):
    demo.load(demo_store)
    rows = scoreboard_rows(compare_json()[1]["calibrated"])
    assert [r.label for r in rows] == [
        "grounded: grader, raw",
        "grounded: corrected",
        "verdict: audited (refused)",
    ]
    raw, fixed, audited = rows
    assert (raw.n, raw.baseline, raw.candidate, raw.delta) == (564, 0.805944, 0.924296, 0.118794)
    assert (fixed.n, fixed.delta, fixed.delta_interval) == (60, -0.115544, [-1.0, 0.430229])
    assert fixed.candidate_interval == [0.470246, 1.0]
    assert (audited.n, audited.delta, audited.regressed, audited.improved) == (360, None, 0, 0)
    assert scoreboard_rows(None) == []
