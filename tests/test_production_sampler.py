"""The Monte Carlo path made faster (#28) and still exact: Cheng's beta samplers against the
exact Beta CDF, the paired delta's two-beta draw against the Dirichlet's moments, the
margin's one-figure estimate equal bit for bit to the whole estimate's, the kept draws
bounded, a margin search's draws from its segment's kept tries equal to the stream's, and
the margin so found equal to the plain search's. Timings are bench/production.py's, never
asserted here."""

from __future__ import annotations

import math
import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaltui.estimate import margin, segments, tries
from evaltui.estimate.binomial import betainc
from evaltui.estimate.margin import (
    Threshold,
    _available,
    _flip,
    _value,
    delta_margin,
    rate_margin,
)
from evaltui.estimate.segments import PairedCounts, SegmentCounts, betas, draws
from evaltui.estimate.tries import Tries
from evaltui.estimate.weighted import (
    BASES,
    BOUNDS,
    Plan,
    Settings,
    Weights,
    estimate_delta,
    estimate_rate,
)

N = 4000
KS_1PCT = 1.63 / math.sqrt(N)  # Kolmogorov-Smirnov critical value at 1%


@pytest.mark.parametrize(
    ("a", "b"),
    [(0.5, 0.5), (0.5, 30.5), (40.5, 0.5), (1.0, 3.0), (3.5, 1.5), (1.5, 3.5),
     (45.5, 5.5), (225000.5, 25000.5), (0.5, 200000.5)],
)  # fmt: skip
def test_cheng_beta_draws_follow_the_exact_beta(a, b):
    """BB (both shapes > 1) and BC (a shape <= 1: a segment with no pass or no failure)."""
    xs = sorted(betas(random.Random(f"{a}/{b}"), a, b, N))
    assert all(0.0 <= x <= 1.0 for x in xs)
    ks = max(
        max(abs((i + 1) / N - betainc(a, b, x)), abs(i / N - betainc(a, b, x)))
        for i, x in enumerate(xs)
    )
    assert ks < KS_1PCT, (a, b, ks)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert abs(sum(xs) / N - a / (a + b)) < 4 * sd / math.sqrt(N)


@pytest.mark.parametrize(
    "cells", [(3, 0, 1, 1), (5, 0, 0, 0), (10, 1, 1, 0), (100, 5, 3, 20), (4, 0, 3, 5)]
)
def test_the_paired_delta_draws_have_the_dirichlets_moments(cells):
    """delta = S (2B - 1), S ~ Beta(a_c + a_b, a_rest), B ~ Beta(a_c, a_b): the Dirichlet's
    pi_c - pi_b, whose mean and variance are known exactly."""
    item = PairedCounts(("k",), *cells)
    d = draws(item, 3, "jeffreys", 20_000)
    ac, ab = item.candidate_only + 0.5, item.baseline_only + 0.5
    total = item.n + 2.0
    mean = (ac - ab) / total
    var = (ac * (total - ac) + ab * (total - ab) + 2 * ac * ab) / (total**2 * (total + 1))
    m = sum(d) / len(d)
    v = sum((x - m) ** 2 for x in d) / (len(d) - 1)
    assert abs(m - mean) < 4 * math.sqrt(var / len(d))
    assert abs(v / var - 1) < 0.05


def test_the_margins_one_figure_is_the_whole_estimates_bit_for_bit():
    rng = random.Random(28)
    keys = [(f"s{i}",) for i in range(9)]
    for kind in ("rate", "delta"):
        for weights in (
            Weights.of_counts(("seg",), [(k, rng.randint(0, 500)) for k in keys[:-1]] + [(("x",), 40)]),
            Weights.of_shares(("seg",), [(k, rng.random()) for k in keys]),
        ):  # fmt: skip
            items: list = []
            for k in keys[1:]:  # keys[0] has no case: uncovered traffic
                n = rng.randint(1, 60)
                if kind == "rate":
                    items.append(SegmentCounts(k, n, rng.randint(0, n)))
                else:
                    b, c, r = rng.randint(0, n), rng.randint(0, 5), rng.randint(0, 5)
                    items.append(PairedCounts(k, b, c, r, rng.randint(0, 5)))
            plan = Plan(kind, items, weights, Settings(draws=300, seed=5), remember=True)
            fresh = Plan(kind, items, weights, Settings(draws=300, seed=5))
            for _ in range(6):
                j, direction = rng.randrange(len(items)), rng.choice(["down", "up"])
                variant = list(items)
                k = rng.randint(0, _available(items[j], direction))
                variant[j] = _flip(items[j], k, direction)
                if rng.random() < 0.3 and j:  # two segments at once: summed from the leaves
                    variant[0] = _flip(items[0], _available(items[0], "down"), "down")
                est = fresh.run(variant)
                for basis in BASES:
                    for bound in BOUNDS:
                        fig = est.figure(basis)
                        want = None if fig is None else fig.at(bound)
                        assert _value(plan, variant, basis, bound) == want, (kind, basis, bound)


def test_the_kept_draws_stay_within_their_budget():
    kept = segments._Kept(1000)
    for i in range(10):
        kept.put((i,), array("d", bytes(8 * 300)))
        assert kept.held <= 1000
    assert kept.get((9,)) is not None and kept.get((0,)) is None
    kept.put(("big",), array("d", bytes(8 * 2000)))  # larger than the budget: not kept
    assert kept.get(("big",)) is None and kept.held <= 1000


