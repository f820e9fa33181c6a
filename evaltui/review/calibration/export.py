"""A calibration report as JSON data: `calibrate report --json`, the decision record's
Calibration section and the Markdown record read it. Figures rounded to 6 places; an
interval is [low, high]; a refused figure is null beside its `refused` {code, reason}."""

from __future__ import annotations

from typing import Any

from evaltui.estimate import CorrectedRate, Interval, Proportion, Refusal, ReviewerAccuracy
from evaltui.review.calibration.gold import ReviewerGold
from evaltui.review.calibration.judgments import criterion_word
from evaltui.review.calibration.report import (
    CalibrationReport,
    CriterionReport,
    Figures,
    PairedFigures,
    SegmentFigures,
)
from evaltui.review.calibration.samples import SampleRecord


def r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def interval(iv: Interval | None) -> list[float] | None:
    return None if iv is None else [round(iv.low, 6), round(iv.high, 6)]


def refusal(why: Refusal | None) -> dict[str, str] | None:
    return None if why is None else {"code": why.code, "reason": why.reason}


def proportion(p: Proportion) -> dict[str, Any]:
    return {
        "successes": p.successes,
        "n": p.n,
        "value": r6(p.value),
        "exact": interval(p.exact),
        "wilson": interval(p.wilson),
    }


def figures_json(fig: Figures) -> dict[str, Any]:
    """The grader against the judged results: counts, TPR, TNR, J, agreement."""
    c, cal = fig.confusion, fig.calibration
    ag = cal.agreement
    return {
        "runs": list(fig.runs),
        "judged": fig.judged,
        "human_passes": c.human_passes,
        "human_fails": c.human_fails,
        "disputed": fig.labels.disputed,
        "unsure": fig.labels.unsure,
        "ungraded": fig.ungraded,
        "reviewers": fig.labels.reviewers,
        "judgment_set_sha256": fig.judgment_set_sha256,
        "confusion": {"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn},
        "tpr": proportion(cal.tpr),
        "tnr": proportion(cal.tnr),
        "youden": {"value": r6(cal.youden), "interval": interval(cal.youden_interval)},
        "informative": cal.informative,
        "refused": refusal(cal.refusal()),
        "agreement": {
            "observed": r6(ag.observed),
            "kappa": r6(ag.kappa),
            "ac1": r6(ag.ac1),
            "ac1_interval": interval(ag.ac1_interval),
        },
    }


def corrected_json(c: CorrectedRate) -> dict[str, Any]:
    return {
        "raw": {"passes": c.raw.successes, "n": c.raw.n, "value": r6(c.raw.value)},
        "corrected": r6(c.value),
        "interval": interval(c.interval),
        "unclipped": r6(c.unclipped),
        "clipped": c.clipped,
        "method": c.method,
        "refused": refusal(c.refused),
    }


def sample_json(s: SampleRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "uid": s.uid,
        "run": s.run_id,
        "criterion": criterion_word(s.criterion),
        "seed": s.seed,
        "requested": s.requested,
        "drawn": len(s.items),
        "allocation": s.allocation,
        "dimension": s.dimension,
        "frame_sha256": s.frame.get("hash"),
        "frame_size": s.frame.get("size"),
        "self_weighting": s.frame.get("self_weighting"),
        "gold_rate": s.gold_rate,
        "made_by": s.made_by,
        "at": s.at,
    }


def segment_json(s: SegmentFigures) -> dict[str, Any]:
    cal = s.figures.calibration
    return {
        "segment": s.segment,
        "judged": s.figures.judged,
        "tpr": r6(cal.tpr.value),
        "tnr": r6(cal.tnr.value),
        "pass_rate": corrected_json(s.corrected),
    }


def paired_json(p: PairedFigures) -> dict[str, Any]:
    d = p.delta
    differs = p.differs
    return {
        "baseline_run": p.baseline_run,
        "baseline_judgments": figures_json(p.baseline),
        "calibration": p.calibration,
        "counts": dict(
            zip(
                ("both_pass", "regressions", "improvements", "both_fail"),
                d.counts.cells(),
                strict=True,
            )
        ),
        "raw_delta": r6(d.raw_delta),
        "raw_interval": interval(d.raw_interval),
        "baseline_corrected": r6(d.baseline),
        "candidate_corrected": r6(d.candidate),
        "delta": r6(d.value),
        "interval": interval(d.interval),
        "clipped": d.clipped,
        "method": d.method,
        "draws": d.draws,
        "seed": d.seed,
        "refused": refusal(d.refused),
        "grader_differs": None
        if differs is None
        else {
            "differs": differs.differs,
            "tpr": [r6(differs.tpr_baseline), r6(differs.tpr_candidate)],
            "tnr": [r6(differs.tnr_baseline), r6(differs.tnr_candidate)],
            "p_tpr_adjusted": r6(differs.p_tpr_adjusted),
            "p_tnr_adjusted": r6(differs.p_tnr_adjusted),
            "notes": list(differs.notes),
        },
    }


def accuracy_json(a: ReviewerAccuracy) -> dict[str, Any]:
    return {
        "correct": a.correct,
        "n": a.n,
        "accuracy": r6(a.accuracy),
        "interval": interval(a.interval),
        "lower": r6(a.lower),
    }


def gold_json(g: ReviewerGold) -> dict[str, Any]:
    return {
        "reviewer": g.reviewer,
        **accuracy_json(g.overall),
        "unsure": g.unsure,
        "on_pass": accuracy_json(g.on_pass),
        "on_fail": accuracy_json(g.on_fail),
    }


def criterion_json(c: CriterionReport) -> dict[str, Any]:
    return {
        "criterion": criterion_word(c.criterion),
        "grader": c.grader,
        **figures_json(c.figures),
        "pass_rate": corrected_json(c.corrected),
        "samples": [sample_json(s) for s in c.samples],
        "dimension": c.dimension,
        "segments": [segment_json(s) for s in c.segments],
        "paired": None if c.paired is None else paired_json(c.paired),
        "reviewer_accuracy": [gold_json(g) for g in c.gold],
    }


def report_json(rep: CalibrationReport) -> dict[str, Any]:
    """`evaltui calibrate report --json`."""
    return {
        "run": {"id": rep.run_id, "name": rep.run_name},
        "baseline": None
        if rep.baseline_id is None
        else {"id": rep.baseline_id, "name": rep.baseline_name},
        "alpha": rep.alpha,
        "gold_items": rep.gold_items,
        "criteria": [criterion_json(c) for c in rep.criteria],
    }
