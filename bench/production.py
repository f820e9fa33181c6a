"""The production estimate and the decision's margin (issue #28; goal: each under 1 s on
1,000,000 results in 20 segments):

- 20 traffic cells of 8 to ~250,000 eval cases (1,000,000 in all), request counts as
  weights (so the Monte Carlo interval also draws the weights), 4,000 draws;
- the candidate's traffic-weighted pass rate and the paired delta, Monte Carlo and the
  closed form (MOVER-Wilson);
- the margin of a rule on the rate's lower limit and on the delta's lower limit (a
  threshold just inside the figure, so every segment's search runs), and on the point;
- the same two margins on the estimate corrected for the grader's errors (fixed
  calibrations of 1,100 and 1,000 judged results; the delta corrected per run).

    BENCH_ONLY=production make bench
    python bench/production.py            # the same, alone

Timed in this process, best and median of BENCH_PRODUCTION_REPEAT runs (default 3): the
machine is shared, so the best is the cost and the median how noisy the run was.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaltui.estimate import segments, weighted
from evaltui.estimate.calibration import Confusion, calibrate
from evaltui.estimate.margin import Threshold, delta_margin, rate_margin
from evaltui.estimate.margin_corrected import corrected_delta_margin, corrected_rate_margin
from evaltui.estimate.weighted import (
    PairedCounts,
    SegmentCounts,
    Settings,
    Weights,
    estimate_delta,
    estimate_rate,
)
from evaltui.estimate.weighted_corrected import corrected_delta_estimate, corrected_rate_estimate

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 1.0
SEGMENTS = 20
TOTAL = 1_000_000
# the graders' calibrations for the corrected figures: TPR 0.9 / TNR 0.8, and 0.88 / 0.85
CAND = calibrate(Confusion(tp=720, fp=60, tn=240, fn=80))
BASE = calibrate(Confusion(tp=616, fp=45, tn=255, fn=84))


def inputs() -> tuple[list[SegmentCounts], list[PairedCounts], Weights]:
    rng = random.Random(28)
    # sizes from 8 up, growing geometrically, scaled so they sum to TOTAL
    raw = [8 * 1.8**i for i in range(SEGMENTS)]
    scale = (TOTAL - 8 * SEGMENTS) / (sum(raw) - 8 * SEGMENTS)
    sizes = [8 + int((r - 8) * scale) for r in raw]
    sizes[-1] += TOTAL - sum(sizes)
    rates, paired, counts = [], [], []
    for i, n in enumerate(sizes):
        key = (f"cell-{i:02d}",)
        p_base = 0.80 + 0.15 * rng.random()
        both = int(n * p_base * 0.95)
        base_only = int(n * p_base) - both  # regressions
        cand_only = int(n * (1 - p_base) * 0.3)  # improvements
        neither = n - both - base_only - cand_only
        paired.append(PairedCounts(key, both, cand_only, base_only, neither))
        rates.append(SegmentCounts(key, n, both + cand_only))
        counts.append((key, rng.randint(1_000, 400_000)))
    return rates, paired, Weights.of_counts(("cell",), counts)


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """Best and median wall-clock seconds, and the best CPU seconds of this process (on a
    shared machine the CPU time is the cost, the wall time what a user waits)."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        weighted._weight_draws.cache_clear()  # each run draws everything itself
        segments.KEPT.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(times), statistics.median(times), min(cpu), out


