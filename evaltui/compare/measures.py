"""The gate's metrics, measured over a Comparison. Takes a rule's fields; knows nothing of policies."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evaltui.compare.engine import Comparison
from evaltui.compare.kinds import RANK
from evaltui.stats import mcnemar_exact
from evaltui.triage_state import TRIAGED, TRUSTED

# Every metric a rule can name, with what it measures (docs/gate.md).
METRICS = {
    "pass_rate": "candidate pass rate (reduced per case) over the cases in scope",
    "pass_rate_delta": "candidate minus baseline pass rate over paired cases in scope (a fraction)",
    "regressions": "cases that went pass -> fail/error",
    "untriaged_regressions": "regressions without a failure class or verdict from a verified finding",
    "findings_of_class": "cases whose finding has the failure class `class`",
    "open_findings": "cases with a verified finding not yet settled (verdict empty or real_regression); `owner` narrows",
    "worst_of_n_pass_rate": "candidate pass rate when a case passes only if every sample passes",
    "p95_latency": "95th percentile of candidate latency (ms) over samples in scope",
    "p95_latency_delta": "candidate p95 latency minus baseline p95 latency (ms)",
    "cost_delta": "relative change of total cost, candidate vs baseline, over paired cases (0.1 = +10%)",
    "disagreements": "cases where reviewers disagree and no adjudication settled it",
    "significant_regression": "1 when the pass rate fell with exact McNemar p < alpha, else 0",
    "dropped_cases": "cases in the baseline that the candidate did not run (coverage)",
    "candidate_vs_fallback": "candidate minus fallback pass rate over cases both ran",
    "unverified_findings": "cases holding a finding from a file whose signature was not verified",
    "limit_hits": "candidate cases with a sample stopped at a message, token or time limit",
    "unscored_cases": "candidate cases with no verdict at all (predict-only, metrics-only)",
}
KEYS_LIMIT = 25  # case keys quoted as evidence per rule


def fmt_value(value: Any, metric: str) -> str:
    """A rule's measured value in the unit of its metric ("no data" when there is none)."""
    if value is None:
        return "no data"
    if metric in ("pass_rate", "worst_of_n_pass_rate"):
        return f"{value:.1%}"
    if metric in ("pass_rate_delta", "candidate_vs_fallback", "cost_delta"):
        return f"{value * 100:+.1f} pts" if metric != "cost_delta" else f"{value:+.1%}"
    if metric in ("p95_latency", "p95_latency_delta"):
        return f"{value:,.0f} ms"
    return f"{value:g}"


def fmt_threshold(threshold: Mapping[str, float], metric: str) -> str:
    """`>= x` or `<= x` in the metric's unit."""
    ((kind, v),) = threshold.items()
    return f"{'>=' if kind == 'min' else '<='} {fmt_value(v, metric)}"


def _p95(cmp: Comparison, run_id: int, where: str, params: list[Any]) -> float | None:
    cond = f"r.latency_ms IS NOT NULL AND {where}"
    ((n,),) = cmp.result_values(run_id, "COUNT(*)", cond, params)
    if not n:
        return None
    k = max(0, math.ceil(0.95 * n) - 1)  # nearest-rank
    ((v,),) = cmp.result_values(
        run_id, "r.latency_ms", cond, [*params, k], tail="ORDER BY r.latency_ms LIMIT 1 OFFSET ?"
    )
    return float(v)


