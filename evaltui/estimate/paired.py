"""The corrected paired delta (candidate minus baseline pass rate) when a fallible grader
scored both runs, and a test of whether the grader errs differently on the two runs.

With one calibration for both runs (the same grader, judged once) the two corrections
share their TPR and TNR, so their errors are correlated: the corrected delta is
(p_cand - p_base) / (TPR + TNR - 1) before clipping, and an error in TPR + TNR - 1
scales the whole delta. The bootstrap draws TPR and TNR once per draw for both runs, and
the paired pass/fail table jointly, so both correlations are carried. Formulas:
docs/calibration.md.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal, get_args

from evaltui.stats import ALPHA, holm

from .binomial import (
    Interval,
    check_alpha,
    check_count,
    dirichlet_draw,
    fisher_exact,
    jeffreys_draw,
    percentile_interval,
    z_for,
)
from .calibration import (
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    Confusion,
    GraderCalibration,
    Refusal,
    calibrate,
    check_draws,
    clip01,
    rogan_gladen,
    unstable,
)

DeltaMethod = Literal["bootstrap", "delta"]
DELTA_METHODS: tuple[DeltaMethod, ...] = get_args(DeltaMethod)
DEFAULT_DELTA_METHOD: DeltaMethod = "bootstrap"


@dataclass(frozen=True, slots=True)
class PairedCounts:
    """The grader's verdicts on the cases both runs scored, as a paired 2x2 table."""

    both_pass: int
    regressions: int  # baseline pass, candidate fail
    improvements: int  # baseline fail, candidate pass
    both_fail: int

    def __post_init__(self) -> None:
        for name in ("both_pass", "regressions", "improvements", "both_fail"):
            check_count(name, getattr(self, name))

    @property
    def n(self) -> int:
        return self.both_pass + self.regressions + self.improvements + self.both_fail

    @property
    def baseline_rate(self) -> float:
        return (self.both_pass + self.regressions) / self.n

    @property
    def candidate_rate(self) -> float:
        return (self.both_pass + self.improvements) / self.n

    def cells(self) -> tuple[int, int, int, int]:
        return (self.both_pass, self.regressions, self.improvements, self.both_fail)


@dataclass(frozen=True, slots=True)
class CorrectedDelta:
    """Candidate minus baseline, corrected for the grader's errors. `value` is None exactly
    when `refused` says why. `raw_interval` is the uncorrected paired Wald interval, for
    comparison. `shared_calibration`: one TPR/TNR for both runs (correlated corrections).

    The delta is the difference of the *unclipped* corrected rates (then kept in [-1, 1]):
    clipping each rate first biases the delta toward 0 whenever TPR (or a draw of it) is
    below a run's reported rate, so `baseline` and `candidate` (clipped, for display) differ
    by `value` only when `clipped` is False."""

    counts: PairedCounts
    raw_delta: float | None
    raw_interval: Interval | None
    baseline: float | None  # corrected pass rates, clipped to [0, 1]
    candidate: float | None
    clipped: bool  # a run's corrected rate fell outside [0, 1] (value is then not their difference)
    value: float | None
    interval: Interval | None
    shared_calibration: bool
    method: DeltaMethod
    alpha: float
    draws: int
    seed: int | None
    degenerate_draws: int
    refused: Refusal | None


def _raw(counts: PairedCounts, z: float) -> tuple[float, Interval] | None:
    n = counts.n
    if n == 0:
        return None
    b, c = counts.regressions, counts.improvements
    d = (c - b) / n
    h = z * math.sqrt(max(0.0, b + c - (b - c) ** 2 / n)) / n
    return d, Interval(max(-1.0, d - h), min(1.0, d + h))


