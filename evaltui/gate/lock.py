"""Whether triage can still change a decision (#28): `evaltui gate --status`, the gate screen.

The open cases are the comparison's untriaged regressions (no verified failure class, no
verdict). Each may stay untriaged or be labelled with any class of the taxonomy in force,
any verdict and any owner, the label taken as agreed (one reviewer, or adjudicated). The
rules that depend on triage are the ones whose measured value reads it:
the registry's entries with `labelled` (compare/measures.py: what one label adds); a weighted rule whose margin says the
open cases could change it counts as able to go either way (estimate/margin.py). Every
other rule, and any rule that lacks evidence, keeps its outcome whatever triage says.

The decisions still possible are found exactly: every open case's possible contributions
to those rules are combined (a dynamic programme over the cases, each rule's count capped
where its threshold stops caring), and each reachable combination is decided as
`gate.decide` does. `to_settle` counts the open cases that can still move a rule whose
outcome is open: labelling them all settles the decision (an upper bound; a lucky label
can settle it sooner). Nothing here writes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from typing import Any

from evaltui.compare import Comparison, Reducer
from evaltui.compare.kinds import RANK
from evaltui.compare.measures import METRICS, Scoped
from evaltui.compare.metric import Label
from evaltui.estimate import DirectionAudit
from evaltui.gate.policy import LoadedPolicy, Rule
from evaltui.gate.record import DecisionRecord, RuleResult
from evaltui.models import FINDING_VERDICTS
from evaltui.review.taxonomy import Taxonomy
from evaltui.review.triage_state import TRIAGED
from evaltui.store.store import Store

OPEN = f"t.change = {RANK['regressed']} AND NOT {TRIAGED}"
MAX_STATES = 200_000  # combinations kept; beyond, every open rule counts as either way
KEYS_SHOWN = 25
# verdicts by what the metrics read of them (flaky and bad_case read alike)
_VERDICTS: tuple[str | None, ...] = (None, "real_regression", "accepted", "grader_wrong", "flaky")
assert set(_VERDICTS) - {None} <= set(FINDING_VERDICTS)


@dataclass(frozen=True)
class RuleLock:
    id: str
    metric: str
    can_pass: bool
    can_fail: bool
    moved_by: int  # open cases whose label can change its value

    @property
    def open(self) -> bool:
        return self.can_pass and self.can_fail

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "metric": self.metric,
            "can_pass": self.can_pass,
            "can_fail": self.can_fail,
            "open": self.open,
            "moved_by": self.moved_by,
        }


@dataclass(frozen=True)
class Lock:
    decision: str  # the decision now
    possible: tuple[str, ...]  # every decision some outcome of the open cases gives
    open_cases: int
    to_settle: int  # labels that settle it (at most): open cases moving an open rule
    deciding: tuple[str, ...]  # their keys (the first KEYS_SHOWN), in list order
    rules: tuple[RuleLock, ...]  # the rules that depend on triage
    exact: bool  # False: too many combinations; each open rule counted as either way

    @property
    def locked(self) -> bool:
        return self.possible == (self.decision,)

    @property
    def text(self) -> str:
        n = self.open_cases
        cases = f"{n} untriaged regression{'s' * (n != 1)}"
        if self.locked:
            if not n:
                return f"locked: {self.decision} (no untriaged regression is left)"
            return f"locked: {self.decision}, whatever the {cases} {'is' if n == 1 else 'are'}"
        k = self.to_settle
        return (
            f"open: {len(self.possible)} decisions still possible ({', '.join(self.possible)}) "
            f"over the {cases}; at most {k} label{'s' * (k != 1)} settle{'s' * (k == 1)} it"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "locked": self.locked,
            "possible": list(self.possible),
            "open_cases": self.open_cases,
            "to_settle": self.to_settle,
            "deciding_cases": list(self.deciding),
            "exact": self.exact,
            "rules": [r.as_dict() for r in self.rules],
            "text": self.text,
        }


# -- one rule's accumulator: what each open case can add to its value -----------------------


@dataclass
class _Count:
    """A counting rule: value = base + the open cases' contributions (each 0 or 1)."""

    result: RuleResult
    base: float
    cap: int  # contributions past it change nothing (the value only grows)

    def passes(self, acc: Any) -> bool:
        ((side, t),) = self.result.threshold.items()
        v = self.base + acc
        return v >= t if side == "min" else v <= t

    def add(self, acc: Any, c: Any) -> Any:
        return min(acc + c, self.cap)

    zero: Any = 0


@dataclass
class _Verified:
    """`verified_pass_rate_delta`: labelled regressions add real ones or grader mistakes."""

    result: RuleResult
    rule: Rule
    n: int
    regs: DirectionAudit
    imps: DirectionAudit

    def passes(self, acc: Any) -> bool:
        real, wrong = acc
        regs = DirectionAudit(
            self.regs.discordant, self.regs.real + real, self.regs.grader_wrong + wrong
        )
        r, i = regs.estimated_real(), self.imps.estimated_real()
        if r is None or i is None or not self.n:  # refused: no data (as the metric)
            return self.rule.missing == "pass"
        ((side, t),) = self.result.threshold.items()
        v = round((i - r) / self.n, 6)  # as the record rounds it (gate/decide.py)
        return v >= t if side == "min" else v <= t

    def add(self, acc: Any, c: Any) -> Any:
        return (acc[0] + c[0], acc[1] + c[1])

    zero: Any = (0, 0)


