"""One segment's figure for the production estimate (#28): its counts (a run's rate, or
the paired table of candidate and baseline), its point, its posterior draws and its
closed-form limits. docs/production.md has the formulas and the references."""

from __future__ import annotations

import json
import math
import random
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import add
from typing import Any

from evaltui.estimate import tries as cheng
from evaltui.estimate.tries import BIG, LOG4, ONE_PLUS_LOG5, Tries
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


class _Kept:
    """The latest segments' draws, up to a number of values held (LRU): a decision's
    estimates and margins draw the same segments again (a margin's plan, a second rule on
    the same figure, a probe already made). Draws are a pure function of their inputs, so
    keeping them changes no figure; callers only read them."""

    def __init__(self, budget: int) -> None:
        self.budget, self.held = budget, 0
        self.arrays: OrderedDict[tuple[Any, ...], array[float]] = OrderedDict()
        self.lock = threading.Lock()  # the app's workers estimate in threads

    def get(self, key: tuple[Any, ...]) -> array[float] | None:
        with self.lock:
            found = self.arrays.get(key)
            if found is not None:
                self.arrays.move_to_end(key)
            return found

    def clear(self) -> None:
        with self.lock:
            self.arrays.clear()
            self.held = 0

    def put(self, key: tuple[Any, ...], values: array[float]) -> None:
        with self.lock:
            if key not in self.arrays and len(values) <= self.budget:
                self.arrays[key], self.held = values, self.held + len(values)
            while self.held > self.budget:
                self.held -= len(self.arrays.popitem(last=False)[1])


KEPT = _Kept(2_000_000)  # 16 MB of draws at most


def draws(
    item: Item, seed: int, prior: str, n_draws: int, tries: Tries | None = None
) -> array[float]:
    """The segment's posterior draws (kept); read from `tries` when they are this segment's
    stream's (`stream_tries`): the same floats as from the stream itself."""
    if isinstance(item, SegmentDraws):
        return array("d", item.draws)
    key = (item, seed, prior, n_draws)
    found = KEPT.get(key)
    if found is None:
        found = None if tries is None else _draws_from(tries, item, seed, prior, n_draws)
        if found is None:
            found = _draws(item, seed, prior, n_draws)
        KEPT.put(key, found)
    return found


def _stream_of(item: SegmentCounts | PairedCounts, seed: int) -> random.Random:
    """The segment's own stream (one per seed, figure and key)."""
    return stream(seed, _what(item), list(item.key))


def _what(item: SegmentCounts | PairedCounts) -> str:
    return "rate" if isinstance(item, SegmentCounts) else "delta"


def stream_tries(item: Item, seed: int) -> Tries | None:
    """The segment's own stream as kept tries, for its draws at many counts (a margin
    search)."""
    if isinstance(item, SegmentDraws):
        return None
    return Tries(_stream_of(item, seed), of=(seed, _what(item), item.key))


def _draws(item: SegmentCounts | PairedCounts, seed: int, prior: str, n_draws: int) -> array[float]:
    a0 = PRIOR_COUNT[prior]
    rng = _stream_of(item, seed)
    if isinstance(item, SegmentCounts):
        return betas(rng, item.passed + a0, item.n - item.passed + a0, n_draws)
    # Dirichlet over the four cells; only candidate_only - baseline_only matters, so the
    # other two are one cell (the Dirichlet's aggregation property), and with S the share
    # of the two that matter, S ~ Beta(a_c + a_b, a_rest), and B the candidate's part of
    # it, B ~ Beta(a_c, a_b), independent of S: the delta is S * (2B - 1)
    ac, ab = item.candidate_only + a0, item.baseline_only + a0
    ar = item.both + item.neither + 2 * a0
    share, part = betas(rng, ac + ab, ar, n_draws), betas(rng, ac, ab, n_draws)
    return _delta(share, part)


def _delta(share: Sequence[float], part: Sequence[float]) -> array[float]:
    return array("d", [s * (2.0 * b - 1.0) for s, b in zip(share, part, strict=True)])


