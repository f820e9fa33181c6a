"""The gate: a policy file turns a comparison into a decision, exported as a record.

Policy (TOML, docs/gate.md) -> rules, each a metric over a scope with a
threshold and the action taken when it is violated. The decision is the most
severe violated action (ship when none is). The decision record holds every
rule's measured value, the segment table, findings, provenance and its own
content hash; `verify` recomputes it from the store.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evaltui import __version__
from evaltui.compare import ALPHA, RANK, Comparison, Reducer, _run_ref, default_dimensions
from evaltui.errors import InputError
from evaltui.files import read_toml, table_lines
from evaltui.stats import mcnemar_exact, pct
from evaltui.store.store import Store, current_user, now_iso

ACTIONS = ("ship", "narrow_rollout", "repair", "hold", "rollback")
EXIT_CODES = {"ship": 0, "narrow_rollout": 10, "repair": 11, "hold": 12, "rollback": 13}
SCHEMA = "evaltui.decision/1"
METRICS = {
    "pass_rate": "candidate pass rate (reduced per case) over the cases in scope",
    "pass_rate_delta": "candidate minus baseline pass rate over paired cases in scope (a fraction)",
    "regressions": "cases that went pass -> fail/error",
    "untriaged_regressions": "regressions with no finding yet",
    "findings_of_class": "cases whose finding has the failure class `class`",
    "open_findings": "cases with a finding not yet settled (verdict empty or real_regression); `owner` narrows",
    "worst_of_n_pass_rate": "candidate pass rate when a case passes only if every sample passes",
    "p95_latency": "95th percentile of candidate latency (ms) over samples in scope",
    "p95_latency_delta": "candidate p95 latency minus baseline p95 latency (ms)",
    "cost_delta": "relative change of total cost, candidate vs baseline, over paired cases (0.1 = +10%)",
    "disagreements": "cases where reviewers disagree and no adjudication settled it",
    "significant_regression": "1 when the pass rate fell with exact McNemar p < alpha, else 0",
    "dropped_cases": "cases in the baseline that the candidate did not run (coverage)",
    "candidate_vs_fallback": "candidate minus fallback pass rate over cases both ran",
}


# -- the policy ------------------------------------------------------------------------------


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=80)
    metric: Literal[
        "pass_rate", "pass_rate_delta", "regressions", "untriaged_regressions", "findings_of_class",
        "open_findings", "worst_of_n_pass_rate", "p95_latency", "p95_latency_delta", "cost_delta",
        "disagreements", "significant_regression", "dropped_cases", "candidate_vs_fallback",
    ]  # fmt: skip
    scope: dict[str, str | int | float | bool | list[str | int | float | bool]] | Literal["all"] = (
        "all"
    )
    min: float | None = None
    max: float | None = None
    action: str
    owner: str = Field(min_length=1)
    why: str = Field(min_length=1)
    # metric parameters
    class_: str | None = Field(default=None, alias="class")
    owner_filter: str | None = Field(default=None, alias="for_owner")
    missing: Literal["fail", "pass"] = "fail"

    @model_validator(mode="after")
    def _threshold(self) -> Rule:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of min or max")
        if self.metric == "findings_of_class" and not self.class_:
            raise ValueError('findings_of_class needs class = "<failure class key>"')
        return self

    @property
    def threshold(self) -> dict[str, float]:
        return {"min": self.min} if self.min is not None else {"max": self.max}  # type: ignore[dict-item]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    promise: str = Field(min_length=1)
    dimensions: list[str] = Field(default_factory=list)
    reducer: str = "worst"
    alpha: float = Field(default=ALPHA, gt=0, lt=1)
    actions: list[str] = Field(default_factory=lambda: list(ACTIONS))
    rule: list[Rule] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _actions(cls, v: list[str]) -> list[str]:
        if sorted(v) != sorted(ACTIONS):
            raise ValueError(
                f"actions is an ordering of exactly {', '.join(ACTIONS)} (least severe first)"
            )
        return v

    @field_validator("reducer")
    @classmethod
    def _reducer(cls, v: str) -> str:
        Reducer.parse(v)
        return v


@dataclass
class LoadedPolicy:
    policy: Policy
    path: Path
    sha256: str


def _line_of(text: str, pattern: str) -> int | None:
    for n, line in enumerate(text.splitlines(), start=1):
        if re.match(pattern, line.strip()):
            return n
    return None


def load_policy(path: Path) -> LoadedPolicy:
    """Parse a policy; errors name the file, the line and the key."""
    data, text, raw = read_toml(path, "policy")
    starts = table_lines(text, "rule")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if loc and loc[0] == "rule" and len(loc) > 1 and loc[1].isdigit():
            i = int(loc[1])
            start = starts[i] if i < len(starts) else None
            key = loc[2] if len(loc) > 2 else None
            line = start
            if key and start:
                end = starts[i + 1] if i + 1 < len(starts) else 10**9
                for n, row in enumerate(text.splitlines(), start=1):
                    if start <= n < end and re.match(rf"{re.escape(key)}\s*=", row.strip()):
                        line = n
                        break
            rid = (
                data["rule"][i].get("id")
                if isinstance(data.get("rule"), list) and i < len(data["rule"])
                else None
            )
            where = (
                f"rule {i + 1}" + (f" ({rid})" if rid else "") + (f", line {line}" if line else "")
            )
            raise InputError(str(path), msg, location=where, field=key) from None
        key = loc[0] if loc else None
        line = _line_of(text, rf"{re.escape(key)}\s*=") if key else None
        raise InputError(
            str(path), msg, location=f"line {line}" if line else None, field=key
        ) from None
    for i, r in enumerate(policy.rule):
        if r.action not in policy.actions:
            where = f"rule {i + 1} ({r.id})" + (f", line {starts[i]}" if i < len(starts) else "")
            raise InputError(
                str(path),
                f"unknown action {r.action!r}; use one of {', '.join(policy.actions)}",
                location=where,
                field="action",
            )
    ids = Counter(r.id for r in policy.rule)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        raise InputError(str(path), f"rule id {dup[0]!r} is used twice", field="id")
    return LoadedPolicy(policy, path, hashlib.sha256(raw).hexdigest())


# -- measuring ----------------------------------------------------------------------------------


def _scope_clause(cmp: Comparison, scope: Any) -> tuple[str, list[Any]]:
    if scope == "all" or not scope:
        return "1", []
    clauses, params = [], []
    for attr, wanted in scope.items():
        if attr not in cmp.dimensions:
            raise InputError("policy", f"scope attribute {attr!r} is not a segment dimension here")
        values = wanted if isinstance(wanted, list) else [wanted]
        col = f"g.s{cmp.dimensions.index(attr)}"
        clauses.append(f"CAST({col} AS TEXT) IN ({','.join('?' * len(values))})")
        params += [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    return " AND ".join(clauses), params


def describe_scope(scope: Any) -> str:
    if scope == "all" or not scope:
        return "all cases"
    return ", ".join(
        f"{k} = {v}" if not isinstance(v, list) else f"{k} in [{', '.join(map(str, v))}]"
        for k, v in scope.items()
    )


def _p95(cmp: Comparison, run_id: int, where: str, params: list[Any]) -> float | None:
    q = (
        f"FROM results r JOIN {cmp.table} t ON t.case_id = r.case_id "
        f"LEFT JOIN {cmp.table}_sets g ON g.attr_set = t.attr_set "
        f"WHERE r.run_id = ? AND r.latency_ms IS NOT NULL AND t.status IN ({','.join('?' * len(cmp.statuses))}) AND {where}"
    )
    p = [run_id, *sorted(cmp.statuses), *params]
    with cmp._lock:
        n = cmp.conn.execute(f"SELECT COUNT(*) {q}", p).fetchone()[0]
        if not n:
            return None
        k = max(0, math.ceil(0.95 * n) - 1)  # nearest-rank
        return float(
            cmp.conn.execute(
                f"SELECT r.latency_ms {q} ORDER BY r.latency_ms LIMIT 1 OFFSET ?", [*p, k]
            ).fetchone()[0]
        )


def measure(cmp: Comparison, rule: Rule, alpha: float) -> tuple[float | None, dict[str, Any]]:
    """The rule's metric over its scope: (value or None when there is no data, evidence)."""
    where, params = _scope_clause(cmp, rule.scope)
    st = sorted(cmp.statuses)
    base = f"FROM {cmp._from} WHERE t.status IN ({','.join('?' * len(st))}) AND {where}"
    p = [*st, *params]

    def one(sql: str, extra: list[Any] | None = None) -> Any:
        with cmp._lock:
            return cmp.conn.execute(sql, [*p, *(extra or [])]).fetchone()

    def keys(cond: str, extra: list[Any] | None = None, limit: int = 25) -> list[str]:
        with cmp._lock:
            return [r[0] for r in cmp.conn.execute(
                f"SELECT k.case_key {base} AND {cond} ORDER BY t.ord LIMIT {limit}", [*p, *(extra or [])]
            )]  # fmt: skip

    m = rule.metric
    if m in ("pass_rate", "worst_of_n_pass_rate"):
        expr = "t.c_pass" if m == "pass_rate" else "(t.c_np = t.c_n)"
        n, passed = one(f"SELECT COUNT(*), TOTAL({expr}) {base} AND t.c_n > 0")
        return (passed / n if n else None), {"cases": n, "passed": int(passed)}
    if m in ("pass_rate_delta", "significant_regression"):
        n, bp, cp, reg, imp = one(
            f"SELECT COUNT(*), TOTAL(t.b_pass), TOTAL(t.c_pass), TOTAL(t.b_pass = 1 AND t.c_pass = 0), "
            f"TOTAL(t.b_pass = 0 AND t.c_pass = 1) {base} AND t.b_pass IS NOT NULL AND t.c_pass IS NOT NULL"
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
        cond = {"regressions": f"t.change = {RANK['regressed']}", "untriaged_regressions": f"t.change = {RANK['regressed']} AND ct.case_id IS NULL",
                "dropped_cases": f"t.change = {RANK['dropped']}"}[m]  # fmt: skip
        (n,) = one(f"SELECT COUNT(*) {base} AND {cond}")
        return float(n), {"cases": keys(cond)}
    if m == "findings_of_class":
        (n,) = one(f"SELECT COUNT(*) {base} AND ct.class = ?", [rule.class_])
        return float(n), {"class": rule.class_, "cases": keys("ct.class = ?", [rule.class_])}
    if m == "open_findings":
        cond = "ct.case_id IS NOT NULL AND (ct.verdict IS NULL OR ct.verdict = 'real_regression')"
        extra: list[Any] = []
        if rule.owner_filter:
            cond += " AND ct.owner = ?"
            extra = [rule.owner_filter]
        (n,) = one(f"SELECT COUNT(*) {base} AND {cond}", extra)
        return float(n), {"owner": rule.owner_filter, "cases": keys(cond, extra)}
    if m == "disagreements":
        (n,) = one(f"SELECT COUNT(*) {base} AND ct.state = 'disagreement'")
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
        q = (
            f"SELECT TOTAL(r.cost), COUNT(r.cost) FROM results r JOIN {cmp.table} t ON t.case_id = r.case_id "
            f"LEFT JOIN {cmp.table}_sets g ON g.attr_set = t.attr_set "
            f"WHERE r.run_id = ? AND t.b_n IS NOT NULL AND t.c_n > 0 AND t.status IN ({','.join('?' * len(st))}) AND {where}"
        )
        with cmp._lock:
            bc, bn = cmp.conn.execute(q, [cmp.baseline.id, *p]).fetchone()
            cc, cn = cmp.conn.execute(q, [cmp.candidate.id, *p]).fetchone()
        if not bn or not cn or not bc:
            return None, {"baseline_cost": bc, "candidate_cost": cc}
        return (cc - bc) / bc, {"baseline_cost": round(bc, 6), "candidate_cost": round(cc, 6)}
    if m == "candidate_vs_fallback":
        if cmp.fallback is None:
            return None, {"fallback": None}
        n, cp, fp = one(
            f"SELECT COUNT(*), TOTAL(t.c_pass), TOTAL(t.f_pass) {base} AND t.c_pass IS NOT NULL AND t.f_pass IS NOT NULL"
        )
        return ((cp - fp) / n if n else None), {
            "cases": n,
            "candidate_passed": int(cp),
            "fallback_passed": int(fp),
        }
    raise AssertionError(m)


# -- the record --------------------------------------------------------------------------------


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def content_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "content_hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def evaluate(
    store: Store,
    loaded: LoadedPolicy,
    baseline: int,
    candidate: int,
    fallback: int | None = None,
    *,
    decided_at: str | None = None,
    decided_by: str | None = None,
) -> dict[str, Any]:
    """Measure every rule and build the decision record (not stored; see `record_decision`)."""
    pol = loaded.policy
    scope_attrs = [k for r in pol.rule if isinstance(r.scope, dict) for k in r.scope]
    if pol.dimensions:
        dims = list(dict.fromkeys([*pol.dimensions, *scope_attrs]))
    else:
        refs = [_run_ref(store.conn, r) for r in (baseline, candidate, fallback) if r is not None]
        dims = list(dict.fromkeys([*default_dimensions(refs), *scope_attrs]))
    severity = {a: i for i, a in enumerate(pol.actions)}
    with Comparison(store.path, baseline, candidate, fallback, reducer=Reducer.parse(pol.reducer),
                    dimensions=dims) as cmp:  # fmt: skip
        rules_out: list[dict[str, Any]] = []
        for r in pol.rule:
            value, evidence = measure(cmp, r, pol.alpha)
            if value is None:
                passed = r.missing == "pass"
                result = "no data: " + ("passes (missing = pass)" if passed else "fails closed")
            else:
                passed = (value >= r.min) if r.min is not None else (value <= r.max)  # type: ignore[operator]
                result = "pass" if passed else "fail"
            rules_out.append({
                "id": r.id, "metric": r.metric, "scope": r.scope, "scope_text": describe_scope(r.scope),
                "threshold": r.threshold, "value": _round(value), "passed": passed, "result": result,
                "action": r.action, "owner": r.owner, "why": r.why, "evidence": evidence,
            })  # fmt: skip
        violated = [x for x in rules_out if not x["passed"]]
        decision = (
            max((x["action"] for x in violated), key=lambda a: severity[a]) if violated else "ship"
        )
        summary = cmp.summary(with_keys=False, with_criteria=False)
        segments = summary["segments"]
        triage_rows = cmp.conn.execute(
            f"SELECT ct.class, ct.owner, ct.verdict, ct.state, k.case_key FROM {cmp._from} "
            f"WHERE ct.case_id IS NOT NULL AND t.status IN ({','.join('?' * len(cmp.statuses))}) ORDER BY t.ord",
            sorted(cmp.statuses),
        ).fetchall()
        untriaged = [r[0] for r in cmp.conn.execute(
            f"SELECT k.case_key FROM {cmp._from} WHERE t.change = {RANK['regressed']} AND ct.case_id IS NULL "
            f"AND t.status IN ({','.join('?' * len(cmp.statuses))}) ORDER BY t.ord",
            sorted(cmp.statuses),
        )]  # fmt: skip
        ref_rows = cmp.conn.execute(
            f"SELECT k.suite, k.case_key, k.status FROM {cmp._from} ORDER BY k.suite, k.case_key"
        ).fetchall()
        counts = summary["counts"]
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
    previous = store.conn.execute(
        "SELECT decided_at FROM decisions ORDER BY id DESC LIMIT 1"
    ).fetchone()  # fmt: skip
    retired_q = (
        "SELECT suite, case_key, status_reason, status_by, status_at, status_note FROM cases "
        "WHERE status = 'retired'"
        + (" AND status_at > ?" if previous else "")
        + " ORDER BY status_at, suite, case_key"
    )
    retired = [
        {"suite": r[0], "case_key": r[1], "reason": r[2], "by": r[3], "at": r[4], "note": r[5]}
        for r in store.conn.execute(retired_q, (previous[0],) if previous else ())
    ]
    by_class = Counter(r[0] for r in triage_rows if r[0])
    by_owner = Counter(r[1] for r in triage_rows if r[1])
    open_by_owner = Counter(
        r[1] or "(none)" for r in triage_rows if r[2] in (None, "real_regression")
    )
    reviewers = sorted({
        r[0] for r in store.conn.execute(
            "SELECT DISTINCT reviewer FROM findings WHERE baseline_run = ? AND candidate_run = ?", (baseline, candidate)
        )
    })  # fmt: skip
    why = (
        "no rule is violated"
        if not violated
        else "; ".join(
            f"{x['id']} ({x['action']}, owner {x['owner']}): {x['metric']} over {x['scope_text']} "
            f"is {_fmt(x['value'], x['metric'])}, must be {_thr(x)}"
            for x in sorted(violated, key=lambda x: -severity[x["action"]])
        )
    )
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "decision": decision,
        "exit_code": EXIT_CODES[decision],
        "why": why,
        "promise": pol.promise,
        "actions": pol.actions,
        "rules": rules_out,
        "counts": counts,
        "excluded": summary["excluded"],
        "segments": segments,
        "findings": {
            "by_class": dict(sorted(by_class.items())),
            "by_owner": dict(sorted(by_owner.items())),
            "open_by_owner": dict(sorted(open_by_owner.items())),
            "triaged_cases": len(triage_rows),
        },
        "untriaged_regressions": untriaged,
        "retired_since_previous_decision": retired,
        "previous_decision_at": previous[0] if previous else None,
        "reviewers": reviewers,
        "open_disagreements": [r[4] for r in triage_rows if r[3] == "disagreement"],
        "provenance": {
            **prov_runs,
            "reducer": pol.reducer,
            "alpha": pol.alpha,
            "dimensions": dims,
            "policy": {"path": str(loaded.path.resolve()), "sha256": loaded.sha256},
            "reference_set_sha256": ref_hash,
            "reference_set_cases": len(ref_rows),
            "evaltui_version": __version__,
            "decided_at": decided_at or now_iso(),
            "decided_by": decided_by or current_user(),
        },
    }
    record["content_hash"] = content_hash(record)
    return record


