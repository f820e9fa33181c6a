"""The gate's calibration measures (their registry entries are in compare/measures.py):
figures corrected for the grader's errors, from blind human judgments, over a rule's scope.

The grader's verdicts in scope are read through the Comparison (its scope and cases); the
judgments and gold answers through their owners (`evaltui.review.calibration`), on a read-only
connection of the store. The calibration of a run is the agreed judgments of that run on
the criterion, over the whole run (a sample is drawn from the whole run: its TPR and TNR
are assumed to hold in every segment, docs/calibration.md). Each returns (value, evidence).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evaltui.compare.engine import Comparison
from evaltui.compare.kinds import RANK
from evaltui.estimate import (
    DirectionAudit,
    Interval,
    PairedCounts,
    corrected_pass_rate,
    verified_delta,
)
from evaltui.review.calibration import gold
from evaltui.review.calibration.judgments import criterion_name, criterion_word
from evaltui.review.calibration.report import Figures, figures, paired
from evaltui.review.triage_state import TRUSTED
from evaltui.store.runs import grader
from evaltui.store.runs.grader import ResultRef

Measured = tuple[float | None, dict[str, Any]]


def _r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _iv(iv: Interval | None) -> list[float] | None:
    return None if iv is None else [round(iv.low, 6), round(iv.high, 6)]


def _crit(args: Mapping[str, str]) -> str:
    return criterion_name(args.get("criterion"))


def _in_scope(
    cmp: Comparison, where: str, params: list[Any], refs: list[ResultRef]
) -> set[ResultRef]:
    """The results among `refs` whose case is in the rule's scope."""
    if not refs:
        return set()
    ids = json.dumps(sorted({r.case_id for r in refs}))
    rows = cmp.rows_where(
        "t.case_id", f"{where} AND t.case_id IN (SELECT value FROM json_each(?))", [*params, ids]
    )
    keep = {int(r[0]) for r in rows}
    return {r for r in refs if r.case_id in keep}


def _grader_counts(
    cmp: Comparison, run_id: int, crit: str, where: str, params: list[Any]
) -> tuple[int, int]:
    v = grader.verdict_sql(crit)
    ((passes, fails),) = cmp.result_values(
        run_id, f"TOTAL({v} = 'pass'), TOTAL({v} = 'fail')", where, params
    )
    return int(passes), int(fails)


def _paired_counts(cmp: Comparison, crit: str, where: str, params: list[Any]) -> PairedCounts:
    code = grader.paired_code_sql(cmp.baseline.id, crit)
    rows = cmp.result_values(
        cmp.candidate.id, f"{code}, COUNT(*)", where, params, tail="GROUP BY 1"
    )
    return PairedCounts(*grader.cells(rows))


def _calibration_evidence(fig: Figures) -> dict[str, Any]:
    cal = fig.calibration
    why = cal.refusal()
    return {
        "judged": fig.judged,
        "tpr": _r6(cal.tpr.value),
        "tnr": _r6(cal.tnr.value),
        "judgment_set_sha256": fig.judgment_set_sha256,
        **({"refused": why.reason} if why else {}),
    }