# -- a margin search reads its segment's stream once (tries.py) ------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.5, 1.0, 1.5, 2.5, 7.5, 45.5, 300.5, 25000.5, 350000.5]),
            st.sampled_from([0.5, 1.0, 3.5, 20.5, 5000.5, 50000.5]),
        ),
        min_size=1,
        max_size=3,
    ),
    st.integers(0, 2**32),
    st.integers(1, 700),
)
def test_kept_tries_give_the_streams_own_draws(shapes, seed, n):
    """BB and BC, one beta after another from the same stream (as the paired delta draws
    two): every float equal, and the next beta starts where the stream's does."""
    rng, kept, pos = random.Random(seed), Tries(random.Random(seed)), 0
    for a, b in shapes:
        want = list(betas(rng, a, b, n))
        got = tries.betas(kept, pos, a, b, n)
        assert got is not None
        assert got[0] == want, (a, b)
        pos = got[1]


@pytest.mark.parametrize("seed", range(6))
def test_a_margin_probe_from_kept_tries_is_the_streams(seed):
    """The counts a margin search reaches (many flips in one segment, a cell emptied, shapes
    crossing 1 between BB and BC), drawn from one Tries, are the stream's own draws."""
    rng = random.Random(seed)
    n = rng.choice([6, 40, 900, 30000])
    both = rng.randint(0, n)
    c = rng.randint(0, n - both)
    r = rng.randint(0, n - both - c)
    items: list = [
        SegmentCounts(("s",), n, both + c),
        PairedCounts(("s",), both, c, r, n - both - c - r),
    ]
    for item in items:
        kept = segments.stream_tries(item, seed)
        for _ in range(6):
            direction = rng.choice(["down", "up"])
            variant = _flip(item, rng.randint(0, _available(item, direction)), direction)
            for prior in ("jeffreys", "uniform"):
                got = segments._draws_from(kept, variant, seed, prior, 500)
                assert got == segments._draws(variant, seed, prior, 500)
        # another segment's or seed's tries are not read
        assert segments._draws_from(kept, item, seed + 1, "jeffreys", 500) is None


def test_a_stream_whose_try_starts_with_zero_is_drawn_from_the_stream():
    """segments.betas draws a first uniform of 0.0 again alone, shifting the pairs: kept
    tries refuse such a stream and `draws` falls back to the stream itself."""

    class Zeroes(random.Random):
        def random(self) -> float:
            return 0.0 if self.getrandbits(4) == 0 else super().random()

    assert tries.betas(Tries(Zeroes(1)), 0, 3.5, 5.5, 200) is None
    item = SegmentCounts(("s",), 40, 30)
    fake = Tries(Zeroes(1), of=(4, "rate", ("s",)))
    segments.KEPT.clear()
    assert draws(item, 4, "jeffreys", 300, fake) == segments._draws(item, 4, "jeffreys", 300)


def _plain_value(plan, items, basis, bound):
    """The figure re-estimated from the counts: a plan of its own, nothing kept."""
    fig = Plan(plan.kind, items, plan.weights, plan.settings).run(items).figure(basis)
    return None if fig is None else fig.at(bound)


@pytest.mark.parametrize("kind", ["rate", "delta"])
@pytest.mark.parametrize(("bound", "basis"), [("lower", "covered"), ("upper", "worst")])
def test_the_margin_search_finds_what_the_plain_search_finds(kind, bound, basis, monkeypatch):
    """The margin with its probes drawn from kept tries, added along one path and computing
    one limit equals the margin whose every probe is a whole estimate made afresh."""
    rng = random.Random(f"{kind}{bound}")
    keys = [(f"c{i}",) for i in range(6)]
    sizes = [8, 30, 120, 700, 4000, 20000]
    rates, paired = [], []
    for k, n in zip(keys, sizes, strict=True):
        p = 0.8 + 0.15 * rng.random()
        both, reg = int(n * p * 0.95), int(n * p) - int(n * p * 0.95)
        imp = int(n * (1 - p) * 0.3)
        rates.append(SegmentCounts(k, n, both + imp))
        paired.append(PairedCounts(k, both, imp, reg, n - both - imp - reg))
    weights = Weights.of_counts(
        ("c",), [(k, rng.randint(100, 9000)) for k in keys] + [(("u",), 50)]
    )
    st_ = Settings(draws=1000, seed=rng.randint(0, 99))
    items, est_fn, margin_fn = (
        (rates, estimate_rate, rate_margin)
        if kind == "rate"
        else (paired, estimate_delta, delta_margin)
    )
    fig = est_fn(items, weights, st_).figure(basis)
    assert fig is not None
    for offset in (-0.004, 0.004):  # passing (flips down), failing (flips up)
        th = Threshold(fig.at(bound) + offset, "min", bound, basis)
        segments.KEPT.clear()
        fast = margin_fn(items, weights, th, st_)
        segments.KEPT.clear()
        with monkeypatch.context() as m:
            m.setattr(margin, "_value", _plain_value)
            plain = margin_fn(items, weights, th, st_)
        assert fast == plain
        assert sum(f.cases is not None for f in fast.flips) >= 2
