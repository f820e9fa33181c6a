"""evaltui.estimate: grader calibration, corrected and verified figures, reviewer accuracy,
the calibration sample.

The worked values were computed independently with scipy 1.12.0, statsmodels 0.15.0 and
irrCAC 0.4.4 by tests/worked/calibration_values.py (rerun it in a separate venv, see its
docstring); the delta-method intervals there come from a numerical gradient, not from the
closed-form variances evaltui uses. The simulation tests are seeded: the same numbers on
every run; they print their coverages (pytest -s shows them) and put them in the
assertion messages.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaltui.estimate import (
    Confusion,
    DirectionAudit,
    FrameItem,
    Interval,
    PairedCounts,
    agreement,
    calibrate,
    clopper_pearson,
    corrected_delta,
    corrected_pass_rate,
    draw_sample,
    fisher_exact,
    gold_accuracy,
    grader_differs,
    newcombe_difference,
    reviewer_accuracy,
    verified_delta,
    wilson_interval,
)
from evaltui.estimate.binomial import BetaBinomial, beta_ppf, betainc, t_ppf

from .conftest import ROOT

TOL = 1e-9


def close(got, want, tol=TOL):
    return abs(got - want) <= tol


# -- worked values (tests/worked/calibration_values.py) ------------------------------------

CLOPPER_PEARSON = {  # statsmodels proportion_confint(method="beta"); scipy beta.ppf agrees
    (85, 100): (0.7646924998510451, 0.9135456143583515),
    (0, 10): (0.0, 0.30849710781876083),
    (10, 10): (0.6915028921812392, 1.0),
    (1, 7): (0.0036102968619005833, 0.5787231970431952),
    (13, 20): (0.40781146546717184, 0.8460907952154588),
    (90, 100): (0.8237774022599773, 0.9509953107785141),
    (999, 1000): (0.9944410757201734, 0.9999746825125088),
}
WILSON = {  # statsmodels proportion_confint(method="wilson")
    (85, 100): (0.7671644040916763, 0.9069401471634337),
    (0, 10): (0.0, 0.27753279986288926),
    (10, 10): (0.7224672001371106, 1.0),
    (1, 7): (0.02567962434474355, 0.5131278292743189),
    (13, 20): (0.43285427668523624, 0.818808175898918),
    (90, 100): (0.8256343384950865, 0.9447708629393249),
    (999, 1000): (0.9943574414020421, 0.9998234536293739),
}


@pytest.mark.parametrize(("x", "n"), list(CLOPPER_PEARSON))
def test_clopper_pearson_and_wilson_match_statsmodels(x, n):
    cp, w = clopper_pearson(x, n), wilson_interval(x, n)
    assert cp is not None and w is not None
    assert close(cp.low, CLOPPER_PEARSON[x, n][0]) and close(cp.high, CLOPPER_PEARSON[x, n][1])
    assert close(w.low, WILSON[x, n][0]) and close(w.high, WILSON[x, n][1])
    assert clopper_pearson(0, 0) is None and wilson_interval(0, 0) is None


def test_beta_and_t_quantiles_match_scipy():
    for (q, a, b), want in {
        (0.025, 85, 16): 0.7646924998510451,
        (0.975, 3.5, 0.5): 0.9998493639745635,
        (0.5, 1000.5, 20.5): 0.9802342662590341,
        (1e-6, 2, 3): 0.0004083594602042573,
    }.items():
        assert close(beta_ppf(q, a, b), want, 1e-12 + 1e-9 * want), (q, a, b)
        assert close(betainc(a, b, want), q, 1e-12 + 1e-9 * q)
    for (q, df), want in {  # mpmath at 40 digits (scipy's t.ppf is off by up to 3e-9)
        (0.975, 1): 12.706204736174694,
        (0.975, 9): 2.262157162798205,
        (0.975, 49): 2.0095752371292392,
        (0.975, 199): 1.9719565442517535,
        (0.025, 30): -2.042272456301238,
    }.items():
        assert close(t_ppf(q, df), want, 1e-12 * abs(want)), (q, df)


def test_youden_interval_is_newcombes_as_statsmodels_computes_it():
    """statsmodels confint_proportions_2indep(method="newcomb", compare="diff")."""
    for (a, m, b, k), (lo, hi) in {
        (85, 100, 10, 100): (0.6386806954722117, 0.822433490370997),
        (6, 10, 4, 10): (-0.20634065166819532, 0.5278425217543001),
        (3, 3, 0, 3): (0.2059232824597782, 1.0),
        (17, 20, 1, 10): (0.38015768571141934, 0.8775781256857279),
    }.items():
        got = newcombe_difference(a, m, b, k)
        assert got is not None
        assert close(got[1].low, lo) and close(got[1].high, hi), (a, m, b, k)


def test_fisher_exact_matches_scipy():
    for table, want in {
        (34, 6, 22, 18): 0.006602243825375661,
        (8, 2, 1, 5): 0.034965034965034975,
        (10, 0, 10, 0): 1.0,
        (40, 10, 30, 20): 0.04858163161294097,
        (0, 5, 5, 0): 0.007936507936507938,
    }.items():
        assert close(fisher_exact(*table), want, 1e-12), table


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "tn", "ac1", "se", "lo", "hi", "kappa"),
    [  # irrCAC CAC(table).gwet(); kappa: statsmodels cohens_kappa
        (85, 10, 15, 90, 0.750156152405, 0.046757131795, 0.657953120371, 0.842359184438, 0.75),
        # 46 of 50 agree but nearly all pass: kappa 0.30 (the paradox), AC1 0.91
        (45, 3, 1, 1, 0.909828674482, 0.046661309893, 0.816059261713, 1.0, 0.2957746478873245),
        (
            17,
            1,
            3,
            9,
            0.751037344398,
            0.119940430015,
            0.505731621641,
            0.996343067156,
            0.7142857142857143,
        ),
    ],
)
def test_agreement_matches_irrcac_and_statsmodels(tp, fp, fn, tn, ac1, se, lo, hi, kappa):
    a = agreement(Confusion(tp=tp, fp=fp, tn=tn, fn=fn))
    assert a.ac1 is not None and a.ac1_se is not None and a.ac1_interval is not None
    assert a.kappa is not None and close(a.kappa, kappa)
    assert close(a.ac1, ac1, 1e-11) and close(a.ac1_se, se, 1e-11)
    # irrCAC's interval uses scipy's t quantile, good to ~3e-9 only (see the t test above)
    assert close(a.ac1_interval.low, lo, 1e-8) and close(a.ac1_interval.high, hi, 1e-8)


def test_confusion_names_pass_as_the_positive_class():
    pairs = [(True, True)] * 5 + [(True, False)] * 2 + [(False, True)] * 3 + [(False, False)] * 7
    c = Confusion.from_pairs(pairs)
    assert (c.tp, c.fp, c.fn, c.tn) == (5, 2, 3, 7)
    cal = calibrate(c)
    assert cal.tpr.value == 5 / 8 and cal.tnr.value == 7 / 9  # P(grader pass | human pass)
    with pytest.raises(ValueError, match="bools"):
        Confusion.from_pairs([("fail", True)])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        Confusion(tp=-1, fp=0, tn=0, fn=0)
    assert agreement(Confusion(0, 0, 0, 0)).ac1 is None
    one = agreement(Confusion(tp=1, fp=0, tn=0, fn=0))
    assert one.ac1_interval is None  # no degrees of freedom


CAL_85_90 = calibrate(Confusion(tp=85, fn=15, tn=90, fp=10))


def test_the_issues_example_corrects_62_5_back_to_70_percent():
    reported = 0.7 * 0.85 + 0.3 * 0.10
    assert close(reported, 0.625)
    for method in ("lang-reiczigel", "bootstrap", "delta"):
        r = corrected_pass_rate(625, 1000, CAL_85_90, method=method)  # type: ignore[arg-type]
        assert r.refused is None and r.value is not None and close(r.value, 0.70)
        assert r.interval is not None and r.interval.contains(0.70)
        assert r.raw.wilson is not None and not r.raw.wilson.contains(0.70)


@pytest.mark.parametrize(
    ("passes", "n", "tp", "npos", "tn", "nneg", "delta", "lr"),
    [  # delta: numerical-gradient delta method; lr: Lang & Reiczigel, written out in numpy
        (
            625,
            1000,
            85,
            100,
            90,
            100,
            (0.6198728625132846, 0.7801271374867151),
            (0.6250592260337057, 0.7899971854574422),
        ),
        (
            300,
            500,
            34,
            40,
            18,
            20,
            (0.5387312921829928, 0.7946020411503405),
            (0.5254820269315983, 0.8088834043840905),
        ),
        (40, 400, 19, 20, 45, 50, (0.0, 0.10376279918451732), (0.0, 0.0868674977646611)),
    ],
)
def test_corrected_rate_intervals_match_the_worked_values(passes, n, tp, npos, tn, nneg, delta, lr):
    cal = calibrate(Confusion(tp=tp, fn=npos - tp, tn=tn, fp=nneg - tn))
    d = corrected_pass_rate(passes, n, cal, method="delta")
    a = corrected_pass_rate(passes, n, cal, method="lang-reiczigel")
    assert d.interval is not None and a.interval is not None
    assert close(d.interval.low, delta[0], 1e-7) and close(d.interval.high, delta[1], 1e-7)
    assert close(a.interval.low, lr[0], 1e-7) and close(a.interval.high, lr[1], 1e-7)


def test_clipping_a_rate_below_what_the_grader_would_report_for_a_true_zero():
    # 2% reported, but a grader with TNR 0.9 passes 10% of true fails: (0.02 + 0.9 - 1) / 0.75
    r = corrected_pass_rate(20, 1000, CAL_85_90)
    assert r.value == 0.0 and r.clipped
    assert r.unclipped is not None and close(r.unclipped, (0.02 + 0.9 - 1) / 0.75)
    assert r.interval is not None and r.interval.low == 0.0 <= r.interval.high <= 1.0
    high = corrected_pass_rate(990, 1000, CAL_85_90)  # above TPR: clipped to 1
    assert high.value == 1.0 and high.clipped and high.interval is not None
    assert high.interval.high == 1.0


def test_a_grader_that_is_not_informative_is_refused_with_the_reason():
    coin = calibrate(Confusion(tp=6, fn=4, tn=6, fp=4))  # TPR .6, TNR .6: J .2, CI from -.21
    assert not coin.informative
    for method in ("lang-reiczigel", "bootstrap", "delta"):
        r = corrected_pass_rate(50, 100, coin, method=method)  # type: ignore[arg-type]
        assert r.value is None and r.interval is None and r.refused is not None
        assert r.refused.code == "not_informative"
        assert "this grader is not informative" in r.refused.reason and "-0.206" in r.refused.reason
    worse = calibrate(Confusion(tp=2, fn=8, tn=3, fp=7))  # J below 0: anti-informative
    assert corrected_pass_rate(5, 10, worse).refused.code == "not_informative"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("confusion", "passes", "n", "code"),
    [
        (Confusion(tp=0, fn=0, tn=9, fp=1), 5, 10, "no_judged_passes"),
        (Confusion(tp=9, fn=1, tn=0, fp=0), 5, 10, "no_judged_fails"),
        (Confusion(tp=9, fn=1, tn=9, fp=1), 0, 0, "no_results"),
        (Confusion(tp=1, fn=0, tn=1, fp=0), 5, 10, "not_informative"),  # one of each
        (Confusion(0, 0, 0, 0), 5, 10, "no_judged_passes"),
    ],
)
def test_tiny_calibrations_are_refused_explicitly(confusion, passes, n, code):
    r = corrected_pass_rate(passes, n, calibrate(confusion))
    assert r.value is None and r.refused is not None and r.refused.code == code


def test_two_correct_judgments_each_way_are_enough_to_be_informative_but_wide():
    assert calibrate(Confusion(tp=2, fn=0, tn=2, fp=0)).informative
    cal = calibrate(Confusion(tp=3, fn=0, tn=3, fp=0))
    assert cal.informative and cal.youden_interval is not None
    assert close(cal.youden_interval.low, 0.2059232824597782)
    r = corrected_pass_rate(70, 100, cal)
    assert r.value == 0.7 and r.interval is not None and r.interval.width > 0.3


def test_the_bootstrap_is_seeded_and_deterministic():
    a = corrected_pass_rate(
        300, 500, calibrate(Confusion(34, 2, 18, 6)), method="bootstrap", seed=7
    )
    b = corrected_pass_rate(
        300, 500, calibrate(Confusion(34, 2, 18, 6)), method="bootstrap", seed=7
    )
    c = corrected_pass_rate(
        300, 500, calibrate(Confusion(34, 2, 18, 6)), method="bootstrap", seed=8
    )
    assert a == b and a.interval != c.interval
    assert (a.draws, a.seed) == (2000, 7)
    with pytest.raises(ValueError, match="draws"):
        corrected_pass_rate(1, 2, CAL_85_90, method="bootstrap", draws=0)


# -- the paired delta, the grader erring differently ---------------------------------------


def test_the_shared_calibration_paired_delta_matches_the_worked_delta_method():
    counts = PairedCounts(both_pass=300, regressions=40, improvements=90, both_fail=70)
    cal = calibrate(Confusion(tp=34, fn=6, tn=18, fp=2))
    d = corrected_delta(counts, cal, method="delta")
    assert d.value is not None and d.interval is not None and d.shared_calibration
    # (p_cand - p_base) / J = (0.78 - 0.68) / 0.75
    assert close(d.value, 0.13333333333333341)
    assert close(d.interval.low, 0.06739425327156626, 1e-7)
    assert close(d.interval.high, 0.19927241339510057, 1e-7)
    # the default, the bootstrap: close to the delta method below, further up (1/J is skewed:
    # a small TPR + TNR - 1 inflates the delta more than a large one shrinks it)
    b = corrected_delta(counts, cal, seed=3)
    assert b.method == "bootstrap" and b.interval is not None
    assert abs(b.interval.low - 0.0674) < 0.01 and 0.1993 < b.interval.high < 0.24
    assert b.interval.high - b.value > b.value - b.interval.low  # type: ignore[operator]
    assert close(b.value, d.value)  # type: ignore[arg-type]


def test_per_run_calibration_and_refusals_of_the_paired_delta():
    counts = PairedCounts(both_pass=300, regressions=40, improvements=90, both_fail=70)
    base = calibrate(Confusion(tp=34, fn=6, tn=18, fp=2))
    cand = calibrate(Confusion(tp=6, fn=4, tn=6, fp=4))
    r = corrected_delta(counts, base, cand)
    assert r.value is None and r.refused is not None and r.refused.code == "not_informative"
    assert r.refused.reason.startswith("the candidate's")
    own = corrected_delta(counts, base, calibrate(Confusion(tp=30, fn=10, tn=19, fp=1)))
    assert not own.shared_calibration and own.value is not None and own.interval is not None
    empty = corrected_delta(PairedCounts(0, 0, 0, 0), base)
    assert empty.refused is not None and empty.refused.code == "no_results"


def test_a_grader_erring_differently_on_the_two_runs_is_flagged():
    same = grader_differs(Confusion(tp=34, fn=6, tn=18, fp=2), Confusion(tp=33, fn=7, tn=17, fp=3))
    assert not same.differs and same.notes == ()
    # TPR 34/40 against 22/40: Fisher p 0.0066 (scipy), Holm-adjusted over two tests
    skewed = grader_differs(
        Confusion(tp=34, fn=6, tn=18, fp=2), Confusion(tp=22, fn=18, tn=18, fp=2)
    )
    assert skewed.differs and skewed.p_tpr is not None and skewed.p_tpr_adjusted is not None
    assert close(skewed.p_tpr, 0.006602243825375661, 1e-12)
    assert close(skewed.p_tpr_adjusted, 2 * 0.006602243825375661, 1e-12)
    untested = grader_differs(
        Confusion(tp=34, fn=6, tn=0, fp=0), Confusion(tp=30, fn=10, tn=5, fp=1)
    )
    assert untested.p_tnr is None and not untested.differs
    assert untested.notes == ("TNR not compared: a run has no judged fails",)


# -- audits: the verified delta; reviewers on gold -----------------------------------------


def test_the_verified_delta_counts_confirmed_cases_and_estimates_the_rest():
    regs = DirectionAudit(discordant=40, real=12, grader_wrong=8)  # 20 unaudited, 60% real
    imps = DirectionAudit(discordant=10, real=5, grader_wrong=0)  # 5 unaudited, all real
    v = verified_delta(500, regs, imps, seed=1)
    assert v.refused is None and v.value is not None
    assert v.real_regressions == 12 + 20 * 0.6 and v.real_improvements == 10
    assert close(v.value, (10 - 24) / 500) and v.raw_delta == (10 - 40) / 500
    assert v.interval is not None and v.suite_interval is not None
    assert v.interval.contains(v.value) and v.suite_interval.contains(v.value)
    assert v.suite_interval.width < v.interval.width  # the system view adds case sampling
    assert verified_delta(500, regs, imps, seed=1) == v
    none = verified_delta(500, DirectionAudit(40, 0, 0), imps)
    assert none.refused is not None and none.refused.code == "no_audits" and none.value is None
    full = verified_delta(100, DirectionAudit(5, 3, 2), DirectionAudit(0, 0, 0))
    assert full.value == -0.03 and full.suite_interval == Interval(-0.03, -0.03)
    with pytest.raises(ValueError, match="exceed"):
        DirectionAudit(discordant=3, real=2, grader_wrong=2)


def test_the_beta_binomial_draws_follow_scipys_pmf():
    """K ~ BetaBinomial(12, 7.5, 3.5) (scipy.stats.betabinom): the verified delta's draws."""
    pmf = [0.00032527880235151815, 0.0020189718766645943, 0.006991624832153312,
           0.017712116241455078, 0.036386847496032715, 0.06376361846923836,
           0.09788274765014639, 0.13325214385986342, 0.16101300716400146,
           0.1706462640028732, 0.1535816376025858, 0.1085930770927375,
           0.047832664909896266]  # fmt: skip
    bb = BetaBinomial(12, 7.5, 3.5)
    running = 0.0
    for k, p in enumerate(pmf):
        running += p
        assert close(bb.cdf(k), running, 1e-12)
    assert BetaBinomial(0, 0.5, 0.5).draw(random.Random(1)) == 0
    # 10k unaudited, a real share of about 0.6 +- 0.022: mean 5,995, sd about 220
    mid = BetaBinomial(10_000, 300.5, 200.5)
    assert mid.cdf(4_000) < 1e-12 and mid.cdf(8_000) > 1 - 1e-12
    assert 0.45 < mid.cdf(5_995) < 0.55 and len(mid._cdf) < 5_000  # kept near its mode
    big = BetaBinomial(200_000, 300.5, 200.5)  # above 10k: a Beta share, a normal count
    rng = random.Random(3)
    draws = [big.draw(rng) for _ in range(4000)]
    mean = sum(draws) / len(draws)
    sd = (sum((x - mean) ** 2 for x in draws) / len(draws)) ** 0.5
    assert abs(mean - 119_900) < 300 and 4_000 < sd < 4_800