def record_decision(store: Store, record: dict[str, Any]) -> int:
    """Keep a decision in the store (append-only) and log it."""
    prov = record["provenance"]
    with store.transaction():
        cur = store.conn.execute(
            "INSERT INTO decisions (decided_at, decided_by, baseline_run, candidate_run, fallback_run, decision, "
            "policy_sha256, content_hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (prov["decided_at"], prov["decided_by"], prov["baseline"]["id"], prov["candidate"]["id"],
             prov["fallback"]["id"] if prov["fallback"] else None, record["decision"], prov["policy"]["sha256"],
             record["content_hash"], canonical(record).decode("utf-8")),
        )  # fmt: skip
        did = int(cur.lastrowid or 0)
        store.log_event(
            "decision", "decision", did,
            after={"decision": record["decision"], "content_hash": record["content_hash"]},
            context={"baseline": prov["baseline"]["name"], "candidate": prov["candidate"]["name"],
                     "policy_sha256": prov["policy"]["sha256"]},
            actor=prov["decided_by"],
        )  # fmt: skip
    return did


def list_decisions(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    q = (
        "SELECT d.id, d.decided_at, d.decided_by, b.name, c.name, d.decision, d.policy_sha256, d.content_hash "
        "FROM decisions d JOIN runs b ON b.id = d.baseline_run JOIN runs c ON c.id = d.candidate_run ORDER BY d.id DESC"
    )
    if limit:
        q += f" LIMIT {int(limit)}"
    return [
        {"id": r[0], "decided_at": r[1], "decided_by": r[2], "baseline": r[3], "candidate": r[4],
         "decision": r[5], "policy_sha256": r[6], "content_hash": r[7]}
        for r in store.conn.execute(q)
    ]  # fmt: skip


# -- verify ------------------------------------------------------------------------------------


def verify(store: Store, record: dict[str, Any], policy_path: Path | None = None) -> list[str]:
    """Recompute a decision from the store and the policy; the differences, in words (empty: unchanged)."""
    problems: list[str] = []
    if record.get("schema") != SCHEMA:
        return [f"not an evaltui decision record (schema {record.get('schema')!r})"]
    if content_hash(record) != record.get("content_hash"):
        problems.append("the record itself was edited: its content hash does not match")
    prov = record["provenance"]
    path = policy_path or Path(prov["policy"]["path"])
    if not path.exists():
        return [*problems, f"the policy file {path} is gone (give --policy)"]
    loaded = load_policy(path)
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
        row = store.conn.execute(
            "SELECT id FROM runs WHERE sha256 = ? ORDER BY id LIMIT 1", (ref["sha256"],)
        ).fetchone()
        if row is None:
            return [
                *problems,
                f"the {role} run {ref['name']} (sha256 {ref['sha256'][:12]}) is not in this store",
            ]
        ids[role] = int(row[0])
    base_id, cand_id = ids["baseline"], ids["candidate"]
    assert base_id is not None and cand_id is not None
    now = evaluate(
        store, loaded, base_id, cand_id, ids["fallback"],
        decided_at=prov["decided_at"], decided_by=prov["decided_by"],
    )  # fmt: skip
    if now["decision"] != record["decision"]:
        problems.append(f"the decision changed: {record['decision']} -> {now['decision']}")
    if now["provenance"]["reference_set_sha256"] != prov["reference_set_sha256"]:
        old_n, new_n = prov.get("reference_set_cases"), now["provenance"]["reference_set_cases"]
        size = f"; {old_n} -> {new_n} cases" if old_n != new_n else ""
        problems.append(
            "the reference set changed: cases were retired, quarantined, restored or added "
            f"(sha256 {prov['reference_set_sha256'][:12]} -> {now['provenance']['reference_set_sha256'][:12]}{size})"
        )
    old_rules = {r["id"]: r for r in record["rules"]}
    for r in now["rules"]:
        o = old_rules.get(r["id"])
        if o is None:
            problems.append(f"rule {r['id']} is new")
        elif o["value"] != r["value"] or o["passed"] != r["passed"]:
            problems.append(
                f"rule {r['id']}: {o['value']} -> {r['value']} ({o['result']} -> {r['result']})"
            )
    if now["findings"] != record["findings"]:
        problems.append(
            f"findings changed: {record['findings']['triaged_cases']} -> {now['findings']['triaged_cases']} triaged cases"
        )
    if now["open_disagreements"] != record["open_disagreements"]:
        problems.append("open disagreements changed")
    return problems


# -- exports: Markdown and JUnit (text from data is escaped) -------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md(text: Any, limit: int = 300) -> str:
    """Data as inert Markdown: visible control characters, one line, specials escaped."""
    from evaltui.textsafe import visible

    return _MD_SPECIAL.sub(r"\\\1", visible(str(text), limit=limit).replace("\n", " "))


def _fmt(value: Any, metric: str) -> str:
    if value is None:
        return "no data"
    if metric in ("pass_rate", "worst_of_n_pass_rate"):
        return f"{value:.1%}"
    if metric in ("pass_rate_delta", "candidate_vs_fallback", "cost_delta"):
        return f"{value * 100:+.1f} pts" if metric != "cost_delta" else f"{value:+.1%}"
    if metric in ("p95_latency", "p95_latency_delta"):
        return f"{value:,.0f} ms"
    return f"{value:g}"


def _thr(rule: dict[str, Any]) -> str:
    ((kind, v),) = rule["threshold"].items()
    return f"{'>=' if kind == 'min' else '<='} {_fmt(v, rule['metric'])}"


def to_json(record: dict[str, Any]) -> str:
    """The record as `--out` writes it: indented JSON, UTF-8, one trailing newline."""
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def to_markdown(record: dict[str, Any]) -> str:
    prov = record["provenance"]
    out = [
        f"## Release gate: **{record['decision'].upper().replace('_', ' ')}**",
        "",
        f"{md(prov['candidate']['name'])} against {md(prov['baseline']['name'])}"
        + (f" (fallback {md(prov['fallback']['name'])})" if prov["fallback"] else "")
        + f", decided {md(prov['decided_at'][:16].replace('T', ' '))} UTC by {md(prov['decided_by'])}.",
        "",
        f"> {md(record['promise'], 1000)}",
        "",
        f"**Why:** {md(record['why'], 2000)}",
        "",
        "### Rules",
        "",
        "| result | rule | scope | measured | threshold | action | owner | why |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in record["rules"]:
        mark = "pass" if r["passed"] else "**FAIL**"
        out.append(
            f"| {mark} | {md(r['id'])} ({r['metric']}) | {md(r['scope_text'])} | {_fmt(r['value'], r['metric'])} "
            f"| {_thr(r)} | {r['action']} | {md(r['owner'])} | {md(r['why'])} |"
        )
    out += ["", "### Segments", "",
            "| segment | n | baseline | candidate | delta | fallback | pass>fail | fail>pass | p |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for s in record["segments"]:
        label = "all" if s["dimension"] == "all" else f"{s['dimension']}={s['value']}"
        fb = s["fallback"]["rate"] if s["fallback"] else None
        sig = " \\*" if s["significant"] else ""
        delta = "-" if s["delta"] is None else f"{s['delta'] * 100:+.1f}"
        out.append(
            f"| {md(label)} | {s['n']} | {pct(s['baseline']['rate'])} | {pct(s['candidate']['rate'])} "
            f"| {delta}{sig} | {pct(fb)} | {s['flips']['pass_to_fail']} | {s['flips']['fail_to_pass']} "
            f"| {s['p_value']:.3g} |"
        )
    out += ["", "\\* exact McNemar p < alpha.", ""]
    f = record["findings"]
    out += ["### Findings", "", f"{f['triaged_cases']} triaged cases."]
    if f["by_class"]:
        out += ["", "| class | cases |", "| --- | --- |"]
        out += [f"| {md(k)} | {v} |" for k, v in f["by_class"].items()]
    if f["open_by_owner"]:
        out += ["", "| owner | open findings |", "| --- | --- |"]
        out += [f"| {md(k)} | {v} |" for k, v in f["open_by_owner"].items()]
    unt = record["untriaged_regressions"]
    out += ["", f"**Untriaged regressions ({len(unt)}):** " + (", ".join(md(k, 80) for k in unt[:50]) or "none")
            + (" …" if len(unt) > 50 else "")]  # fmt: skip
    ret = record["retired_since_previous_decision"]
    out += ["", f"**Cases retired since the previous decision ({len(ret)}):** "
            + (", ".join(f"{md(r['case_key'], 80)} ({md(r['reason'] or '')})" for r in ret[:50]) or "none")]  # fmt: skip
    dis = record["open_disagreements"]
    out += ["", f"**Reviewers:** {', '.join(md(r, 60) for r in record['reviewers']) or 'none'}; "
            f"open disagreements: {', '.join(md(k, 80) for k in dis) or 'none'}"]  # fmt: skip
    out += [
        "", "### Provenance", "",
        f"- baseline: {md(prov['baseline']['name'])}, sha256 `{prov['baseline']['sha256'][:16]}`",
        f"- candidate: {md(prov['candidate']['name'])}, sha256 `{prov['candidate']['sha256'][:16]}`",
        *([f"- fallback: {md(prov['fallback']['name'])}, sha256 `{prov['fallback']['sha256'][:16]}`"]
          if prov["fallback"] else []),
        f"- policy: `{prov['policy']['sha256'][:16]}`; reference set: `{prov['reference_set_sha256'][:16]}` "
        f"({prov['reference_set_cases']} cases); reducer {prov['reducer']}; evaltui {prov['evaltui_version']}",
        f"- record content hash: `{record['content_hash']}`",
        "",
    ]  # fmt: skip
    return "\n".join(out)


def to_junit(record: dict[str, Any]) -> str:
    """One testcase per rule; a violated rule is a failure. XML-escaped, control characters made visible."""
    from xml.sax.saxutils import escape, quoteattr

    from evaltui.textsafe import visible

    def x(text: Any) -> str:
        return escape(visible(str(text), limit=2000))

    def a(text: Any) -> str:
        return quoteattr(visible(str(text), limit=500))

    rules = record["rules"]
    failures = sum(not r["passed"] for r in rules)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="evaltui gate" tests="{len(rules)}" failures="{failures}">',
        f'  <testsuite name={a("gate: " + record["decision"])} tests="{len(rules)}" failures="{failures}">',
    ]
    for r in rules:
        lines.append(f"    <testcase classname={a('gate.' + r['action'])} name={a(r['id'])}>")
        if not r["passed"]:
            msg = f"{r['metric']} over {r['scope_text']} = {_fmt(r['value'], r['metric'])}, threshold {_thr(r)}"
            lines.append(
                f"      <failure message={a(msg)} type={a(r['action'])}>{x(r['why'])} (owner {x(r['owner'])})</failure>"
            )
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