def measure(
    cmp: Comparison,
    metric: str,
    scope: Any,
    *,
    alpha: float,
    failure_class: str | None = None,
    owner: str | None = None,
    tool: str | None = None,
) -> tuple[float | None, dict[str, Any]]:
    """The metric over its scope: (value, or None when there is no data; evidence)."""
    where, params = cmp.scope_clause(scope)

    def one(select: str, cond: str = "1", extra: list[Any] | None = None) -> tuple[Any, ...]:
        return cmp.aggregate(select, f"{where} AND {cond}", [*params, *(extra or [])])

    def keys(cond: str, extra: list[Any] | None = None) -> list[str]:
        rows = cmp.rows_where(
            "k.case_key", f"{where} AND {cond}", [*params, *(extra or [])], limit=KEYS_LIMIT
        )
        return [r[0] for r in rows]

    m = metric
    if m in ("pass_rate", "worst_of_n_pass_rate"):
        expr = "t.c_pass" if m == "pass_rate" else "(t.c_np = t.c_n)"
        n, passed = one(f"COUNT(*), TOTAL({expr})", "t.c_n > 0")
        return (passed / n if n else None), {"cases": n, "passed": int(passed)}
    if m in ("pass_rate_delta", "significant_regression"):
        n, bp, cp, reg, imp = one(
            "COUNT(*), TOTAL(t.b_pass), TOTAL(t.c_pass), TOTAL(t.b_pass = 1 AND t.c_pass = 0), "
            "TOTAL(t.b_pass = 0 AND t.c_pass = 1)",
            "t.b_pass IS NOT NULL AND t.c_pass IS NOT NULL",
        )
        if not n:
            return None, {"cases": 0}
        delta = (cp - bp) / n
        pval = mcnemar_exact(int(reg), int(imp))
        ev = {"cases": n, "baseline_passed": int(bp), "candidate_passed": int(cp), "pass_to_fail": int(reg),
              "fail_to_pass": int(imp), "p_value": round(pval, 6)}  # fmt: skip
        if m == "pass_rate_delta":
            return delta, ev
        return (1.0 if (delta < 0 and pval < alpha) else 0.0), {
            **ev,
            "alpha": alpha,
            "delta": round(delta, 6),
        }
    if m in ("regressions", "untriaged_regressions", "dropped_cases"):
        cond = {"regressions": f"t.change = {RANK['regressed']}", "untriaged_regressions": f"t.change = {RANK['regressed']} AND NOT {TRIAGED}",
                "dropped_cases": f"t.change = {RANK['dropped']}"}[m]  # fmt: skip
        (n,) = one("COUNT(*)", cond)
        return float(n), {"cases": keys(cond)}
    if m == "findings_of_class":
        # any current opinion naming the class counts: a disagreement never hides one
        has = "EXISTS (SELECT 1 FROM json_each(ct.classes) WHERE value = ?)"
        args: list[Any] = [failure_class]
        if tool:  # only opinions that point at a call of this tool
            has = ("EXISTS (SELECT 1 FROM json_each(ct.steps) s WHERE json_extract(s.value, '$.class') = ? "
                   "AND json_extract(s.value, '$.tool') = ?)")  # fmt: skip
            args = [failure_class, tool]
        (n,) = one("COUNT(*)", has, args)
        return float(n), {
            "class": failure_class,
            **({"tool": tool} if tool else {}),
            "cases": keys(has, args),
        }
    if m == "open_findings":
        cond = f"ct.case_id IS NOT NULL AND {TRUSTED} AND (ct.verdict IS NULL OR ct.verdict = 'real_regression')"
        extra: list[Any] = []
        if owner:
            cond += " AND ct.owner = ?"
            extra = [owner]
        (n,) = one("COUNT(*)", cond, extra)
        return float(n), {"owner": owner, "cases": keys(cond, extra)}
    if m == "unverified_findings":
        cond = "EXISTS (SELECT 1 FROM json_each(ct.reviewers) WHERE substr(value, -13) = ' (unverified)')"
        (n,) = one("COUNT(*)", cond)
        return float(n), {"cases": keys(cond)}
    if m == "limit_hits":
        limited = f"r.verdict = 'limit' AND {where}"
        rid = cmp.candidate.id
        ((hits,),) = cmp.result_values(rid, "COUNT(DISTINCT r.case_id)", limited, params)
        rows = cmp.result_values(
            rid, "DISTINCT (SELECT case_key FROM cases WHERE id = r.case_id)", limited, params,
            tail=f"LIMIT {KEYS_LIMIT}",
        )  # fmt: skip
        return float(hits), {"cases": [r[0] for r in rows]}
    if m == "unscored_cases":
        (n,) = one("COUNT(*)", "t.c_n = 0")
        return float(n), {"cases": keys("t.c_n = 0")}
    if m == "disagreements":
        (n,) = one("COUNT(*)", "ct.state = 'disagreement'")
        return float(n), {"cases": keys("ct.state = 'disagreement'")}
    if m in ("p95_latency", "p95_latency_delta"):
        cand = _p95(cmp, cmp.candidate.id, where, params)
        if m == "p95_latency":
            return cand, {"candidate_p95_ms": cand}
        basep = _p95(cmp, cmp.baseline.id, where, params)
        if cand is None or basep is None:
            return None, {"candidate_p95_ms": cand, "baseline_p95_ms": basep}
        return cand - basep, {"candidate_p95_ms": cand, "baseline_p95_ms": basep}
    if m == "cost_delta":
        cond = f"t.b_n IS NOT NULL AND t.c_n > 0 AND {where}"
        ((bc, bn),) = cmp.result_values(
            cmp.baseline.id, "TOTAL(r.cost), COUNT(r.cost)", cond, params
        )
        ((cc, cn),) = cmp.result_values(
            cmp.candidate.id, "TOTAL(r.cost), COUNT(r.cost)", cond, params
        )
        if not bn or not cn or not bc:
            return None, {"baseline_cost": bc, "candidate_cost": cc}
        return (cc - bc) / bc, {"baseline_cost": round(bc, 6), "candidate_cost": round(cc, 6)}
    if m == "candidate_vs_fallback":
        if cmp.fallback is None:
            return None, {"fallback": None}
        n, cp, fp = one(
            "COUNT(*), TOTAL(t.c_pass), TOTAL(t.f_pass)",
            "t.c_pass IS NOT NULL AND t.f_pass IS NOT NULL",
        )
        return ((cp - fp) / n if n else None), {
            "cases": n,
            "candidate_passed": int(cp),
            "fallback_passed": int(fp),
        }
    raise AssertionError(m)