def test_reviewer_accuracy_on_gold_exposes_the_wilson_lower_bound():
    r = reviewer_accuracy(85, 100)
    assert r.accuracy == 0.85 and r.lower is not None and close(r.lower, 0.7671644040916763)
    g = gold_accuracy([(True, True)] * 9 + [(False, True)])
    assert (g.correct, g.n) == (9, 10)
    assert reviewer_accuracy(0, 0).lower is None


# -- the seeded simulations ---------------------------------------------------------------


def _calibration_sample(rng: random.Random, n: int, pi: float, tpr: float, tnr: float) -> Confusion:
    """n judged results from the same process as the run: truth, then the grader's verdict."""
    pairs = []
    for _ in range(n):
        truth = rng.random() < pi
        pairs.append((rng.random() < (tpr if truth else 1 - tnr), truth))
    return Confusion.from_pairs(pairs)


def test_simulation_the_corrected_rate_covers_the_truth_and_the_raw_rate_does_not():
    """200 seeded repetitions: a grader with TPR .85 and TNR .90 scores 500 results of a
    system whose true pass rate is .70; 100 of its results (elsewhere) are judged blind."""
    pi, tpr, tnr, n = 0.70, 0.85, 0.90, 500
    cover = {"lang-reiczigel": 0, "delta": 0, "raw": 0, "bootstrap": 0}
    boot_reps = 100  # the bootstrap's cost: fewer repetitions, 300 draws each
    for rep in range(200):
        rng = random.Random(1000 + rep)
        passes = sum(rng.random() < (tpr if rng.random() < pi else 1 - tnr) for _ in range(n))
        cal = calibrate(_calibration_sample(rng, 100, pi, tpr, tnr))
        for method in ("lang-reiczigel", "delta"):
            r = corrected_pass_rate(passes, n, cal, method=method)  # type: ignore[arg-type]
            cover[method] += r.interval is not None and r.interval.contains(pi)
        raw = wilson_interval(passes, n)
        cover["raw"] += raw is not None and raw.contains(pi)
        if rep < boot_reps:
            b = corrected_pass_rate(passes, n, cal, method="bootstrap", draws=300, seed=rep)
            cover["bootstrap"] += b.interval is not None and b.interval.contains(pi)
    rates = {k: v / (boot_reps if k == "bootstrap" else 200) for k, v in cover.items()}
    report = (
        f"coverage of the true pass rate {pi}: corrected (Lang-Reiczigel) {rates['lang-reiczigel']:.3f}, "
        f"corrected (delta) {rates['delta']:.3f}, corrected (bootstrap, {boot_reps} reps x 300 "
        f"draws) {rates['bootstrap']:.3f}, raw (Wilson) {rates['raw']:.3f}"
    )
    print(report)
    assert rates["lang-reiczigel"] >= 0.90 and rates["delta"] >= 0.90, report
    assert rates["bootstrap"] >= 0.90, report
    assert rates["raw"] < 0.10, report


