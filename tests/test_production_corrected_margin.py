"""The decision's margin on the corrected production estimate (#28): the stated number of
the grader's case outcomes flipped in the stated cell changes the rule's outcome on the
corrected figure, one fewer does not; checked by brute force, each count re-estimated by
the corrected estimator itself (estimate/weighted_corrected.py). The lock: the open cases
at their extremes, re-estimated the same way."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from evaltui.estimate import margin_corrected
from evaltui.estimate.calibration import Confusion, Refusal, calibrate
from evaltui.estimate.margin import OpenCounts, OpenPaired, Threshold, rate_margin
from evaltui.estimate.margin_corrected import corrected_delta_margin, corrected_rate_margin
from evaltui.estimate.weighted import (
    PairedCounts,
    SegmentCounts,
    Settings,
    Weights,
    estimate_rate,
)
from evaltui.estimate.weighted_corrected import corrected_delta_estimate, corrected_rate_estimate

CAND = calibrate(Confusion(tp=90, fp=10, tn=40, fn=10))  # TPR 0.9, TNR 0.8
BASE = calibrate(Confusion(tp=80, fp=8, tn=50, fn=12))
WEAK = calibrate(Confusion(tp=5, fp=5, tn=5, fn=5))  # not informative: refused
W = Weights.of_shares(("t",), [(("a",), 0.5), (("b",), 0.3), (("c",), 0.15), (("d",), 0.05)])
RATES = [SegmentCounts(("a",), 40, 30), SegmentCounts(("b",), 30, 20),
         SegmentCounts(("c",), 12, 10), SegmentCounts(("d",), 6, 2)]  # fmt: skip
PAIRED = [PairedCounts(("a",), 25, 5, 4, 6), PairedCounts(("b",), 15, 5, 3, 7),
          PairedCounts(("c",), 8, 2, 1, 1), PairedCounts(("d",), 2, 1, 1, 2)]  # fmt: skip
S = Settings(draws=300, seed=5)


def flip(item, k: int, direction: str):
    """k cases of the cell flipped (as docs/production.md defines a flip)."""
    if isinstance(item, SegmentCounts):
        return dataclasses.replace(item, passed=item.passed + (-k if direction == "down" else k))
    b, c, r, x = item.both, item.candidate_only, item.baseline_only, item.neither
    if direction == "down":  # both -> baseline_only, then candidate_only -> neither
        first = min(k, b)
        b, r, c, x = b - first, r + first, c - (k - first), x + (k - first)
    else:  # baseline_only -> both, then neither -> candidate_only
        first = min(k, r)
        r, b, x, c = r - first, b + first, x - (k - first), c + (k - first)
    return PairedCounts(item.key, b, c, r, x)


def available(item, direction: str) -> int:
    if isinstance(item, SegmentCounts):
        return item.passed if direction == "down" else item.n - item.passed
    if direction == "down":
        return item.both + item.candidate_only
    return item.baseline_only + item.neither


def corrected(items, how: str, settings: Settings = S):
    """The corrected estimate of these counts, as the gate makes it."""
    if how == "rate":
        return corrected_rate_estimate(items, W, CAND, settings).estimate
    base = BASE if how == "per-run" else WEAK
    c = corrected_delta_estimate(items, W, base, CAND, settings, shared=None)
    assert c.calibration == how
    return c.estimate


def figure(items, how: str, t: Threshold) -> float:
    fig = corrected(items, how).figure(t.basis)
    assert fig is not None
    return fig.at(t.bound)


def margin(items, how: str, t: Threshold, opened=()):
    if how == "rate":
        return corrected_rate_margin(items, W, CAND, t, S, opened)
    return corrected_delta_margin(items, W, BASE if how == "per-run" else WEAK, CAND, t, S, opened)


CASES = [
    # (figure, bound, basis, side, offset of the threshold from the figure now)
    ("rate", "point", "covered", "min", -0.06),
    ("rate", "lower", "covered", "min", -0.05),
    ("rate", "upper", "worst", "max", 0.04),
    ("rate", "lower", "covered", "min", 0.05),  # fails now: flips up clear it
    ("per-run", "point", "covered", "min", -0.05),
    ("per-run", "lower", "covered", "min", -0.04),
    ("per-run", "upper", "covered", "min", 0.06),
    ("shared", "lower", "covered", "min", -0.05),
    ("shared", "point", "covered", "max", 0.05),
]


@pytest.mark.parametrize(("how", "bound", "basis", "side", "offset"), CASES)
def test_the_corrected_margin_is_exact_against_a_brute_force_over_flips(
    how, bound, basis, side, offset
):
    items = RATES if how == "rate" else PAIRED
    now = figure(items, how, Threshold(0, "min", bound, basis))
    t = Threshold(round(now + offset, 4), side, bound, basis)
    m = margin(items, how, t)
    assert not isinstance(m, Refusal)
    assert m.value == now  # the figure the rule reads, the same float
    assert m.passes == t.passes(now)
    searched = 0
    for f in m.flips:
        item = next(it for it in items if it.key == f.key)
        assert f.available == available(item, m.direction)

        def crossed(k, item=item, key=f.key):
            variant = [flip(it, k, m.direction) if it.key == key else it for it in items]
            return t.passes(figure(variant, how, t)) != m.passes

        if f.cases is None:
            assert not crossed(f.available), f
            continue
        assert crossed(f.cases) and not crossed(f.cases - 1), f
        if bound == "point":  # monotone: the smallest such number, by a scan of every k
            assert f.cases == next(k for k in range(f.available + 1) if crossed(k))
        searched += f.cases > 1
    assert searched >= 1  # at least one cell needs more than one flip


def test_a_worked_example_on_the_point_by_exact_fractions():
    """Two cells of 10 cases, half the traffic each, 7 and 5 passing; TPR 0.9, TNR 0.8:
    each cell's corrected rate is (p - 0.2) / 0.7, the figure (0.5 + 0.3) / 1.4 = 4/7.
    A rule `>= 0.45`: k passing cases of one cell failing give (0.8 - k/10) / 1.4, under
    0.45 from k = 2 (0.6 / 1.4 = 0.43), not at k = 1 (0.7 / 1.4 = 0.5)."""
    cal = calibrate(Confusion(tp=9, fp=2, tn=8, fn=1))
    assert (cal.tpr.value, cal.tnr.value) == (0.9, 0.8)
    w = Weights.of_shares(("t",), [(("a",), 0.5), (("b",), 0.5)])
    segs = [SegmentCounts(("a",), 10, 7), SegmentCounts(("b",), 10, 5)]
    m = corrected_rate_margin(segs, w, cal, Threshold(0.45, "min"), S)
    assert not isinstance(m, Refusal)
    assert m.value == pytest.approx(float(Fraction(4, 7)), abs=1e-12)
    assert m.direction == "down" and m.passes
    assert {f.key: f.cases for f in m.flips} == {("a",): 2, ("b",): 2}
    # the raw figure reads otherwise: 0.6 - k/20 is under 0.47 from k = 3, under 0.45
    # only past it; corrected, both cells are nearer (each flip moves it by 1 / 0.7 more)
    raw = rate_margin(segs, w, Threshold(0.47, "min"), S)
    assert {f.key: f.cases for f in raw.flips} == {("a",): 3, ("b",): 3}
    m = corrected_rate_margin(segs, w, cal, Threshold(0.47, "min"), S)
    assert not isinstance(m, Refusal)
    # (0.8 - k/10) / 1.4 < 0.47 from k = 2 (0.43); k = 1 gives 0.5
    assert {f.key: f.cases for f in m.flips} == {("a",): 2, ("b",): 2}


def test_a_refused_calibration_has_no_margin():
    got = corrected_rate_margin(RATES, W, WEAK, Threshold(0.5, "min"), S)
    assert isinstance(got, Refusal) and got.code == "not_informative"
    got = corrected_delta_margin(PAIRED, W, WEAK, WEAK, Threshold(0.0, "min"), S)
    assert isinstance(got, Refusal) and got.reason.startswith("the calibration of both runs'")


@pytest.mark.parametrize("how", ["rate", "per-run"])
def test_locked_exactly_when_the_open_cases_at_their_extremes_cannot_change_it(how):
    """Open cases (untriaged regressions: failing now, may pass) in cell a. A rule that
    fails now is open when every open case passing would clear it, on the corrected
    figure re-estimated; locked when even that does not."""
    items = RATES if how == "rate" else PAIRED
    t0 = Threshold(0, "min", "lower")
    now = figure(items, how, t0)
    opened = [OpenCounts(("a",), 0, 4)] if how == "rate" else [OpenPaired(("a",), baseline_only=4)]
    up = [flip(it, 4, "up") if it.key == ("a",) else it for it in items]
    if_all_up = figure(up, how, t0)
    assert if_all_up > now
    for threshold, locked in ((round((now + if_all_up) / 2, 6), False), (if_all_up + 0.01, True)):
        m = margin(items, how, Threshold(threshold, "min", "lower"), opened)
        assert not isinstance(m, Refusal)
        assert not m.passes and m.open_cases == 4
        assert m.if_all_up == if_all_up and m.if_all_down == now
        assert m.locked is locked


def test_the_graders_draws_are_made_once_for_every_probe(monkeypatch):
    """Common random numbers: each calibration's TPR and TNR draws are made once per
    margin (from the estimate's own streams) and every probe corrects with them."""
    calls = []
    real = margin_corrected.grader_draws
    monkeypatch.setattr(margin_corrected, "grader_draws", lambda *a: calls.append(a[2]) or real(*a))
    t = Threshold(0.5, "min", "lower")
    corrected_delta_margin(PAIRED, W, BASE, CAND, t, S)
    assert sorted(calls) == ["baseline", "candidate"]  # once each, for every probe


def test_the_raw_margin_on_the_point_is_unchanged_by_the_shortcut():
    """The point is read without the interval: the same float as the whole estimate's."""
    for basis in ("covered", "worst", "best"):
        m = rate_margin(RATES, W, Threshold(0.5, "min", "point", basis), S)
        fig = estimate_rate(RATES, W, dataclasses.replace(S, method="mover_wilson")).figure(basis)
        assert fig is not None and m.value == fig.point
