"""The gate's metrics: one registry entry per metric, each measured as SQL over a Comparison.

`METRICS` is the only list of metrics. An entry holds the metric's name, its doc
line (docs/gate.md's table is generated from it), its unit (how its values are
written, `evaltui/units.py`), the rule parameters it takes (each naming a kind of
thing that `gate/checks.py` checks exists) and its measure function. The policy's
metric names, parameter checks and did-you-mean all derive from it; this module
knows nothing of policies. Adding a metric: docs/architecture.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from evaltui.compare.engine import Comparison
from evaltui.compare.families import CALIBRATION, PRODUCTION, WHICH
from evaltui.compare.kinds import RANK
from evaltui.compare.metric import (
    KEYS_LIMIT,
    NAME_KINDS,
    NAME_WORDS,
    Measured,
    Metric,
    NameKind,
    Param,
    Scoped,
    labelled_class,
    labelled_new,
    labelled_nothing,
    labelled_open,
)
from evaltui.compare.production import Production, Which
from evaltui.errors import InputError
from evaltui.review.triage_state import TRIAGED, TRUSTED
from evaltui.stats import mcnemar_exact
from evaltui.store.runs import LIMIT_HIT, case_key_sql
from evaltui.units import UNIT_WORDS, format_threshold, format_value

__all__ = [
    "KEYS_LIMIT",
    "METRICS",
    "NAME_KINDS",
    "NAME_WORDS",
    "PARAMS",
    "Measured",
    "Metric",
    "NameKind",
    "Param",
    "Scoped",
    "fmt_threshold",
    "fmt_value",
    "measure",
]


# -- the measures -------------------------------------------------------------------------------


def _pass_rate(expr: str) -> Callable[[Scoped], Measured]:
    def measure(q: Scoped) -> Measured:
        n, passed = q.one(f"COUNT(*), TOTAL({expr})", "t.c_n > 0")
        return (passed / n if n else None), {"cases": n, "passed": int(passed)}

    return measure


def _paired(q: Scoped) -> tuple[float, float, dict[str, Any]] | None:
    """The paired pass-rate delta over cases both runs scored, McNemar's p, the evidence."""
    n, bp, cp, reg, imp = q.one(
        "COUNT(*), TOTAL(t.b_pass), TOTAL(t.c_pass), TOTAL(t.b_pass = 1 AND t.c_pass = 0), "
        "TOTAL(t.b_pass = 0 AND t.c_pass = 1)",
        "t.b_pass IS NOT NULL AND t.c_pass IS NOT NULL",
    )
    if not n:
        return None
    pval = mcnemar_exact(int(reg), int(imp))
    return (
        (cp - bp) / n,
        pval,
        {
            "cases": n,
            "baseline_passed": int(bp),
            "candidate_passed": int(cp),
            "pass_to_fail": int(reg),
            "fail_to_pass": int(imp),
            "p_value": round(pval, 6),
        },
    )


def _pass_rate_delta(q: Scoped) -> Measured:
    paired = _paired(q)
    return (None, {"cases": 0}) if paired is None else (paired[0], paired[2])


def _significant_regression(q: Scoped) -> Measured:
    # gate/decide.py adjusts the p-value with the segment table's (the policy's correction)
    paired = _paired(q)
    if paired is None:
        return None, {"cases": 0}
    delta, pval, ev = paired
    significant = delta < 0 and pval < q.alpha
    return (1.0 if significant else 0.0), {**ev, "alpha": q.alpha, "delta": round(delta, 6)}


def _regressions(q: Scoped) -> Measured:
    return q.count(f"t.change = {RANK['regressed']}")


def _untriaged_regressions(q: Scoped) -> Measured:
    return q.count(f"t.change = {RANK['regressed']} AND NOT {TRIAGED}")


def _dropped_cases(q: Scoped) -> Measured:
    return q.count(f"t.change = {RANK['dropped']}")


def _findings_of_class(q: Scoped) -> Measured:
    failure_class, tool = q.args["class"], q.args.get("tool")
    # any current opinion naming the class counts: a disagreement never hides one
    has = "EXISTS (SELECT 1 FROM json_each(ct.classes) WHERE value = ?)"
    args: list[Any] = [failure_class]
    if tool:  # only opinions that point at a call of this tool
        has = (
            "EXISTS (SELECT 1 FROM json_each(ct.steps) s WHERE json_extract(s.value, '$.class') = ? "
            "AND json_extract(s.value, '$.tool') = ?)"
        )
        args = [failure_class, tool]
    (n,) = q.one("COUNT(*)", has, args)
    return float(n), {
        "class": failure_class,
        **({"tool": tool} if tool else {}),
        "cases": q.keys(has, args),
    }