def _paired_run(
    rng: random.Random, n: int, joint: tuple[float, float, float], tpr: float, tnr: float
):
    """Truth per case in both runs from the joint shares (both pass, base only, cand only),
    then the grader scores each result independently."""
    cells = [0, 0, 0, 0]
    for _ in range(n):
        u = rng.random()
        ta, tb = (
            (True, True)
            if u < joint[0]
            else (True, False)
            if u < joint[0] + joint[1]
            else ((False, True) if u < sum(joint) else (False, False))
        )
        ga = rng.random() < (tpr if ta else 1 - tnr)
        gb = rng.random() < (tpr if tb else 1 - tnr)
        cells[(0 if ga else 2) + (0 if gb else 1)] += 1
    return PairedCounts(cells[0], cells[1], cells[2], cells[3])


def test_simulation_the_corrected_paired_delta_covers_the_truth_and_the_raw_delta_does_not():
    """True rates .70 (baseline) and .55 (candidate): delta -.15; a grader with TPR .85 and
    TNR .90 on both runs (one calibration of 100 judged results) reports J * -.15 = -.1125."""
    joint = (0.50, 0.20, 0.05)  # both pass, baseline only, candidate only; both fail .25
    truth = (joint[0] + joint[2]) - (joint[0] + joint[1])
    tpr, tnr, n = 0.85, 0.90, 1000
    cover = {"delta": 0, "raw": 0, "bootstrap": 0}
    boot_reps = 100  # the bootstrap's cost: fewer repetitions, 300 draws each
    for rep in range(200):
        rng = random.Random(5000 + rep)
        counts = _paired_run(rng, n, joint, tpr, tnr)
        cal = calibrate(_calibration_sample(rng, 100, 0.6, tpr, tnr))
        d = corrected_delta(counts, cal, method="delta")
        cover["delta"] += d.interval is not None and d.interval.contains(truth)
        cover["raw"] += d.raw_interval is not None and d.raw_interval.contains(truth)
        if rep < boot_reps:
            b = corrected_delta(counts, cal, draws=300, seed=rep)
            cover["bootstrap"] += b.interval is not None and b.interval.contains(truth)
    rates = {k: v / (boot_reps if k == "bootstrap" else 200) for k, v in cover.items()}
    report = (
        f"coverage of the true paired delta {truth:.2f}: corrected (delta) {rates['delta']:.3f}, "
        f"corrected (bootstrap, {boot_reps} reps x 300 draws) {rates['bootstrap']:.3f}, "
        f"raw (paired Wald) {rates['raw']:.3f}"
    )
    print(report)
    assert rates["delta"] >= 0.90 and rates["bootstrap"] >= 0.90, report
    assert rates["raw"] < 0.60, report


