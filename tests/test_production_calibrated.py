"""The production estimate corrected for the grader's errors (#28, opt-in): worked examples
computed by hand here (exact fractions), the limit of a huge calibration, the refusals, the
paired delta's choice of calibration, and a seeded coverage simulation of a grader with
known error rates."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from evaltui.estimate.calibration import Confusion, calibrate
from evaltui.estimate.weighted import (
    PairedCounts,
    SegmentCounts,
    Settings,
    Weights,
    estimate_delta,
    estimate_rate,
)
from evaltui.estimate.weighted_corrected import (
    corrected_delta_estimate,
    corrected_rate_estimate,
    pooled,
)

SHARES = Weights.of_shares(("topic",), [(("billing",), 0.6), (("refunds",), 0.4)])
RATES = [SegmentCounts(("billing",), 50, 30), SegmentCounts(("refunds",), 30, 12)]
# TPR 45/50 = 0.9, TNR 40/50 = 0.8: J = 0.7
CAL = calibrate(Confusion(tp=45, fn=5, tn=40, fp=10))
# the same rates, measured on a million judged results each way
HUGE = calibrate(Confusion(tp=900_000, fn=100_000, tn=800_000, fp=200_000))


def rg(p: Fraction, tpr: Fraction, tnr: Fraction) -> Fraction:
    return min(max((p + tnr - 1) / (tpr + tnr - 1), Fraction(0)), Fraction(1))


def test_the_point_is_each_cell_corrected_then_weighted():
    tpr, tnr = Fraction(9, 10), Fraction(8, 10)
    # billing (30/50 + 0.8 - 1) / 0.7 = 4/7, refunds (12/30 + 0.8 - 1) / 0.7 = 2/7
    by_hand = Fraction(6, 10) * rg(Fraction(30, 50), tpr, tnr) + Fraction(4, 10) * rg(
        Fraction(12, 30), tpr, tnr
    )
    assert by_hand == Fraction(32, 70)
    c = corrected_rate_estimate(RATES, SHARES, CAL, Settings(draws=1000))
    assert c.refused is None and c.estimate is not None and c.estimate.covered is not None
    assert c.estimate.covered.point == pytest.approx(float(by_hand), abs=1e-12)
    assert c.calibration == "run" and c.calibrations == (CAL,)
    # the interval holds the point and is wider than the uncorrected one (it carries the
    # calibration's uncertainty too, and the correction stretches by 1 / J)
    raw = estimate_rate(RATES, SHARES, Settings(draws=1000)).covered
    assert raw is not None
    cov = c.estimate.covered
    assert cov.lower < cov.point < cov.upper
    assert cov.upper - cov.lower > (raw.upper - raw.lower) / 0.7


def test_a_cell_corrected_below_zero_is_clipped():
    # refunds 3/30 = 0.1 < 1 - TNR = 0.2: the grader passes more than it could: 0
    segs = [SegmentCounts(("billing",), 50, 30), SegmentCounts(("refunds",), 30, 3)]
    c = corrected_rate_estimate(segs, SHARES, CAL, Settings(draws=200))
    assert c.estimate is not None and c.estimate.covered is not None
    assert c.estimate.covered.point == pytest.approx(0.6 * 4 / 7, abs=1e-12)
    refunds = next(s for s in c.estimate.segments if s.key == ("refunds",))
    assert refunds.point == 0.0


def test_a_huge_calibration_shifts_the_uncorrected_interval():
    """With TPR and TNR known all but exactly, each draw's corrected figure is the raw one
    through (x + TNR - 1) / J: the interval is the uncorrected interval moved so."""
    st = Settings(draws=2000, seed=7)
    raw = estimate_rate(RATES, SHARES, st).covered
    c = corrected_rate_estimate(RATES, SHARES, HUGE, st)
    assert raw is not None and c.estimate is not None and c.estimate.covered is not None
    got = c.estimate.covered
    for was, now in ((raw.lower, got.lower), (raw.point, got.point), (raw.upper, got.upper)):
        assert now == pytest.approx((was + 0.8 - 1) / 0.7, abs=0.002)


def test_count_weights_carry_their_uncertainty_into_the_corrected_interval():
    counts = Weights.of_counts(("topic",), [(("billing",), 6), (("refunds",), 4)])
    st = Settings(draws=2000, seed=1)
    fixed = corrected_rate_estimate(RATES, SHARES, HUGE, st).estimate
    drawn = corrected_rate_estimate(RATES, counts, HUGE, st).estimate
    assert fixed is not None and drawn is not None and drawn.weights_uncertain
    assert fixed.covered is not None and drawn.covered is not None
    assert drawn.covered.point == pytest.approx(fixed.covered.point, abs=1e-12)
    assert drawn.covered.upper - drawn.covered.lower > fixed.covered.upper - fixed.covered.lower


def test_seeded_and_reproducible():
    a = corrected_rate_estimate(RATES, SHARES, CAL, Settings(draws=300, seed=3))
    b = corrected_rate_estimate(list(reversed(RATES)), SHARES, CAL, Settings(draws=300, seed=3))
    c = corrected_rate_estimate(RATES, SHARES, CAL, Settings(draws=300, seed=4))
    assert a == b and a != c


@pytest.mark.parametrize(
    ("confusion", "code"),
    [
        (Confusion(tp=0, fn=0, tn=10, fp=2), "no_judged_passes"),
        (Confusion(tp=10, fn=2, tn=0, fp=0), "no_judged_fails"),
        (Confusion(tp=6, fn=4, tn=5, fp=5), "not_informative"),  # J = 0.1 on 20 judged
    ],
)
def test_a_refused_calibration_gives_no_corrected_estimate(confusion, code):
    cal = calibrate(confusion)
    c = corrected_rate_estimate(RATES, SHARES, cal, Settings(draws=200))
    assert c.estimate is None and c.refused is not None and c.refused.code == code
    assert c.refused == cal.refusal()


def test_the_closed_form_is_not_corrected():
    with pytest.raises(ValueError, match="Monte Carlo only"):
        corrected_rate_estimate(RATES, SHARES, CAL, Settings(method="mover_wilson"))


# -- the paired delta -------------------------------------------------------------------------

PAIRED = [PairedCounts(("billing",), 25, 8, 5, 12), PairedCounts(("refunds",), 8, 6, 4, 12)]
BASE = calibrate(Confusion(tp=45, fn=5, tn=40, fp=10))  # TPR 0.9, TNR 0.8
CAND = calibrate(Confusion(tp=38, fn=2, tn=35, fp=25))  # TPR 0.95, TNR 35/60
WEAK = calibrate(Confusion(tp=3, fn=0, tn=1, fp=1))  # too few judged fails: refused


def test_the_delta_uses_each_runs_calibration_when_both_stand():
    assert BASE.refusal() is None and CAND.refusal() is None
    c = corrected_delta_estimate(PAIRED, SHARES, BASE, CAND, Settings(draws=1000))
    assert c.calibration == "per-run" and c.calibrations == (BASE, CAND)
    b_tpr, b_tnr = Fraction(9, 10), Fraction(8, 10)
    c_tpr, c_tnr = Fraction(38, 40), Fraction(35, 60)

    def unclipped(p: Fraction, tpr: Fraction, tnr: Fraction) -> Fraction:
        return (p + tnr - 1) / (tpr + tnr - 1)

    by_hand = Fraction(0)
    for share, x in zip((Fraction(6, 10), Fraction(4, 10)), PAIRED, strict=True):
        p_c = Fraction(x.both + x.candidate_only, x.n)
        p_b = Fraction(x.both + x.baseline_only, x.n)
        by_hand += share * (unclipped(p_c, c_tpr, c_tnr) - unclipped(p_b, b_tpr, b_tnr))
    assert c.estimate is not None and c.estimate.covered is not None
    assert c.estimate.covered.point == pytest.approx(float(by_hand), abs=1e-12)
    assert c.estimate.covered.lower < c.estimate.covered.point < c.estimate.covered.upper


def test_the_delta_falls_back_to_one_pooled_calibration():
    assert WEAK.refusal() is not None
    c = corrected_delta_estimate(PAIRED, SHARES, BASE, WEAK, Settings(draws=1000))
    one = pooled(BASE, WEAK)
    assert c.calibration == "shared" and c.calibrations == (one,)
    assert one.confusion == Confusion(tp=48, fn=5, tn=41, fp=11)
    j = Fraction(48, 53) + Fraction(41, 52) - 1
    # one calibration for both: the cell's delta is the raw delta over J
    by_hand = (Fraction(6, 10) * Fraction(8 - 5, 50) + Fraction(4, 10) * Fraction(6 - 4, 30)) / j
    assert c.estimate is not None and c.estimate.covered is not None
    assert c.estimate.covered.point == pytest.approx(float(by_hand), abs=1e-12)


def test_a_huge_shared_calibration_scales_the_raw_delta_interval():
    st = Settings(draws=2000, seed=5)
    raw = estimate_delta(PAIRED, SHARES, st).covered
    c = corrected_delta_estimate(PAIRED, SHARES, HUGE, WEAK, st, shared=HUGE)
    assert raw is not None and c.estimate is not None and c.estimate.covered is not None
    assert c.calibration == "shared"
    for was, now in zip(
        (raw.lower, raw.point, raw.upper),
        (c.estimate.covered.lower, c.estimate.covered.point, c.estimate.covered.upper),
        strict=True,
    ):
        assert now == pytest.approx(was / 0.7, abs=0.002)


def test_no_standing_calibration_refuses_the_delta_saying_why():
    c = corrected_delta_estimate(PAIRED, SHARES, WEAK, WEAK, Settings(draws=200))
    assert c.estimate is None and c.refused is not None
    assert c.refused.reason.startswith("the calibration of both runs' judgments: ")


# -- coverage ---------------------------------------------------------------------------------

REPS = 200
DRAWS = 200
CELLS = (5, 12, 25, 80, 200)  # eval cases per traffic cell
TRUTH = (0.55, 0.9, 0.7, 0.8, 0.65)  # each cell's true pass rate
WEIGHTS = Weights.of_shares(("cell",), [((f"c{i}",), w) for i, w in enumerate((1, 2, 3, 2, 2))])
GRADERS = {"baseline": (0.95, 0.9), "candidate": (0.75, 0.95)}  # (TPR, TNR) per run
JUDGED = (120, 80)  # judged passes and fails per run


def _graded(rng: random.Random, truly: bool, tpr: float, tnr: float) -> bool:
    return rng.random() < tpr if truly else rng.random() >= tnr


def _calibration(rng: random.Random, tpr: float, tnr: float) -> Confusion:
    passes, fails = JUDGED
    tp = sum(rng.random() < tpr for _ in range(passes))
    tn = sum(rng.random() < tnr for _ in range(fails))
    return Confusion(tp=tp, fn=passes - tp, tn=tn, fp=fails - tn)


def _simulate(kind: str) -> tuple[float, float]:
    """How often the corrected and the raw 95% intervals hold the true weighted figure:
    per repetition, each cell's cases truly pass at its rate, each run's grader (known TPR
    and TNR) scores them, and each run's calibration judges a fresh sample."""
    shares = [s.share for s in WEIGHTS.segments]
    true_rate = sum(w * p for w, p in zip(shares, TRUTH, strict=True))
    true_delta = 0.0  # the systems answer alike: only the graders differ
    hits = raw_hits = 0
    for rep in range(REPS):
        rng = random.Random(f"coverage-{kind}-{rep}")
        st = Settings(draws=DRAWS, seed=rep)
        cals = {run: calibrate(_calibration(rng, *g)) for run, g in GRADERS.items()}
        rates, paired = [], []
        for i, (n, p) in enumerate(zip(CELLS, TRUTH, strict=True)):
            key = (f"c{i}",)
            table = [0, 0, 0, 0]
            passed = 0
            for _ in range(n):
                truly = rng.random() < p  # the two systems answer alike
                b = _graded(rng, truly, *GRADERS["baseline"])
                c = _graded(rng, truly, *GRADERS["candidate"])
                passed += c
                table[0 if b and c else 1 if c else 2 if b else 3] += 1
            rates.append(SegmentCounts(key, n, passed))
            paired.append(PairedCounts(key, *table))
        if kind == "rate":
            fig = corrected_rate_estimate(rates, WEIGHTS, cals["candidate"], st).estimate
            raw, truth = estimate_rate(rates, WEIGHTS, st), true_rate
        else:
            both = (cals["baseline"], cals["candidate"])
            fig = corrected_delta_estimate(paired, WEIGHTS, *both, st).estimate
            raw, truth = estimate_delta(paired, WEIGHTS, st), true_delta
        assert fig is not None and fig.covered is not None and raw.covered is not None
        hits += fig.covered.lower <= truth <= fig.covered.upper
        raw_hits += raw.covered.lower <= truth <= raw.covered.upper
    return hits / REPS, raw_hits / REPS


@pytest.mark.parametrize("kind", ["rate", "delta"])
def test_the_corrected_interval_covers_the_true_weighted_figure(kind, capsys):
    coverage, raw = _simulate(kind)
    with capsys.disabled():
        print(f"\ncorrected {kind}: 95% interval coverage over {REPS} repetitions "
              f"({DRAWS} draws): corrected {coverage:.3f}, uncorrected {raw:.3f}")  # fmt: skip
    assert coverage >= 0.90, f"corrected {kind}: coverage {coverage:.3f}"
    assert raw < 0.5, f"uncorrected {kind}: coverage {raw:.3f} (the grader's errors bias it)"
