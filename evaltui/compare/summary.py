"""What `evaltui compare --json` prints: one comparison summarised (docs/compare.md)."""

from __future__ import annotations

from typing import Any

from evaltui.compare import paths
from evaltui.compare.engine import Comparison
from evaltui.compare.kinds import CHANGED
from evaltui.compare.rows import RunRef, declared_reducers, reducer_note


def summarize(
    cmp: Comparison, *, with_keys: bool = True, with_criteria: bool = True
) -> dict[str, Any]:
    """The stable JSON of `evaltui compare --json` (docs/compare.md)."""

    def run(r: RunRef | None) -> dict[str, Any] | None:
        return (
            None
            if r is None
            else {k: getattr(r, k) for k in ("id", "name", "role", "system", "sha256")}
        )

    counts = cmp.counts()
    trio = (cmp.baseline, cmp.candidate, cmp.fallback)
    out: dict[str, Any] = {
        "schema": "evaltui.compare/1",
        "baseline": run(cmp.baseline),
        "candidate": run(cmp.candidate),
        "fallback": run(cmp.fallback),
        "reducer": cmp.reducer.label,
        "declared_reducers": declared_reducers(*trio),
        "reducer_note": reducer_note(cmp.reducer, *trio),
        "correction": cmp.correction,
        "statuses": sorted(cmp.statuses),
        "excluded": {k: v for k, v in cmp.status_counts().items() if k not in cmp.statuses},
        "dimensions": cmp.dimensions,
        "counts": counts,
        "coverage": {"added": counts["added"], "dropped": counts["dropped"]},
        "segments": [s.as_dict() for s in cmp.segments()],
    }
    if with_criteria:
        out["criteria"] = cmp.criterion_changes()
    if with_keys:
        out["changed"] = cmp.changed_keys(CHANGED)
    out["limit_hits"] = {side: [r[0] for r in cmp.rows_where("k.case_key", f"t.{side[0]}_nl > 0")]
                         for side in ("baseline", "candidate")}  # flags beside verdicts  # fmt: skip
    out["tools"] = paths.tools_by_run(cmp)  # None for a run without trajectories
    return out