def test_simulation_the_verified_delta_covers_the_truth_and_the_raw_delta_does_not():
    """1,000 cases; the grader flags 10% as regressions (half of them real) and 6% as
    improvements (80% real); reviewers audit 40% of each direction at random. The system's
    true net delta is .06 * .8 - .10 * .5 = -.002; the raw delta says -.04."""
    n, rho_r, rho_i, q_r, q_i, share = 1000, 0.10, 0.06, 0.5, 0.8, 0.4
    truth = rho_i * q_i - rho_r * q_r
    cover = {"system": 0, "suite": 0, "raw": 0}
    for rep in range(200):
        rng = random.Random(9000 + rep)
        flips = {"r": [], "i": []}
        for _ in range(n):
            u = rng.random()
            if u < rho_r:
                flips["r"].append(rng.random() < q_r)
            elif u < rho_r + rho_i:
                flips["i"].append(rng.random() < q_i)
        audits = {}
        for k, real in flips.items():
            audited = rng.sample(real, round(share * len(real)))
            audits[k] = DirectionAudit(len(real), sum(audited), len(audited) - sum(audited))
        v = verified_delta(n, audits["r"], audits["i"], draws=400, seed=rep)
        suite_truth = (sum(flips["i"]) - sum(flips["r"])) / n
        cover["system"] += v.interval is not None and v.interval.contains(truth)
        cover["suite"] += v.suite_interval is not None and v.suite_interval.contains(suite_truth)
        b, c = len(flips["r"]), len(flips["i"])
        raw = (c - b) / n
        half = 1.959963984540054 * (b + c - (b - c) ** 2 / n) ** 0.5 / n
        cover["raw"] += raw - half <= truth <= raw + half
    rates = {k: v / 200 for k, v in cover.items()}
    report = (
        f"coverage of the verified delta: the system's true delta {truth:.3f} by the interval "
        f"{rates['system']:.3f}, each suite's own true delta by the suite interval "
        f"{rates['suite']:.3f}, the system's by the raw paired Wald interval {rates['raw']:.3f}"
    )
    print(report)
    assert rates["system"] >= 0.90 and rates["suite"] >= 0.90, report
    assert rates["raw"] < 0.50, report


