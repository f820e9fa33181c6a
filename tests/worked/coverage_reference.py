"""The coverage of the estimate's method, simulated with numpy, independently of evaltui.

Run in a venv of its own (see weighted_reference.py):

    /tmp/venv-stats/bin/python tests/worked/coverage_reference.py

The same set-up as tests/test_estimate_weighted.py's coverage test (five segments of 5,
12, 25, 80 and 200 cases; traffic counts of 500 requests drawn from known shares), with
4,000 repetitions of 4,000 draws: the coverage of the 95% Monte Carlo interval with the
Jeffreys and the uniform prior, for the rate and the paired delta. docs/production.md
quotes its output.
"""

from __future__ import annotations

import numpy as np

NS = np.array([5, 12, 25, 80, 200])
RATES = np.array([0.97, 0.6, 0.85, 0.92, 0.75])
SHARES = np.array([0.15, 0.25, 0.1, 0.3, 0.2])
CELLS = np.array([(0.80, 0.05, 0.10, 0.05), (0.45, 0.15, 0.10, 0.30), (0.70, 0.10, 0.05, 0.15),
                  (0.85, 0.06, 0.04, 0.05), (0.60, 0.10, 0.15, 0.15)])  # fmt: skip
REPS, DRAWS, REQUESTS = 4000, 4000, 500


def coverage(kind: str, prior: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    truth = SHARES @ (RATES if kind == "rate" else CELLS[:, 1] - CELLS[:, 2])
    hits = 0
    for _ in range(REPS):
        counts = rng.multinomial(REQUESTS, SHARES)
        w = rng.dirichlet(counts + 1 / len(NS), DRAWS)  # Perks: 1 / cells each
        if kind == "rate":
            x = rng.binomial(NS, RATES)
            p = rng.beta(x + prior, NS - x + prior, (DRAWS, len(NS)))
            point = counts / counts.sum() @ (x / NS)
        else:
            tables = np.array([rng.multinomial(n, c) for n, c in zip(NS, CELLS, strict=True)])
            p = np.stack([rng.dirichlet(t + prior, DRAWS) for t in tables], axis=1)
            p = p[:, :, 1] - p[:, :, 2]
            point = counts / counts.sum() @ ((tables[:, 1] - tables[:, 2]) / NS)
        lo, hi = np.quantile((w * p).sum(axis=1), [0.025, 0.975])
        hits += min(lo, point) <= truth <= max(hi, point)
    return hits / REPS


for kind in ("rate", "delta"):
    for name, prior in (("jeffreys", 0.5), ("uniform", 1.0)):
        print(f"{kind} {name}: coverage {coverage(kind, prior, 28):.4f} ({REPS} repetitions)")
