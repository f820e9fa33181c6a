"""The trend over a suite's last runs: pass rate per segment, run by run, and each case's
history (pass/fail per run), standing failures first.

Read through the store's reader from the per-run case tallies (store.runs.RunHistory:
passing and total samples), reduced with the comparison's reducer, active cases only.
Bounded: at most `last` runs, and at most `max_cases` case histories (the ones that
failed most), whatever the store's size.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from evaltui.compare.kinds import Reducer
from evaltui.compare.rows import check_dimensions, segment_value
from evaltui.estimate.traffic import TrafficWeights
from evaltui.estimate.weighted import Key, SegmentCounts, Settings, estimate_rate
from evaltui.store import Store
from evaltui.store.runs import RunHistory, TrendRun, suite_runs

__all__ = ["Trend", "TrendRun", "history", "production", "spark", "trend"]

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
) -> Trend:
    """The last `last` runs (by their own date, then import order) sharing a suite with
    run `run_id`, up to and including it; with `traffic`, each run's production estimate
    (a cell with fewer than `min_n` cases is uncovered)."""
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
            out.production = production(runs, traffic, min_n)
        out.failing, out.standing = runs.failing()
        worst = runs.most_failing(max_cases)
        seen = runs.outcomes([c.id for c in worst])
        out.cases = [(c.suite, c.case_key, seen[c.id]) for c in worst]
    return out


def production(runs: RunHistory, traffic: TrafficWeights, min_n: int = 1) -> list[float | None]:
    """Each run's traffic-weighted pass rate over covered traffic (the point the compare
    screen's production line shows for a run: the same cells, weights and reducer)."""
    attrs = traffic.attributes
    cells: list[dict[Key, list[int]]] = [{} for _ in runs.ids]
    for text, i, passed, n in runs.by_attributes():
        try:
            found = json.loads(text)
        except ValueError:
            continue
        values = [segment_value(found.get(a)) for a in attrs] if isinstance(found, dict) else []
        key = tuple(v for v in values if v is not None)
        if len(key) == len(attrs):  # a case lacking an attribute is in no cell
            tally = cells[i].setdefault(key, [0, 0])
            tally[0] += n
            tally[1] += passed
    weights, settings = traffic.weights(), Settings(method="mover_wilson", min_n=min_n)
    out: list[float | None] = []
    for run in cells:
        counts = [SegmentCounts(k, n, p) for k, (n, p) in sorted(run.items())]
        covered = estimate_rate(counts, weights, settings).covered if counts else None
        out.append(None if covered is None else covered.point)
    return out
