"""One segment's figure for the production estimate (#28): its counts (a run's rate, or
the paired table of candidate and baseline), its point, its posterior draws and its
closed-form limits. docs/production.md has the formulas and the references."""

from __future__ import annotations

import json
import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from evaltui.stats import wilson

Key = tuple[str, ...]  # a segment: one value per attribute, in the weights' attribute order
PRIOR_COUNT: dict[str, float] = {"jeffreys": 0.5, "uniform": 1.0}  # pseudo-count per cell


def check_key(key: object) -> None:
    if not isinstance(key, tuple) or not key or not all(isinstance(v, str) for v in key):
        raise ValueError(f"a segment key is a non-empty tuple of strings, not {key!r}")


def count_check(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} is a whole number of cases, at least 0, not {value!r}")


# -- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentCounts:
    """One run's outcome in one segment: `passed` of `n` cases."""

    key: Key
    n: int
    passed: int

    def __post_init__(self) -> None:
        check_key(self.key)
        count_check("n", self.n)
        count_check("passed", self.passed)
        if self.passed > self.n:
            raise ValueError(f"segment {self.key!r}: {self.passed} passed of {self.n}")


@dataclass(frozen=True)
class PairedCounts:
    """Candidate and baseline on the same cases of one segment: the paired 2x2 table."""

    key: Key
    both: int  # both pass
    candidate_only: int  # improvements: the candidate passes, the baseline does not
    baseline_only: int  # regressions: the baseline passes, the candidate does not
    neither: int

    def __post_init__(self) -> None:
        check_key(self.key)
        for name in ("both", "candidate_only", "baseline_only", "neither"):
            count_check(name, getattr(self, name))

    @property
    def n(self) -> int:
        return self.both + self.candidate_only + self.baseline_only + self.neither


@dataclass(frozen=True)
class SegmentDraws:
    """A segment's figure computed elsewhere (e.g. a grader-corrected rate) with its
    uncertainty as draws. Draw t of every segment belongs to the same joint draw, so a
    correction shared across segments keeps its correlation."""

    key: Key
    n: int  # eval cases behind it (decides coverage against `min_n`)
    point: float
    draws: tuple[float, ...]

    def __post_init__(self) -> None:
        check_key(self.key)
        count_check("n", self.n)
        if not math.isfinite(self.point) or not all(math.isfinite(d) for d in self.draws):
            raise ValueError(f"segment {self.key!r}: draws and point must be finite")


Item = SegmentCounts | PairedCounts | SegmentDraws


def point(item: Item) -> float:
    if isinstance(item, SegmentCounts):
        return item.passed / item.n
    if isinstance(item, PairedCounts):
        return (item.candidate_only - item.baseline_only) / item.n
    return item.point


def stream(seed: int, *parts: object) -> random.Random:
    """A stream of its own per (seed, what, key): Random seeds a str through SHA-512, so
    the same inputs give the same draws in every process (PYTHONHASHSEED plays no part)."""
    return random.Random(json.dumps([seed, *parts]))


def draws(item: Item, seed: int, prior: str, n_draws: int) -> array[float]:
    if isinstance(item, SegmentDraws):
        return array("d", item.draws)
    a0 = PRIOR_COUNT[prior]
    if isinstance(item, SegmentCounts):
        rng = stream(seed, "rate", list(item.key))
        a, b = item.passed + a0, item.n - item.passed + a0
        return array("d", (rng.betavariate(a, b) for _ in range(n_draws)))
    # Dirichlet over the four cells; only candidate_only - baseline_only matters, so the
    # other two are one gamma (the Dirichlet's aggregation property).
    rng = stream(seed, "delta", list(item.key))
    gamma = rng.gammavariate
    ac, ab = item.candidate_only + a0, item.baseline_only + a0
    ar = item.both + item.neither + 2 * a0
    out = array("d", bytes(8 * n_draws))
    for t in range(n_draws):
        gc, gb, gr = gamma(ac, 1.0), gamma(ab, 1.0), gamma(ar, 1.0)
        out[t] = (gc - gb) / (gc + gb + gr)
    return out


def newcombe_paired(item: PairedCounts, z: float) -> tuple[float, float]:
    """Newcombe's (1998) method 10 interval for a paired difference of proportions, with
    his adjusted correlation (as in Fagerland, Lydersen & Laake 2017, section 8)."""
    n, a, b, c, d = item.n, item.both, item.candidate_only, item.baseline_only, item.neither
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, z) or (0.0, 1.0)
    l2, u2 = wilson(a + c, n, z) or (0.0, 1.0)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    else:
        phi = (cross - n / 2 if cross > n / 2 else cross) / math.sqrt(margins)
    dl, du = p1 - l1, u2 - p2
    lower = (p1 - p2) - math.sqrt(max(0.0, dl * dl + du * du - 2 * phi * dl * du))
    dl, du = p2 - l2, u1 - p1
    upper = (p1 - p2) + math.sqrt(max(0.0, dl * dl + du * du - 2 * phi * dl * du))
    return max(-1.0, lower), min(1.0, upper)


def limits(item: Item, z: float) -> tuple[float, float]:
    if isinstance(item, SegmentCounts):
        return wilson(item.passed, item.n, z) or (0.0, 1.0)
    if isinstance(item, PairedCounts):
        return newcombe_paired(item, z)
    raise ValueError("the closed form needs counts; supplied draws use monte_carlo")


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (Hyndman & Fan type 7, numpy's)."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])
