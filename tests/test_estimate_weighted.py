"""The production estimate (#28): traffic-weighted rates and deltas, uncovered traffic, the
decision's margin. Expected values come from tests/worked/weighted_reference.py, which
computes them without evaltui (exact fractions, statsmodels, numpy with 2,000,000 draws)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui.estimate.margin import (
    OpenCounts,
    OpenPaired,
    Threshold,
    delta_margin,
    rate_margin,
)
from evaltui.estimate.segments import newcombe_paired
from evaltui.estimate.weighted import (
    PairedCounts,
    SegmentCounts,
    SegmentDraws,
    Settings,
    Weights,
    estimate_delta,
    estimate_from_draws,
    estimate_rate,
)
from evaltui.stats import Z95

LONG = bool(os.environ.get("EVALTUI_LONG"))
ATTRS = ("topic",)
SHARES = Weights.of_shares(
    ATTRS,
    [(("billing",), 0.4), (("account access",), 0.3), (("refunds",), 0.2), (("policy",), 0.1)],
)
COUNTS = Weights.of_counts(
    ATTRS,
    [(("billing",), 400), (("account access",), 300), (("refunds",), 200), (("policy",), 100)],
)
# the runs: no "policy" case (uncovered traffic); "shipping" cases the weights do not name
RATE = [
    SegmentCounts(("billing",), 50, 45),
    SegmentCounts(("account access",), 10, 7),
    SegmentCounts(("refunds",), 200, 150),
    SegmentCounts(("shipping",), 5, 5),
]
PAIRED = [
    PairedCounts(("billing",), 40, 5, 3, 2),
    PairedCounts(("account access",), 5, 1, 2, 2),
    PairedCounts(("refunds",), 140, 10, 15, 35),
]
MC = Settings(draws=20_000, seed=7)  # Monte Carlo error of a limit ~0.001 at this size
MOVER = Settings(method="mover_wilson")
TOL = 0.006  # evaltui's 20,000 seeded draws against the 2,000,000-draw reference


def close(got: tuple[float, float], want: tuple[float, float], tol: float = TOL) -> bool:
    return abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol


# -- worked examples ------------------------------------------------------------------------


def test_points_and_coverage_match_the_exact_fractions():
    est = estimate_rate(RATE, SHARES, MOVER)
    # rate_points = {'covered': 0.8, 'worst': 0.72, 'best': 0.82, 'uncovered': 0.1}
    assert est.covered is not None
    assert est.covered.point == pytest.approx(0.8, abs=1e-12)
    assert est.worst.point == pytest.approx(0.72, abs=1e-12)
    assert est.best.point == pytest.approx(0.82, abs=1e-12)
    assert est.uncovered_share.point == pytest.approx(0.1, abs=1e-12)
    status = {s.key[0]: s.status for s in est.segments}
    assert status == {"billing": "covered", "account access": "covered", "refunds": "covered",
                      "policy": "no_cases", "shipping": "no_traffic"}  # fmt: skip
    assert [s.key for s in est.uncovered] == [("policy",)]
    assert [s.key for s in est.unweighted] == [("shipping",)]


def test_a_segment_without_cases_is_uncovered_traffic_equal_to_its_share():
    """The issue's check: a weights cell with 0 eval cases; uncovered traffic equals its
    share and the estimate's covered segments exclude it, and say so."""
    segs = [*RATE, SegmentCounts(("policy",), 0, 0)]
    for s in (MOVER, Settings(draws=200)):
        est = estimate_rate(segs, SHARES, s)
        assert est.uncovered_share.point == pytest.approx(0.1)
        (policy,) = est.uncovered
        assert policy.key == ("policy",) and policy.n == 0 and policy.share == pytest.approx(0.1)
        assert policy.point is None and policy.status == "no_cases"
        assert est.covered is not None and est.covered.point == pytest.approx(0.8)


