"""The decision's margin on a traffic-weighted figure (#28): how far the estimate is from
changing a gate rule's outcome, and whether the cases still open can change it.

Inputs, all explicit (a pure function of them):
- the segments' counts (`SegmentCounts` for a rate, `PairedCounts` for the paired delta),
  the `Weights` and the estimator's `Settings` (the same ones the gate measured with);
- the rule as a `Threshold`: its value, its side (`min`: the figure must be >= value;
  `max`: <= value, as gate rules read), which `bound` of the interval it reads and on
  which `basis` (covered traffic renormalised, or all traffic with the uncovered share at
  its worst or best);
- optionally the cases whose outcome can still change (untriaged or unaudited), per
  segment: `OpenCounts` for a rate, `OpenPaired` for a delta.

A flip is one case's candidate outcome changing. "down" lowers the figure: for a rate a
passing case fails; for the delta a case both runs passed becomes a regression
(both -> baseline_only), then, when none are left, an improvement is lost
(candidate_only -> neither). "up" is the reverse: a regression is cleared
(baseline_only -> both), then a case neither passed becomes an improvement
(neither -> candidate_only). Each flip moves the segment's point by 1/n_h.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from evaltui.estimate import segments as seg
from evaltui.estimate.weighted import (
    RANGE,
    Basis,
    Bound,
    Item,
    Key,
    Kind,
    PairedCounts,
    Plan,
    SegmentCounts,
    Settings,
    Weights,
)

Direction = Literal["down", "up"]


@dataclass(frozen=True)
class Threshold:
    value: float
    side: Literal["min", "max"]
    bound: Bound = "point"
    basis: Basis = "covered"

    def passes(self, figure: float) -> bool:
        return figure >= self.value if self.side == "min" else figure <= self.value


@dataclass(frozen=True)
class OpenCounts:
    """Cases of one segment whose outcome may still change, by their outcome now."""

    key: Key
    passing: int
    failing: int


@dataclass(frozen=True)
class OpenPaired:
    """Open cases of one segment by their cell of the paired table now."""

    key: Key
    both: int = 0
    candidate_only: int = 0
    baseline_only: int = 0
    neither: int = 0


@dataclass(frozen=True)
class SegmentFlips:
    key: Key
    direction: Direction
    available: int  # cases in the segment that can flip that way
    cases: int | None  # the fewest flips here that change the decision; None: none can


@dataclass(frozen=True)
class Margin:
    """How far a rule's outcome is from changing.

    `value`: the figure the rule reads (None when the basis has no figure: no covered
    traffic). `slack`: how far it is inside (> 0) or outside (< 0) the threshold, as a
    fraction (x100 for points). `direction`: the way the figure must move to change the
    outcome. `flips`: per covered segment, the fewest cases flipping that way that change
    it; `closest` the segment needing fewest. `locked`: whatever the open cases turn out
    to be, the outcome stays (checked at both extremes, every open case down and every
    open case up: the figure is monotone in each case's outcome); with no open case the
    outcome is locked. `if_all_down` / `if_all_up`: the figure at those extremes."""

    value: float | None
    passes: bool | None
    slack: float | None
    direction: Direction | None
    flips: tuple[SegmentFlips, ...]
    closest: SegmentFlips | None
    open_cases: int
    locked: bool
    if_all_down: float | None
    if_all_up: float | None


# -- flipping cases -------------------------------------------------------------------------


def _available(item: Item, direction: Direction) -> int:
    if isinstance(item, SegmentCounts):
        return item.passed if direction == "down" else item.n - item.passed
    assert isinstance(item, PairedCounts)
    if direction == "down":
        return item.both + item.candidate_only
    return item.baseline_only + item.neither


def _flip(item: Item, k: int, direction: Direction) -> Item:
    """`item` with k cases flipped (k <= _available)."""
    if isinstance(item, SegmentCounts):
        return dataclasses.replace(item, passed=item.passed + (-k if direction == "down" else k))
    assert isinstance(item, PairedCounts)
    b, c, r, x = item.both, item.candidate_only, item.baseline_only, item.neither
    if direction == "down":
        first = min(k, b)  # both -> baseline_only, then candidate_only -> neither
        b, r = b - first, r + first
        c, x = c - (k - first), x + (k - first)
    else:
        first = min(k, r)  # baseline_only -> both, then neither -> candidate_only
        r, b = r - first, b + first
        x, c = x - (k - first), c + (k - first)
    return PairedCounts(item.key, b, c, r, x)


def _open_extreme(item: Item, opened: OpenCounts | OpenPaired | None, d: Direction) -> Item:
    """Every open case of the segment flipped the one way it can flip in direction d."""
    if opened is None:
        return item
    if isinstance(item, SegmentCounts):
        assert isinstance(opened, OpenCounts)
        moved = opened.passing if d == "down" else opened.failing
        return dataclasses.replace(item, passed=item.passed + (-moved if d == "down" else moved))
    assert isinstance(item, PairedCounts) and isinstance(opened, OpenPaired)
    b, c, r, x = item.both, item.candidate_only, item.baseline_only, item.neither
    if d == "down":
        b, r, c, x = (
            b - opened.both,
            r + opened.both,
            c - opened.candidate_only,
            x + opened.candidate_only,
        )
    else:
        r, b, x, c = (
            r - opened.baseline_only,
            b + opened.baseline_only,
            x - opened.neither,
            c + opened.neither,
        )
    return PairedCounts(item.key, b, c, r, x)


def _check_open(item: Item | None, opened: OpenCounts | OpenPaired) -> int:
    """The number of open cases; refuses more open cases than the segment has."""
    if isinstance(opened, OpenCounts):
        if not isinstance(item, SegmentCounts):
            raise ValueError(f"open cases for {opened.key!r}, which has no counts")
        if min(opened.passing, opened.failing) < 0 or (
            opened.passing > item.passed or opened.failing > item.n - item.passed
        ):
            raise ValueError(f"segment {opened.key!r}: more open cases than cases")
        return opened.passing + opened.failing
    if not isinstance(item, PairedCounts):
        raise ValueError(f"open cases for {opened.key!r}, which has no paired counts")
    cells = ("both", "candidate_only", "baseline_only", "neither")
    if any(not 0 <= getattr(opened, f) <= getattr(item, f) for f in cells):
        raise ValueError(f"segment {opened.key!r}: more open cases than cases")
    return sum(getattr(opened, f) for f in cells)


def _value(plan: Plan, items: Sequence[Item], basis: Basis, bound: Bound) -> float | None:
    """`plan.run(items).figure(basis).at(bound)`, the same float, with only that
    figure's limit computed (the search asks for many)."""
    s, (lo_r, hi_r) = plan.settings, RANGE[plan.kind]
    by_key = {it.key: it for it in items}
    if {k: it.n for k, it in by_key.items()} != plan.n_of:
        raise ValueError("a plan's segments and sizes are fixed; make a new plan")
    if bound != "point" and s.method == "mover_wilson":  # no draws: the whole run
        fig = plan.run(items).figure(basis)
        return None if fig is None else fig.at(bound)
    cov = [by_key[k] for k in plan.covered]
    u_pt = plan.uncovered_point
    w_cov = math.fsum(plan.share[k] for k in plan.covered)
    s_pt = math.fsum(plan.share[it.key] * plan.point(it) for it in cov)
    if basis == "covered" and w_cov <= 0:
        return None
    shift = {"covered": 0.0, "worst": lo_r, "best": hi_r}[basis]
    point = s_pt / w_cov if basis == "covered" else s_pt + shift * u_pt
    if bound == "point":  # Plan.run's point, without the interval
        return point
    q = (1 - s.level) / 2 if bound == "lower" else 1 - (1 - s.level) / 2
    total, u = plan.total(cov), plan.uncovered_draws
    if u is None:
        c = 1.0 if plan.weights_uncertain or w_cov <= 0 else w_cov
        at = seg.quantile(sorted(total), q)
        limit = at / c if basis == "covered" else at + shift * u_pt
    elif basis == "covered":
        limit = seg.quantile(
            sorted(a / (1 - b) if b < 1 else 0.0 for a, b in zip(total, u, strict=True)), q
        )
    else:
        limit = seg.quantile(sorted(a + shift * b for a, b in zip(total, u, strict=True)), q)
    # as _figure: clamped to the range, widened to hold the point
    return max(lo_r, min(limit, point)) if bound == "lower" else min(hi_r, max(limit, point))


# -- the search -----------------------------------------------------------------------------


def _search(
    value: Callable[[int], float],
    crossed: Callable[[float], bool],
    target: float,
    now: float,
    hi: int,
    guess: int,
) -> int | None:
    """The k in 1..hi with crossed(value(k)) and not crossed(value(k - 1)) (k = 0 is now,
    not crossed); None when value(hi) has not crossed. Brackets the crossing from `guess`
    by extrapolating the line through (0, now) and the last probe, then narrows it by
    interpolation (the value is close to linear in k, so a few evaluations suffice). When
    the same end of the bracket moves twice running, the crossing is past the line's
    (Monte Carlo noise, or a curve): the next probe steps away from that end by 2, 4, 8...
    flips (a guess one flip off costs two probes, not a bisection from the far end); three
    probes that do not halve the bracket are followed by a bisection. For a monotone value
    the k found is the smallest; for Monte Carlo limits (monotone up to their noise) k
    flips still cross and k - 1 still do not."""
    if hi <= 0:
        return None
    lo, v_lo = 0, now
    k = min(max(guess, 1), hi)
    while True:
        v = value(k)
        if crossed(v):
            top, v_top = k, v
            break
        if k == hi:
            return None
        lo, v_lo = k, v
        slope = (v - now) / k
        ahead = (target - v) / slope if slope and (target - v) / slope > 0 else k
        k = min(hi, k + max(1, math.ceil(1.1 * ahead)))
    moved, gap, slow, width = "", 1, 0, top - lo
    while top - lo > 1:
        m = (lo + top) // 2
        if slow < 3 and v_top != v_lo:
            m = lo + math.ceil((target - v_lo) * (top - lo) / (v_top - v_lo))
            m = min(m, top - gap) if moved == "top" else max(m, lo + gap) if moved else m
        m = min(max(m, lo + 1), top - 1)
        v = value(m)
        side = "top" if crossed(v) else "lo"
        if side == "top":
            top, v_top = m, v
        else:
            lo, v_lo = m, v
        gap, moved = (gap * 2 if side == moved else 1), side
        slow = 0 if top - lo <= width // 2 else slow + 1
        width = top - lo if slow == 0 else width
    return top


def margin_of(
    kind: Kind,
    items: Sequence[Item],
    weights: Weights,
    threshold: Threshold,
    settings: Settings,
    opened: Sequence[OpenCounts] | Sequence[OpenPaired],
    make: Callable[[Kind, Sequence[Item], Weights, Settings], Plan] | None = None,
) -> Margin:
    """The margin on the figure a plan made by `make` computes (default: `Plan`, the
    estimate of the counts; estimate/margin_corrected.py's plans correct each cell)."""
    if threshold.bound == "point":  # a point does not depend on the interval's method
        settings = dataclasses.replace(settings, method="mover_wilson")
    if make is None:
        plan = Plan(kind, items, weights, settings, remember=True)
    else:
        plan = make(kind, items, weights, settings)
    by_key = {it.key: it for it in items}

    def value(variant: Sequence[Item]) -> float | None:
        return _value(plan, variant, threshold.basis, threshold.bound)

    now = value(items)
    open_by_key = {o.key: o for o in opened}
    n_open = sum(_check_open(by_key.get(k), o) for k, o in open_by_key.items())
    if now is None:
        return Margin(None, None, None, None, (), None, n_open, n_open == 0, None, None)
    passes = threshold.passes(now)
    slack = (now - threshold.value) if threshold.side == "min" else (threshold.value - now)
    direction: Direction = "down" if passes == (threshold.side == "min") else "up"

    def crossed(v: float | None) -> bool:
        return v is not None and threshold.passes(v) != passes

    def flipped(key: Key, k: int) -> float:
        v = value([(_flip(it, k, direction) if it.key == key else it) for it in items])
        return now if v is None else v

    # the first guess: the bound moves about as the point does, share / n per flip (over
    # the covered share on that basis)
    w_cov = sum(plan.share[k] for k in plan.covered) if threshold.basis == "covered" else 1.0
    flips = []
    for key in plan.covered:
        avail = _available(by_key[key], direction)
        per_flip = plan.share[key] / by_key[key].n / (w_cov or 1.0) * plan.flip_gain
        guess = int(abs(slack) / per_flip) + 1 if per_flip > 0 else avail
        find = functools.partial(flipped, key)
        if settings.method == "monte_carlo":  # every probe redraws this segment alone
            plan.tries = plan.stream_tries(by_key[key])
        cases = _search(find, crossed, threshold.value, now, avail, guess)
        flips.append(SegmentFlips(key, direction, avail, cases))
    plan.tries = None

    reachable = [f for f in flips if f.cases is not None]
    closest = min(reachable, key=lambda f: (f.cases, f.key)) if reachable else None

    down = value([_open_extreme(it, open_by_key.get(it.key), "down") for it in items])
    up = value([_open_extreme(it, open_by_key.get(it.key), "up") for it in items])
    locked = all(v is not None and threshold.passes(v) == passes for v in (down, up))
    return Margin(now, passes, slack, direction, tuple(flips), closest, n_open, locked, down, up)


def rate_margin(
    segments: Sequence[SegmentCounts],
    weights: Weights,
    threshold: Threshold,
    settings: Settings | None = None,
    open_cases: Sequence[OpenCounts] = (),
) -> Margin:
    """The margin of a rule on one run's traffic-weighted pass rate."""
    if not all(isinstance(s, SegmentCounts) for s in segments):
        raise TypeError("rate_margin takes SegmentCounts (a margin flips counted cases)")
    if not all(isinstance(o, OpenCounts) for o in open_cases):
        raise TypeError("rate_margin takes OpenCounts")
    return margin_of("rate", segments, weights, threshold, settings or Settings(), open_cases)


def delta_margin(
    segments: Sequence[PairedCounts],
    weights: Weights,
    threshold: Threshold,
    settings: Settings | None = None,
    open_cases: Sequence[OpenPaired] = (),
) -> Margin:
    """The margin of a rule on the paired candidate-minus-baseline delta."""
    if not all(isinstance(s, PairedCounts) for s in segments):
        raise TypeError("delta_margin takes PairedCounts")
    if not all(isinstance(o, OpenPaired) for o in open_cases):
        raise TypeError("delta_margin takes OpenPaired")
    return margin_of("delta", segments, weights, threshold, settings or Settings(), open_cases)
