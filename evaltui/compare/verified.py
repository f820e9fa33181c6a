"""The verified figures of a comparison (#27): each judged criterion's pass rates and paired
delta corrected for the grader's errors, beside the grader's own (raw) figures, and the
delta verified by the audited regressions and improvements. `compare --json` prints them as
`calibrated` and the app's scoreboard as rows under the segments; both only when some
result of the two compared runs has a blind human judgment (a store without any prints
exactly what it did before). Over the whole comparison; the measures are the gate's
(compare/calibrated.py), so the figures agree with a rule's. Method: docs/calibration.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaltui.compare import calibrated
from evaltui.compare.engine import Comparison
from evaltui.review.calibration.judgments import criterion_word, judged_counts
from evaltui.stats import ALPHA

NOTE = (
    "figures corrected for the grader's errors by blind human judgments (docs/calibration.md); "
    "`grader` is the grader's own figure, taken at face value"
)


def judged_criteria(cmp: Comparison) -> list[str]:
    """The criteria with a calibration judgment on either compared run, by their words."""
    with cmp.reader() as conn:
        counts = judged_counts(conn)
    runs = (cmp.baseline.id, cmp.candidate.id)
    return sorted({crit for run_id, crit in counts if run_id in runs}, key=criterion_word)


def _rate(cmp: Comparison, run_id: int, crit: str, alpha: float) -> dict[str, Any]:
    value, ev = calibrated.run_pass_rate(cmp, run_id, "1", [], crit, alpha)
    return {
        "grader": ev["raw"],
        "corrected": None if value is None else round(value, 6),
        "interval": ev["interval"],
        "method": ev["method"],
        "results": ev["results"],
        "judged": ev["judged"],
        "tpr": ev["tpr"],
        "tnr": ev["tnr"],
        **({"refused": ev["refused"]} if "refused" in ev else {}),
    }


def _delta(cmp: Comparison, crit: str, alpha: float) -> dict[str, Any]:
    args = {"criterion": criterion_word(crit)}
    raw, _ = calibrated.grader_pass_rate_delta(cmp, "1", [], args, alpha)
    value, ev = calibrated.calibrated_pass_rate_delta(cmp, "1", [], args, alpha)
    return {
        "grader": None if raw is None else round(raw, 6),
        "corrected": None if value is None else round(value, 6),
        "interval": ev["interval"],
        "method": ev["method"],
        "calibration": ev["calibration"],
        "results": ev["results"],
        "grader_differs": ev["grader_differs"],
        **({"refused": ev["refused"]} if "refused" in ev else {}),
    }


def _audited(cmp: Comparison, alpha: float) -> dict[str, Any]:
    value, ev = calibrated.verified_pass_rate_delta(cmp, "1", [], {}, alpha)
    return {
        "grader": ev["raw_delta"],
        "verified": None if value is None else round(value, 6),
        "interval": ev["interval"],
        "cases": ev["cases"],
        "regressions": ev["regressions"],
        "improvements": ev["improvements"],
        **({"refused": ev["refused"]} if "refused" in ev else {}),
    }


def calibrated_json(cmp: Comparison, alpha: float = ALPHA) -> dict[str, Any] | None:
    """`calibrated` of `compare --json` (docs/compare.md); None with no judgment on the runs."""
    criteria = judged_criteria(cmp)
    if not criteria:
        return None
    return {
        "note": NOTE,
        "criteria": [
            {
                "criterion": criterion_word(crit),
                "baseline": _rate(cmp, cmp.baseline.id, crit, alpha),
                "candidate": _rate(cmp, cmp.candidate.id, crit, alpha),
                "delta": _delta(cmp, crit, alpha),
            }
            for crit in criteria
        ],
        "audited_delta": _audited(cmp, alpha),
    }


@dataclass(frozen=True, slots=True)
class VerifiedRow:
    """One scoreboard row of the verified figures: a label that says what it is, the
    figures (None: none, or refused) and the interval of the delta, in points."""

    label: str
    n: int
    baseline: float | None
    candidate: float | None
    candidate_interval: list[float] | None
    delta: float | None
    delta_interval: list[float] | None
    regressed: int | None = None
    improved: int | None = None


def scoreboard_rows(data: dict[str, Any] | None) -> list[VerifiedRow]:
    """The rows the scoreboard shows under its segments, from `calibrated_json`: per
    criterion the grader's figures, then the corrected ones; last the audited delta."""
    if data is None:
        return []
    rows = []
    for c in data["criteria"]:
        word, b, cand, d = c["criterion"], c["baseline"], c["candidate"], c["delta"]
        raw = (b["grader"], cand["grader"], None, d["grader"], None)
        rows.append(VerifiedRow(f"{word}: grader, raw", d["results"], *raw))
        refused = " (refused)" if "refused" in d or "refused" in cand else ""
        fixed = (b["corrected"], cand["corrected"], cand["interval"], d["corrected"], d["interval"])
        rows.append(
            VerifiedRow(f"{word}: corrected{refused}", b["judged"] + cand["judged"], *fixed)
        )
    a = data["audited_delta"]
    refused = " (refused)" if "refused" in a else ""
    flips = (a["regressions"]["real"], a["improvements"]["real"])
    audited = (None, None, None, a["verified"], a["interval"], *flips)
    rows.append(VerifiedRow(f"verdict: audited{refused}", a["cases"], *audited))
    return rows
