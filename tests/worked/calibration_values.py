"""The worked values that tests/test_estimate_calibration.py hard-codes, computed
independently of evaltui with scipy, statsmodels and irrCAC.

Run it in its own environment (never a project dependency):

    python3 -m venv /tmp/venv-stats
    /tmp/venv-stats/bin/pip install scipy statsmodels irrCAC pandas numpy mpmath
    /tmp/venv-stats/bin/python tests/worked/calibration_values.py

It prints one JSON object; the test's constants are copied from it (rounded to 12
significant digits). Versions used: scipy 1.12.0, statsmodels 0.15.0, irrCAC 0.4.4,
mpmath 1.3.0, numpy and pandas as pip chose them then, Python 3.11.

Student's t quantiles come from mpmath at 40 digits: scipy's t.ppf is off by up to ~3e-9
(2.009575234489 at 49 degrees of freedom where the root is 2.009575237129), which is why
the AC1 interval (irrCAC uses scipy's t) is compared to 1e-8 only.

The delta-method intervals are computed here from a numerical gradient of the estimator
and the covariance of its inputs, not from the closed-form variance evaltui uses, so the
two check each other.
"""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pandas as pd
import scipy
import statsmodels
from irrCAC.table import CAC
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

Z = stats.norm.ppf(0.975)
PROPORTIONS = [(85, 100), (0, 10), (10, 10), (1, 7), (13, 20), (90, 100), (999, 1000)]


def grad(f, x, h=1e-7):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(len(x)):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (f(up) - f(down)) / (2 * h)
    return g


def t_quantile(q, df):
    """The root of P(T <= t) = q, with the t CDF through the regularized incomplete beta."""
    mpmath.mp.dps = 40
    half = mpmath.mpf(df) / 2

    def cdf(t):
        tail = mpmath.betainc(half, mpmath.mpf(1) / 2, 0, df / (df + t**2), regularized=True) / 2
        return 1 - tail if t > 0 else tail

    return mpmath.findroot(lambda t: cdf(t) - mpmath.mpf(q), stats.t.ppf(q, df))


def rg(p, r, s):
    return (p + s - 1) / (r + s - 1)


def rg_delta(x, n, tp, npos, tn, nneg):
    """Rogan-Gladen with a delta-method Wald interval (numerical gradient)."""
    p, r, s = x / n, tp / npos, tn / nneg
    theta = rg(p, r, s)
    g = grad(lambda v: rg(*v), [p, r, s])
    cov = np.diag([p * (1 - p) / n, r * (1 - r) / npos, s * (1 - s) / nneg])
    se = float(np.sqrt(g @ cov @ g))
    return theta, [max(0.0, theta - Z * se), min(1.0, theta + Z * se)]


def lang_reiczigel(x, n, tp, npos, tn, nneg):
    """Lang & Reiczigel (2014): adjusted proportions, delta method, shifted (their paper's
    formulas, written out here)."""
    n_, np_, nn_ = n + Z**2, npos + 2, nneg + 2
    p, r, s = (x + Z**2 / 2) / n_, (tp + 1) / np_, (tn + 1) / nn_
    theta = rg(p, r, s)
    vr, vs = r * (1 - r) / np_, s * (1 - s) / nn_
    g = grad(lambda v: rg(*v), [p, r, s])
    se = float(np.sqrt(g @ np.diag([p * (1 - p) / n_, vr, vs]) @ g))
    shift = 2 * Z**2 * (theta * vr - (1 - theta) * vs)
    return [max(0.0, theta + shift - Z * se), min(1.0, theta + shift + Z * se)]


def paired_delta(cells, tp, npos, tn, nneg):
    """Corrected paired delta, one calibration for both runs, delta-method interval: the
    covariance of the paired table's cell shares (multinomial) and of TPR and TNR
    (independent binomials), pushed through a numerical gradient."""
    n = sum(cells)
    q = np.array(cells, dtype=float) / n
    r, s = tp / npos, tn / nneg

    def d(v):
        q11, q10, q01, _q00, rr, ss = v
        return rg(q11 + q01, rr, ss) - rg(q11 + q10, rr, ss)

    cov = np.zeros((6, 6))
    cov[:4, :4] = (np.diag(q) - np.outer(q, q)) / n
    cov[4, 4] = r * (1 - r) / npos
    cov[5, 5] = s * (1 - s) / nneg
    x = [*q, r, s]
    g = grad(d, x)
    se = float(np.sqrt(g @ cov @ g))
    val = d(x)
    return val, [val - Z * se, val + Z * se]