def calibrated_pass_rate(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    return run_pass_rate(cmp, cmp.candidate.id, where, params, _crit(args), alpha)


def run_pass_rate(
    cmp: Comparison, run_id: int, where: str, params: list[Any], crit: str, alpha: float
) -> Measured:
    """One compared run's pass rate on `crit`, corrected from that run's judged results."""
    passes, fails = _grader_counts(cmp, run_id, crit, where, params)
    with cmp.reader() as conn:
        fig = figures(conn, [run_id], crit, alpha)
    c = corrected_pass_rate(passes, passes + fails, fig.calibration)
    return c.value, {
        "criterion": criterion_word(crit),
        "raw": _r6(c.raw.value),
        "passes": passes,
        "results": passes + fails,
        "interval": _iv(c.interval),
        "method": c.method,
        **_calibration_evidence(fig),
        **({"refused": c.refused.reason} if c.refused else {}),
    }


def calibrated_pass_rate_delta(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    crit = _crit(args)
    counts = _paired_counts(cmp, crit, where, params)
    with cmp.reader() as conn:
        pf = paired(conn, cmp.baseline.id, cmp.candidate.id, crit, counts, alpha)
    d = pf.delta
    return d.value, {
        "criterion": criterion_word(crit),
        "results": counts.n,
        "raw_delta": _r6(d.raw_delta),
        "interval": _iv(d.interval),
        "calibration": pf.calibration,
        "method": d.method,
        "seed": d.seed,
        "judged_baseline": pf.baseline.judged,
        "grader_differs": None if pf.differs is None else pf.differs.differs,
        **({"refused": d.refused.reason} if d.refused else {}),
    }


def grader_pass_rate_delta(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    crit = _crit(args)
    counts = _paired_counts(cmp, crit, where, params)
    if not counts.n:
        return None, {"criterion": criterion_word(crit), "results": 0}
    delta = (counts.improvements - counts.regressions) / counts.n
    return delta, {
        "criterion": criterion_word(crit),
        "results": counts.n,
        "pass_to_fail": counts.regressions,
        "fail_to_pass": counts.improvements,
    }


def verified_pass_rate_delta(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    """Audited changes: a regression triaged `real_regression` or `accepted` is real, one
    triaged `grader_wrong` is the grader's mistake; an improvement triaged `accepted` is
    real, `grader_wrong` a mistake. The unaudited ones are estimated from the audited share
    of their direction (estimate.verified_delta)."""
    trusted = f"ct.case_id IS NOT NULL AND {TRUSTED} AND ct.state <> 'disagreement'"
    real_reg = f"{trusted} AND ct.verdict IN ('real_regression', 'accepted')"
    real_imp = f"{trusted} AND ct.verdict = 'accepted'"
    wrong = f"{trusted} AND ct.verdict = 'grader_wrong'"
    n, reg, reg_real, reg_wrong, imp, imp_real, imp_wrong = cmp.aggregate(
        f"COUNT(*), TOTAL(t.change = {RANK['regressed']}), "
        f"TOTAL(t.change = {RANK['regressed']} AND {real_reg}), "
        f"TOTAL(t.change = {RANK['regressed']} AND {wrong}), "
        f"TOTAL(t.change = {RANK['improved']}), "
        f"TOTAL(t.change = {RANK['improved']} AND {real_imp}), "
        f"TOTAL(t.change = {RANK['improved']} AND {wrong})",
        f"{where} AND t.b_pass IS NOT NULL AND t.c_pass IS NOT NULL",
        params,
    )
    regs = DirectionAudit(int(reg), int(reg_real), int(reg_wrong))
    imps = DirectionAudit(int(imp), int(imp_real), int(imp_wrong))
    v = verified_delta(int(n), regs, imps, alpha=alpha)
    return v.value, {
        "cases": int(n),
        "raw_delta": _r6(v.raw_delta),
        "regressions": {
            "cases": regs.discordant,
            "real": regs.real,
            "grader_wrong": regs.grader_wrong,
        },
        "improvements": {
            "cases": imps.discordant,
            "real": imps.real,
            "grader_wrong": imps.grader_wrong,
        },
        "interval": _iv(v.interval),
        "suite_interval": _iv(v.suite_interval),
        "seed": v.seed,
        **({"refused": v.refused.reason} if v.refused else {}),
    }


def _pooled(cmp: Comparison, crit: str, alpha: float) -> Figures:
    with cmp.reader() as conn:
        return figures(conn, [cmp.baseline.id, cmp.candidate.id], crit, alpha)


def grader_tpr_lower(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    fig = _pooled(cmp, _crit(args), alpha)
    iv = fig.calibration.tpr.exact
    return (None if iv is None else iv.low), {
        "criterion": criterion_word(_crit(args)),
        "judged_passes": fig.confusion.human_passes,
        **_calibration_evidence(fig),
    }


def grader_tnr_lower(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    fig = _pooled(cmp, _crit(args), alpha)
    iv = fig.calibration.tnr.exact
    return (None if iv is None else iv.low), {
        "criterion": criterion_word(_crit(args)),
        "judged_fails": fig.confusion.human_fails,
        **_calibration_evidence(fig),
    }


def judged_results(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    crit = _crit(args)
    fig = _pooled(cmp, crit, alpha)
    agreed = [x.ref for x in fig.labels.agreed]
    inside = _in_scope(cmp, where, params, agreed)
    return float(len(inside)), {
        "criterion": criterion_word(crit),
        "baseline": sum(1 for r in inside if r.run_id == cmp.baseline.id),
        "candidate": sum(1 for r in inside if r.run_id == cmp.candidate.id),
        "disputed": fig.labels.disputed,
        "unsure": fig.labels.unsure,
    }


def reviewer_accuracy_lower(
    cmp: Comparison, where: str, params: list[Any], args: Mapping[str, str], alpha: float
) -> Measured:
    """The lowest Wilson lower bound of accuracy on gold among the reviewers whose
    judgments calibrate the criterion on these runs; one who answered no gold counts 0."""
    crit = _crit(args)
    fig = _pooled(cmp, crit, alpha)
    who = fig.labels.reviewers
    if not who:
        return None, {"criterion": criterion_word(crit), "reviewers": {}}
    with cmp.reader() as conn:
        found = {g.reviewer: g.overall for g in gold.accuracy(conn, crit, who, alpha)}
    lows: dict[str, float] = {}
    for w in who:
        low = found[w].lower if w in found else None
        lows[w] = 0.0 if low is None else low
    return min(lows.values()), {
        "criterion": criterion_word(crit),
        "reviewers": {
            w: {
                "correct": found[w].correct if w in found else 0,
                "gold": found[w].n if w in found else 0,
                "lower": _r6(lows[w]),
            }
            for w in who
        },
    }
