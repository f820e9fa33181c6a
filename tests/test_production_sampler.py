"""The Monte Carlo path made faster (#28) and still exact: Cheng's beta samplers against the
exact Beta CDF, the paired delta's two-beta draw against the Dirichlet's moments, the
margin's one-figure estimate equal bit for bit to the whole estimate's, the kept draws
bounded. Timings are bench/production.py's, never asserted here."""

from __future__ import annotations

import math
import random
from array import array

import pytest

from evaltui.estimate import segments
from evaltui.estimate.binomial import betainc
from evaltui.estimate.margin import _available, _flip, _value
from evaltui.estimate.segments import PairedCounts, SegmentCounts, betas, draws
from evaltui.estimate.weighted import BASES, BOUNDS, Plan, Settings, Weights

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
