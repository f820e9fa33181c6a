"""How far a grader's verdicts can be trusted, measured against blind human judgments, and
the grader's pass rate corrected for its errors (Rogan & Gladen 1978).

The positive class is **pass**. The human judgment is the reference (the truth as far as
we can know it) and the grader's verdict is the test:

    TP  grader pass, human pass        FP  grader pass, human fail
    FN  grader fail, human pass        TN  grader fail, human fail

    TPR (sensitivity) = TP / (TP + FN) = P(grader says pass | human says pass)
    TNR (specificity) = TN / (TN + FP) = P(grader says fail | human says fail)

Every estimate that could be undefined comes back as a typed result whose `refused` says
why (no judged passes, a grader that is not informative, ...) and whose value is None, so
a caller cannot use a number that does not exist. Method and formulas: docs/calibration.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from evaltui.stats import ALPHA, cohen_kappa

from .binomial import (
    Interval,
    check_alpha,
    check_count,
    clopper_pearson,
    jeffreys_draw,
    newcombe_difference,
    percentile_interval,
    t_ppf,
    wilson_interval,
    z_for,
)

# The product's choice for one corrected rate: the adjusted delta method (docs/calibration.md,
# "Which interval": closest to nominal coverage in the simulation study, O(1), no seed).
# The paired delta's default is the bootstrap (paired.py): the shared calibration needs it.
Method = Literal["lang-reiczigel", "bootstrap", "delta"]
METHODS: tuple[Method, ...] = get_args(Method)
DEFAULT_METHOD: Method = "lang-reiczigel"
DEFAULT_DRAWS = 2_000  # ~40 ms for one corrected rate; percentiles to about +-0.01
MAX_DRAWS = 200_000
DEFAULT_SEED = 0

RefusalCode = Literal[
    "no_results",  # nothing to correct
    "no_judged_passes",  # TPR unknown: no result a human judged pass
    "no_judged_fails",  # TNR unknown: no result a human judged fail
    "not_informative",  # TPR + TNR - 1 not clearly above 0
    "unstable",  # too many bootstrap draws with TPR + TNR - 1 <= 0
    "no_audits",  # discordant cases one way, none of them audited (verified delta)
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an estimate is not given: a stable code and a sentence for people."""

    code: RefusalCode
    reason: str


def clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


@dataclass(frozen=True, slots=True)
class Confusion:
    """Grader verdict against human judgment on the same results (positive = pass)."""

    tp: int
    fp: int
    tn: int
    fn: int

    def __post_init__(self) -> None:
        for name in ("tp", "fp", "tn", "fn"):
            check_count(name, getattr(self, name))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[bool, bool]]) -> Confusion:
        """From (grader_pass, human_pass) pairs. Each must be a bool: a verdict string
        such as "fail" would be truthy, so it is refused rather than counted as a pass."""
        tp = fp = tn = fn = 0
        for i, (grader, human) in enumerate(pairs):
            if type(grader) is not bool or type(human) is not bool:
                raise ValueError(f"pair {i}: grader and human verdicts must be bools (pass=True)")
            if grader:
                tp, fp = (tp + 1, fp) if human else (tp, fp + 1)
            else:
                fn, tn = (fn + 1, tn) if human else (fn, tn + 1)
        return cls(tp=tp, fp=fp, tn=tn, fn=fn)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def human_passes(self) -> int:
        """Judged positives: the TPR's denominator."""
        return self.tp + self.fn

    @property
    def human_fails(self) -> int:
        """Judged negatives: the TNR's denominator."""
        return self.tn + self.fp

    @property
    def grader_passes(self) -> int:
        return self.tp + self.fp


@dataclass(frozen=True, slots=True)
class Proportion:
    """successes / n with the exact (Clopper-Pearson) and Wilson intervals; None when n is 0."""

    successes: int
    n: int
    value: float | None
    exact: Interval | None
    wilson: Interval | None

    @classmethod
    def of(cls, successes: int, n: int, alpha: float = ALPHA) -> Proportion:
        check_count("successes", successes)
        check_count("n", n)
        if successes > n:
            raise ValueError(f"{successes} successes out of {n}")
        return cls(
            successes=successes,
            n=n,
            value=successes / n if n else None,
            exact=clopper_pearson(successes, n, alpha),
            wilson=wilson_interval(successes, n, alpha),
        )


