"""The coverage study behind the default interval of one corrected pass rate
(docs/calibration.md, "Which interval"): how often each method's 95% interval holds the
true pass rate, over scenarios of grader quality and calibration size.

Not a test (it takes about 6 minutes). numpy only draws the simulated counts; the
intervals are evaltui's own. Run from the repository root in the stats venv:

    /tmp/venv-stats/bin/python tests/worked/coverage_study.py

Each row: the scenario, then per method its coverage, how often the interval's low end
was above the truth (a gate reading the lower bound errs that way), and the mean width.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evaltui.estimate import Confusion, calibrate, corrected_pass_rate

METHODS = ("lang-reiczigel", "bootstrap", "delta")
SCENARIOS = [  # true pass rate, TPR, TNR, results in the run, judged passes, judged fails
    (0.70, 0.85, 0.90, 500, 40, 20),
    (0.70, 0.85, 0.90, 500, 20, 10),
    (0.70, 0.97, 0.95, 500, 15, 15),
    (0.95, 0.99, 0.80, 1000, 50, 15),
    (0.50, 0.70, 0.65, 500, 60, 60),
    (0.10, 0.90, 0.95, 2000, 20, 80),
    (0.30, 0.75, 0.99, 300, 30, 30),
    (0.70, 0.85, 0.90, 100000, 30, 30),
]


def study(pi, tpr, tnr, n, npos, nneg, reps=1000, seed=1, draws=1000):
    g = np.random.default_rng(seed)
    cover = dict.fromkeys(METHODS, 0)
    width = dict.fromkeys(METHODS, 0.0)
    low_above = dict.fromkeys(METHODS, 0)
    refused = 0
    p = pi * tpr + (1 - pi) * (1 - tnr)
    passes, tps, tns = (
        g.binomial(n, p, reps),
        g.binomial(npos, tpr, reps),
        g.binomial(nneg, tnr, reps),
    )
    for rep in range(reps):
        tp, tn = int(tps[rep]), int(tns[rep])
        cal = calibrate(Confusion(tp=tp, fn=npos - tp, tn=tn, fp=nneg - tn))
        for m in METHODS:
            r = corrected_pass_rate(int(passes[rep]), n, cal, method=m, draws=draws, seed=rep)
            if r.interval is None:
                refused += 1
                continue
            cover[m] += r.interval.contains(pi)
            width[m] += r.interval.width
            low_above[m] += r.interval.low > pi
    kept = reps - refused // len(METHODS)
    cells = ", ".join(
        f"{m} {cover[m] / kept:.3f} (low above {low_above[m] / kept:.3f}, width {width[m] / kept:.3f})"
        for m in METHODS
    )
    print(
        f"pi={pi} TPR={tpr} TNR={tnr} n={n} judged {npos}+{nneg}: {cells}; refused {refused // len(METHODS)}",
        flush=True,
    )


if __name__ == "__main__":
    for scenario in SCENARIOS:
        study(*scenario)
