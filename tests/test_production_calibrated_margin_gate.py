"""The margins of weighted rules on the corrected estimate through the gate (#28): on the
demo with both runs judged, each stated margin is exact on the corrected figure (the
stated flips in the stated cell change the rule's outcome, one fewer does not, each
re-estimated by the corrected estimator from the demo's own counts), and the lock reads
the open regressions at their extreme on the corrected figure."""

from __future__ import annotations

import pytest

from evaltui import gate
from evaltui.estimate.traffic import read_traffic
from evaltui.estimate.weighted import PairedCounts, SegmentCounts, Settings
from evaltui.estimate.weighted_corrected import corrected_delta_estimate, corrected_rate_estimate
from evaltui.gate import lock
from evaltui.review.calibration.report import figures
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store.runs.grader import VERDICT

from .test_gate import FIXED
from .test_production_calibrated_gate import judge
from .test_production_corrected_margin import flip
from .test_production_gate import (
    DRAWS,
    TRAFFIC,
    demo_counts,
    production_policy,
    traffic_demo,  # noqa: F401  (a fixture)
    wrule,
)


@pytest.fixture
def judged(traffic_demo):  # noqa: F811
    judge(traffic_demo, 1)
    judge(traffic_demo, 2)
    return traffic_demo


def decide(store, tmp_path, rules: str):
    path = production_policy(tmp_path, rules, "calibrated = true\n")
    loaded = gate.load_policy(path)
    return loaded, gate.evaluate(store, loaded, 1, 2, **FIXED)


def corrected_figure(store, metric: str, items, bound: str, basis: str) -> float:
    weights, s = read_traffic(TRAFFIC).weights(), Settings(draws=DRAWS)
    base = figures(store.conn, [1], VERDICT).calibration
    cand = figures(store.conn, [2], VERDICT).calibration
    if metric == "weighted_pass_rate":
        est = corrected_rate_estimate(items, weights, cand, s).estimate
    else:
        est = corrected_delta_estimate(items, weights, base, cand, s).estimate
    assert est is not None
    fig = est.figure(basis)
    assert fig is not None
    return fig.at(bound)


RULES = (
    wrule("users", "weighted_pass_rate", "min = 0.74", 'bound = "lower"\n')
    + wrule("point", "weighted_pass_rate", "min = 0.96")  # fails: the point is 93.2%
    + wrule("no-worse", "weighted_pass_rate_delta", "min = -0.09", 'bound = "lower"\n')
)


def test_each_corrected_margin_is_exact_on_the_demo(judged, tmp_path):
    _, rec = decide(judged, tmp_path, RULES)
    assert rec.production is not None
    rates, paired = demo_counts()
    rules = {r.id: r for r in rec.rules}
    checked = 0
    for m in rec.production.margins:
        print(m.text)
        ((side, threshold),) = rules[m.rule].threshold.items()
        assert m.value == rules[m.rule].value  # the figure the rule read
        items: list = (
            [SegmentCounts(k, n, p) for k, (n, p) in sorted(rates["candidate"].items())]
            if m.metric == "weighted_pass_rate"
            else [PairedCounts(k, *v) for k, v in sorted(paired.items())]
        )
        assert "(corrected)" in m.text

        def passes(variant, m=m, side=side, threshold=threshold) -> bool:
            v = corrected_figure(judged, m.metric, variant, m.bound, m.basis)
            return v >= threshold if side == "min" else v <= threshold

        assert passes(items) == m.passes
        for c in m.closest[:4]:
            key = (c.cell["task"], c.cell["risk"])
            assert c.cases is not None
            for k, outcome in ((c.cases, not m.passes), (c.cases - 1, m.passes)):
                variant = [flip(it, k, m.direction) if it.key == key else it for it in items]
                assert passes(variant) == outcome, (m.rule, c, k)
            checked += 1
    assert checked >= 6


def test_the_lock_reads_the_open_regressions_on_the_corrected_figure(judged, tmp_path):
    """A rule on the corrected delta's lower limit that fails now: open when every
    untriaged regression cleared (baseline_only -> both in its cell, re-estimated) would
    clear it, locked when even that would not. A rule that passes on a min is locked
    (regressions can only be cleared); before the search, every corrected rule was open
    while a regression was untriaged."""
    _, paired = demo_counts()
    items = [PairedCounts(k, *v) for k, v in sorted(paired.items())]
    now = corrected_figure(judged, "weighted_pass_rate_delta", items, "lower", "covered")
    # the demo's regressions are all untriaged: the extreme clears every one
    cleared = [flip(it, it.baseline_only, "up") for it in items]
    extreme = corrected_figure(judged, "weighted_pass_rate_delta", cleared, "lower", "covered")
    assert now < extreme
    tax = default_taxonomy()
    for threshold, locked, text in (
        (round((now + extreme) / 2, 4), False, "open: 2 decisions still possible (ship, hold)"),
        (round(extreme + 0.01, 4), True, "locked: hold, whatever the 37 untriaged"),
        (-0.5, True, "locked: ship, whatever the 37 untriaged"),
    ):
        rule = wrule("d", "weighted_pass_rate_delta", f"min = {threshold}", 'bound = "lower"\n')
        loaded, rec = decide(judged, tmp_path, rule)
        assert rec.production is not None
        (m,) = rec.production.margins
        assert m.open_cases == sum(it.baseline_only for it in items) == 37
        assert m.locked is locked, (threshold, m.text)
        held = lock.status(judged, loaded, rec, (1, 2, None), tax)
        assert held.locked is locked and held.text.startswith(text), held.text
        assert ("locked: holds whatever" in m.text) is locked