# -- properties ---------------------------------------------------------------------------

counts4 = st.tuples(*[st.integers(0, 40)] * 4)


@settings(max_examples=150, deadline=None)
@given(
    cm=counts4,
    n=st.integers(0, 10**6),
    share=st.floats(0, 1),
    method=st.sampled_from(["lang-reiczigel", "delta", "bootstrap"]),
)
def test_a_corrected_rate_is_in_0_1_inside_its_interval_or_refused(cm, n, share, method):
    cal = calibrate(Confusion(*cm))
    r = corrected_pass_rate(round(share * n), n, cal, method=method, draws=50, seed=1)
    if r.value is None:
        assert r.refused is not None and r.interval is None
    else:
        assert r.refused is None and r.interval is not None
        assert 0.0 <= r.interval.low <= r.value <= r.interval.high <= 1.0


@settings(max_examples=80, deadline=None)
@given(
    cells=counts4,
    cm=counts4,
    other=st.none() | counts4,
    method=st.sampled_from(["delta", "bootstrap"]),
)
def test_a_corrected_delta_is_in_minus1_1_inside_its_interval_or_refused(cells, cm, other, method):
    cand = None if other is None else calibrate(Confusion(*other))
    d = corrected_delta(
        PairedCounts(*cells), calibrate(Confusion(*cm)), cand, method=method, draws=50
    )
    if d.value is None:
        assert d.refused is not None
    else:
        assert (
            d.interval is not None and -1.0 <= d.interval.low <= d.value <= d.interval.high <= 1.0
        )


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 200),
)
def test_a_verified_delta_lies_inside_both_its_intervals(r_real, r_wrong, i_real, i_more, extra):
    regs = DirectionAudit(r_real + r_wrong + 3, r_real, r_wrong)
    imps = DirectionAudit(i_real + i_more, i_real, 0)
    n = regs.discordant + imps.discordant + extra
    v = verified_delta(n, regs, imps, draws=50)
    if v.value is None:
        assert v.refused is not None
    else:
        assert v.interval is not None and v.suite_interval is not None
        assert v.interval.contains(v.value) and v.suite_interval.contains(v.value)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(1, 300), st.floats(0.001, 0.2))