def test_mover_wilson_matches_the_reference():
    est = estimate_rate(RATE, SHARES, MOVER)
    assert est.covered is not None and est.draws == 0 and not est.weights_uncertain
    # rate_mover_covered = (0.686115813189183, 0.8698924823157259)
    assert close(
        (est.covered.lower, est.covered.upper), (0.686115813189183, 0.8698924823157259), 1e-9
    )
    # rate_mover_worst = (0.6175042318702649, 0.7829032340841535); best = worst + 0.1
    assert close((est.worst.lower, est.worst.upper), (0.6175042318702649, 0.7829032340841535), 1e-9)
    assert close((est.best.lower, est.best.upper), (0.7175042318702649, 0.8829032340841535), 1e-9)


def test_monte_carlo_with_fixed_shares_matches_the_reference():
    est = estimate_rate(RATE, SHARES, MC)
    assert est.covered is not None and est.draws == 20_000 and not est.weights_uncertain
    # rate_mc_fixed_covered = (0.686248481918795, 0.8757492286389492)
    assert close((est.covered.lower, est.covered.upper), (0.686248481918795, 0.8757492286389492))
    # rate_mc_fixed_worst = (0.6176236337269154, 0.7881743057750543)
    assert close((est.worst.lower, est.worst.upper), (0.6176236337269154, 0.7881743057750543))
    # rate_mc_fixed_best = (0.7176236337269154, 0.8881743057750543)
    assert close((est.best.lower, est.best.upper), (0.7176236337269154, 0.8881743057750543))


def test_count_weights_carry_their_own_uncertainty():
    est = estimate_rate(RATE, COUNTS, MC)
    assert est.weights_uncertain and est.covered is not None
    # rate_counts_points = {'covered': 0.8, 'uncovered': 0.1}
    assert est.covered.point == pytest.approx(0.8) and est.uncovered_share.point == pytest.approx(
        0.1
    )
    # rate_mc_counts_covered = (0.6856836367255449, 0.8758830081403314)
    assert close((est.covered.lower, est.covered.upper), (0.6856836367255449, 0.8758830081403314))
    # rate_mc_counts_worst = (0.6161547550095542, 0.7900196507644137)
    assert close((est.worst.lower, est.worst.upper), (0.6161547550095542, 0.7900196507644137))
    # rate_mc_counts_best = (0.7169815640456273, 0.8883604107041267)
    assert close((est.best.lower, est.best.upper), (0.7169815640456273, 0.8883604107041267))
    # rate_mc_counts_uncovered = (0.08235533183275105, 0.11947630441129467)
    unc = est.uncovered_share
    assert close((unc.lower, unc.upper), (0.08235533183275105, 0.11947630441129467))
    # the closed form cannot carry them, and says so
    assert not estimate_rate(RATE, COUNTS, MOVER).weights_uncertain


def test_empty_traffic_cells_do_not_swamp_the_weights():
    """Perks' prior (1 / cells each): a file listing 1,000 cells with no request beside
    4 cells of 100 adds one pseudo-request in all, not 500."""
    empty = [((f"e{i}",), 0) for i in range(1000)]
    real = [
        (("billing",), 100),
        (("account access",), 100),
        (("refunds",), 100),
        (("policy",), 100),
    ]
    est = estimate_rate(RATE, Weights.of_counts(ATTRS, real + empty), Settings(draws=1000))
    assert est.uncovered_share.point == pytest.approx(0.25)
    assert est.uncovered_share.upper < 0.33  # Jeffreys' half per cell would put it near 0.6
    assert {s.status for s in est.uncovered} == {"no_cases"} and len(est.uncovered) == 1001


def test_newcombe_paired_interval_matches_the_published_example():
    """Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012): 59, 6, 16, 80 gives
    -0.0621 (95% CI -0.1186 to -0.0046) by Newcombe's square-and-add."""
    lo, hi = newcombe_paired(PairedCounts(("x",), 59, 6, 16, 80), Z95)
    assert (round(lo, 4), round(hi, 4)) == (-0.1186, -0.0046)


