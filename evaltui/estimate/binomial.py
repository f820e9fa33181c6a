"""Exact binomial machinery in pure Python: the incomplete beta function and its inverse,
Clopper-Pearson and Newcombe intervals, Student's t quantile, Fisher's exact test, and
seeded draws (Beta, Dirichlet, beta-binomial) for the bootstraps.

No numpy, no scipy: the values are checked against scipy/statsmodels in
tests/test_estimate_calibration.py (computed by tests/worked/calibration_values.py).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from statistics import NormalDist

from evaltui.stats import wilson

_EPS = 1e-16
_TINY = 1e-300
_MAX_CF = 100_000  # continued-fraction terms; converges in O(sqrt(max(a, b)))


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval [low, high] (a confidence or percentile interval)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (self.low <= self.high):
            raise ValueError(f"an interval's low end {self.low} is above its high end {self.high}")

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, float | int) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be a number between 0 and 1, not {alpha!r}")
    return float(alpha)


def check_count(name: str, value: object) -> int:
    """A count is a non-negative int (a bool is refused: True is not a count)."""
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def z_for(alpha: float) -> float:
    """The two-sided normal critical value: 1.96 for alpha 0.05."""
    return NormalDist().inv_cdf(1.0 - check_alpha(alpha) / 2.0)


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_CF):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) (the Beta(a, b) CDF at x)."""
    if a <= 0 or b <= 0:
        raise ValueError("beta parameters must be positive")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float, start: float | None = None) -> float:
    """The q-quantile of Beta(a, b): Newton steps on `betainc` from `start` (the mean by
    default) kept inside a shrinking bracket (a step that would leave it bisects instead),
    so it always converges."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("a quantile's probability is between 0 and 1")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    lo, hi = 0.0, 1.0
    x = start if start is not None and 0.0 < start < 1.0 else a / (a + b)
    for _ in range(400):
        f = betainc(a, b, x) - q
        if f == 0.0:
            return x
        if f < 0:
            lo = x
        else:
            hi = x
        pdf = math.exp(log_norm + (a - 1) * math.log(x) + (b - 1) * math.log1p(-x))
        step = f / pdf if pdf > 0 else math.inf
        nxt = x - step
        if abs(nxt - x) <= 4e-16 * x:  # converged to the float's resolution
            return nxt if lo <= nxt <= hi else x
        if not lo < nxt < hi:
            nxt = (lo + hi) / 2
        if hi - lo <= 4e-16 * hi:
            return nxt
        x = nxt
    return x


def clopper_pearson(successes: int, n: int, alpha: float = 0.05) -> Interval | None:
    """The exact (Clopper-Pearson 1934) two-sided interval for a binomial proportion.

    Beta(alpha/2; x, n-x+1) to Beta(1-alpha/2; x+1, n-x); the closed forms at x = 0 and
    x = n. None when n is 0. Guaranteed coverage of at least 1 - alpha (conservative).
    """
    check_alpha(alpha)
    if n <= 0:
        return None
    x = successes
    low = 0.0 if x == 0 else (alpha / 2) ** (1 / n) if x == n else beta_ppf(alpha / 2, x, n - x + 1)
    high = (
        1.0
        if x == n
        else 1 - (alpha / 2) ** (1 / n)
        if x == 0
        else beta_ppf(1 - alpha / 2, x + 1, n - x)
    )
    return Interval(low, high)


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> Interval | None:
    """stats.wilson (Wilson 1927 score interval) at the given alpha, as an `Interval`."""
    bounds = wilson(successes, n, z_for(alpha))
    return None if bounds is None else Interval(*bounds)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, alpha: float = 0.05
) -> tuple[float, Interval] | None:
    """p1 - p2 for two independent proportions with Newcombe's (1998, method 10) hybrid
    score interval: the Wilson limits of each combined by squares. None when a sample is empty."""
    w1, w2 = wilson_interval(x1, n1, alpha), wilson_interval(x2, n2, alpha)
    if w1 is None or w2 is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    low = d - math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    high = d + math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return d, Interval(max(-1.0, low), min(1.0, high))


def t_ppf(q: float, df: float) -> float:
    """The q-quantile of Student's t with df degrees of freedom (through the incomplete beta)."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if q == 0.5:
        return 0.0
    tail = min(q, 1 - q)  # P(T < -t) = I_{df/(df+t^2)}(df/2, 1/2) / 2
    z = NormalDist().inv_cdf(1 - tail)
    guess = z + (z**3 + z) / (4 * df)  # Cornish-Fisher: a start a few Newton steps away
    x = beta_ppf(2 * tail, df / 2, 0.5, start=df / (df + guess * guess))
    t = math.sqrt(df * (1 - x) / x)
    return t if q > 0.5 else -t


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]] (rows are the groups).

    The p-value sums the hypergeometric probabilities of every table with the same margins
    that is no more likely than the one observed; computed in exact integers, so "no more
    likely" needs no floating tolerance.
    """
    for name, v in (("a", a), ("b", b), ("c", c), ("d", d)):
        check_count(name, v)
    r1, r2, c1 = a + b, c + d, a + c
    total = math.comb(r1 + r2, c1)
    if total == 0:
        return 1.0
    observed = math.comb(r1, a) * math.comb(r2, c)
    tail = 0
    for x in range(max(0, c1 - r2), min(r1, c1) + 1):
        w = math.comb(r1, x) * math.comb(r2, c1 - x)
        if w <= observed:
            tail += w
    return min(1.0, tail / total)


def quantile(sorted_values: list[float], q: float) -> float:
    """The q-quantile of sorted values, linearly interpolated (Hyndman & Fan type 7)."""
    if not sorted_values:
        raise ValueError("no values")
    pos = q * (len(sorted_values) - 1)
    i = math.floor(pos)
    if i >= len(sorted_values) - 1:
        return sorted_values[-1]
    frac = pos - i
    return sorted_values[i] + frac * (sorted_values[i + 1] - sorted_values[i])


def percentile_interval(draws: list[float], alpha: float) -> Interval:
    values = sorted(draws)
    return Interval(quantile(values, alpha / 2), quantile(values, 1 - alpha / 2))


def jeffreys_draw(rng: random.Random, successes: int, n: int) -> float:
    """One draw of a proportion from its Jeffreys posterior Beta(x + 1/2, n - x + 1/2).

    Unlike resampling the observed proportion, it has spread at 0/n and n/n, so a grader
    that was right on every judged case is not taken to be right always.
    """
    return rng.betavariate(successes + 0.5, n - successes + 0.5)


def dirichlet_draw(rng: random.Random, counts: tuple[int, ...]) -> tuple[float, ...]:
    """One draw of cell probabilities from Dirichlet(counts + 1/2) (Jeffreys for a multinomial)."""
    g = [rng.gammavariate(k + 0.5, 1.0) for k in counts]
    s = sum(g)
    return tuple(x / s for x in g)


class BetaBinomial:
    """The number of successes among `n` further cases when the success share has the
    posterior Beta(a, b). Up to EXACT_UP_TO cases: the exact pmf, from its mode outward by
    the ratio of neighbours, kept where it is above 1e-17 of the peak, and each draw one
    bisection of its CDF. Above: the share drawn from Beta(a, b), then the count from the
    normal approximation of Binomial(n, share) (O(1) a draw)."""

    EXACT_UP_TO = 10_000  # above: the share from Beta(a, b), the count from a normal

    def __init__(self, n: int, a: float, b: float) -> None:
        check_count("n", n)
        if a <= 0 or b <= 0:
            raise ValueError("beta parameters must be positive")
        self.n, self.a, self.b = n, a, b
        self.first = 0
        self._cdf: list[float] = []
        if n > self.EXACT_UP_TO:
            return
        mode = min(n, max(0, round((n + 1) * (a - 1) / (a + b - 2)) if a + b > 2 else 0))
        # pmf(k + 1) / pmf(k) = (n - k) (k + a) / ((k + 1) (n - k - 1 + b))
        up = [1.0]
        w, k = 1.0, mode
        while k < n:
            w *= (n - k) * (k + a) / ((k + 1) * (n - k - 1 + b))
            k += 1
            if w < 1e-17:
                break
            up.append(w)
        down: list[float] = []
        w, k = 1.0, mode
        while k > 0:
            w *= k * (n - k + b) / ((n - k + 1) * (k - 1 + a))
            k -= 1
            if w < 1e-17:
                break
            down.append(w)
        weights = down[::-1] + up
        self.first = mode - len(down)
        peak = max(weights)  # the rounded mode may sit one off the true peak
        total = sum(weights) / peak
        running, cdf = 0.0, []
        for x in weights:
            running += x / peak / total
            cdf.append(running)
        cdf[-1] = 1.0
        self._cdf = cdf

    def cdf(self, k: int) -> float:
        """P(K <= k), exact (n up to EXACT_UP_TO)."""
        if not self._cdf:
            raise ValueError(f"no exact CDF above n = {self.EXACT_UP_TO}")
        if k < self.first:
            return 0.0
        return self._cdf[min(k - self.first, len(self._cdf) - 1)]

    def draw(self, rng: random.Random) -> int:
        if self._cdf:
            return self.first + bisect.bisect_left(self._cdf, rng.random())
        # large n: the binomial given the share is normal to well within the share's spread
        q = rng.betavariate(self.a, self.b)
        x = round(rng.gauss(self.n * q, math.sqrt(self.n * q * (1 - q))))
        return min(self.n, max(0, x))