def test_clopper_pearson_holds_the_estimate_and_inverts_the_tail(x, n, alpha):
    x = min(x, n)
    cp = clopper_pearson(x, n, alpha)
    assert cp is not None and cp.contains(x / n)
    if 0 < x < n:  # P(X >= x | p = low) = alpha / 2
        assert close(betainc(x, n - x + 1, cp.low), alpha / 2, 1e-9)


# -- the calibration sample ---------------------------------------------------------------


def _frame(sizes: dict[tuple[str, str], int]) -> list[FrameItem]:
    out, rid = [], 0
    for (seg, verdict), k in sizes.items():
        for _ in range(k):
            out.append(FrameItem(rid, seg, verdict))
            rid += 1
    return out


FRAME = _frame(
    {
        ("billing", "pass"): 600,
        ("billing", "fail"): 200,
        ("refunds", "pass"): 150,
        ("refunds", "fail"): 50,
    }
)


def test_proportional_allocation_keeps_the_frames_shares():
    s = draw_sample(FRAME, 100, seed=11)
    drawn = {(x.segment, x.verdict): x.drawn for x in s.frame.strata}
    assert drawn == {
        ("billing", "pass"): 60,
        ("billing", "fail"): 20,
        ("refunds", "pass"): 15,
        ("refunds", "fail"): 5,
    }
    assert len(s.ids) == 100 == len(set(s.ids)) and s.frame.self_weighting
    assert s.frame.size == 1000 and s.frame.seed == 11 and len(s.frame.hash) == 64
    by_id = {it.result_id: it for it in FRAME}
    assert sum(by_id[i].verdict == "fail" for i in s.ids) == 25  # fails drawn too, not only changes