_Acc = _Count | _Verified


def status(
    store: Store,
    loaded: LoadedPolicy,
    record: DecisionRecord,
    runs: tuple[int, int, int | None],
    taxonomy: Taxonomy,
) -> Lock:
    """Whether the decision `record` (just evaluated from `loaded` over `runs`: baseline,
    candidate, fallback) is locked."""
    pol = loaded.policy
    with Comparison(
        store.path,
        *runs,
        reducer=Reducer.parse(pol.reducer),
        dimensions=record.provenance.dimensions,
        correction=pol.correction,
    ) as cmp:
        return _status(cmp, loaded, record, taxonomy)


def _status(
    cmp: Comparison, loaded: LoadedPolicy, record: DecisionRecord, taxonomy: Taxonomy
) -> Lock:
    pol = loaded.policy
    open_rows = cmp.rows_where("t.case_id, k.case_key", OPEN)
    case_ids = [r[0] for r in open_rows]
    margins = {m.rule: m for m in (record.production.margins if record.production else [])}
    fixed: list[RuleResult] = []
    either: list[RuleResult] = []  # weighted rules the open cases could move
    depends: list[tuple[Rule, RuleResult]] = []
    for rule, res in zip(pol.rule, record.rules, strict=True):
        reads_triage = METRICS[rule.metric].labelled is not None  # the registry says
        if res.insufficient or (not reads_triage and rule.id not in margins):
            fixed.append(res)
        elif rule.id in margins:
            (fixed if margins[rule.id].locked else either).append(res)
        else:
            depends.append((rule, res))
    labels = list(_labels(cmp, taxonomy, pol.rule))
    accs: list[_Acc] = []
    per_rule: list[dict[int, set[Any]]] = []  # each rule's contributions alone, per case
    vectors: dict[int, set[tuple[Any, ...]]] = {c: set() for c in case_ids}
    columns = []
    for rule, res in depends:
        acc, left, labelled = _rule_options(cmp, rule, res, pol.alpha, case_ids, labels)
        accs.append(acc)
        columns.append((left, labelled))
        per_rule.append({c: {left[c], *labelled[c]} for c in case_ids})
    for c in case_ids:  # one label moves every rule at once: its vector, never a mix
        vectors[c].add(tuple(left[c] for left, _ in columns))
        for j in range(len(labels)):
            vectors[c].add(tuple(labelled[c][j] for _, labelled in columns))
    states, exact = _combine(accs, [vectors[c] for c in case_ids])
    if exact:
        outcomes = {tuple(a.passes(s[i]) for i, a in enumerate(accs)) for s in states}
    else:  # each rule alone (a superset of the decisions possible)
        each = [_can(a, opts) for a, opts in zip(accs, per_rule, strict=True)]
        outcomes = set(
            product(*([ok for ok, can in zip((True, False), c, strict=True) if can] for c in each))
        )
    severity = {a: i for i, a in enumerate(pol.actions)}
    possible: set[str] = set()
    failing = [r.triggers for r in fixed if not r.passed]
    for passes in outcomes:
        for free in product([True, False], repeat=len(either)):
            acts = (
                failing
                + [res.triggers for (_, res), ok in zip(depends, passes, strict=True) if not ok]
                + [r.triggers for r, ok in zip(either, free, strict=True) if not ok]
            )
            possible.add(max(acts, key=lambda a: severity[a]) if acts else "ship")
    possible.add(record.decision)  # leaving every case as it is (in the states already)
    rule_locks = [
        RuleLock(res.id, rule.metric, *_can_each(outcomes, i), moved_by=_moved(opts))
        for i, ((rule, res), opts) in enumerate(zip(depends, per_rule, strict=True))
    ] + [RuleLock(r.id, r.metric, True, True, margins[r.id].open_cases) for r in either]
    order = sorted(possible, key=lambda a: severity.get(a, -1))
    locked = order == [record.decision]
    movers: set[int] = set()
    if not locked:
        for (_, res), opts in zip(depends, per_rule, strict=True):
            if any(rl.id == res.id and rl.open for rl in rule_locks):
                movers |= {c for c, o in opts.items() if len(o) > 1}
        if either:
            movers |= set(case_ids)
    deciding = [key for cid, key in open_rows if cid in movers]
    return Lock(
        record.decision,
        tuple(order),
        len(case_ids),
        len(deciding),
        tuple(deciding[:KEYS_SHOWN]),
        tuple(rule_locks),
        exact,
    )


def _can_each(outcomes: Iterable[tuple[bool, ...]], i: int) -> tuple[bool, bool]:
    seen = {o[i] for o in outcomes}
    return True in seen, False in seen