def _open_findings(q: Scoped) -> Measured:
    owner = q.args.get("for_owner")
    cond = (
        f"ct.case_id IS NOT NULL AND {TRUSTED} "
        "AND (ct.verdict IS NULL OR ct.verdict = 'real_regression')"
    )
    extra: list[Any] = []
    if owner:
        cond += " AND ct.owner = ?"
        extra = [owner]
    (n,) = q.one("COUNT(*)", cond, extra)
    return float(n), {"owner": owner, "cases": q.keys(cond, extra)}


def _unverified_findings(q: Scoped) -> Measured:
    return q.count(
        "EXISTS (SELECT 1 FROM json_each(ct.reviewers) WHERE substr(value, -13) = ' (unverified)')"
    )


def _new_failure_modes(q: Scoped) -> Measured:
    """Candidate-failing cases in scope with a failure class that no baseline-failing case
    of the comparison has: a failure mode the baseline never had (issue #29)."""
    classes, cases = q.cmp.new_failure_modes(q.where, q.sql_params)
    return float(len(cases)), {"classes": classes, "cases": cases[:KEYS_LIMIT]}


def _disagreements(q: Scoped) -> Measured:
    return q.count("ct.state = 'disagreement'")


def _unscored_cases(q: Scoped) -> Measured:
    return q.count("t.c_n = 0")


def _limit_hits(q: Scoped) -> Measured:
    cmp, limited = q.cmp, f"r.{LIMIT_HIT} AND {q.where}"  # the one rule (store/runs.py)
    ((hits,),) = cmp.result_values(
        cmp.candidate.id, "COUNT(DISTINCT r.case_id)", limited, q.sql_params
    )
    rows = cmp.result_values(
        cmp.candidate.id,
        f"DISTINCT {case_key_sql('r')}",
        limited,
        q.sql_params,
        tail=f"LIMIT {KEYS_LIMIT}",
    )
    return float(hits), {"cases": [r[0] for r in rows]}


def _p95(q: Scoped, run_id: int) -> float | None:
    cond = f"r.latency_ms IS NOT NULL AND {q.where}"
    ((n,),) = q.cmp.result_values(run_id, "COUNT(*)", cond, q.sql_params)
    if not n:
        return None
    k = max(0, math.ceil(0.95 * n) - 1)  # nearest-rank
    ((v,),) = q.cmp.result_values(
        run_id,
        "r.latency_ms",
        cond,
        [*q.sql_params, k],
        tail="ORDER BY r.latency_ms LIMIT 1 OFFSET ?",
    )
    return float(v)


def _p95_latency(q: Scoped) -> Measured:
    cand = _p95(q, q.cmp.candidate.id)
    return cand, {"candidate_p95_ms": cand}


def _p95_latency_delta(q: Scoped) -> Measured:
    cand, basep = _p95(q, q.cmp.candidate.id), _p95(q, q.cmp.baseline.id)
    ev = {"candidate_p95_ms": cand, "baseline_p95_ms": basep}
    return (None if cand is None or basep is None else cand - basep), ev


def _cost_delta(q: Scoped) -> Measured:
    cmp, cond = q.cmp, f"t.b_n IS NOT NULL AND t.c_n > 0 AND {q.where}"
    ((bc, bn),) = cmp.result_values(
        cmp.baseline.id, "TOTAL(r.cost), COUNT(r.cost)", cond, q.sql_params
    )
    ((cc, cn),) = cmp.result_values(
        cmp.candidate.id, "TOTAL(r.cost), COUNT(r.cost)", cond, q.sql_params
    )
    if not bn or not cn or not bc:
        return None, {"baseline_cost": bc, "candidate_cost": cc}
    return (cc - bc) / bc, {"baseline_cost": round(bc, 6), "candidate_cost": round(cc, 6)}


def _candidate_vs_fallback(q: Scoped) -> Measured:
    if q.cmp.fallback is None:
        return None, {"fallback": None}
    n, cp, fp = q.one(
        "COUNT(*), TOTAL(t.c_pass), TOTAL(t.f_pass)",
        "t.c_pass IS NOT NULL AND t.f_pass IS NOT NULL",
    )
    return ((cp - fp) / n if n else None), {
        "cases": n,
        "candidate_passed": int(cp),
        "fallback_passed": int(fp),
    }