def test_equal_allocation_fills_small_strata_first_and_says_it_is_not_self_weighting():
    frame = _frame({("a", "pass"): 100, ("a", "fail"): 3, ("b", "pass"): 40})
    s = draw_sample(frame, 30, seed=1, allocation="equal")
    drawn = {(x.segment, x.verdict): x.drawn for x in s.frame.strata}
    assert drawn == {("a", "fail"): 3, ("a", "pass"): 14, ("b", "pass"): 13}
    assert not s.frame.self_weighting
    everything = draw_sample(frame, 1000, seed=1)
    assert everything.frame.drawn == 143 and everything.frame.requested == 1000


@settings(max_examples=40, deadline=None)
@given(st.permutations(FRAME[::10]), st.integers(0, 2**32))
def test_the_sample_depends_on_the_seed_and_frame_not_the_order(perm, seed):
    base = draw_sample(FRAME[::10], 17, seed=seed)
    again = draw_sample(perm, 17, seed=seed)
    assert again == base


@pytest.mark.parametrize("ids", [range(300), [f'r"{i}' for i in range(300)]])
def test_the_frame_hash_is_the_sha256_of_its_sorted_json_lines(ids):
    frame = [FrameItem(i, f"seg{k % 3}", "pass" if k % 4 else "fail") for k, i in enumerate(ids)]
    lines = "".join(
        json.dumps([it.segment, it.verdict, it.result_id]) + "\n"
        for it in sorted(frame, key=lambda it: (it.segment, it.verdict, it.result_id))
    )
    assert draw_sample(frame, 10, seed=3).frame.hash == hashlib.sha256(lines.encode()).hexdigest()


