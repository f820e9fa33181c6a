"""A comparison's production estimate corrected for the grader's errors (#28, opt-in:
`compare --calibrated`, the policy's `[production] calibrated = true`): each run's traffic
cells corrected by that run's calibration on the verdict (its agreed blind judgments), the
paired delta by each run's own when both stand, else by one pooled from both runs'
judgments (as review/calibration/report.paired chooses). The estimator is
estimate/weighted_corrected.py; compare/production.py holds the result with the
uncorrected estimate and prints it. docs/production.md ("Corrected for the grader's
errors") has the method and the assumption every output states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaltui.compare.engine import Comparison
from evaltui.estimate.weighted import PairedCounts, SegmentCounts, Settings, Weights
from evaltui.estimate.weighted_corrected import (
    CorrectedEstimate,
    corrected_delta_estimate,
    corrected_rate_estimate,
)
from evaltui.review.calibration.report import Figures, figures
from evaltui.store.runs.grader import VERDICT

ASSUMPTION = (
    "each run's grader is taken to err alike in every traffic cell: one TPR and TNR, "
    "measured on that run's judged results, corrects every cell (Rogan-Gladen); where the "
    "grader errs more in some cells than in others, the corrected figure is wrong there and "
    "its interval does not show it"
)


@dataclass(frozen=True)
class Corrected:
    """The corrected estimates of a comparison and the calibrations they rest on."""

    rates: dict[str, CorrectedEstimate | None]  # by role; None: the run has no estimate
    delta: CorrectedEstimate | None
    figures: dict[str, Figures]  # by role, and "pooled" when the delta used it


def correct(
    cmp: Comparison,
    rates: Mapping[str, Sequence[SegmentCounts]],
    paired: Sequence[PairedCounts],
    weights: Weights,
    settings: Settings,
    alpha: float,
    roles: Mapping[str, bool],
) -> Corrected:
    """Each run's rate and the paired delta corrected. `roles`: which runs have an
    estimate (a run without cases, or no fallback, has none)."""
    runs = {"baseline": cmp.baseline, "candidate": cmp.candidate, "fallback": cmp.fallback}
    with cmp.reader() as conn:
        figs = {
            role: figures(conn, [run.id], VERDICT, alpha)
            for role, run in runs.items()
            if run is not None and (roles.get(role) or role != "fallback")
        }
        out: dict[str, CorrectedEstimate | None] = {
            role: corrected_rate_estimate(rates[role], weights, figs[role].calibration, settings)
            if roles.get(role)
            else None
            for role in rates
        }
        delta = None
        if paired:
            base, cand = figs["baseline"].calibration, figs["candidate"].calibration
            shared = None
            if base.refusal() is not None or cand.refusal() is not None:
                both = [cmp.baseline.id, cmp.candidate.id]
                figs["pooled"] = figures(conn, both, VERDICT, alpha)
                shared = figs["pooled"].calibration
            delta = corrected_delta_estimate(paired, weights, base, cand, settings, shared)
    return Corrected(out, delta, figs)


def _r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def calibration_json(fig: Figures) -> dict[str, Any]:
    """The calibration a corrected figure rests on: the agreed judgments (count, the set's
    SHA-256, as the record's Calibration section names them) and the grader's rates."""
    cal = fig.calibration
    why = cal.refusal()
    return {
        "runs": list(fig.runs),
        "judged": fig.judged,
        "judgment_set_sha256": fig.judgment_set_sha256,
        "tpr": _r6(cal.tpr.value),
        "tnr": _r6(cal.tnr.value),
        **({"refused": why.reason} if why else {}),
    }


def used(c: CorrectedEstimate, role: str) -> str:
    """Which calibration corrected a figure: the run's own, each run's, or the pool."""
    if c.kind == "rate":
        return role
    return "baseline, candidate" if c.calibration == "per-run" else "pooled"


def refusal(c: CorrectedEstimate | None) -> str | None:
    """Why a corrected figure is not given, in words (None: it is, or the run has none)."""
    if c is None or c.refused is None:
        return None
    return f"no corrected estimate: {c.refused.reason}"
