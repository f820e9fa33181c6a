"""The production estimate (#28): eval-set segment rates weighted by production traffic.

What users will see is sum(w_h * p_h): each segment's pass rate p_h weighted by the share
w_h of real traffic that lands in it. This module computes that figure for one run, and
the paired candidate-minus-baseline delta, with a 95% interval carrying every segment's
sampling uncertainty and, when the weights are request counts, the weights' own. It also
reports the traffic no eval case covers, as its own figure. Pure functions over counts:
no store, no I/O. docs/production.md has the method, formulas, assumptions, references.

- `monte_carlo` (the default): per-segment posteriors (Beta for a rate, Dirichlet for a
  paired table; Jeffreys prior unless `prior="uniform"`), a Dirichlet draw of the weights
  when they are counts, `draws` joint draws, percentile interval. Seeded: each segment
  and each traffic cell draws from its own stream, derived from (seed, segment key), so
  results do not depend on the order segments are given in, and changing one segment's
  counts changes only that segment's draws (what the margin search relies on).
- `mover_wilson`: closed form. Wilson limits per segment (Newcombe's method 10 for a
  paired table), combined by MOVER (Zou & Donner 2008). Fixed weights only: with count
  weights it ignores their uncertainty, and says so (`weights_uncertain=False`).
"""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import add, mul, truediv
from statistics import NormalDist
from typing import Literal, get_args

from evaltui.estimate import segments as seg
from evaltui.estimate.segments import (
    PRIOR_COUNT,
    Item,
    Key,
    PairedCounts,
    SegmentCounts,
    SegmentDraws,
    check_key,
    count_check,
    elementwise,
    quantile,
)

__all__ = [  # the segment inputs live in segments.py; callers import everything from here
    "BASES", "BOUNDS", "DEFAULT_DRAWS", "Basis", "Bound", "Estimate", "Figure", "Item", "Key",
    "Kind", "Method", "PairedCounts", "Plan", "Prior", "SegmentCounts", "SegmentDraws",
    "SegmentResult", "SegmentWeight", "Settings", "Weights", "estimate_delta",
    "estimate_from_draws", "estimate_rate",
]  # fmt: skip

Kind = Literal["rate", "delta"]
Method = Literal["monte_carlo", "mover_wilson"]
Prior = Literal["jeffreys", "uniform"]
Bound = Literal["lower", "point", "upper"]
Basis = Literal["covered", "worst", "best"]
Status = Literal["covered", "no_cases", "too_few", "no_traffic"]
BOUNDS: tuple[Bound, ...] = get_args(Bound)
BASES: tuple[Basis, ...] = get_args(Basis)

DEFAULT_DRAWS = 4000  # ~0.2 s per 10 segments; limits move by ~4% of a standard error
MIN_DRAWS = 100
# covered segments x draws held at once (8 bytes each: 40 MB; a margin holds two such sets)
MAX_DRAW_VALUES = 5_000_000
RANGE: dict[str, tuple[float, float]] = {"rate": (0.0, 1.0), "delta": (-1.0, 1.0)}


@dataclass(frozen=True)
class SegmentWeight:
    key: Key
    share: float  # of all traffic the weights describe, normalised (the shares sum to 1)
    count: int | None = None  # requests, when the weights are counts


@dataclass(frozen=True)
class Weights:
    """Traffic shares per segment; `from_counts` when they are request counts (then the
    Monte Carlo interval carries their uncertainty through a Dirichlet draw)."""

    attributes: tuple[str, ...]
    segments: tuple[SegmentWeight, ...]
    from_counts: bool

    def __post_init__(self) -> None:
        if not self.attributes or not self.segments:
            raise ValueError("weights need at least one attribute and one segment")
        keys = set()
        for s in self.segments:
            check_key(s.key)
            if len(s.key) != len(self.attributes):
                raise ValueError(f"segment {s.key!r} does not match attributes {self.attributes}")
            if s.key in keys:
                raise ValueError(f"segment {s.key!r} is weighted twice")
            keys.add(s.key)
            if not (math.isfinite(s.share) and s.share >= 0):
                raise ValueError(f"segment {s.key!r}: share {s.share!r} is not a finite share")
            if self.from_counts != (s.count is not None):
                raise ValueError(f"segment {s.key!r}: count given for some segments only")
        if abs(math.fsum(s.share for s in self.segments) - 1) > 1e-9:
            raise ValueError("the shares do not sum to 1 (use Weights.of_shares to normalise)")

    @classmethod
    def of_counts(cls, attributes: Sequence[str], counts: Iterable[tuple[Key, int]]) -> Weights:
        pairs = list(counts)
        for key, c in pairs:
            count_check(f"count of {key!r}", c)
        total = sum(c for _, c in pairs)
        if total <= 0:
            raise ValueError("the counts sum to 0: no traffic to weight by")
        segs = tuple(SegmentWeight(k, c / total, c) for k, c in pairs)
        return cls(tuple(attributes), segs, True)

    @classmethod
    def of_shares(cls, attributes: Sequence[str], shares: Iterable[tuple[Key, float]]) -> Weights:
        """Shares normalised to sum to 1 (the caller says so when they did not)."""
        pairs = list(shares)
        if not all(math.isfinite(s) and s >= 0 for _, s in pairs):
            raise ValueError("a share is negative or not finite")
        total = math.fsum(s for _, s in pairs)
        if total <= 0:
            raise ValueError("the shares sum to 0: no traffic to weight by")
        return cls(tuple(attributes), tuple(SegmentWeight(k, s / total) for k, s in pairs), False)


