"""Small, exact statistics for paired pass/fail comparisons. No I/O, no numpy."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal
ALPHA = 0.05  # the default significance level of a flip test


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a binomial proportion (95% by default).

    Returns None when n is 0. Stays inside [0, 1] and is sensible at 0 and n,
    unlike the normal approximation.
    """
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _log_binom_pmf(k: int, n: int) -> float:
    """log of C(n, k) / 2**n."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test on the discordant pairs of a paired comparison.

    `b` and `c` are the flips each way (pass->fail, fail->pass). Under the null
    hypothesis each discordant pair is equally likely to go either way, so the
    p-value is the two-sided binomial test of min(b, c) in b + c trials at 1/2:
    p = min(1, 2 * P(X <= min(b, c))). With no discordant pairs, p = 1.
    """
    if b < 0 or c < 0:
        raise ValueError("flip counts are never negative")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    if n <= 1000:
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    else:  # log-space sum of the lower tail: exact to float precision, no huge ints
        logs = [_log_binom_pmf(i, n) for i in range(k + 1)]
        top = max(logs)
        tail = math.exp(top) * sum(math.exp(x - top) for x in logs)
    return min(1.0, 2.0 * tail)


def pct(x: float | None) -> str:
    """A rate for people: `73.1%`, or `-` when there is none."""
    return "-" if x is None else f"{x:.1%}"


def cohen_kappa(pairs: list[tuple[Any, Any]]) -> float | None:
    """Cohen's kappa for two raters' labels on the same items; None when undefined."""
    n = len(pairs)
    if n == 0:
        return None
    po = sum(a == b for a, b in pairs) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if pe == 1:
        return 1.0 if po == 1 else None
    return (po - pe) / (1 - pe)


def holm(pvalues: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given), each at most 1.

    The i-th smallest of m p-values is multiplied by (m - i), and the results are
    made non-decreasing in that order, so `adjusted < alpha` controls the
    family-wise error rate at alpha.
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out
