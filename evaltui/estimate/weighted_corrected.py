"""The production estimate corrected for the grader's errors (#28, opt-in): each traffic
cell's pass rate corrected by Rogan-Gladen with the grader's TPR and TNR from a
calibration (blind human judgments of the verdict), then weighted by traffic as in
weighted.py. Pure functions over counts: no store, no I/O. docs/production.md
("Corrected for the grader's errors") has the method and its assumption.

In each Monte Carlo draw t: the grader's TPR(t) and TNR(t) from their posteriors given
the calibration's confusion counts (TP of TP + FN judged passes, TN of TN + FP judged
fails; the estimate's prior, Jeffreys by default), each cell's rate p_h(t) from its own
posterior (the very draws of the uncorrected estimate: same seed, same streams), the
cell corrected, (p_h(t) + TNR(t) - 1) / (TPR(t) + TNR(t) - 1) clipped to [0, 1], then
weighted (with the weights' Dirichlet draw when they are counts) and summed. The
interval carries the cells' sampling, the weights' and the calibration's uncertainty.

**The assumption.** One TPR and TNR, measured over a run's judged results, corrects
every traffic cell: the grader is taken to err alike in every cell. When it errs more in
some cells (a topic where it is lenient), the correction is wrong there and the interval
does not show it. docs/gate.md ("Weighted rules and calibration") says when not to use it.

Refused, with the reason, when the calibration is (calibration.GraderCalibration.refusal:
no judged pass or fail, or a grader not clearly informative), or when more draws than
the interval's tail mass have TPR + TNR - 1 <= 0 (calibration.unstable). Draws of TPR
and TNR with TPR + TNR - 1 <= 0 are drawn again (the posterior given an informative
grader; the same law as leaving those draws out, which the calibration bootstrap does,
while every cell keeps the same number of draws).
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evaltui.estimate import segments as seg
from evaltui.estimate import tries as cheng
from evaltui.estimate.calibration import (
    Confusion,
    GraderCalibration,
    Refusal,
    calibrate,
    clip01,
    rogan_gladen,
    unstable,
)
from evaltui.estimate.segments import PRIOR_COUNT, PairedCounts, SegmentCounts, SegmentDraws
from evaltui.estimate.tries import Tries
from evaltui.estimate.weighted import Estimate, Kind, Settings, Weights, estimate_from_draws

Used = Literal["run", "per-run", "shared"]
MAX_REDRAWS = 1000  # per degenerate draw; an informative grader needs a handful at most


@dataclass(frozen=True)
class CorrectedEstimate:
    """A production estimate corrected for the grader's errors, or why there is none.

    `calibration`: "run" (a run's rate, its own calibration), "per-run" (the paired
    delta, each run corrected by its own) or "shared" (the delta, one calibration pooled
    from both runs' judgments, drawn once per draw for both). `calibrations`: those used
    (the baseline's first when per-run). `redrawn`: draws of TPR and TNR drawn again
    because TPR + TNR - 1 was not above 0. `estimate` is None exactly when `refused`."""

    kind: Kind
    calibration: Used
    calibrations: tuple[GraderCalibration, ...]
    estimate: Estimate | None
    refused: Refusal | None
    redrawn: int = 0


@dataclass(frozen=True)
class Grader:
    tpr: array[float]
    tnr: array[float]
    redrawn: int

    @functools.cached_property
    def youden(self) -> array[float]:
        """TPR(t) + TNR(t) - 1 in every draw (the same floats as computed in place)."""
        return array("d", [a + b - 1 for a, b in zip(self.tpr, self.tnr, strict=True)])


def grader_draws(cal: GraderCalibration, settings: Settings, label: str) -> Grader | Refusal:
    """TPR(t) and TNR(t), t = 1..draws, from their posteriors; each from its own stream
    of (seed, "tpr" | "tnr", label)."""
    c, a0, n = cal.confusion, PRIOR_COUNT[settings.prior], settings.draws
    shapes_r = (c.tp + a0, c.fn + a0)
    shapes_s = (c.tn + a0, c.fp + a0)
    rng_r = seg.stream(settings.seed, "tpr", label)
    rng_s = seg.stream(settings.seed, "tnr", label)
    r, s = seg.betas(rng_r, *shapes_r, n), seg.betas(rng_s, *shapes_s, n)
    bad = [t for t in range(n) if r[t] + s[t] <= 1]
    if (why := unstable(len(bad), n, cal.alpha)) is not None:
        return why
    redrawn = 0
    for t in bad:
        for _ in range(MAX_REDRAWS):
            r[t], s[t] = seg.betas(rng_r, *shapes_r, 1)[0], seg.betas(rng_s, *shapes_s, 1)[0]
            redrawn += 1
            if r[t] + s[t] > 1:
                break
        else:
            return unstable(n, n, cal.alpha) or Refusal("unstable", "no informative draw")
    return Grader(r, s, redrawn)


def _check(settings: Settings) -> None:
    if settings.method != "monte_carlo":
        raise ValueError("the corrected estimate is Monte Carlo only (method='monte_carlo')")


def rg_point(cal: GraderCalibration) -> tuple[float, float]:
    assert cal.tpr.value is not None and cal.tnr.value is not None  # not refused
    return cal.tpr.value, cal.tnr.value


def corrected_rate_estimate(
    segments: Sequence[SegmentCounts],
    weights: Weights,
    calibration: GraderCalibration,
    settings: Settings | None = None,
) -> CorrectedEstimate:
    """One run's traffic-weighted pass rate, each cell corrected by `calibration` (the
    run's grader measured on its judged results)."""
    s = settings or Settings()
    _check(s)
    if not all(isinstance(x, SegmentCounts) for x in segments):
        raise TypeError("corrected_rate_estimate takes SegmentCounts")

    def refused(why: Refusal) -> CorrectedEstimate:
        return CorrectedEstimate("rate", "run", (calibration,), None, why)

    if (why := calibration.refusal()) is not None:
        return refused(why)
    g = grader_draws(calibration, s, "run")
    if isinstance(g, Refusal):
        return refused(g)
    tpr, tnr = rg_point(calibration)
    items = []
    for x in segments:
        point = rate_point(x, tpr, tnr)
        if x.n < s.min_n:  # uncovered: its draws are never read
            items.append(SegmentDraws(x.key, x.n, point, (0.0,) * s.draws))
            continue
        corrected = tuple(rate_draws(seg.draws(x, s.seed, s.prior, s.draws), g))
        items.append(SegmentDraws(x.key, x.n, point, corrected))
    est = estimate_from_draws(items, weights, "rate", s)
    return CorrectedEstimate("rate", "run", (calibration,), est, None, g.redrawn)


def pooled(baseline: GraderCalibration, candidate: GraderCalibration) -> GraderCalibration:
    """One calibration from both runs' judged results (their confusion tables added)."""
    a, b = baseline.confusion, candidate.confusion
    both = Confusion(tp=a.tp + b.tp, fp=a.fp + b.fp, tn=a.tn + b.tn, fn=a.fn + b.fn)
    return calibrate(both, baseline.alpha)


# -- one cell's corrected figure: its point and its draws (the margin search's plans,
# estimate/margin_corrected.py, compute them so too: the same floats) ---------------------


def rate_point(x: SegmentCounts, tpr: float, tnr: float) -> float:
    return clip01(rogan_gladen(x.passed / x.n, tpr, tnr)) if x.n else 0.0


def rate_draws(p: Sequence[float], g: Grader) -> array[float]:
    return array(
        "d", [clip01((pt + b - 1) / (a + b - 1)) for pt, a, b in zip(p, g.tpr, g.tnr, strict=True)]
    )


def shared_point(x: PairedCounts, j: float) -> float:
    # (p_c + TNR - 1)/J - (p_b + TNR - 1)/J = (p_c - p_b) / J: the raw delta's draws
    return clamp((x.candidate_only - x.baseline_only) / x.n / j) if x.n else 0.0


def shared_draws(d: Sequence[float], g: Grader) -> array[float]:
    return array("d", [clamp(v / (a + b - 1)) for v, a, b in zip(d, g.tpr, g.tnr, strict=True)])


def per_run_point(x: PairedCounts, cand: tuple[float, float], base: tuple[float, float]) -> float:
    """The cell's delta of the runs' corrected rates, each by (TPR, TNR) of its own."""
    if not x.n:
        return 0.0
    p_c = (x.both + x.candidate_only) / x.n
    p_b = (x.both + x.baseline_only) / x.n
    return clamp(rogan_gladen(p_c, *cand) - rogan_gladen(p_b, *base))


def per_run_draws(
    item: PairedCounts, s: Settings, gc: Grader, gb: Grader, tries: Tries | None = None
) -> array[float]:
    """The cell's corrected delta in every draw: clamp((c + TNR_c - 1) / J_c - (b + TNR_b
    - 1) / J_b), written out (clamp in place, J from `Grader.youden`): the same floats."""
    cand, base = paired_margins(item, s, tries)
    return array(
        "d",
        [
            -1.0
            if (d := (c + c_s - 1) / c_j - (b + b_s - 1) / b_j) < -1.0
            else 1.0
            if d > 1.0
            else d
            for c, b, c_s, c_j, b_s, b_j in zip(
                cand, base, gc.tnr, gc.youden, gb.tnr, gb.youden, strict=True
            )
        ],
    )


def margins_tries(item: PairedCounts, seed: int) -> Tries:
    """The stream `paired_margins` draws from, as kept tries (a margin search)."""
    of = (seed, "paired-margins", item.key)
    return Tries(seg.stream(seed, "paired-margins", list(item.key)), of=of)


def paired_margins(
    item: PairedCounts, settings: Settings, tries: Tries | None = None
) -> tuple[array[float], array[float]]:
    """Draws of the candidate's and the baseline's rate in one cell, jointly: the paired
    table's Dirichlet by stick-breaking (three Betas), from the cell's own stream (read
    from `tries` when they are that stream's, `margins_tries`: the same floats). Kept,
    as segments.draws keeps the raw draws."""
    a0, n = PRIOR_COUNT[settings.prior], settings.draws
    kept = ("paired-margins", item, settings.seed, settings.prior, n)
    cand, base = seg.KEPT.get((*kept, "c")), seg.KEPT.get((*kept, "b"))
    if cand is not None and base is not None:
        return cand, base
    both, c_only = item.both + a0, item.candidate_only + a0
    b_only, neither = item.baseline_only + a0, item.neither + a0
    shapes = ((both, c_only + b_only + neither), (c_only, b_only + neither), (b_only, neither))
    xs = None
    if tries is not None and tries.of == (settings.seed, "paired-margins", item.key):
        xs = _from_tries(tries, shapes, n)
    if xs is None:
        rng = seg.stream(settings.seed, "paired-margins", list(item.key))
        xs = [seg.betas(rng, a, b, n) for a, b in shapes]
    x1, x2, x3 = xs
    # per draw: rest = 1 - x1, c = rest * x2; cand = x1 + c, base = x1 + (rest - c) * x3
    cs = [(1 - a) * b for a, b in zip(x1, x2, strict=True)]
    cand = array("d", [a + c for a, c in zip(x1, cs, strict=True)])
    base = array("d", [a + ((1 - a) - c) * x for a, c, x in zip(x1, cs, x3, strict=True)])
    seg.KEPT.put((*kept, "c"), cand)
    seg.KEPT.put((*kept, "b"), base)
    return cand, base


def _from_tries(
    tries: Tries, shapes: Sequence[tuple[float, float]], n: int
) -> list[Sequence[float]] | None:
    out: list[Sequence[float]] = []
    pos = 0
    for a, b in shapes:
        got = cheng.betas(tries, pos, a, b, n)
        if got is None:
            return None
        out.append(got[0])
        pos = got[1]
    return out


def clamp(d: float) -> float:
    return -1.0 if d < -1.0 else 1.0 if d > 1.0 else d


def corrected_delta_estimate(
    segments: Sequence[PairedCounts],
    weights: Weights,
    baseline: GraderCalibration,
    candidate: GraderCalibration,
    settings: Settings | None = None,
    shared: GraderCalibration | None = None,
) -> CorrectedEstimate:
    """The paired candidate-minus-baseline delta of the traffic-weighted pass rate, each
    cell's two rates corrected. Each run by its own calibration when both stand (right
    whether or not the grader errs alike on both runs); otherwise one calibration from
    both runs' judgments (`shared`, default `pooled(baseline, candidate)`), as
    review/calibration/report.paired chooses. The cell's delta is the difference of the
    unclipped corrected rates, kept in [-1, 1] (estimate/paired.py says why)."""
    s = settings or Settings()
    _check(s)
    if not all(isinstance(x, PairedCounts) for x in segments):
        raise TypeError("corrected_delta_estimate takes PairedCounts")
    if baseline.refusal() is None and candidate.refusal() is None:
        return _per_run(segments, weights, baseline, candidate, s)
    one = shared or pooled(baseline, candidate)
    if (why := one.refusal()) is not None:
        why = Refusal(why.code, f"the calibration of both runs' judgments: {why.reason}")
        return CorrectedEstimate("delta", "shared", (one,), None, why)
    g = grader_draws(one, s, "shared")
    if isinstance(g, Refusal):
        return CorrectedEstimate("delta", "shared", (one,), None, g)
    tpr, tnr = rg_point(one)
    j = tpr + tnr - 1
    items = []
    for x in segments:
        point = shared_point(x, j)
        if x.n < s.min_n:
            items.append(SegmentDraws(x.key, x.n, point, (0.0,) * s.draws))
            continue
        draws = tuple(shared_draws(seg.draws(x, s.seed, s.prior, s.draws), g))
        items.append(SegmentDraws(x.key, x.n, point, draws))
    est = estimate_from_draws(items, weights, "delta", s)
    return CorrectedEstimate("delta", "shared", (one,), est, None, g.redrawn)


def _per_run(
    segments: Sequence[PairedCounts],
    weights: Weights,
    baseline: GraderCalibration,
    candidate: GraderCalibration,
    s: Settings,
) -> CorrectedEstimate:
    cals = (baseline, candidate)
    gb, gc = grader_draws(baseline, s, "baseline"), grader_draws(candidate, s, "candidate")
    for g in (gb, gc):
        if isinstance(g, Refusal):
            return CorrectedEstimate("delta", "per-run", cals, None, g)
    assert isinstance(gb, Grader) and isinstance(gc, Grader)
    items = []
    for x in segments:
        point = per_run_point(x, rg_point(candidate), rg_point(baseline))
        if x.n < s.min_n:
            items.append(SegmentDraws(x.key, x.n, point, (0.0,) * s.draws))
            continue
        items.append(SegmentDraws(x.key, x.n, point, tuple(per_run_draws(x, s, gc, gb))))
    est = estimate_from_draws(items, weights, "delta", s)
    return CorrectedEstimate("delta", "per-run", cals, est, None, gb.redrawn + gc.redrawn)