@dataclass(frozen=True)
class Settings:
    method: Method = "monte_carlo"
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    level: float = 0.95
    prior: Prior = "jeffreys"  # of each segment's rate or paired table
    # Dirichlet pseudo-count per traffic cell (count weights); None: 1 / cells (Perks)
    weight_prior: float | None = None
    min_n: int = 1  # a segment with fewer eval cases is uncovered traffic

    def __post_init__(self) -> None:
        if self.method not in get_args(Method):
            raise ValueError(f"method is one of {get_args(Method)}, not {self.method!r}")
        if self.prior not in PRIOR_COUNT:
            raise ValueError(f"prior is one of {tuple(PRIOR_COUNT)}, not {self.prior!r}")
        if not (isinstance(self.draws, int) and self.draws >= MIN_DRAWS):
            raise ValueError(f"draws must be a whole number of at least {MIN_DRAWS}")
        if not 0.5 <= self.level < 1:
            raise ValueError(f"level must be in [0.5, 1), not {self.level!r}")
        wp = self.weight_prior
        if wp is not None and not (isinstance(wp, int | float) and math.isfinite(wp) and wp > 0):
            raise ValueError("weight_prior must be a positive number")
        if not (isinstance(self.min_n, int) and self.min_n >= 1):
            raise ValueError("min_n must be a whole number of at least 1")


# -- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A point estimate and its interval at the estimate's level (lower <= point <= upper)."""

    point: float
    lower: float
    upper: float

    def at(self, bound: Bound) -> float:
        return {"lower": self.lower, "point": self.point, "upper": self.upper}[bound]


@dataclass(frozen=True)
class SegmentResult:
    key: Key
    n: int  # eval cases (0 when the runs have none)
    point: float | None  # the segment's rate or delta; None without a case
    share: float  # of traffic (0 when the weights do not name the segment)
    status: Status


@dataclass(frozen=True)
class Estimate:
    """The production estimate of one figure.

    `covered`: over covered traffic only, the weights renormalised to it (None when no
    traffic is covered). `worst` / `best`: over all traffic, the uncovered share counted
    at the figure's worst / best value (a rate of 0 / 1; a delta of -1 / +1): bounds that
    assume nothing about what no case tested. `uncovered_share`: traffic in segments with
    no eval case or fewer than `min_n`, with its interval when the weights are counts."""

    kind: Kind
    method: Method
    level: float
    draws: int  # 0 for the closed form
    seed: int
    prior: Prior
    weights_uncertain: bool  # the interval carries the weights' own uncertainty
    covered: Figure | None
    worst: Figure
    best: Figure
    uncovered_share: Figure
    segments: tuple[SegmentResult, ...]  # sorted by key

    def figure(self, basis: Basis) -> Figure | None:
        return {"covered": self.covered, "worst": self.worst, "best": self.best}[basis]

    @property
    def uncovered(self) -> tuple[SegmentResult, ...]:
        """Traffic cells no estimate could use: no eval case, or fewer than `min_n`."""
        return tuple(s for s in self.segments if s.status in ("no_cases", "too_few"))

    @property
    def unweighted(self) -> tuple[SegmentResult, ...]:
        """Segments with eval cases that the weights do not name (weight 0)."""
        return tuple(s for s in self.segments if s.status == "no_traffic")