def _can(acc: _Acc, opts: dict[int, set[Any]]) -> tuple[bool, bool]:
    """One rule alone (the fallback when the rules together are too many to combine):
    can it pass, can it fail (both, when even it alone is too many)."""
    states, exact = _combine([acc], [{(o,) for o in os} for os in opts.values()])
    if not exact:
        return True, True
    seen = {acc.passes(s[0]) for s in states}
    return True in seen, False in seen


def _moved(opts: dict[int, set[Any]]) -> int:
    return sum(1 for o in opts.values() if len(o) > 1)


def _combine(
    accs: list[_Acc], cases: list[set[tuple[Any, ...]]]
) -> tuple[set[tuple[Any, ...]], bool]:
    """Every reachable tuple of the rules' accumulators (False: more than MAX_STATES)."""
    states: set[tuple[Any, ...]] = {tuple(a.zero for a in accs)}
    for opts in cases:
        if len(opts) == 1 and all(x == a.zero for x, a in zip(next(iter(opts)), accs, strict=True)):
            continue  # a case that moves no rule
        states = {
            tuple(a.add(s[i], o[i]) for i, a in enumerate(accs)) for s in states for o in opts
        }
        if len(states) > MAX_STATES:
            return states, False
    return states, True


# -- what each open case can add to one rule ------------------------------------------------


def _rule_options(
    cmp: Comparison,
    rule: Rule,
    res: RuleResult,
    alpha: float,
    case_ids: list[int],
    labels: list[Label],
) -> tuple[_Acc, dict[int, Any], dict[int, list[Any]]]:
    """The rule's accumulator and, per open case, what it adds left untriaged (what it
    counts now) and labelled with each of `labels` (nothing outside the rule's scope)."""
    where, params = cmp.scope_clause(rule.scope)
    in_scope = {r[0] for r in cmp.rows_where("t.case_id", f"{where} AND {OPEN}", params)}
    entry = METRICS[rule.metric]

    def measured(cond: str, extra: list[Any]) -> tuple[float | None, dict[str, Any]]:
        return entry.measure(
            Scoped(cmp, f"{where} AND {cond}", [*params, *extra], alpha, dict(rule.params))
        )

    acc: _Acc
    labelled_by = entry.labelled
    assert labelled_by is not None
    if entry.unit != "count":  # verified_pass_rate_delta: labels add to its audit
        _, ev = measured("1", [])
        regs, imps = ev["regressions"], ev["improvements"]
        acc = _Verified(
            res,
            rule,
            int(ev["cases"]),
            DirectionAudit(regs["cases"], regs["real"], regs["grader_wrong"]),
            DirectionAudit(imps["cases"], imps["real"], imps["grader_wrong"]),
        )
        audits = [labelled_by(rule.params, lab) for lab in labels]
        return (
            acc,
            {c: (0, 0) for c in case_ids},
            {c: audits if c in in_scope else [(0, 0)] * len(labels) for c in case_ids},
        )
    base = float(measured(f"NOT ({OPEN})", [])[0] or 0.0)
    ((side, t),) = res.threshold.items()
    # counts past it are alike: over a max, failing; at a min, passing
    cap = (math.floor(t) + 1 if side == "max" else math.ceil(t)) - int(base)
    acc = _Count(res, base, max(cap, 1))
    now = (res.value or 0.0) - base  # what the open cases count now, together
    contributions = [labelled_by(rule.params, lab) for lab in labels]
    left: dict[int, Any] = {}
    labelled: dict[int, list[Any]] = {}
    for c in case_ids:
        if c not in in_scope:
            left[c], labelled[c] = 0, [0] * len(labels)
            continue
        # measured one by one only when the open cases count at all
        left[c] = 0 if now <= 0 else int(measured("t.case_id = ?", [c])[0] or 0)
        labelled[c] = contributions
    return acc, left, labelled


def _labels(cmp: Comparison, taxonomy: Taxonomy, rules: list[Rule]) -> Iterable[Label]:
    """Representative labels: (class, verdict, owner), every way the metrics tell apart.
    A class is one a rule names, or any other new or old one (new_failure_modes: one no
    baseline-failing case names, marked "new:"); an owner is one a rule names, or another."""
    had = cmp.baseline_classes()
    keys = [c.key for c in taxonomy.active]
    wanted = {str(r.params["class"]) for r in rules if "class" in r.params}
    classes: set[str | None] = {None}
    for k in keys:
        if k in wanted:
            classes.add(k if k in had else f"new:{k}")
    classes |= {next((f"new:{k}" for k in keys if k not in had and k not in wanted), None)}
    classes |= {next((k for k in keys if k in had and k not in wanted), None)}
    owners: set[str | None] = {None} | {
        str(r.params["for_owner"]) for r in rules if "for_owner" in r.params
    }
    for cls, verdict, owner in product(
        sorted(classes, key=str), _VERDICTS, sorted(owners, key=str)
    ):
        if cls is not None or verdict is not None:  # a class or a verdict triages
            yield cls, verdict, owner