# -- the registry: one entry per metric (docs/gate.md's table is generated from it) -------------

_CLASS = Param("class", "class", "the failure class key counted", required=True)
_TOOL = Param(
    "tool",
    "tool",
    "only findings that point at a call of this tool (agent runs: `evaltui label --step`, or a class key on a highlighted call)",
)
_FOR_OWNER = Param("for_owner", "owner", "only the findings this owner holds")

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("pass_rate", "candidate pass rate", "rate", _pass_rate("t.c_pass")),
        Metric(
            "pass_rate_delta",
            "candidate minus baseline pass rate over paired cases (-0.02 is 2 points)",
            "points",
            _pass_rate_delta,
        ),
        Metric("regressions", "cases that went pass -> fail or error", "count", _regressions),
        Metric(
            "untriaged_regressions",
            "regressions not triaged: no verified finding gives them a failure class or a verdict (an owner or a note alone does not triage)",
            "count",
            _untriaged_regressions,
            labelled=labelled_nothing,
        ),
        Metric(
            "findings_of_class",
            "cases whose finding has failure class `class` (e.g. any `unsafe_tool_action`)",
            "count",
            _findings_of_class,
            (_CLASS, _TOOL),
            labelled=labelled_class,
        ),
        Metric(
            "open_findings",
            "cases whose verified finding is not settled (verdict empty or `real_regression`); "
            "`for_owner` narrows",
            "count",
            _open_findings,
            (_FOR_OWNER,),
            labelled=labelled_open,
        ),
        Metric(
            "worst_of_n_pass_rate",
            "candidate pass rate when a case passes only if every sample passes",
            "rate",
            _pass_rate("(t.c_np = t.c_n)"),
        ),
        Metric(
            "p95_latency",
            "candidate p95 latency (nearest rank, over samples)",
            "ms",
            _p95_latency,
            reads=("latency_ms",),
        ),
        Metric(
            "p95_latency_delta",
            "candidate p95 minus baseline p95",
            "ms",
            _p95_latency_delta,
            reads=("latency_ms",),
        ),
        Metric(
            "cost_delta",
            "relative change of total cost over paired cases (0.25 = +25%)",
            "relative",
            _cost_delta,
            reads=("cost",),
        ),
        Metric(
            "disagreements",
            "cases in reviewer disagreement",
            "count",
            _disagreements,
            labelled=labelled_nothing,
        ),
        Metric(
            "new_failure_modes",
            "candidate-failing cases with a failure class no baseline-failing case has "
            "(a failure mode the baseline never had; its classes are the evidence)",
            "count",
            _new_failure_modes,
            labelled=labelled_new,
        ),
        Metric(
            "significant_regression",
            "1 when the pass rate fell and the exact McNemar p < `alpha`, else 0",
            "flag",
            _significant_regression,
        ),
        Metric(
            "dropped_cases", "baseline cases the candidate did not run", "count", _dropped_cases
        ),
        Metric(
            "candidate_vs_fallback",
            "candidate minus fallback pass rate over cases both ran",
            "points",
            _candidate_vs_fallback,
        ),
        Metric(
            "unverified_findings",
            "cases holding a finding from a file whose signature was not verified (the only metric such a finding moves)",
            "count",
            _unverified_findings,
        ),
        Metric(
            "limit_hits",
            "candidate cases with a sample that hit a message, token or time limit, "
            "whatever its verdict (docs/formats.md, Limits: the one rule)",
            "count",
            _limit_hits,
        ),
        Metric(
            "unscored_cases",
            "candidate cases with no verdict at all (predict-only, metrics-only runs)",
            "count",
            _unscored_cases,
        ),
    )
}

# -- calibration: figures corrected for the grader's errors (compare/calibrated.py,
# docs/calibration.md) -------------------------------------------------------------------------

METRICS.update({m.name: m for m in CALIBRATION})
# the metrics that measure calibration: a policy that uses one records the calibration
CALIBRATION_METRICS = frozenset(m.name for m in CALIBRATION)

# Metrics whose value rests on the grader's verdicts (on `criterion`, or the result's own):
# a rule on one lacks evidence when the policy's [calibration] requires that criterion and
# it is not calibrated to the standard (gate/calibration.py).
READS_GRADER = frozenset(
    {
        "pass_rate",
        "pass_rate_delta",
        "regressions",
        "untriaged_regressions",
        "worst_of_n_pass_rate",
        "significant_regression",
        "candidate_vs_fallback",
        "calibrated_pass_rate",
        "calibrated_pass_rate_delta",
        "grader_pass_rate_delta",
        "weighted_pass_rate",
        "weighted_pass_rate_delta",  # each cell's rate is the grader's (#28)
    }
)