def bench_production(workdir: Path, figures: dict[str, Any]) -> None:
    repeat = int(os.environ.get("BENCH_PRODUCTION_REPEAT", "3"))
    rates, paired, weights = inputs()
    mc, closed = Settings(seed=0), Settings(method="mover_wilson")
    rate_est = estimate_rate(rates, weights, mc)
    delta_est = estimate_delta(paired, weights, mc)
    assert rate_est.covered is not None and delta_est.covered is not None
    # a threshold half a point inside the lower limit: the rule passes, and every
    # segment's search has to find how many failures would make it fail
    on_rate = Threshold(rate_est.covered.lower - 0.005, "min", "lower", "covered")
    on_delta = Threshold(delta_est.covered.lower - 0.005, "min", "lower", "covered")
    on_point = Threshold(rate_est.covered.point - 0.005, "min", "point", "covered")
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("rate, Monte Carlo", lambda: estimate_rate(rates, weights, mc)),
        ("delta, Monte Carlo", lambda: estimate_delta(paired, weights, mc)),
        ("rate, MOVER-Wilson", lambda: estimate_rate(rates, weights, closed)),
        ("delta, MOVER-Wilson", lambda: estimate_delta(paired, weights, closed)),
        ("margin: rate's lower limit", lambda: rate_margin(rates, weights, on_rate, mc)),
        ("margin: delta's lower limit", lambda: delta_margin(paired, weights, on_delta, mc)),
        ("margin: rate's point", lambda: rate_margin(rates, weights, on_point, mc)),
        *_corrected(rates, paired, weights, mc),
    ]
    print(
        f"production: the estimate and the margin, {TOTAL:,} results in {SEGMENTS} segments, "
        f"count weights, {mc.draws:,} draws (goal {GOAL_S:.0f} s each; wall best / median of {repeat}, CPU best)"
    )
    rows = []
    for label, fn in cases:
        best, median, cpu, out = _timed(fn, repeat)
        extra = ""
        if hasattr(out, "closest"):
            extra = f", closest {out.closest.key[0]} at {out.closest.cases} flips"
        print(
            f"  {label}: {best:.3f} s / {median:.3f} s, CPU {cpu:.3f} s "
            f"({'OK' if best < GOAL_S else 'OVER'}){extra}"
        )
        rows.append({"case": label, "best_seconds": best, "median_seconds": median,
                     "cpu_seconds": cpu})  # fmt: skip
    rows.append(_demo_gate(workdir, repeat))
    figures["production"] = rows


def _corrected(
    rates: list[SegmentCounts], paired: list[PairedCounts], weights: Weights, mc: Settings
) -> list[tuple[str, Callable[[], Any]]]:
    """The corrected figures' margins, thresholds half a point inside their lower limits."""
    r = corrected_rate_estimate(rates, weights, CAND, mc).estimate
    d = corrected_delta_estimate(paired, weights, BASE, CAND, mc).estimate
    assert r is not None and r.covered is not None and d is not None and d.covered is not None
    on_rate = Threshold(r.covered.lower - 0.005, "min", "lower", "covered")
    on_delta = Threshold(d.covered.lower - 0.005, "min", "lower", "covered")
    return [
        ("corrected rate, Monte Carlo", lambda: corrected_rate_estimate(rates, weights, CAND, mc)),
        ("corrected delta, Monte Carlo",
         lambda: corrected_delta_estimate(paired, weights, BASE, CAND, mc)),
        ("margin: corrected rate's lower limit",
         lambda: corrected_rate_margin(rates, weights, CAND, on_rate, mc)),
        ("margin: corrected delta's lower limit",
         lambda: corrected_delta_margin(paired, weights, BASE, CAND, on_delta, mc)),
    ]  # fmt: skip


def _demo_gate(workdir: Path, repeat: int) -> dict[str, Any]:
    """The demo's whole decision on production traffic (fixtures/policies/production.toml:
    4 estimates, 2 margins on Monte Carlo lower limits, 12 cells), as `gate` makes it."""
    from evaltui import gate, service
    from evaltui.store import Store
    from evaltui.store import traffic as traffic_store

    db = workdir / "production-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with Store(db) as store:
        service.load_demo(store)
        traffic_store.keep_demo(store)
        loaded = gate.load_policy(ROOT / "fixtures" / "policies" / "production.toml")
        best, median, cpu, _ = _timed(lambda: gate.evaluate(store, loaded, 1, 2, 3), repeat)
    label = "the demo's decision (estimates and margins, as `gate` makes it)"
    print(f"  {label}: {best:.3f} s / {median:.3f} s, CPU {cpu:.3f} s "
          f"({'OK' if best < GOAL_S else 'OVER'})")  # fmt: skip
    return {"case": label, "best_seconds": best, "median_seconds": median, "cpu_seconds": cpu}


if __name__ == "__main__":
    bench_production(Path(__file__).resolve().parent / "out", {})
