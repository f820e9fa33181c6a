"""`evaltui calibrate report` on a 1M-result run with 1,000 judgments (issue #27; goal: under
2 s, the whole command: the process, the store opened, the figures):

- the compare section's store (a baseline and a candidate of N results each), copied;
- a seeded sample of 1,000 of the candidate's results on `grounded`, each judged (the
  grader's verdict, turned over for one in ten: a grader with TPR and TNR about 0.9);
- `calibrate report CAND --criterion grounded --json` timed three times (the median), and
  once with `--baseline` (the corrected paired delta reads both runs: one scan, reported).

    BENCH_ONLY=calibrate make bench
    BENCH_CALIBRATE_N=100000 BENCH_ONLY=calibrate make bench
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 2.0
JUDGED = 1_000


def _judge(db: Path, run: str) -> dict[str, Any]:
    from evaltui.review.calibration import judgments, samples
    from evaltui.store import Store, runs
    from evaltui.store.runs import grader

    with Store(db) as store:
        run_id = runs.resolve_run(store, run)
        t0 = time.perf_counter()
        kept = samples.draw(store, run_id, "grounded", n=JUDGED, seed=1)
        drawn_s = time.perf_counter() - t0
        said = grader.verdicts(store.conn, kept.items, "grounded")
        t0 = time.perf_counter()
        for i, ref in enumerate(kept.items):
            verdict = said[ref] or "fail"
            if i % 10 == 0:
                verdict = "fail" if verdict == "pass" else "pass"
            judgments.record(store, ref, "grounded", verdict, reviewer=f"r{i % 3}", sample=kept.uid)
        judged_s = time.perf_counter() - t0
    return {"sample_s": round(drawn_s, 3), "judge_1000_s": round(judged_s, 3)}


def _report(db: Path, *args: str) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds of the process, its JSON): the real command, end to end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "evaltui", "--db", str(db), "calibrate", "report", *args, "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out.stdout)


def bench_calibrate(workdir: Path, figures: dict[str, Any]) -> None:
    n = int(os.environ.get("BENCH_CALIBRATE_N", "1000000"))
    compare_store = runpy.run_path(str(ROOT / "bench" / "run.py"))["compare_store"]
    source = compare_store(workdir, n)
    db = workdir / f"calibrate-{n}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, db)
    made = _judge(db, f"cand-{n}")
    runs = [_report(db, f"cand-{n}", "--criterion", "grounded") for _ in range(3)]
    seconds = statistics.median(t for t, _, _ in runs)
    cpu = statistics.median(c for _, c, _ in runs)
    (c,) = runs[0][2]["criteria"]
    paired_s, _, paired = _report(
        db, f"cand-{n}", "--baseline", f"base-{n}", "--criterion", "grounded"
    )
    (p,) = paired["criteria"]
    figures["calibrate"] = {
        "results": n, "judged": c["judged"], **made, "report_s": round(seconds, 3),
        "report_cpu_s": round(cpu, 3), "report_runs_s": [round(t, 3) for t, _, _ in runs], "paired_report_s": round(paired_s, 3),
        "corrected": c["pass_rate"]["corrected"], "raw": c["pass_rate"]["raw"]["value"],
        "paired_delta": p["paired"]["delta"],
    }  # fmt: skip
    print(f"calibrate report: {n:,} results, {c['judged']:,} judged (sample {made['sample_s']} s, "
          f"1,000 judgments {made['judge_1000_s']} s)")  # fmt: skip
    print(f"  calibrate report (one run): {seconds:.2f} s median of 3 ({cpu:.2f} s CPU) "
          f"({'OK' if seconds < GOAL_S else 'MISSED'} < {GOAL_S:.0f} s); "
          f"raw {c['pass_rate']['raw']['value']:.3f} -> corrected {c['pass_rate']['corrected']:.3f}")  # fmt: skip
    print(f"  with --baseline (the paired table reads both runs): {paired_s:.2f} s")
    db.unlink(missing_ok=True)