# -- production: figures weighted by traffic (#28, compare/production.py, docs/production.md) --

METRICS.update({m.name: m for m in PRODUCTION})
# the metrics that read the traffic weights, and the figure each reads (gate/production.py)
PRODUCTION_METRICS: dict[str, Which] = {m.name: w for m, w in zip(PRODUCTION, WHICH, strict=True)}

# every parameter any metric takes, by key (one Param per key: the same key names one kind)
PARAMS: dict[str, Param] = {p.key: p for m in METRICS.values() for p in m.params}
assert all(p == PARAMS[p.key] for m in METRICS.values() for p in m.params), (
    "a parameter key means one thing"
)


def unit_of(metric: str) -> str:
    """The unit a metric's values are written in (a plain number for one this evaltui lacks)."""
    entry = METRICS.get(metric)
    return entry.unit if entry is not None else "count"


def fmt_value(value: float | None, metric: str) -> str:
    """A rule's measured value in the unit of its metric ("no data" when there is none)."""
    return format_value(value, unit_of(metric))


def fmt_threshold(threshold: Mapping[str, float], metric: str) -> str:
    """`>= x` or `<= x` in the metric's unit."""
    return format_threshold(threshold, unit_of(metric))


def measure(
    cmp: Comparison,
    metric: str,
    scope: Any,
    *,
    alpha: float,
    params: Mapping[str, str] | None = None,
    production: Production | None = None,
) -> Measured:
    """The metric over its scope: (value, or None when there is no data; evidence).

    A value or evidence figure that is not a finite number (latencies or costs so large
    their sum overflows) is refused naming the run, the line and the field."""
    entry = METRICS[metric]
    where, sql_params = cmp.scope_clause(scope)
    scoped = Scoped(cmp, where, sql_params, alpha, dict(params or {}), production)
    value, evidence = entry.measure(scoped)
    if not _finite(value) or not all(_finite(v) for v in evidence.values()):
        raise _overflow(cmp, entry, where, sql_params)
    return value, evidence


def _finite(v: Any) -> bool:
    return not isinstance(v, float) or math.isfinite(v)


def _overflow(cmp: Comparison, entry: Metric, where: str, params: list[Any]) -> InputError:
    """The refusal of a value too large to compute with: the largest value it reads, named."""
    worst: tuple[float, str, str, Any] | None = None
    for run in (cmp.baseline, cmp.candidate):
        for col in entry.reads:
            rows = cmp.result_values(
                run.id,
                f"ABS(r.{col}), r.source_line, {case_key_sql('r')}",
                f"r.{col} IS NOT NULL AND {where}",
                params,
                tail=f"ORDER BY ABS(r.{col}) DESC LIMIT 1",
            )
            if rows and (worst is None or rows[0][0] > worst[0]):
                worst = (rows[0][0], run.source_path, col, rows[0][1:])
    if worst is None:  # cannot happen for the metrics above: their other figures are bounded
        return InputError(
            "comparison",
            f"metric {entry.name} is not a finite number over these runs",
            field=entry.name,
        )
    size, path, col, (line, key) = worst
    return InputError(
        path,
        f"metric {entry.name} overflows a float over these runs (the largest {col} is {size:g}, "
        f"case {key!r}): not a measurement a decision can rest on",
        location=str(line) if line else None,
        field=col,
    )


def metric_table() -> str:
    """docs/gate.md's metric and parameter tables, as generated from the registry."""
    rows = ["| metric | value | unit | parameters |", "| --- | --- | --- | --- |"]
    for m in METRICS.values():
        params = ", ".join(f"`{p.key}`" + (" (required)" if p.required else "") for p in m.params)
        rows.append(f"| `{m.name}` | {m.doc} | {UNIT_WORDS[m.unit]} | {params or '-'} |")
    rows += ["", "| parameter | must name | metrics | meaning |", "| --- | --- | --- | --- |"]
    for p in PARAMS.values():
        users = ", ".join(f"`{m.name}`" for m in METRICS.values() if p in m.params)
        rows.append(f"| `{p.key}` | {NAME_WORDS[p.names]} | {users} | {p.doc} |")
    return "\n".join(rows) + "\n"