@dataclass(frozen=True, slots=True)
class Agreement:
    """Chance-corrected agreement of grader and human (two raters, two classes).

    `kappa` is Cohen's (stats.cohen_kappa); `ac1` is Gwet's AC1 (Gwet 2008), which does not
    collapse when one class dominates (the "kappa paradox": 95% agreement, kappa near 0), with
    its standard error and a t-interval on n - 1 degrees of freedom.
    """

    n: int
    observed: float | None
    kappa: float | None
    ac1: float | None
    ac1_se: float | None
    ac1_interval: Interval | None


def agreement(c: Confusion, alpha: float = ALPHA) -> Agreement:
    check_alpha(alpha)
    n = c.n
    if n == 0:
        return Agreement(0, None, None, None, None, None)
    pairs = (
        [(True, True)] * c.tp
        + [(True, False)] * c.fp
        + [(False, True)] * c.fn
        + [(False, False)] * c.tn
    )
    kappa = cohen_kappa(pairs)
    # p[k][l]: share rated k by the grader and l by the human (0 = pass, 1 = fail)
    p = ((c.tp / n, c.fp / n), (c.fn / n, c.tn / n))
    pi_pass = ((c.tp + c.fp) / n + (c.tp + c.fn) / n) / 2
    pi = (pi_pass, 1 - pi_pass)
    pa = p[0][0] + p[1][1]
    pe = pi[0] * (1 - pi[0]) + pi[1] * (1 - pi[1])  # (1/(q-1)) sum pi_k (1 - pi_k), q = 2
    ac1 = (pa - pe) / (1 - pe)  # pe <= 1/2, never 1
    # Gwet (2008), two raters: var = [sum_kl p_kl (w_kl - 2(1-AC1)(1-(pi_k+pi_l)/2))^2
    #                                 - (pa - 2(1-AC1) pe)^2] / (n (1-pe)^2)
    s = sum(
        p[k][m] * ((k == m) - 2 * (1 - ac1) * (1 - (pi[k] + pi[m]) / 2)) ** 2
        for k in (0, 1)
        for m in (0, 1)
    )
    var = max(0.0, (s - (pa - 2 * (1 - ac1) * pe) ** 2) / (n * (1 - pe) ** 2))
    se = math.sqrt(var)
    interval = None
    if n >= 2:
        h = t_ppf(1 - alpha / 2, n - 1) * se
        interval = Interval(max(-1.0, ac1 - h), min(1.0, ac1 + h))
    return Agreement(n, pa, kappa, ac1, se, interval)


@dataclass(frozen=True, slots=True)
class GraderCalibration:
    """One grader on one criterion, measured on judged results.

    `youden` is TPR + TNR - 1 (= TPR - FPR), 0 for a grader no better than a coin weighted
    any way, 1 for a perfect one; `youden_interval` is Newcombe's hybrid score interval for
    the difference of the two independent proportions TPR and FPR. The grader is
    `informative` when that interval's low end is above 0: only then is the corrected pass
    rate given.
    """

    confusion: Confusion
    alpha: float
    tpr: Proportion
    tnr: Proportion
    youden: float | None
    youden_interval: Interval | None
    agreement: Agreement

    @property
    def informative(self) -> bool:
        return self.youden_interval is not None and self.youden_interval.low > 0

    def refusal(self) -> Refusal | None:
        """Why no corrected figure can rest on this calibration, or None."""
        c = self.confusion
        if c.human_passes == 0:
            return Refusal(
                "no_judged_passes",
                "no judged result is a pass: the grader's sensitivity (TPR) is unknown",
            )
        if c.human_fails == 0:
            return Refusal(
                "no_judged_fails",
                "no judged result is a fail: the grader's specificity (TNR) is unknown",
            )
        if not self.informative:
            assert self.youden is not None and self.youden_interval is not None
            level = round(100 * (1 - self.alpha))
            return Refusal(
                "not_informative",
                f"this grader is not informative: TPR + TNR - 1 = {self.youden:.3f}, "
                f"its {level}% interval {self.youden_interval.low:.3f} to "
                f"{self.youden_interval.high:.3f} is not clearly above 0 "
                f"({c.human_passes} judged passes, {c.human_fails} judged fails)",
            )
        return None