def _figure(point: float, lower: float, upper: float, kind: Kind) -> Figure:
    """Clamped to the figure's range and widened to hold the point: a percentile interval
    can miss it at the edges (x = 0 or n), where Brown, Cai & DasGupta's (2001) Jeffreys
    interval sets the limit to the point (0 or 1) for the same reason."""
    lo_r, hi_r = RANGE[kind]
    return Figure(point, max(lo_r, min(lower, point)), min(hi_r, max(upper, point)))


# -- the estimate ---------------------------------------------------------------------------


class Plan:
    """Segments classified against the weights, and the weights' draws, made once; then
    `run` estimates for counts with the same keys and sizes (the margin search varies one
    segment's counts and, with `remember`, redraws only that segment)."""

    def __init__(
        self,
        kind: Kind,
        items: Sequence[Item],
        weights: Weights,
        settings: Settings,
        *,
        remember: bool = False,
    ) -> None:
        self.kind, self.weights, self.settings = kind, weights, settings
        by_key: dict[Key, Item] = {}
        for it in items:
            if len(it.key) != len(weights.attributes):
                raise ValueError(f"segment {it.key!r} does not match {weights.attributes}")
            if it.key in by_key:
                raise ValueError(f"segment {it.key!r} is given twice")
            by_key[it.key] = it
        share = {s.key: s for s in weights.segments}
        self.n_of = {k: it.n for k, it in by_key.items()}
        self.covered = sorted(
            k for k, s in share.items() if self.n_of.get(k, 0) >= max(1, settings.min_n)
        )
        self.share = {k: s.share for k, s in share.items()}
        supplied = [it for it in items if isinstance(it, SegmentDraws)]
        if supplied and len(supplied) != len(items):
            raise ValueError("give either counts or draws for every segment, not a mix")
        self.n_draws = len(supplied[0].draws) if supplied else settings.draws
        if any(len(it.draws) != self.n_draws for it in supplied) or self.n_draws < MIN_DRAWS:
            raise ValueError(f"every segment needs the same number of draws, >= {MIN_DRAWS}")
        if supplied and settings.method != "monte_carlo":
            raise ValueError("supplied draws are combined by monte_carlo only")
        covered = set(self.covered)
        uncovered = [k for k in share if k not in covered]
        self.uncovered_point = math.fsum(self.share[k] for k in uncovered)
        self.weights_uncertain = weights.from_counts and settings.method == "monte_carlo"
        if settings.method == "monte_carlo" and len(self.covered) * self.n_draws > MAX_DRAW_VALUES:
            raise ValueError(
                f"{len(self.covered)} covered segments x {self.n_draws} draws is more than "
                f"{MAX_DRAW_VALUES:,} values held at once: pass fewer draws"
            )
        # per covered cell, its weight in each draw (a Dirichlet when the weights are counts)
        self.w: dict[Key, array[float]] = {}
        self.uncovered_draws: array[float] | None = None
        if self.weights_uncertain:
            self.w, self.uncovered_draws = _weight_draws(
                weights, tuple(self.covered), settings.seed, self.n_draws, settings.weight_prior
            )
        # the draws of the counts given here, kept for runs that vary one segment's counts
        self.cache: dict[Item, array[float]] = {}
        self.keep = frozenset(items) if remember else frozenset()
        # and their pairwise sums (`_total`)
        self.base = [by_key[k] for k in self.covered] if remember else []
        self.tree: list[list[array[float]]] = []
        # the stream of the one segment a margin search is redrawing, read once
        self.tries: seg.Tries | None = None
        self.segments = self._results(by_key, share)

    def _results(self, by_key: dict[Key, Item], share: dict[Key, SegmentWeight]) -> tuple:
        out = []
        for k in sorted(set(by_key) | set(share)):
            n = self.n_of.get(k, 0)
            point = self.point(by_key[k]) if n else None
            if k not in share:
                status: Status = "no_traffic"
            elif n == 0:
                status = "no_cases"
            else:
                status = "covered" if k in self.covered else "too_few"
            out.append(SegmentResult(k, n, point, self.share.get(k, 0.0), status))
        return tuple(out)

    # hooks a plan of another per-segment figure overrides (estimate/margin_corrected.py):
    # the segment's point, its draws (from `tries` when they are its stream's), its stream
    flip_gain = 1.0  # the figure's move per flip, as a multiple of the point's 1/n_h

    def point(self, item: Item) -> float:
        return seg.point(item)

    def draws_of(self, item: Item) -> array[float]:
        return seg.draws(item, self.settings.seed, self.settings.prior, self.n_draws, self.tries)

    def stream_tries(self, item: Item) -> seg.Tries | None:
        return seg.stream_tries(item, self.settings.seed)

    def _contribution(self, item: Item) -> array[float]:
        """w_h * p_h in every draw."""
        terms = self._terms(item)
        return terms if isinstance(terms, array) else array("d", list(terms))

    def _terms(self, item: Item) -> Iterable[float]:
        """w_h * p_h in every draw: the kept array, or an iterator over them (a run that
        varies one segment adds them into its path to the root without an array between)."""
        if item in self.cache:
            return self.cache[item]
        p = self.draws_of(item)
        w = self.w.get(item.key)
        terms = map(mul, w if w is not None else repeat(self.share[item.key]), p)
        if item in self.keep:
            self.cache[item] = array("d", list(terms))
            return self.cache[item]
        return terms

    def run(self, items: Sequence[Item]) -> Estimate:
        by_key = {it.key: it for it in items}
        if {k: it.n for k, it in by_key.items()} != self.n_of:
            raise ValueError("a plan's segments and sizes are fixed; make a new plan")
        s, kind = self.settings, self.kind
        cov = [by_key[k] for k in self.covered]
        lo_r, hi_r = RANGE[kind]
        u_pt = self.uncovered_point
        w_cov = math.fsum(self.share[k] for k in self.covered)
        s_pt = math.fsum(self.share[it.key] * self.point(it) for it in cov)
        points = (s_pt / w_cov if w_cov > 0 else None, s_pt + lo_r * u_pt, s_pt + hi_r * u_pt)
        if s.method == "mover_wilson":  # Zou & Donner's MOVER for a weighted sum
            z = NormalDist().inv_cdf(1 - (1 - s.level) / 2)
            lims = [seg.limits(it, z) for it in cov]
            pts = [seg.point(it) for it in cov]
            ws = [self.share[it.key] for it in cov]
            down = math.sqrt(
                math.fsum((w * (p - lim[0])) ** 2 for w, p, lim in zip(ws, pts, lims, strict=True))
            )
            up = math.sqrt(
                math.fsum((w * (lim[1] - p)) ** 2 for w, p, lim in zip(ws, pts, lims, strict=True))
            )
            c = w_cov if w_cov > 0 else 1.0
            limits = [
                ((s_pt - down) / c, (s_pt + up) / c),
                (s_pt - down + lo_r * u_pt, s_pt + up + lo_r * u_pt),
                (s_pt - down + hi_r * u_pt, s_pt + up + hi_r * u_pt),
            ]
            return self._estimate(points, limits, (u_pt, u_pt), draws=0)
        total = self.total(cov)
        q = ((1 - s.level) / 2, 1 - (1 - s.level) / 2)

        def interval(values: Iterable[float]) -> tuple[float, float]:
            v = sorted(values)
            return quantile(v, q[0]), quantile(v, q[1])

        u = self.uncovered_draws
        if u is None:  # fixed weights (the uncovered share is u_pt), or every cell covered
            c = 1.0 if self.weights_uncertain or w_cov <= 0 else w_cov
            lo_s, hi_s = interval(total)
            limits = [
                (lo_s / c, hi_s / c),
                (lo_s + lo_r * u_pt, hi_s + lo_r * u_pt),
                (lo_s + hi_r * u_pt, hi_s + hi_r * u_pt),
            ]
            return self._estimate(points, limits, (u_pt, u_pt), draws=self.n_draws)
        limits = [
            interval(a / (1 - b) if b < 1 else 0.0 for a, b in zip(total, u, strict=True)),
            interval(a + lo_r * b for a, b in zip(total, u, strict=True)),
            interval(a + hi_r * b for a, b in zip(total, u, strict=True)),
        ]
        return self._estimate(points, limits, interval(u), draws=self.n_draws)

    def total(self, cov: list[Item]) -> array[float]:
        """sum_h w_h(t) p_h(t) over the covered segments, summed pairwise in key order (so
        the sums do not depend on the order given). A run that varies one remembered
        segment adds only along its path to the root: log2(segments) sums, the same
        floats as summing from the leaves."""
        if not cov:
            return array("d", bytes(8 * self.n_draws))
        if not self.base:
            return seg.pairwise([self._contribution(it) for it in cov])[-1][0]
        if not self.tree:
            self.tree = seg.pairwise([self._contribution(it) for it in self.base])
        changed = [i for i, (a, b) in enumerate(zip(cov, self.base, strict=True)) if a != b]
        if len(changed) > 1:
            return seg.pairwise([self._contribution(it) for it in cov])[-1][0]
        if not changed:
            return self.tree[-1][0]
        i, node = changed[0], self._terms(cov[changed[0]])
        for level in self.tree[:-1]:  # iterators, one array at the root
            if i % 2:
                node = map(add, level[i - 1], node)
            elif i + 1 < len(level):
                node = map(add, node, level[i + 1])
            i //= 2
        return node if isinstance(node, array) else array("d", list(node))

    def _estimate(
        self,
        points: tuple[float | None, float, float],
        limits: list[tuple[float, float]],
        uncovered: tuple[float, float],
        draws: int,
    ) -> Estimate:
        s, kind = self.settings, self.kind
        cov_pt, worst_pt, best_pt = points
        u_pt = self.uncovered_point
        return Estimate(
            kind=kind,
            method=s.method,
            level=s.level,
            draws=draws,
            seed=s.seed,
            prior=s.prior,
            weights_uncertain=self.weights_uncertain,
            covered=None if cov_pt is None else _figure(cov_pt, *limits[0], kind),
            worst=_figure(worst_pt, *limits[1], kind),
            best=_figure(best_pt, *limits[2], kind),
            uncovered_share=Figure(u_pt, min(uncovered[0], u_pt), max(uncovered[1], u_pt)),
            segments=self.segments,
        )


