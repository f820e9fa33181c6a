"""The decision: measure every rule of a policy over a comparison, build the record; verify one.

No SQL here (but one read of the event log: was a kept decision exported signed?):
the measures are `compare.measures`, the reads are the Comparison's, and kept
decisions are `gate.history`.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evaltui import __version__, signing
from evaltui.compare import Comparison, Reducer, default_dimensions, run_ref
from evaltui.compare.measures import fmt_threshold, fmt_value, measure
from evaltui.compare.production import dimensions_with
from evaltui.compare.summary import SegmentRecord
from evaltui.errors import InputError
from evaltui.gate import calibration, formats, production
from evaltui.gate.checks import check_policy
from evaltui.gate.diff import Difference, FieldPath, differences, dotted
from evaltui.gate.formats import Change
from evaltui.gate.history import kept, previous_decision_at, signed_when_kept
from evaltui.gate.policy import (
    ACTIONS,
    EXIT_CODES,
    Action,
    LoadedPolicy,
    Rule,
    describe_scope,
    load_policy,
)
from evaltui.gate.record import (
    SCHEMA,
    DecisionRecord,
    RuleResult,
    TaxonomyProvenance,
    content_hash,
)
from evaltui.review import lifecycle, triage
from evaltui.review.taxonomy import Taxonomy
from evaltui.review.taxonomy import load as load_taxonomy
from evaltui.stats import holm
from evaltui.store.runs import run_by_sha256
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
        id=r.id, metric=r.metric, scope=r.scope, scope_text=describe_scope(r.scope),
        threshold=r.threshold, value=_round(value), passed=passed, result=result,
        action=_ACTION[r.action], owner=r.owner, why=r.why, evidence=evidence, n=n,
        min_n=min_n, insufficient=insufficient,
        triggers=insufficient_action if insufficient else _ACTION[r.action],
        uncalibrated=uncalibrated,
    )  # fmt: skip


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
    with Comparison(store.path, baseline, candidate, fallback, reducer=Reducer.parse(pol.reducer),
                    dimensions=dims, correction=pol.correction) as cmp:  # fmt: skip
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
                None if cal is None else cal.lacking(r),  # [calibration]'s standard
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
            role: None if r is None else {
                "id": r.id, "name": r.name, "role": r.role, "system": r.system, "source_path": r.source_path,
                "sha256": r.sha256,
            }
            for role, r in (("baseline", cmp.baseline), ("candidate", cmp.candidate), ("fallback", cmp.fallback))
        }  # fmt: skip
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
    record = DecisionRecord.model_validate({
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
    })  # fmt: skip
    return record.sealed()


# Fields a recomputation may differ in without the decision having changed.
_VOLATILE: frozenset[FieldPath] = frozenset(
    {("content_hash",), ("provenance", "event_log_head"), ("provenance", "evaltui_version")}
)
# Said field by field before the rest (`verify`).
_SAID_APART = ("rules", "findings", "open_disagreements", "calibration", "production")


def _listed(differences: list[Difference], limit: int = 12) -> str:
    return ", ".join(str(d) for d in differences[:limit]) + (
        " …" if len(differences) > limit else ""
    )


def verify(
    store: Store,
    record: DecisionRecord | dict[str, Any],
    policy_path: Path | None = None,
    *,
    taxonomy: Taxonomy | None = None,
) -> list[str]:
    """Check a decision record against the store; the problems, in words (empty: it holds).

    The record must be one the store kept (a dry run's is refused), equal to the
    kept copy field by field, with the event log intact up to the head it names;
    then the decision is recomputed from the store and the policy as of that
    decision, and every field that now differs is named.
    """
    data = record.as_dict() if isinstance(record, DecisionRecord) else record
    problems: list[str] = []
    if data.get("schema") != SCHEMA:
        return [f"not an evaltui decision record (schema {data.get('schema')!r})"]
    if content_hash(data) != data.get("content_hash"):
        problems.append("the record itself was edited: its content hash does not match")
    found = kept(store, data)
    if found is None:
        return [*problems, "this record is not kept in this store (a --no-record dry run, another "
                "store, or a forgery): there is nothing to verify it against"]  # fmt: skip
    # The file against the copy kept: JSON data as each holds it (an earlier evaltui's
    # format, or a forgery that no model reads, is compared all the same).
    edited = list(differences(found.data, data))
    if edited:
        return [*problems, f"the record differs from decision {found.id} kept in the store, "
                f"in {_listed(edited)}"]  # fmt: skip
    prov = data["provenance"]
    for p in store.verify_chain(prov.get("event_log_head")):
        problems.append(f"the event log was tampered with: {p}")
    path = policy_path or Path(prov["policy"]["path"])
    if not path.exists():
        return [*problems, f"the policy file {path} is gone (give --policy)"]
    # a record an earlier evaltui made: recomputed with the settings in force then
    earlier = formats.predates(data)
    loaded = formats.as_then(load_policy(path), earlier)
    if loaded.sha256 != prov["policy"]["sha256"]:
        problems.append(
            f"the policy changed: sha256 {prov['policy']['sha256'][:12]} -> {loaded.sha256[:12]}"
        )
    ids: dict[str, int | None] = {}
    for role in ("baseline", "candidate", "fallback"):
        ref = prov.get(role)
        if ref is None:
            ids[role] = None
            continue
        known = run_by_sha256(store, ref["sha256"])
        if known is None:
            return [
                *problems,
                f"the {role} run {ref['name']} (sha256 {ref['sha256'][:12]}) is not in this store",
            ]
        ids[role] = known.id
    base_id, cand_id = ids["baseline"], ids["candidate"]
    assert base_id is not None and cand_id is not None
    now = evaluate(
        store, loaded, base_id, cand_id, ids["fallback"], decided_at=prov["decided_at"],
        decided_by=prov["decided_by"], taxonomy=taxonomy, as_of=found.id,
    )  # fmt: skip
    try:  # the fields evaltui did not write then cannot have changed: taken from now
        was = DecisionRecord.model_validate(
            formats.completed(data, now.as_dict()) if earlier else data, strict=True
        )
    except ValidationError as exc:
        return [*problems, f"the record does not read as a decision record: {_first(exc)}"]
    return problems + _changes(was, now, policy_moved=policy_path is not None, earlier=earlier)


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    return f"{dotted(tuple(err['loc']))}: {err['msg']}"


def _changes(
    was: DecisionRecord, now: DecisionRecord, *, policy_moved: bool, earlier: list[Change]
) -> list[str]:
    """What differs between the recorded decision and the recomputed one, in words: the
    decision, the reference set, each rule, the findings, then every other leaf."""
    problems: list[str] = []
    explained: set[FieldPath] = set()
    if now.decision != was.decision:
        problems.append(f"the decision changed: {was.decision} -> {now.decision}")
        explained |= {("decision",), ("exit_code",), ("why",)}
    old_ref, new_ref = was.provenance, now.provenance
    if new_ref.reference_set_sha256 != old_ref.reference_set_sha256:
        old_n, new_n = old_ref.reference_set_cases, new_ref.reference_set_cases
        size = f"; {old_n} -> {new_n} cases" if old_n != new_n else ""
        problems.append(
            "the reference set changed: cases were retired, quarantined, restored or added "
            f"(sha256 {old_ref.reference_set_sha256[:12]} -> "
            f"{new_ref.reference_set_sha256[:12]}{size})"
        )
        explained |= {
            ("provenance", "reference_set_sha256"),
            ("provenance", "reference_set_cases"),
        }
    if new_ref.taxonomy.sha256 != old_ref.taxonomy.sha256:
        problems.append(_taxonomy_changed(old_ref.taxonomy, new_ref.taxonomy))
    # the same classes under another version number or source are the same taxonomy
    explained |= {("provenance", "taxonomy", k) for k in ("version", "sha256", "source")}
    old_rules = {r.id: r for r in was.rules}
    for r in now.rules:
        o = old_rules.get(r.id)
        if o is None:
            problems.append(f"rule {r.id} is new")
        elif o.value != r.value or o.passed != r.passed:
            problems.append(f"rule {r.id}: {o.value} -> {r.value} ({o.result} -> {r.result})")
    if now.findings != was.findings:
        problems.append(
            f"findings changed: {was.findings.triaged_cases} -> {now.findings.triaged_cases} "
            "triaged cases"
        )
    if now.open_disagreements != was.open_disagreements:
        problems.append("open disagreements changed")
    # the judgment set a decision used
    was_json, now_json = was.model_dump(mode="json"), now.model_dump(mode="json")
    problems += calibration.changes(was_json, now_json)
    problems += production.changes(was_json, now_json)  # the weights, estimates and margins (#28)
    skip = _VOLATILE | explained | {("provenance", "policy", "sha256")}
    if policy_moved:
        skip |= {("provenance", "policy", "path")}
    rest = [d for d in differences(was, now) if d.path not in skip and d.path[0] not in _SAID_APART]
    if rest:
        problems.append(f"also changed: {_listed(rest)}")
    if earlier and problems:  # evaltui's change, said apart from the data's
        problems.append(f"note: {formats.describe(earlier)}; a difference above may come from "
                        "how evaltui computes now rather than from the data")  # fmt: skip
    return problems


def _taxonomy_changed(was: TaxonomyProvenance, now: TaxonomyProvenance) -> str:
    """The taxonomy in force is not the one the decision was made with (#29): both named
    by version and sha256, and how to see what changed."""

    def name(t: TaxonomyProvenance) -> str:
        which = f"version {t.version}" if t.version is not None else t.source
        return f"{which} (sha256 {t.sha256[:12]})"

    see = (
        f"; `evaltui taxonomy diff {was.version} {now.version}` says what changed"
        if was.version is not None and now.version is not None and was.version != now.version
        else ""
    )
    return (
        f"the taxonomy changed: the decision was made with taxonomy {name(was)}, the one in "
        f"force now is {name(now)}{see}"
    )


# -- the record's signature (verify) ---------------------------------------------------------


def note_signed(store: Store, record: DecisionRecord, signature: Path) -> None:
    """Record that the kept decision `record` was exported signed, so that `verify` of a
    copy whose signature was removed says "not signed" (the event log keeps it)."""
    found = kept(store, record.as_dict())
    if found is None:  # a dry run (--no-record): nothing kept to remember it by
        return
    digest = hashlib.sha256(signing.read_small(signature, "signature", 1 << 20)).hexdigest()
    with store.transaction():
        store.log_event(
            "decision.sign", "decision", found.id,
            after={"content_hash": record.content_hash, "signature_sha256": digest},
        )  # fmt: skip


def check_signature(
    store: Store, record: dict[str, Any], path: Path, raw: bytes, signers: Path | None
) -> tuple[str | None, list[str]]:
    """(the verified signer, or None; problems) for the record file `path` whose bytes
    are `raw` (the very bytes verified). A record whose kept decision was exported
    signed must carry its signature: a removed one is "not signed", never "unchanged"."""
    sig = signing.signature_path(path)
    if not os.path.lexists(sig):
        found = kept(store, record)
        if found is not None and signed_when_kept(store, found.id):
            return None, [f"not signed: decision {found.id} was exported signed, and {sig.name} "
                          "is not next to the record (removed?)"]  # fmt: skip
        return None, []
    if signers is None:
        return None, ["it is signed, but no allowed-signers file was given to check it"]
    try:
        return signing.verify(path, signers, signing.DECISION, data=raw), []
    except InputError as exc:
        return None, [f"its signature does not verify: {exc.detail}"]