def calibrate(c: Confusion, alpha: float = ALPHA) -> GraderCalibration:
    """TPR, TNR, Youden's J and agreement from a confusion table. O(1) after counting."""
    check_alpha(alpha)
    j = newcombe_difference(c.tp, c.human_passes, c.fp, c.human_fails, alpha)
    return GraderCalibration(
        confusion=c,
        alpha=alpha,
        tpr=Proportion.of(c.tp, c.human_passes, alpha),
        tnr=Proportion.of(c.tn, c.human_fails, alpha),
        youden=None if j is None else j[0],
        youden_interval=None if j is None else j[1],
        agreement=agreement(c, alpha),
    )


@dataclass(frozen=True, slots=True)
class CorrectedRate:
    """The grader's pass rate corrected for its errors, with an interval carrying both the
    test sample's and the calibration sample's uncertainty.

    `value` is None exactly when `refused` says why. `unclipped` is the Rogan-Gladen figure
    before clipping to [0, 1] (outside [0, 1] when the observed rate is below 1 - TNR or
    above TPR: the calibration and the run disagree, `clipped` is then True).
    `degenerate_draws` counts bootstrap draws whose TPR + TNR - 1 was <= 0 (left out).
    """

    raw: Proportion
    tpr: float | None
    tnr: float | None
    value: float | None
    unclipped: float | None
    clipped: bool
    interval: Interval | None
    method: Method
    alpha: float
    draws: int
    seed: int | None
    degenerate_draws: int
    refused: Refusal | None


def rogan_gladen(p: float, tpr: float, tnr: float) -> float:
    """(p + TNR - 1) / (TPR + TNR - 1), unclipped; TPR + TNR must exceed 1."""
    j = tpr + tnr - 1
    if j <= 0:
        raise ValueError("Rogan-Gladen needs TPR + TNR > 1")
    return (p + tnr - 1) / j


def check_draws(draws: int) -> int:
    if type(draws) is not int or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws must be an integer from 1 to {MAX_DRAWS}, not {draws!r}")
    return draws


def _containing(lo: float, hi: float, point: float, floor: float = 0.0) -> Interval:
    """Clip to [floor, 1] and widen to include the point estimate, so it always lies inside."""
    lo, hi = max(floor, min(lo, 1.0)), max(floor, min(hi, 1.0))
    return Interval(min(lo, point), max(hi, point))