def _draws_from(
    tries: Tries, item: SegmentCounts | PairedCounts, seed: int, prior: str, n_draws: int
) -> array[float] | None:
    """`_draws` from the stream's kept tries; None when they are another stream's or the
    stream's tries are not pairs."""
    if tries.of != (seed, _what(item), item.key):
        return None
    a0 = PRIOR_COUNT[prior]
    if isinstance(item, SegmentCounts):
        got = cheng.betas(tries, 0, item.passed + a0, item.n - item.passed + a0, n_draws)
        return None if got is None else array("d", got[0])
    ac, ab = item.candidate_only + a0, item.baseline_only + a0
    ar = item.both + item.neither + 2 * a0
    share = cheng.betas(tries, 0, ac + ab, ar, n_draws)
    part = None if share is None else cheng.betas(tries, share[1], ac, ab, n_draws)
    return None if share is None or part is None else _delta(share[0], part[0])


def betas(rng: random.Random, a: float, b: float, n: int) -> array[float]:
    """n draws of Beta(a, b) by Cheng's (1978) rejection algorithms, as R's rbeta draws
    them: BB when both shapes exceed 1, BC otherwise (a segment with no pass or no
    failure has a shape of 1/2). Each try takes two uniforms, a log and an exp and most
    are accepted: about half the cost of G_a / (G_a + G_b) from two of Python's gamma
    draws (`random.betavariate`), and as exact. tries.betas reads kept tries with the same
    operations in the same order (the same floats): a change here is made there too. The
    constants are floats (1.0, 5.0, 709.0): the same values as ints, without the mixed
    arithmetic's slower path."""
    lo, hi = min(a, b), max(a, b)
    alpha, first = lo + hi, lo == a
    uniform, log, exp = rng.random, math.log, math.exp
    out = array("d", bytes(8 * n))
    if lo > 1:  # BB
        beta = math.sqrt((alpha - 2) / (2 * lo * hi - alpha))
        gamma = lo + 1 / beta
        for t in range(n):
            while True:
                u1 = uniform()
                if u1 <= 0.0:  # log(0): draw again
                    continue
                u2 = uniform()
                v = beta * log(u1 / (1.0 - u1))
                w = lo * exp(v) if v < 709.0 else BIG
                z = u1 * u1 * u2
                r = gamma * v - LOG4
                s = lo + r - w
                if s + ONE_PLUS_LOG5 >= 5.0 * z:
                    break
                lz = log(z)
                if s > lz or r + alpha * log(alpha / (hi + w)) >= lz:
                    break
            out[t] = w / (hi + w) if first else hi / (hi + w)
        return out
    beta, delta = 1 / lo, 1 + hi - lo  # BC
    k1 = delta * (0.0138889 + 0.0416667 * lo) / (hi * beta - 0.777778)
    k2 = 0.25 + (0.5 + 0.25 / delta) * lo
    for t in range(n):
        while True:
            u1 = uniform()
            if u1 <= 0.0:
                continue
            u2 = uniform()
            if u1 < 0.5:
                y = u1 * u2
                z = u1 * y
                if 0.25 * u2 + z - y >= k1:
                    continue
            else:
                z = u1 * u1 * u2
                if z >= k2 and z > 0.25:
                    continue
            v = beta * log(u1 / (1.0 - u1))
            w = hi * exp(v) if v < 709.0 else BIG
            if z <= 0.25 and u1 >= 0.5:
                break
            if z > 0.0 and alpha * (log(alpha / (lo + w)) + v) - LOG4 >= log(z):
                break
        out[t] = lo / (lo + w) if first else w / (lo + w)
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


def elementwise(
    op: Callable[[float, float], float], a: Iterable[float], b: Iterable[float]
) -> array[float]:
    """op(a[t], b[t]) for every draw t, as an array (operator's functions through a list:
    about twice as fast as float's own methods or an array filled from an iterator)."""
    return array("d", list(map(op, a, b)))


def pairwise(leaves: list[array[float]]) -> list[list[array[float]]]:
    """Every level of the pairwise sum of `leaves` (draw by draw), the leaves first and the
    total last: each node is its left child plus its right one, an odd one carried up
    (weighted.Plan sums the segments' contributions so, and redoes one path when a
    segment changes)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [
                elementwise(add, below[j], below[j + 1]) if j + 1 < len(below) else below[j]
                for j in range(0, len(below), 2)
            ]
        )
    return levels