def test_paired_delta_matches_the_reference():
    # delta_newcombe_segments (billing, account access, refunds)
    want = [(-0.08414842201210897, 0.16620557064282288), (-0.4236365661654312, 0.25622649125381797),
            (-0.07549652456836028, 0.025219587592677006)]  # fmt: skip
    for seg, w in zip(PAIRED, want, strict=True):
        assert close(newcombe_paired(seg, Z95), w, 1e-9)
    mover = estimate_delta(PAIRED, SHARES, MOVER)
    assert mover.covered is not None
    # delta_points = {'covered': -0.021111111111111112, 'worst': -0.119}
    assert mover.covered.point == pytest.approx(-0.021111111111111112, abs=1e-12)
    assert mover.worst.point == pytest.approx(-0.119, abs=1e-12)
    assert mover.best.point == pytest.approx(0.081, abs=1e-12)
    # delta_mover_covered = (-0.14280037992076292, 0.11068602923757823)
    assert close(
        (mover.covered.lower, mover.covered.upper),
        (-0.14280037992076292, 0.11068602923757823),
        1e-9,
    )
    mc = estimate_delta(PAIRED, SHARES, MC)
    assert mc.covered is not None
    # delta_mc_fixed_covered = (-0.13354628187797654, 0.10078589806899492)
    assert close((mc.covered.lower, mc.covered.upper), (-0.13354628187797654, 0.10078589806899492))
    # delta_mc_fixed_worst = (-0.22019165369017887, -0.009292691737904585)
    assert close((mc.worst.lower, mc.worst.upper), (-0.22019165369017887, -0.009292691737904585))


# -- behaviour ------------------------------------------------------------------------------


def test_seeded_and_reproducible_across_processes():
    s = Settings(draws=500, seed=11)
    a, b = estimate_rate(RATE, COUNTS, s), estimate_rate(RATE, COUNTS, s)
    assert a == b
    assert estimate_rate(RATE, COUNTS, dataclasses.replace(s, seed=12)) != a
    code = (
        "import json; from evaltui.estimate.weighted import *\n"
        "W = Weights.of_counts(('topic',), [(('a',), 40), (('b',), 7)])\n"
        "e = estimate_delta([PairedCounts(('a',), 9, 3, 1, 2), PairedCounts(('b',), 2, 0, 1, 1)],"
        " W, Settings(draws=300, seed=5))\n"
        "print(json.dumps([e.covered.lower, e.covered.upper]))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": h},
        ).stdout
        for h in ("1", "2")
    }  # fmt: skip
    assert len(outs) == 1 and len(json.loads(outs.pop())) == 2


def test_fewer_cases_than_min_n_is_uncovered_too():
    est = estimate_rate(RATE, SHARES, dataclasses.replace(MOVER, min_n=20))
    assert {s.key[0]: s.status for s in est.uncovered} == {"account access": "too_few",
                                                           "policy": "no_cases"}  # fmt: skip
    assert est.uncovered_share.point == pytest.approx(0.4)
    assert est.covered is not None
    assert est.covered.point == pytest.approx((0.4 * 0.9 + 0.2 * 0.75) / 0.6)


def test_no_covered_traffic_leaves_only_the_bounds():
    est = estimate_rate([SegmentCounts(("shipping",), 5, 5)], SHARES, Settings(draws=200))
    assert est.covered is None
    assert (est.worst.lower, est.worst.point, est.best.point, est.best.upper) == (0, 0, 1, 1)


