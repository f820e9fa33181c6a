"""The trend over a suite's last runs: pass rate per segment, run by run, and each case's
history (pass/fail per run), standing failures first.

Read through the store's reader from the per-run case tallies (store.runs.RunHistory:
passing and total samples), reduced with the comparison's reducer, active cases only.
Bounded: at most `last` runs, and at most `max_cases` case histories (the ones that
failed most), whatever the store's size.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaltui.compare.kinds import Reducer
from evaltui.compare.production import Production
from evaltui.compare.production_corrected import ASSUMPTION
from evaltui.compare.rows import check_dimensions, segment_value
from evaltui.estimate.traffic import TrafficWeights
from evaltui.estimate.weighted import Key, SegmentCounts, Settings, estimate_rate
from evaltui.estimate.weighted_corrected import corrected_rate_estimate
from evaltui.review.calibration.report import figures
from evaltui.stats import ALPHA
from evaltui.store import Store
from evaltui.store.runs import RunHistory, TrendRun, suite_runs
from evaltui.store.runs.grader import VERDICT

__all__ = [
    "Trend",
    "TrendRun",
    "corrected",
    "history",
    "production",
    "spark",
    "trend",
    "trend_json",
    "with_production",
]

Cells = list[dict[Key, list[int]]]  # per run: a traffic cell's [cases, passed]

SPARKS = "▁▂▃▄▅▆▇█"


@dataclass
class Trend:
    runs: list[TrendRun]  # oldest first
    # (dimension, value, pass rate per run (None: no case of it in that run)); "all" first
    segments: list[tuple[str, str, list[float | None]]] = field(default_factory=list)
    # (suite, case key, per run "pass" | "fail" | None (absent)), the most failing first
    cases: list[tuple[str, str, list[str | None]]] = field(default_factory=list)
    standing: int = 0  # cases failing in every one of the runs they are in (two or more)
    failing: int = 0  # cases failing in at least one run
    # the production estimate per run (#28): the weighted pass rate over covered traffic
    # with the traffic weights given (None: no case of a covered cell in that run)
    production: list[float | None] | None = None
    # that estimate corrected for the grader's errors (#28, only when asked): each run's
    # cells corrected by its own calibration on the verdict (None: no covered traffic, or
    # the calibration is refused: `refused` says why, run by run)
    corrected: list[float | None] | None = None
    refused: list[str | None] = field(default_factory=list)


def spark(rates: list[float | None]) -> str:
    """One character per run: ▁ (0%) to █ (100%); · where the run has no such case."""
    return "".join(
        "·" if r is None else SPARKS[min(len(SPARKS) - 1, int(r * len(SPARKS)))] for r in rates
    )


def history(marks: list[str | None]) -> str:
    """One character per run: ✓ pass, ✗ fail, · absent (readable without colour)."""
    return "".join({"pass": "✓", "fail": "✗"}.get(m or "", "·") for m in marks)


def trend(
    db_path: str | Path,
    run_id: int,
    *,
    last: int = 12,
    reducer: Reducer | None = None,
    dimensions: list[str] | None = None,
    max_cases: int = 200,
    traffic: TrafficWeights | None = None,
    min_n: int = 1,
    calibrated: Settings | None = None,
    alpha: float = ALPHA,
) -> Trend:
    """The last `last` runs (by their own date, then import order) sharing a suite with
    run `run_id`, up to and including it; with `traffic`, each run's production estimate
    (a cell with fewer than `min_n` cases is uncovered), and with `calibrated` (the
    estimator's settings: Monte Carlo) that estimate corrected for the grader's errors
    too, as `compare --calibrated` corrects a run's (a calibration refused at `alpha`)."""
    reducer = reducer or Reducer()
    check_dimensions(dimensions or [])
    with closing(Store.reader(db_path)) as conn:
        out = Trend(suite_runs(conn, run_id, last))
        if not out.runs:
            return out
        runs = RunHistory(conn, [r.id for r in out.runs], reducer.sql)
        out.segments.append(("all", "", runs.pass_rates().get("all", [None] * len(out.runs))))
        for d in dimensions or []:
            found = runs.pass_rates(d)
            out.segments += [(d, value, series) for value, series in sorted(found.items())]
        if traffic is not None:
            by_cell = cells(runs, traffic)
            out.production = production(by_cell, traffic, min_n)
            if calibrated is not None:
                out.corrected, out.refused = corrected(
                    conn, runs.ids, by_cell, traffic, calibrated, alpha
                )
        out.failing, out.standing = runs.failing()
        worst = runs.most_failing(max_cases)
        seen = runs.outcomes([c.id for c in worst])
        out.cases = [(c.suite, c.case_key, seen[c.id]) for c in worst]
    return out


def with_production(
    db_path: str | Path, run_id: int, production: Production | None, **kwargs: Any
) -> Trend:
    """`trend` with the production estimate as a comparison makes it (`production`: its
    weights and settings, corrected when it is `calibrated`; None: no estimate)."""
    if production is None:
        return trend(db_path, run_id, **kwargs)
    return trend(
        db_path,
        run_id,
        traffic=production.traffic,
        min_n=production.settings.min_n,
        calibrated=production.settings if production.calibrated else None,
        alpha=production.alpha,
        **kwargs,
    )


def cells(runs: RunHistory, traffic: TrafficWeights) -> Cells:
    """Each run's cases per traffic cell (the weights' attributes, in their order): a case
    lacking one of them is in no cell."""
    attrs = traffic.attributes
    out: Cells = [{} for _ in runs.ids]
    for text, i, passed, n in runs.by_attributes():
        try:
            found = json.loads(text)
        except ValueError:
            continue
        values = [segment_value(found.get(a)) for a in attrs] if isinstance(found, dict) else []
        key = tuple(v for v in values if v is not None)
        if len(key) == len(attrs):
            tally = out[i].setdefault(key, [0, 0])
            tally[0] += n
            tally[1] += passed
    return out


def _counts(run: dict[Key, list[int]]) -> list[SegmentCounts]:
    return [SegmentCounts(k, n, p) for k, (n, p) in sorted(run.items())]


def production(cells: Cells, traffic: TrafficWeights, min_n: int = 1) -> list[float | None]:
    """Each run's traffic-weighted pass rate over covered traffic (the point the compare
    screen's production line shows for a run: the same cells, weights and reducer)."""
    weights, settings = traffic.weights(), Settings(method="mover_wilson", min_n=min_n)
    out: list[float | None] = []
    for run in cells:
        counts = _counts(run)
        covered = estimate_rate(counts, weights, settings).covered if counts else None
        out.append(None if covered is None else covered.point)
    return out


def corrected(
    conn: sqlite3.Connection,
    run_ids: list[int],
    cells: Cells,
    traffic: TrafficWeights,
    settings: Settings,
    alpha: float = ALPHA,
) -> tuple[list[float | None], list[str | None]]:
    """Each run's production estimate corrected for the grader's errors (the point of
    `compare --calibrated`'s figure for that run: its cells, corrected by its own
    calibration on the verdict), and where there is none because the calibration is
    refused, why."""
    weights = traffic.weights()
    points: list[float | None] = []
    refused: list[str | None] = []
    for run_id, run in zip(run_ids, cells, strict=True):
        counts = _counts(run)
        if not counts:
            points.append(None)
            refused.append(None)
            continue
        cal = figures(conn, [run_id], VERDICT, alpha).calibration
        found = corrected_rate_estimate(counts, weights, cal, settings)
        covered = found.estimate.covered if found.estimate is not None else None
        points.append(None if covered is None else covered.point)
        refused.append(None if found.refused is None else found.refused.reason)
    return points, refused


# -- `evaltui trend --json` -------------------------------------------------------------------


def _r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def trend_json(
    t: Trend, run_id: int, reducer: Reducer, production: Production | None = None
) -> dict[str, Any]:
    """The trend as `evaltui trend --json` gives it (docs/cli.md): the runs oldest first,
    each segment's pass rate run by run, the production estimate's (and corrected, when
    asked) run by run, and the case histories, the most failing first."""
    prod: dict[str, Any] | None = None
    if production is not None and t.production is not None:
        prod = {
            "traffic": production.provenance,
            "rates": [_r6(x) for x in t.production],
            "calibrated": None
            if t.corrected is None
            else {
                "criterion": "verdict",
                "rates": [_r6(x) for x in t.corrected],
                "refused": list(t.refused),
                "assumption": ASSUMPTION,
            },
        }
    return {
        "schema": "evaltui.trend/1",
        "run": run_id,
        "reducer": reducer.label,
        "runs": [{"id": r.id, "name": r.name, "at": r.at} for r in t.runs],
        "segments": [
            {"dimension": d, "value": "all" if d == "all" else v, "rates": [_r6(x) for x in rates]}
            for d, v, rates in t.segments
        ],
        "production": prod,
        "failing": t.failing,
        "standing": t.standing,
        "cases": [
            {
                "suite": suite,
                "case_key": key,
                "history": list(marks),
                "failed": sum(m == "fail" for m in marks),
                "runs": sum(m is not None for m in marks),
            }
            for suite, key, marks in t.cases
        ],
    }