@functools.lru_cache(maxsize=4)
def _weight_draws(
    weights: Weights, covered: tuple[Key, ...], seed: int, D: int, a0: float | None
) -> tuple[dict[Key, array[float]], array[float] | None]:
    """Per covered cell, its weight in each draw (a Dirichlet over the counts), and the
    uncovered share in each; made once for the estimates and margins of one decision,
    which share them (the plans only read them)."""
    share = {s.key: s for s in weights.segments}
    if a0 is None:  # Perks: one pseudo-request in all, however finely the file splits
        a0 = 1 / len(share)
    total, w = array("d", bytes(8 * D)), {}
    for k in covered:
        rng = seg.stream(seed, "weight", list(k))
        gamma, shape = rng.gammavariate, (share[k].count or 0) + a0
        w[k] = array("d", [gamma(shape, 1.0) for _ in range(D)])
        total = elementwise(add, total, w[k])
    # every uncovered cell at once: a sum of gammas of one scale is a gamma
    uncovered, u = [k for k in share if k not in set(covered)], None
    if uncovered:
        shape = math.fsum((share[k].count or 0) + a0 for k in uncovered)
        rng = seg.stream(seed, "weight-uncovered")
        g = array("d", [rng.gammavariate(shape, 1.0) for _ in range(D)])
        total = elementwise(add, total, g)
        u = elementwise(truediv, g, total)
    return {k: elementwise(truediv, w[k], total) for k in covered}, u


