"""The decision's margin on the production estimate corrected for the grader's errors (#28):
how many of the grader's case outcomes would have to change for a rule on a corrected
figure (estimate/weighted_corrected.py) to change its outcome, and whether the open cases
can change it. The search, the flips and the lock are margin.py's; only the figure each
probe computes differs: a flip changes a cell's raw counts, and the probe corrects that
cell's draws with the very TPR and TNR draws of the estimate (the same seed and streams:
common random numbers), so a probe's figure is the corrected estimate of those counts,
the same float as `corrected_rate_estimate` / `corrected_delta_estimate` would give.

Rogan-Gladen, (p + TNR - 1) / (TPR + TNR - 1) clipped, is non-decreasing in the raw rate
p whenever TPR + TNR > 1, which every draw of an estimate that is not refused has (a
calibration not clearly informative is refused, and a draw with TPR + TNR <= 1 is drawn
again); so the corrected figure is monotone in each case's outcome as the raw one is (up
to the Monte Carlo noise of the limits, flat where the clip holds a cell at 0 or 1), and
the lock's two extremes decide it as they do for the raw figure. The calibration is held
fixed: the open cases are untriaged regressions, whose labels are not blind judgments of
the grader. A refused calibration has no margin: the functions return its `Refusal`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from evaltui.estimate import segments as seg
from evaltui.estimate.calibration import GraderCalibration, Refusal
from evaltui.estimate.margin import Margin, OpenCounts, OpenPaired, Threshold, margin_of
from evaltui.estimate.weighted import (
    Item,
    Kind,
    PairedCounts,
    Plan,
    SegmentCounts,
    Settings,
    Weights,
)
from evaltui.estimate.weighted_corrected import (
    Grader,
    grader_draws,
    margins_tries,
    per_run_draws,
    per_run_point,
    pooled,
    rate_draws,
    rate_point,
    rg_point,
    shared_draws,
    shared_point,
)


class _Corrected(Plan):
    """A plan whose segments' figure is the corrected one. `graders`: the TPR and TNR
    draws (None when the rule reads the point, which needs none)."""

    def __init__(
        self,
        kind: Kind,
        items: Sequence[Item],
        weights: Weights,
        settings: Settings,
        how: str,
        rg: tuple[tuple[float, float], ...],
        graders: tuple[Grader, ...] | None,
    ) -> None:
        self.how, self.rg, self.graders = how, rg, graders
        super().__init__(kind, items, weights, settings, remember=True)
        self.flip_gain = 1 / (rg[0][0] + rg[0][1] - 1)  # the candidate's (or the pool's)

    def point(self, item: Item) -> float:
        if self.how == "run":
            assert isinstance(item, SegmentCounts)
            return rate_point(item, *self.rg[0])
        assert isinstance(item, PairedCounts)
        if self.how == "shared":
            return shared_point(item, self.rg[0][0] + self.rg[0][1] - 1)
        return per_run_point(item, self.rg[0], self.rg[1])

    def draws_of(self, item: Item) -> array[float]:
        assert self.graders is not None  # only a limit reads draws
        if self.how == "per-run":
            assert isinstance(item, PairedCounts)
            gc, gb = self.graders
            return per_run_draws(item, self.settings, gc, gb, self.tries)
        raw = super().draws_of(item)  # the raw stream's draws (from the tries when searching)
        return (rate_draws if self.how == "run" else shared_draws)(raw, self.graders[0])

    def stream_tries(self, item: Item) -> seg.Tries | None:
        if self.how == "per-run":
            assert isinstance(item, PairedCounts)
            return margins_tries(item, self.settings.seed)
        return super().stream_tries(item)


def _check(settings: Settings) -> Settings:
    if settings.method != "monte_carlo":
        raise ValueError("the corrected estimate is Monte Carlo only (method='monte_carlo')")
    return settings


def _search(
    kind: Kind,
    items: Sequence[Item],
    weights: Weights,
    threshold: Threshold,
    settings: Settings,
    opened: Sequence[OpenCounts] | Sequence[OpenPaired],
    how: str,
    cals: tuple[tuple[GraderCalibration, str], ...],
) -> Margin | Refusal:
    """The margin, or the refusal the corrected estimate would give."""
    graders = []
    for cal, label in cals:
        g = grader_draws(cal, settings, label)
        if isinstance(g, Refusal):
            return g
        graders.append(g)
    rg = tuple(rg_point(cal) for cal, _ in cals)

    def make(kind: Kind, its: Sequence[Item], w: Weights, s: Settings) -> Plan:
        return _Corrected(kind, its, w, s, how, rg, tuple(graders))

    return margin_of(kind, items, weights, threshold, settings, opened, make)


def corrected_rate_margin(
    segments: Sequence[SegmentCounts],
    weights: Weights,
    calibration: GraderCalibration,
    threshold: Threshold,
    settings: Settings | None = None,
    open_cases: Sequence[OpenCounts] = (),
) -> Margin | Refusal:
    """The margin of a rule on one run's corrected traffic-weighted pass rate (as
    `corrected_rate_estimate(segments, weights, calibration, settings)`): a flip is one
    case's graded outcome changing."""
    s = _check(settings or Settings())
    if not all(isinstance(x, SegmentCounts) for x in segments):
        raise TypeError("corrected_rate_margin takes SegmentCounts")
    if not all(isinstance(o, OpenCounts) for o in open_cases):
        raise TypeError("corrected_rate_margin takes OpenCounts")
    if (why := calibration.refusal()) is not None:
        return why
    return _search(
        "rate", segments, weights, threshold, s, open_cases, "run", ((calibration, "run"),)
    )


def corrected_delta_margin(
    segments: Sequence[PairedCounts],
    weights: Weights,
    baseline: GraderCalibration,
    candidate: GraderCalibration,
    threshold: Threshold,
    settings: Settings | None = None,
    open_cases: Sequence[OpenPaired] = (),
    shared: GraderCalibration | None = None,
) -> Margin | Refusal:
    """The margin of a rule on the corrected paired delta (as `corrected_delta_estimate`
    with the same arguments: each run by its own calibration when both stand, else one
    pooled from both runs' judgments)."""
    s = _check(settings or Settings())
    if not all(isinstance(x, PairedCounts) for x in segments):
        raise TypeError("corrected_delta_margin takes PairedCounts")
    if not all(isinstance(o, OpenPaired) for o in open_cases):
        raise TypeError("corrected_delta_margin takes OpenPaired")
    if baseline.refusal() is None and candidate.refusal() is None:
        cals = ((candidate, "candidate"), (baseline, "baseline"))
        return _search("delta", segments, weights, threshold, s, open_cases, "per-run", cals)
    one = shared or pooled(baseline, candidate)
    if (why := one.refusal()) is not None:
        return Refusal(why.code, f"the calibration of both runs' judgments: {why.reason}")
    return _search(
        "delta", segments, weights, threshold, s, open_cases, "shared", ((one, "shared"),)
    )
