"""The decision: measure every rule of a policy over a comparison, build the record
(gate/verify.py checks one against the store).

No SQL here: the measures are `compare.measures`, the reads are the Comparison's, and
kept decisions are `gate.history`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from evaltui import __version__
from evaltui.compare import Comparison, Reducer, default_dimensions, run_ref
from evaltui.compare.measures import fmt_threshold, fmt_value, measure
from evaltui.compare.production import dimensions_with
from evaltui.compare.summary import SegmentRecord
from evaltui.gate import calibration, production
from evaltui.gate.checks import check_policy
from evaltui.gate.history import previous_decision_at
from evaltui.gate.policy import (
    ACTIONS,
    EXIT_CODES,
    Action,
    LoadedPolicy,
    Rule,
    describe_scope,
)
from evaltui.gate.record import (
    SCHEMA,
    DecisionRecord,
    RuleResult,
)
from evaltui.review import lifecycle, triage
from evaltui.review.taxonomy import Taxonomy
from evaltui.review.taxonomy import load as load_taxonomy
from evaltui.stats import holm
from evaltui.store.store import Store, now_iso


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _correct_significance(
    pol: Any, segments: list[SegmentRecord], measured: list[tuple[float | None, dict[str, Any]]]
) -> None:
    """`significant_regression` with the policy's correction: its p-value is adjusted in one
    family with the segment table's (a scope that is a segment row takes that row's p)."""
    rows = {(s.dimension, s.value): s for s in segments}
    family: list[Any] = [s.p_value for s in segments]
    extra: dict[int, int] = {}  # rule index -> its place in the family
    for i, (r, (value, ev)) in enumerate(zip(pol.rule, measured, strict=True)):
        if r.metric != "significant_regression" or value is None:
            continue
        key = _segment_key(r.scope)
        if key not in rows:
            extra[i] = len(family)
            family.append(ev["p_value"])
    adjusted = holm(family) if pol.correction == "holm" else family
    by_key = dict(zip(rows, adjusted[: len(segments)], strict=True))
    for i, (r, (value, ev)) in enumerate(zip(pol.rule, measured, strict=True)):
        if r.metric != "significant_regression" or value is None:
            continue
        key = _segment_key(r.scope)
        p_adj = adjusted[extra[i]] if i in extra else by_key[key]  # type: ignore[index]
        ev["p_adjusted"] = round(p_adj, 6)
        ev["correction"] = pol.correction
        measured[i] = (1.0 if (ev["delta"] < 0 and p_adj < pol.alpha) else 0.0), ev


def _segment_key(scope: Any) -> tuple[str, str] | None:
    """The segment-table row a scope is, if it is one ("all", or one attribute = one value)."""
    if scope == "all" or not scope:
        return ("all", "all")
    if len(scope) == 1:
        ((attr, value),) = scope.items()
        if not isinstance(value, list):
            return (attr, str(value).lower() if isinstance(value, bool) else str(value))
    return None


# A policy's action by name, as the record types it (load_policy checked every name).
_ACTION: dict[str, Action] = {a: a for a in ACTIONS}


def _rule_result(
    r: Rule,
    value: float | None,
    evidence: dict[str, Any],
    n: int,
    policy_min_n: int,
    insufficient_action: Action,
    uncalibrated: str | None = None,
) -> RuleResult:
    """One rule as measured: pass or fail against its threshold, never a pass on fewer
    than min_n cases (or none), nor on a criterion [calibration] finds lacking
    (`uncalibrated` says why), a fail when there is no value unless `missing = pass`."""
    min_n = r.min_n if r.min_n is not None else policy_min_n
    insufficient = n == 0 or n < min_n or uncalibrated is not None
    if uncalibrated is not None:
        passed, result = False, f"insufficient evidence: {uncalibrated}"
    elif insufficient:
        passed = False
        result = f"insufficient evidence: {n} cases in scope, min_n {min_n}"
    elif value is None:
        passed = r.missing == "pass"
        result = "no data: " + ("passes (missing = pass)" if passed else "fails closed")
    else:
        passed = value >= r.min if r.min is not None else value <= r.max  # type: ignore[operator]
        result = "pass" if passed else "fail"
    return RuleResult(
        id=r.id,
        metric=r.metric,
        scope=r.scope,
        scope_text=describe_scope(r.scope),
        threshold=r.threshold,
        value=_round(value),
        passed=passed,
        result=result,
        action=_ACTION[r.action],
        owner=r.owner,
        why=r.why,
        evidence=evidence,
        n=n,
        min_n=min_n,
        insufficient=insufficient,
        triggers=insufficient_action if insufficient else _ACTION[r.action],
        uncalibrated=uncalibrated,
    )


def evaluate(
    store: Store,
    loaded: LoadedPolicy,
    baseline: int,
    candidate: int,
    fallback: int | None = None,
    *,
    decided_at: str | None = None,
    decided_by: str | None = None,
    taxonomy: Taxonomy | None = None,
    as_of: int | None = None,
) -> DecisionRecord:
    """Measure every rule and build the decision record (not kept; see `history.record_decision`).

    `as_of`: recompute kept decision `as_of` (what came before it is "previous")."""
    pol = loaded.policy
    scope_attrs = [k for r in pol.rule if isinstance(r.scope, dict) for k in r.scope]
    if pol.dimensions:
        dims = list(dict.fromkeys([*pol.dimensions, *scope_attrs]))
    else:
        refs = [run_ref(store.conn, r) for r in (baseline, candidate, fallback) if r is not None]
        dims = list(dict.fromkeys([*default_dimensions(refs), *scope_attrs]))
    prod = production.prepare(store, loaded)  # #28: the traffic weights it reads, if any
    if prod is not None:
        dims = dimensions_with(dims, prod.traffic)
    severity = {a: i for i, a in enumerate(pol.actions)}
    tax = taxonomy if taxonomy is not None else load_taxonomy(store)
    triage.refold(store)  # states written by an earlier evaltui are recomputed first
    with Comparison(
        store.path,
        baseline,
        candidate,
        fallback,
        reducer=Reducer.parse(pol.reducer),
        dimensions=dims,
        correction=pol.correction,
    ) as cmp:
        sizes = check_policy(loaded, cmp, tax)  # refuses a policy that would measure nothing
        production.check(loaded, prod, cmp)
        summary = cmp.summary(with_keys=False, with_criteria=False)
        measured = [
            measure(cmp, r.metric, r.scope, alpha=pol.alpha, params=r.params, production=prod)
            for r in pol.rule
        ]
        _correct_significance(pol, summary.segments, measured)
        cal = calibration.section(store, loaded, baseline, candidate, pol.alpha)
        rules_out = [
            _rule_result(
                r,
                value,
                evidence,
                n,
                pol.min_n,
                pol.insufficient_evidence,
                (None if cal is None else cal.lacking(r))  # [calibration]'s standard
                or production.lacking(prod, cmp, r),  # a corrected estimate refused
            )
            for r, (value, evidence), n in zip(pol.rule, measured, sizes, strict=True)
        ]
        violated = [x for x in rules_out if not x.passed]
        decision: Action = (
            max((x.triggers for x in violated), key=lambda a: severity[a]) if violated else "ship"
        )
        triage_rows = cmp.triaged()
        untriaged = cmp.untriaged_regressions()
        ref_rows = cmp.reference_set()
        prod_section = production.section(prod, cmp, loaded)
        prov_runs = {
            role: None
            if r is None
            else {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "system": r.system,
                "source_path": r.source_path,
                "sha256": r.sha256,
            }
            for role, r in (
                ("baseline", cmp.baseline),
                ("candidate", cmp.candidate),
                ("fallback", cmp.fallback),
            )
        }
    ref_hash = hashlib.sha256(
        "\n".join(f"{s}\t{k}\t{st}" for s, k, st in ref_rows).encode()
    ).hexdigest()
    previous = previous_decision_at(store, before=as_of)
    by_class = Counter(c for r in triage_rows for c in r.classes)  # a disagreement: each class
    by_owner = Counter(r.owner for r in triage_rows if r.owner)
    open_by_owner = Counter(
        r.owner or "(none)" for r in triage_rows if r.verdict in (None, "real_regression")
    )
    why = (
        "no rule is violated"
        if not violated
        else "; ".join(
            f"{x.id} ({x.triggers}, owner {x.owner}): "
            + (
                f"insufficient evidence: {x.uncalibrated}"  # gate/calibration.py
                if x.uncalibrated
                else f"insufficient evidence: {x.n} cases over {x.scope_text}, needs {x.min_n}"
                if x.insufficient
                else f"{x.metric} over {x.scope_text} is {fmt_value(x.value, x.metric)}, "
                f"must be {fmt_threshold(x.threshold, x.metric)}"
            )
            for x in sorted(violated, key=lambda x: -severity[x.triggers])
        )
    )
    record = DecisionRecord.model_validate(
        {
            "schema": SCHEMA,
            "decision": decision,
            "exit_code": EXIT_CODES[decision],
            "why": why,
            "promise": pol.promise,
            "actions": pol.actions,
            "rules": rules_out,
            "counts": summary.counts,
            "excluded": summary.excluded,
            "segments": summary.segments,
            "findings": {
                "by_class": dict(sorted(by_class.items())),
                "by_owner": dict(sorted(by_owner.items())),
                "open_by_owner": dict(sorted(open_by_owner.items())),
                "triaged_cases": sum(1 for r in triage_rows if r.triaged),  # a class or a verdict
            },
            "untriaged_regressions": untriaged,
            "retired_since_previous_decision": [
                c.as_dict() for c in lifecycle.retired_since(store, previous)
            ],
            "previous_decision_at": previous,
            "reviewers": triage.reviewers(store, baseline, candidate),
            "open_disagreements": [r.case_key for r in triage_rows if r.state == "disagreement"],
            "provenance": {
                **prov_runs,
                "reducer": pol.reducer,
                "alpha": pol.alpha,
                "correction": pol.correction,
                "min_n": pol.min_n,
                "insufficient_evidence": pol.insufficient_evidence,
                "dimensions": dims,
                "policy": {"path": str(loaded.path.resolve()), "sha256": loaded.sha256},
                "taxonomy": {"version": tax.version, "sha256": tax.sha256, "source": tax.source},
                "reference_set_sha256": ref_hash,
                "reference_set_cases": len(ref_rows),
                "evaltui_version": __version__,
                "decided_at": decided_at or now_iso(),
                "decided_by": decided_by or store.actor,
                "event_log_head": store.chain_head(),
            },
            "calibration": cal,
            "production": prod_section,
        }
    )
    return record.sealed()