def test_a_frame_with_a_duplicate_or_mixed_ids_is_refused_and_another_seed_draws_otherwise():
    with pytest.raises(ValueError, match="twice"):
        draw_sample([FrameItem(1, "a", "pass"), FrameItem(1, "b", "fail")], 1, seed=0)
    with pytest.raises(ValueError, match="all int or all str"):
        draw_sample([FrameItem(1, "a", "pass"), FrameItem("1", "a", "pass")], 1, seed=0)
    assert draw_sample(FRAME, 50, seed=1).ids != draw_sample(FRAME, 50, seed=2).ids
    assert draw_sample(FRAME, 50, seed=1).frame.hash == draw_sample(FRAME, 50, seed=2).frame.hash
    assert draw_sample([], 5, seed=0).ids == ()


# -- the package stays in the base layer --------------------------------------------------

# base-layer modules, and the package's own modules (absolute imports between them)
ALLOWED_EVALTUI = {"evaltui.stats", "evaltui.errors", "evaltui.models", "evaltui.files"}


def test_estimate_imports_only_the_standard_library_pydantic_and_base_modules():
    pkg = ROOT / "evaltui" / "estimate"
    bad = []
    for path in sorted(pkg.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in sys.stdlib_module_names
                    or top == "pydantic"
                    or name in ALLOWED_EVALTUI
                    or name == "evaltui.estimate"
                    or name.startswith("evaltui.estimate.")
                    or (name == "__future__")
                )
                if not ok:
                    bad.append(f"{path.relative_to(ROOT)}: {name}")
        assert len(path.read_text().splitlines()) < 500, path
    assert bad == []