def test_supplied_draws_are_combined_draw_by_draw():
    """Corrected rates with their draws: draw t of every segment is one joint draw, so
    perfectly correlated segments give a wider interval than the same draws shuffled."""
    rng = random.Random(3)
    base = [rng.betavariate(40, 10) for _ in range(2000)]
    shuffled = base[:]
    rng.shuffle(shuffled)
    keys = [("billing",), ("account access",), ("refunds",), ("policy",)]
    together = [SegmentDraws(k, 50, 0.8, tuple(base)) for k in keys]
    apart = [
        SegmentDraws(k, 50, 0.8, tuple(base if i % 2 else shuffled)) for i, k in enumerate(keys)
    ]
    a, b = estimate_from_draws(together, SHARES), estimate_from_draws(apart, SHARES)
    assert a.covered is not None and b.covered is not None and a.draws == 2000
    assert a.covered.upper - a.covered.lower > b.covered.upper - b.covered.lower
    with pytest.raises(ValueError, match="same number of draws"):
        estimate_from_draws([together[0], SegmentDraws(keys[1], 5, 0.5, (0.5,) * 300)], SHARES)
    with pytest.raises(ValueError, match=r"lies in \[0, 1\]"):
        estimate_from_draws([SegmentDraws(keys[0], 5, 0.5, (1.5,) * 300)], SHARES)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="passed of"):
        SegmentCounts(("a",), 3, 4)
    with pytest.raises(ValueError, match="given twice"):
        estimate_rate([RATE[0], RATE[0]], SHARES)
    with pytest.raises(ValueError, match="do not sum to 1"):
        Weights(ATTRS, (dataclasses.replace(SHARES.segments[0], share=0.5),), False)
    with pytest.raises(ValueError, match="draws"):
        Settings(draws=10)
    with pytest.raises(ValueError, match="does not match"):
        estimate_rate([SegmentCounts(("a", "b"), 3, 1)], SHARES)
    many = [(f"s{i}",) for i in range(1300)]
    with pytest.raises(ValueError, match="pass fewer draws"):  # memory stays bounded
        estimate_rate(
            [SegmentCounts(k, 1, 1) for k in many], Weights.of_counts(ATTRS, [(k, 1) for k in many])
        )


# -- the margin -----------------------------------------------------------------------------


def _rate_with(segs, key, passed):
    return [dataclasses.replace(s, passed=passed) if s.key == key else s for s in segs]


def test_margin_at_the_point_matches_the_exact_count():
    m = rate_margin(RATE, SHARES, Threshold(0.785, "min", "point"))
    assert m.passes and m.direction == "down" and m.value == pytest.approx(0.8)
    assert m.slack == pytest.approx(0.015)
    # margin_point_flips = {'billing': 2, 'account access': 1, 'refunds': 14}
    assert {f.key[0]: f.cases for f in m.flips} == {
        "billing": 2,
        "account access": 1,
        "refunds": 14,
    }
    assert m.closest is not None and m.closest.key == ("account access",)


@pytest.mark.parametrize("method", ["mover_wilson", "monte_carlo"])
@pytest.mark.parametrize(("side", "bound"), [("min", "lower"), ("max", "upper")])
def test_the_stated_flips_change_the_decision_and_one_fewer_does_not(method, side, bound):
    st_ = Settings(method=method, draws=1000)
    th = Threshold(0.74 if side == "min" else 0.86, side, bound)
    m = rate_margin(RATE, COUNTS, th, st_)
    assert any(f.cases for f in m.flips)
    for f in m.flips:
        if f.cases is None:
            continue
        seg = next(s for s in RATE if s.key == f.key)
        step = -1 if f.direction == "down" else 1

        def read(k, seg=seg, step=step):
            return estimate_rate(_rate_with(RATE, seg.key, seg.passed + step * k), COUNTS, st_)

        assert th.passes(read(f.cases).covered.at(bound)) != m.passes
        assert th.passes(read(f.cases - 1).covered.at(bound)) == m.passes


def test_locked_when_no_open_case_can_cross():
    th = Threshold(0.785, "min", "point")
    few = rate_margin(RATE, SHARES, th, open_cases=[OpenCounts(("billing",), 1, 0)])
    assert (
        few.locked
        and few.open_cases == 1
        and few.if_all_down == pytest.approx(0.8 - 0.4 / 0.9 / 50)
    )
    many = rate_margin(RATE, SHARES, th, open_cases=[OpenCounts(("billing",), 2, 3)])
    assert not many.locked and many.if_all_down < 0.785 < many.if_all_up
    assert rate_margin(RATE, SHARES, th).locked  # nothing open: nothing can change it
    with pytest.raises(ValueError, match="more open cases"):
        rate_margin(RATE, SHARES, th, open_cases=[OpenCounts(("billing",), 46, 0)])