def corrected_pass_rate(
    passes: int,
    n: int,
    calibration: GraderCalibration,
    *,
    method: Method = DEFAULT_METHOD,
    alpha: float | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> CorrectedRate:
    """The Rogan-Gladen corrected pass rate of a run whose grader passed `passes` of `n`
    results, using the grader's TPR and TNR from `calibration` (judged elsewhere or on a
    sample of this run: see docs/calibration.md on transportability).

    Methods: "lang-reiczigel" (the default: Lang & Reiczigel 2014, the delta method on
    Agresti-Coull adjusted proportions, shifted), "bootstrap" (parametric: Jeffreys Beta
    posteriors of the run's rate, TPR and TNR, `draws` draws from random.Random(seed),
    percentile interval), "delta" (Rogan & Gladen's own delta-method variance, a Wald
    interval). Every interval is clipped to [0, 1] and widened, if need be, to hold the
    point estimate. Refused (value
    None, `refused` set) with no results, no judged passes or fails, or a grader that is not
    clearly informative. O(draws) for the bootstrap, O(1) otherwise.
    """
    check_count("passes", passes)
    check_count("n", n)
    if passes > n:
        raise ValueError(f"{passes} passes out of {n} results")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    a = calibration.alpha if alpha is None else check_alpha(alpha)
    check_draws(draws)
    raw = Proportion.of(passes, n, a)
    cal = calibration if a == calibration.alpha else calibrate(calibration.confusion, a)
    boot = method == "bootstrap"

    def out(
        value: float | None = None,
        unclipped: float | None = None,
        interval: Interval | None = None,
        degenerate: int = 0,
        refused: Refusal | None = None,
    ) -> CorrectedRate:
        return CorrectedRate(
            raw=raw,
            tpr=cal.tpr.value,
            tnr=cal.tnr.value,
            value=value,
            unclipped=unclipped,
            clipped=unclipped is not None and not 0.0 <= unclipped <= 1.0,
            interval=interval,
            method=method,
            alpha=a,
            draws=draws if boot else 0,
            seed=seed if boot else None,
            degenerate_draws=degenerate,
            refused=refused,
        )

    if n == 0:
        return out(refused=Refusal("no_results", "no graded results to correct"))
    if (why := cal.refusal()) is not None:
        return out(refused=why)
    c = cal.confusion
    assert cal.tpr.value is not None and cal.tnr.value is not None
    p, r, s = passes / n, cal.tpr.value, cal.tnr.value
    theta = rogan_gladen(p, r, s)
    point = clip01(theta)
    z = z_for(a)
    if method == "delta":
        j = r + s - 1
        var = p * (1 - p) / n
        var += (
            theta**2 * r * (1 - r) / c.human_passes + (1 - theta) ** 2 * s * (1 - s) / c.human_fails
        )
        h = z * math.sqrt(var) / j
        return out(point, theta, _containing(theta - h, theta + h, point))
    if method == "lang-reiczigel":
        lo, hi = lang_reiczigel(passes, n, c, z)
        return out(point, theta, _containing(lo, hi, point))
    kept, degenerate = bootstrap_rates(passes, n, c, draws, random.Random(seed))
    if (why := unstable(degenerate, draws, a)) is not None:
        return out(refused=why, degenerate=degenerate)
    iv = percentile_interval(kept, a)
    return out(point, theta, _containing(iv.low, iv.high, point), degenerate)


def lang_reiczigel(passes: int, n: int, c: Confusion, z: float) -> tuple[float, float]:
    """Lang & Reiczigel (2014): the Rogan-Gladen delta method on adjusted proportions (the
    run's rate with z^2/2 successes and failures added, TPR and TNR with one of each), and
    the interval shifted by 2 z^2 (theta Var(TPR) - (1 - theta) Var(TNR)). Unclipped."""
    n_, np_, nn_ = n + z * z, c.human_passes + 2, c.human_fails + 2
    p_ = (passes + z * z / 2) / n_
    r_ = (c.tp + 1) / np_
    s_ = (c.tn + 1) / nn_
    j_ = r_ + s_ - 1
    theta_ = (p_ + s_ - 1) / j_
    vr, vs = r_ * (1 - r_) / np_, s_ * (1 - s_) / nn_
    se = math.sqrt(p_ * (1 - p_) / n_ + theta_**2 * vr + (1 - theta_) ** 2 * vs) / abs(j_)
    shift = 2 * z * z * (theta_ * vr - (1 - theta_) * vs)
    centre = theta_ + shift
    return centre - z * se, centre + z * se


def bootstrap_rates(
    passes: int, n: int, c: Confusion, draws: int, rng: random.Random
) -> tuple[list[float], int]:
    """Corrected-rate draws (each clipped to [0, 1]) and how many draws were degenerate."""
    kept: list[float] = []
    degenerate = 0
    for _ in range(draws):
        p = jeffreys_draw(rng, passes, n)
        r = jeffreys_draw(rng, c.tp, c.human_passes)
        s = jeffreys_draw(rng, c.tn, c.human_fails)
        j = r + s - 1
        if j <= 0:
            degenerate += 1
            continue
        kept.append(clip01((p + s - 1) / j))
    return kept, degenerate


def unstable(degenerate: int, draws: int, alpha: float) -> Refusal | None:
    """The refusal of a bootstrap in which too many draws had TPR + TNR - 1 not above 0
    (more than half the interval's tail mass): the calibration cannot carry the correction."""
    if degenerate <= draws * alpha / 2:
        return None
    return Refusal(
        "unstable",
        f"in {degenerate} of {draws} bootstrap draws TPR + TNR - 1 was not above 0: "
        "the calibration is too small to correct this grader",
    )