def estimate_rate(
    segments: Sequence[SegmentCounts], weights: Weights, settings: Settings | None = None
) -> Estimate:
    """One run's traffic-weighted pass rate (candidate, baseline or fallback alike)."""
    if not all(isinstance(s, SegmentCounts) for s in segments):
        raise TypeError("estimate_rate takes SegmentCounts")
    return Plan("rate", segments, weights, settings or Settings()).run(segments)


def estimate_delta(
    segments: Sequence[PairedCounts], weights: Weights, settings: Settings | None = None
) -> Estimate:
    """The paired candidate-minus-baseline delta of the traffic-weighted pass rate."""
    if not all(isinstance(s, PairedCounts) for s in segments):
        raise TypeError("estimate_delta takes PairedCounts")
    return Plan("delta", segments, weights, settings or Settings()).run(segments)


def estimate_from_draws(
    segments: Sequence[SegmentDraws],
    weights: Weights,
    kind: Kind = "rate",
    settings: Settings | None = None,
) -> Estimate:
    """The same estimate from per-segment figures with their draws (e.g. grader-corrected
    rates, or corrected deltas): the number of draws is the caller's."""
    if not all(isinstance(s, SegmentDraws) for s in segments):
        raise TypeError("estimate_from_draws takes SegmentDraws")
    if kind not in RANGE:
        raise ValueError(f"kind is 'rate' or 'delta', not {kind!r}")
    lo, hi = RANGE[kind]
    for s in segments:
        if not all(lo <= x <= hi for x in (s.point, *s.draws)):
            raise ValueError(f"segment {s.key!r}: a {kind} lies in [{lo:g}, {hi:g}]")
    return Plan(kind, segments, weights, settings or Settings()).run(segments)