def test_delta_flips_make_regressions_first_and_open_regressions_only_clear():
    th = Threshold(-0.035, "min", "point")  # the candidate may lose at most 3.5 points
    m = delta_margin(PAIRED, SHARES, th)
    assert m.passes and m.direction == "down" and m.value == pytest.approx(-0.021111111)
    billing = next(f for f in m.flips if f.key == ("billing",))
    assert billing.available == 40 + 5  # cases both passed, then improvements
    # billing: 50 cases, share 0.4 of 0.9: each new regression takes 0.4 / 0.9 / 50 = 0.0089
    assert billing.cases == 2
    # 15 untriaged regressions can only be cleared: the rule cannot fail on them
    regressions = delta_margin(
        PAIRED, SHARES, th, open_cases=[OpenPaired(("refunds",), baseline_only=15)]
    )
    assert regressions.locked and regressions.if_all_down == pytest.approx(m.value)
    assert regressions.if_all_up == pytest.approx(m.value + 15 / 200 * 0.2 / 0.9)
    # 20 open cases both runs passed could each turn out a regression: not locked
    passes = delta_margin(PAIRED, SHARES, th, open_cases=[OpenPaired(("refunds",), both=20)])
    assert not passes.locked and passes.if_all_down == pytest.approx(m.value - 20 / 200 * 0.2 / 0.9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(1, 80), st.floats(0, 1), st.integers(1, 9)), min_size=1, max_size=4
    ),
    st.floats(0.05, 0.95),
    st.sampled_from(["min", "max"]),
    st.sampled_from(["lower", "point", "upper"]),
    st.sampled_from(["covered", "worst", "best"]),
)
def test_the_margin_search_finds_the_smallest_flip_count(data, threshold, side, bound, basis):
    """Against a scan of every k with the closed form (monotone in each count)."""
    keys = [(f"s{i}",) for i in range(len(data))]
    segs = [SegmentCounts(k, n, round(n * p)) for k, (n, p, _) in zip(keys, data, strict=True)]
    weights = Weights.of_shares(ATTRS, [(k, w) for k, (*_, w) in zip(keys, data, strict=True)]
                                + [(("none",), 1)])  # fmt: skip
    th = Threshold(threshold, side, bound, basis)
    m = rate_margin(segs, weights, th, MOVER)
    for f in m.flips:
        seg = next(s for s in segs if s.key == f.key)
        step = -1 if f.direction == "down" else 1
        scan = [
            k for k in range(1, f.available + 1)
            if th.passes(estimate_rate(_rate_with(segs, seg.key, seg.passed + step * k), weights,
                                       MOVER).figure(basis).at(bound)) != m.passes
        ]  # fmt: skip
        assert f.cases == (scan[0] if scan else None)


# -- properties -----------------------------------------------------------------------------

