"""Reference values for tests/test_estimate_weighted.py, computed independently of evaltui.

Run in a venv of its own, never a project dependency:

    python3 -m venv /tmp/venv-stats && /tmp/venv-stats/bin/pip install numpy scipy statsmodels
    /tmp/venv-stats/bin/python tests/worked/weighted_reference.py

It imports nothing from evaltui: points in exact rational arithmetic (fractions), Wilson
limits from statsmodels, MOVER (Zou & Donner 2008) and Newcombe's paired method 10 written
again here from the papers' formulas, and the Monte Carlo intervals from numpy's own Beta
and Dirichlet samplers with 2,000,000 draws (their Monte Carlo error is ~0.0003; the
tests compare evaltui's seeded 20,000-draw results within 0.006). For the paired delta it
draws the full four-cell Dirichlet, where evaltui draws three gammas (the aggregation
property): the comparison checks that shortcut too. The printed values are pasted into
the test file.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

Z = norm.ppf(0.975)
DRAWS = 2_000_000
rng = np.random.default_rng(20261206)

# Example A/B: a rate. Shares billing .4, account access .3, refunds .2, policy .1; the
# runs have no policy case (uncovered), and a "shipping" segment the weights do not name.
RATE = {"billing": (50, 45), "account access": (10, 7), "refunds": (200, 150)}
SHARES = {"billing": F(4, 10), "account access": F(3, 10), "refunds": F(2, 10), "policy": F(1, 10)}
COUNTS = {"billing": 400, "account access": 300, "refunds": 200, "policy": 100}
# Example C: the paired delta, cells (both, candidate_only, baseline_only, neither)
PAIRED = {"billing": (40, 5, 3, 2), "account access": (5, 1, 2, 2), "refunds": (140, 10, 15, 35)}


def wilson(x: int, n: int) -> tuple[float, float]:
    lo, hi = proportion_confint(x, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def newcombe10(a: int, b: int, c: int, d: int) -> tuple[float, float]:
    """Newcombe (1998) method 10; phi adjusted as in Fagerland, Lydersen & Laake (2017)."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    prod = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    if prod == 0:
        phi = 0.0
    elif cross > n / 2:
        phi = (cross - n / 2) / np.sqrt(prod)
    elif cross >= 0:
        phi = 0.0
    else:
        phi = cross / np.sqrt(prod)
    lo = (p1 - p2) - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2))
    hi = (p1 - p2) + np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1))
    return float(lo), float(hi)


def mover(weights: list[float], points: list[float], limits: list[tuple[float, float]]):
    s = sum(w * p for w, p in zip(weights, points, strict=True))
    down = np.sqrt(
        sum((w * (p - lo)) ** 2 for w, p, (lo, _) in zip(weights, points, limits, strict=True))
    )
    up = np.sqrt(
        sum((w * (hi - p)) ** 2 for w, p, (_, hi) in zip(weights, points, limits, strict=True))
    )
    return s, float(s - down), float(s + up)


def q(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)


out: dict[str, object] = {}
covered = list(RATE)
w_cov = sum(SHARES[k] for k in covered)
s_exact = sum(SHARES[k] * F(RATE[k][1], RATE[k][0]) for k in covered)
out["rate_points"] = {
    "covered": float(s_exact / w_cov),
    "worst": float(s_exact),
    "best": float(s_exact + (1 - w_cov)),
    "uncovered": float(1 - w_cov),
}
# MOVER-Wilson over covered traffic (weights renormalised) and over all traffic (worst)
ws = [float(SHARES[k] / w_cov) for k in covered]
pts = [RATE[k][1] / RATE[k][0] for k in covered]
lims = [wilson(RATE[k][1], RATE[k][0]) for k in covered]
out["rate_mover_covered"] = mover(ws, pts, lims)[1:]
ws_all = [float(SHARES[k]) for k in covered]
out["rate_mover_worst"] = mover(ws_all, pts, lims)[1:]

# Monte Carlo, fixed shares: Jeffreys Beta(x + 1/2, n - x + 1/2) per segment
p = {k: rng.beta(x + 0.5, n - x + 0.5, DRAWS) for k, (n, x) in RATE.items()}
s = sum(float(SHARES[k]) * p[k] for k in covered)
out["rate_mc_fixed_covered"] = q(s / float(w_cov))
out["rate_mc_fixed_worst"] = q(s)
out["rate_mc_fixed_best"] = q(s + float(1 - w_cov))

# Monte Carlo, count weights: Dirichlet(counts + 1/4) over all four cells, jointly (Perks'
# prior: 1 / cells each, one pseudo-request in all)
cells = list(COUNTS)
wd = rng.dirichlet([COUNTS[k] + 1 / len(cells) for k in cells], DRAWS)
s = sum(wd[:, cells.index(k)] * p[k] for k in covered)
u = wd[:, cells.index("policy")]
total = sum(COUNTS.values())
out["rate_mc_counts_covered"] = q(s / (1 - u))
out["rate_mc_counts_worst"] = q(s)
out["rate_mc_counts_best"] = q(s + u)
out["rate_mc_counts_uncovered"] = q(u)
out["rate_counts_points"] = {
    "covered": float(
        sum(F(COUNTS[k], total) * F(RATE[k][1], RATE[k][0]) for k in covered)
        / sum(F(COUNTS[k], total) for k in covered)
    ),
    "uncovered": COUNTS["policy"] / total,
}

# The paired delta: point, Newcombe + MOVER, Monte Carlo over Dirichlet(cells + 1/2)
d_exact = sum(SHARES[k] * F(b - c, a + b + c + d) for k, (a, b, c, d) in PAIRED.items())
out["delta_points"] = {"covered": float(d_exact / w_cov), "worst": float(d_exact - (1 - w_cov))}
dpts = [(b - c) / (a + b + c + d) for (a, b, c, d) in PAIRED.values()]
dlims = [newcombe10(*cells4) for cells4 in PAIRED.values()]
out["delta_newcombe_segments"] = dlims
out["delta_mover_covered"] = mover(ws, dpts, dlims)[1:]
dd = {}
for k, cells4 in PAIRED.items():
    pi = rng.dirichlet([c + 0.5 for c in cells4], DRAWS)
    dd[k] = pi[:, 1] - pi[:, 2]
s = sum(float(SHARES[k]) * dd[k] for k in PAIRED)
out["delta_mc_fixed_covered"] = q(s / float(w_cov))
out["delta_mc_fixed_worst"] = q(s - float(1 - w_cov))

# The margin at the point (exact rationals): covered rate 0.8 against min 0.785, how many
# passing cases of each segment must fail before the covered rate drops below 0.785
flips = {}
for k in covered:
    n, x = RATE[k]
    for j in range(1, x + 1):
        s_j = s_exact - SHARES[k] * F(j, n)
        if s_j / w_cov < F(785, 1000):
            flips[k] = j
            break
out["margin_point_flips"] = flips

for name, value in out.items():
    print(f"{name} = {value!r}")