def _delta_interval(
    counts: PairedCounts, base: GraderCalibration, cand: GraderCalibration, shared: bool, z: float
) -> tuple[float, float]:
    """The delta-method (Wald) interval of theta_cand - theta_base, unclipped."""
    n = counts.n
    pa, pb, p11 = counts.baseline_rate, counts.candidate_rate, counts.both_pass / n

    def parts(cal: GraderCalibration) -> tuple[float, float, float, float]:
        r, s = cal.tpr.value, cal.tnr.value
        assert r is not None and s is not None
        c = cal.confusion
        return r + s - 1, r * (1 - r) / c.human_passes, s * (1 - s) / c.human_fails, s

    ja, vra, vsa, sa = parts(base)
    jb, vrb, vsb, sb = parts(cand)
    ta, tb = (pa + sa - 1) / ja, (pb + sb - 1) / jb
    var = pa * (1 - pa) / n / ja**2 + pb * (1 - pb) / n / jb**2
    var -= 2 * (p11 - pa * pb) / n / (ja * jb)
    if shared:  # d/dTPR = d/dTNR = -(theta_b - theta_a) / J
        var += (tb - ta) ** 2 * (vra + vsa) / ja**2
    else:
        var += (ta**2 * vra + (1 - ta) ** 2 * vsa) / ja**2
        var += (tb**2 * vrb + (1 - tb) ** 2 * vsb) / jb**2
    h = z * math.sqrt(max(0.0, var))
    return tb - ta - h, tb - ta + h


def _bootstrap(
    counts: PairedCounts,
    base: Confusion,
    cand: Confusion,
    shared: bool,
    draws: int,
    rng: random.Random,
) -> tuple[list[float], int]:
    kept: list[float] = []
    degenerate = 0
    cells = counts.cells()
    for _ in range(draws):
        q11, q10, q01, _q00 = dirichlet_draw(rng, cells)
        pa, pb = q11 + q10, q11 + q01
        ra, sa = (
            jeffreys_draw(rng, base.tp, base.human_passes),
            jeffreys_draw(rng, base.tn, base.human_fails),
        )
        if shared:
            rb, sb = ra, sa
        else:
            rb, sb = (
                jeffreys_draw(rng, cand.tp, cand.human_passes),
                jeffreys_draw(rng, cand.tn, cand.human_fails),
            )
        ja, jb = ra + sa - 1, rb + sb - 1
        if ja <= 0 or jb <= 0:
            degenerate += 1
            continue
        kept.append((pb + sb - 1) / jb - (pa + sa - 1) / ja)  # unclipped: see corrected_delta
    return kept, degenerate