segments_st = st.lists(
    st.tuples(st.integers(1, 60), st.floats(0, 1), st.integers(0, 50)), min_size=1, max_size=5
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments_st, st.sampled_from(["mover_wilson", "monte_carlo"]), st.randoms())
def test_estimates_stay_in_range_hold_their_point_and_ignore_order(data, method, rnd):
    keys = [(f"s{i}",) for i in range(len(data))]
    segs = [SegmentCounts(k, n, round(n * p)) for k, (n, p, _) in zip(keys, data, strict=True)]
    weights = Weights.of_counts(ATTRS, [(k, c) for k, (_, _, c) in zip(keys, data, strict=True)]
                                + [(("uncovered",), 3)])  # fmt: skip
    if sum(c for *_, c in data) == 0:
        return
    s = Settings(method=method, draws=150, seed=1)
    paired = [PairedCounts(k, n // 2, n // 4, round(p * (n - n // 2 - n // 4)),
                           n - n // 2 - n // 4 - round(p * (n - n // 2 - n // 4)))
              for k, (n, p, _) in zip(keys, data, strict=True)]  # fmt: skip
    for est_fn, items, lo, hi in ((estimate_rate, segs, 0, 1), (estimate_delta, paired, -1, 1)):
        est = est_fn(items, weights, s)
        for fig in (est.covered, est.worst, est.best):
            if fig is not None:
                assert lo <= fig.lower <= fig.point <= fig.upper <= hi
        shuffled = items[:]
        rnd.shuffle(shuffled)
        assert est_fn(shuffled, weights, s) == est


# -- coverage -------------------------------------------------------------------------------

NS = (5, 12, 25, 80, 200)  # two segments under 30 cases
TRUE_RATES = (0.97, 0.6, 0.85, 0.92, 0.75)
TRUE_SHARES = (0.15, 0.25, 0.1, 0.3, 0.2)
# per segment: both, candidate_only, baseline_only, neither
TRUE_CELLS = ((0.80, 0.05, 0.10, 0.05), (0.45, 0.15, 0.10, 0.30), (0.70, 0.10, 0.05, 0.15),
              (0.85, 0.06, 0.04, 0.05), (0.60, 0.10, 0.15, 0.15))  # fmt: skip
REPS = 2000 if LONG else 200
DRAWS = 1000 if LONG else 200  # 200 joint draws keep the 2 x 200 repetitions to a few s


def _simulate(kind: str) -> tuple[float, float]:
    """Coverage of the 95% interval (Monte Carlo, and the closed form) over REPS seeded
    repetitions; the weights are request counts drawn each time from the true shares."""
    rng = random.Random(28)
    keys = [(f"s{i}",) for i in range(len(NS))]
    cum = [sum(TRUE_SHARES[: i + 1]) for i in range(len(NS))]
    if kind == "rate":
        truth = sum(w * p for w, p in zip(TRUE_SHARES, TRUE_RATES, strict=True))
    else:
        truth = sum(w * (c[1] - c[2]) for w, c in zip(TRUE_SHARES, TRUE_CELLS, strict=True))
    hits = hits_closed = 0
    for r in range(REPS):
        requests = Counter(rng.choices(range(len(NS)), cum_weights=cum, k=500))
        weights = Weights.of_counts(ATTRS, [(k, requests[i]) for i, k in enumerate(keys)])
        if kind == "rate":
            items: list = [
                SegmentCounts(k, n, sum(rng.random() < p for _ in range(n)))
                for k, n, p in zip(keys, NS, TRUE_RATES, strict=True)
            ]
            fn = estimate_rate
        else:
            items = []
            for k, n, cells in zip(keys, NS, TRUE_CELLS, strict=True):
                c = Counter(rng.choices(range(4), weights=cells, k=n))
                items.append(PairedCounts(k, c[0], c[1], c[2], c[3]))
            fn = estimate_delta
        est = fn(items, weights, Settings(draws=DRAWS, seed=r))
        closed = fn(items, weights, MOVER)
        assert est.covered is not None and closed.covered is not None
        hits += est.covered.lower <= truth <= est.covered.upper
        hits_closed += closed.covered.lower <= truth <= closed.covered.upper
    return hits / REPS, hits_closed / REPS


@pytest.mark.parametrize("kind", ["rate", "delta"])
def test_the_interval_covers_the_true_weighted_figure(kind, capsys):
    coverage, closed = _simulate(kind)
    with capsys.disabled():
        print(f"\n{kind}: 95% interval coverage over {REPS} repetitions: Monte Carlo "
              f"({DRAWS} draws) {coverage:.3f}, MOVER-Wilson {closed:.3f}")  # fmt: skip
    assert coverage >= 0.90, f"{kind}: Monte Carlo coverage {coverage:.3f} over {REPS} repetitions"
    assert closed >= 0.90, f"{kind}: MOVER-Wilson coverage {closed:.3f} over {REPS} repetitions"