def ac1(tp, fp, fn, tn):
    # rows: grader (pass, fail); columns: human (pass, fail)
    table = pd.DataFrame([[tp, fp], [fn, tn]], index=["pass", "fail"], columns=["pass", "fail"])
    est = CAC(table, digits=12).gwet()["est"]
    return {
        "ac1": est["coefficient_value"],
        "se": est["se"],
        "ci": list(est["confidence_interval"]),
        "kappa_statsmodels": cohens_kappa(np.array([[tp, fp], [fn, tn]])).kappa,
    }


def main() -> None:
    out: dict = {
        "versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
        "clopper_pearson": {
            f"{x}/{n}": list(proportion_confint(x, n, alpha=0.05, method="beta"))
            for x, n in PROPORTIONS
        },
        "clopper_pearson_scipy": {
            f"{x}/{n}": [
                0.0 if x == 0 else stats.beta.ppf(0.025, x, n - x + 1),
                1.0 if x == n else stats.beta.ppf(0.975, x + 1, n - x),
            ]
            for x, n in PROPORTIONS
        },
        "wilson": {
            f"{x}/{n}": list(proportion_confint(x, n, alpha=0.05, method="wilson"))
            for x, n in PROPORTIONS
        },
        "beta_ppf": {
            f"{q},{a},{b}": stats.beta.ppf(q, a, b)
            for q, a, b in [(0.025, 85, 16), (0.975, 3.5, 0.5), (0.5, 1000.5, 20.5), (1e-6, 2, 3)]
        },
        "t_ppf_scipy": {
            f"{q},{df}": stats.t.ppf(q, df)
            for q, df in [(0.975, 1), (0.975, 9), (0.975, 49), (0.975, 199), (0.025, 30)]
        },
        "t_ppf_mpmath": {
            f"{q},{df}": float(t_quantile(q, df))
            for q, df in [(0.975, 1), (0.975, 9), (0.975, 49), (0.975, 199), (0.025, 30)]
        },
        "newcombe_youden": {
            # TPR - FPR: (TP, TP+FN) against (FP, FP+TN)
            f"{a}/{m}-{b}/{k}": list(
                confint_proportions_2indep(a, m, b, k, method="newcomb", compare="diff")
            )
            for a, m, b, k in [(85, 100, 10, 100), (6, 10, 4, 10), (3, 3, 0, 3), (17, 20, 1, 10)]
        },
        "fisher": {
            str(t): stats.fisher_exact([[t[0], t[1]], [t[2], t[3]]])[1]
            for t in [(34, 6, 22, 18), (8, 2, 1, 5), (10, 0, 10, 0), (40, 10, 30, 20), (0, 5, 5, 0)]
        },
        "agreement": {
            "85,10,15,90": ac1(85, 10, 15, 90),
            "45,3,1,1": ac1(45, 3, 1, 1),  # high agreement, skewed: the kappa paradox
            "17,1,3,9": ac1(17, 1, 3, 9),
        },
        "rogan_gladen": {
            # the example: true 0.70, TPR .85, TNR .90 -> reported .625 -> corrected .70
            "issue_reported": 0.7 * 0.85 + 0.3 * 0.10,
            "issue_corrected": rg(0.625, 0.85, 0.90),
            "delta_625_1000_85_100_90_100": rg_delta(625, 1000, 85, 100, 90, 100),
            "delta_300_500_34_40_18_20": rg_delta(300, 500, 34, 40, 18, 20),
            "delta_40_400_19_20_45_50": rg_delta(40, 400, 19, 20, 45, 50),
            "lr_625_1000_85_100_90_100": lang_reiczigel(625, 1000, 85, 100, 90, 100),
            "lr_300_500_34_40_18_20": lang_reiczigel(300, 500, 34, 40, 18, 20),
            "lr_40_400_19_20_45_50": lang_reiczigel(40, 400, 19, 20, 45, 50),
        },
        "paired_delta": {
            "cells_300_40_90_70_tpr_34_40_tnr_18_20": paired_delta(
                (300, 40, 90, 70), 34, 40, 18, 20
            ),
        },
        "betabinom": {
            # P(K = k) for K ~ BetaBinomial(n=12, a=7.5, b=3.5): the verified delta's draws
            str(k): stats.betabinom.pmf(k, 12, 7.5, 3.5)
            for k in range(13)
        },
    }
    print(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