def corrected_delta(
    counts: PairedCounts,
    baseline: GraderCalibration,
    candidate: GraderCalibration | None = None,
    *,
    method: DeltaMethod = DEFAULT_DELTA_METHOD,
    alpha: float | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> CorrectedDelta:
    """The corrected paired delta. `candidate` None: one calibration for the grader on both
    runs (shared: its errors move both corrections together); given: each run corrected by
    its own judgments (independent calibration samples). The runs' verdicts are paired (the
    same cases), so the test-sample part of the interval is the paired one.

    "bootstrap" (the default): `draws` joint draws from random.Random(seed): the paired table
    from Dirichlet(counts + 1/2), TPR and TNR from Jeffreys Beta posteriors (drawn once for
    both runs when shared), each run's rate corrected, then differenced.
    "delta": the delta-method Wald interval with the same covariances. O(draws).
    Unlike the single rate, no draw is clipped (see `CorrectedDelta`).
    """
    if method not in DELTA_METHODS:
        raise ValueError(f"method must be one of {', '.join(DELTA_METHODS)}, not {method!r}")
    a = baseline.alpha if alpha is None else check_alpha(alpha)
    check_draws(draws)
    shared = candidate is None
    base = baseline if a == baseline.alpha else calibrate(baseline.confusion, a)
    cand = base if candidate is None else candidate
    if cand.alpha != a:
        cand = calibrate(cand.confusion, a)
    z = z_for(a)
    raw = _raw(counts, z)
    boot = method == "bootstrap"

    def out(
        value: float | None = None,
        interval: Interval | None = None,
        rates: tuple[float, float] | None = None,
        degenerate: int = 0,
        refused: Refusal | None = None,
    ) -> CorrectedDelta:
        return CorrectedDelta(
            counts=counts,
            raw_delta=None if raw is None else raw[0],
            raw_interval=None if raw is None else raw[1],
            baseline=None if rates is None else clip01(rates[0]),
            candidate=None if rates is None else clip01(rates[1]),
            clipped=rates is not None and not all(0.0 <= x <= 1.0 for x in rates),
            value=value,
            interval=interval,
            shared_calibration=shared,
            method=method,
            alpha=a,
            draws=draws if boot else 0,
            seed=seed if boot else None,
            degenerate_draws=degenerate,
            refused=refused,
        )

    if counts.n == 0:
        return out(refused=Refusal("no_results", "no case was scored in both runs"))
    for who, cal in (
        ("the baseline's calibration: ", base),
        ("the candidate's calibration: ", cand),
    ):
        if (why := cal.refusal()) is not None:
            label = "" if shared else who
            return out(refused=Refusal(why.code, f"{label}{why.reason}"))
    ra, sa, rb, sb = base.tpr.value, base.tnr.value, cand.tpr.value, cand.tnr.value
    assert ra is not None and sa is not None and rb is not None and sb is not None
    ta = rogan_gladen(counts.baseline_rate, ra, sa)
    tb = rogan_gladen(counts.candidate_rate, rb, sb)
    point = max(-1.0, min(1.0, tb - ta))
    degenerate = 0
    if method == "delta":
        lo, hi = _delta_interval(counts, base, cand, shared, z)
    else:
        kept, degenerate = _bootstrap(
            counts, base.confusion, cand.confusion, shared, draws, random.Random(seed)
        )
        if (why := unstable(degenerate, draws, a)) is not None:
            return out(refused=why, degenerate=degenerate)
        iv = percentile_interval(kept, a)
        lo, hi = iv.low, iv.high
    return out(point, _around(lo, hi, point), (ta, tb), degenerate)


def _around(lo: float, hi: float, point: float) -> Interval:
    lo, hi = max(-1.0, min(lo, 1.0)), max(-1.0, min(hi, 1.0))
    return Interval(min(lo, point), max(hi, point))


@dataclass(frozen=True, slots=True)
class GraderDifference:
    """Does the grader err differently on the two runs? Fisher's exact test of TPR (baseline
    vs candidate) and of TNR, Holm-adjusted over the tests that could be made; `differs`
    when an adjusted p is below alpha (a judge that favours one system's style). A test that
    could not be made (no judged passes or fails on a run) has p None and says so in `notes`:
    no flag is then not evidence of no difference."""

    tpr_baseline: float | None
    tpr_candidate: float | None
    tnr_baseline: float | None
    tnr_candidate: float | None
    p_tpr: float | None
    p_tnr: float | None
    p_tpr_adjusted: float | None
    p_tnr_adjusted: float | None
    alpha: float
    differs: bool
    notes: tuple[str, ...]


def grader_differs(
    baseline: Confusion, candidate: Confusion, alpha: float = ALPHA
) -> GraderDifference:
    """Compare the grader's errors on two runs' judged results (each its own confusion)."""
    check_alpha(alpha)
    notes: list[str] = []
    p_tpr = p_tnr = None
    if baseline.human_passes and candidate.human_passes:
        p_tpr = fisher_exact(baseline.tp, baseline.fn, candidate.tp, candidate.fn)
    else:
        notes.append("TPR not compared: a run has no judged passes")
    if baseline.human_fails and candidate.human_fails:
        p_tnr = fisher_exact(baseline.tn, baseline.fp, candidate.tn, candidate.fp)
    else:
        notes.append("TNR not compared: a run has no judged fails")
    made = [p for p in (p_tpr, p_tnr) if p is not None]
    adjusted = iter(holm(made))
    a_tpr = next(adjusted) if p_tpr is not None else None
    a_tnr = next(adjusted) if p_tnr is not None else None

    def rate(x: int, n: int) -> float | None:
        return x / n if n else None

    return GraderDifference(
        tpr_baseline=rate(baseline.tp, baseline.human_passes),
        tpr_candidate=rate(candidate.tp, candidate.human_passes),
        tnr_baseline=rate(baseline.tn, baseline.human_fails),
        tnr_candidate=rate(candidate.tn, candidate.human_fails),
        p_tpr=p_tpr,
        p_tnr=p_tnr,
        p_tpr_adjusted=a_tpr,
        p_tnr_adjusted=a_tnr,
        alpha=alpha,
        differs=any(p < alpha for p in (a_tpr, a_tnr) if p is not None),
        notes=tuple(notes),
    )
