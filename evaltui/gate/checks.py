"""A policy checked against what it will measure, before anything is measured.

A typo must never turn a rule into one that measures nothing and passes: every
scope attribute must be an attribute of the compared cases, every scope value
one that occurs (exactly: a value that differs only in case, or nearly, gets
"did you mean"), every metric parameter a name of what exists (each parameter
declares in the metric registry what kind of thing it names: a failure class of
the taxonomy, a tool the runs call, an owner of findings...), and a scope that
matches no case is an error unless the rule says `allow_empty = true`.
Errors name the policy file, the rule, its line and the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from evaltui.compare import Comparison
from evaltui.compare.measures import METRICS, NAME_KINDS, NameKind
from evaltui.estimate.weighted import BASES, BOUNDS
from evaltui.gate.policy import LoadedPolicy, suggest
from evaltui.review.taxonomy import Taxonomy
from evaltui.store.rows import MANY
from evaltui.store.runs.grader import VERDICT_WORD


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class _Names:
    """What exists, per kind of name, read once when a rule first asks."""

    def __init__(self, loaded: LoadedPolicy, cmp: Comparison, taxonomy: Taxonomy) -> None:
        self.loaded, self.cmp, self.taxonomy = loaded, cmp, taxonomy
        self._cache: dict[str, list[str]] = {}
        values: dict[str, set[str]] = {}
        for run in (cmp.baseline, cmp.candidate, cmp.fallback):
            for attr, counts in (run.attribute_values if run else {}).items():
                values.setdefault(attr, set()).update(v for v in counts if v != MANY)
        self.values = values

    def known(self, kind: NameKind) -> list[str]:
        if kind not in self._cache:
            self._cache[kind] = sorted(set(_READERS[kind](self)))
        return self._cache[kind]

    def _owners(self) -> list[str]:
        # an owner of a finding on the compared cases, or a failure class's owner in the
        # taxonomy (an owner no finding has yet). Not the rules' own `owner` labels: the
        # same typo in a rule's owner and its for_owner would then pass as a name.
        (found,) = self.cmp.aggregate("json_group_array(DISTINCT ct.owner)", "ct.owner IS NOT NULL")
        return [*json.loads(found or "[]"), *(c.owner for c in self.taxonomy.classes)]


# where each kind of name comes from, and how "not there" reads
_READERS: dict[str, Callable[[_Names], list[str]]] = {
    "class": lambda n: [c.key for c in n.taxonomy.classes],
    "tool": lambda n: n.cmp.tools_called(),
    "owner": _Names._owners,
    "attribute": lambda n: list(n.values),
    "value": lambda n: [v for vs in n.values.values() for v in vs],
    "criterion": lambda n: [VERDICT_WORD, *n.cmp.criterion_changes()],
    "segment": lambda n: list(n.cmp.dimensions),
    "bound": lambda n: list(BOUNDS),
    "basis": lambda n: list(BASES),
}
_UNKNOWN: dict[str, Callable[[_Names, str], str]] = {
    "class": lambda n, v: f"unknown failure class {v!r} (taxonomy: {n.taxonomy.source})",
    "tool": lambda n, v: (
        f"no tool {v!r} is called in the compared runs"
        + (" (they record no tool calls)" if not n.known("tool") else "")
    ),
    "owner": lambda n, v: (
        f"no finding on the compared cases is owned by {v!r}, and no failure class of "
        f"the taxonomy ({n.taxonomy.source}) has it as owner"
    ),
    "attribute": lambda n, v: f"{v!r} is not an attribute of the compared cases",
    "value": lambda n, v: f"no compared case has an attribute value {v!r}",
    "criterion": lambda n, v: f"no criterion {v!r} is scored by both compared runs",
    "segment": lambda n, v: f"{v!r} is not a segment dimension of this comparison",
    "bound": lambda n, v: f"{v!r} is not a bound of the estimate's interval",
    "basis": lambda n, v: f"{v!r} is not a basis of the production estimate",
}
assert set(_READERS) == set(_UNKNOWN) == set(NAME_KINDS), "a reader per kind of name"


def check_policy(loaded: LoadedPolicy, cmp: Comparison, taxonomy: Taxonomy) -> list[int]:
    """Refuse (InputError naming file, rule, line, key) a policy that would measure the wrong
    thing; returns the number of cases in each rule's scope, in rule order."""
    names = _Names(loaded, cmp, taxonomy)
    sizes = []
    for i, rule in enumerate(loaded.policy.rule):
        for param in METRICS[rule.metric].params:  # every parameter that names something
            given = rule.params.get(param.key)
            if given is not None and given not in (known := names.known(param.names)):
                raise loaded.error(
                    i,
                    param.key,
                    _UNKNOWN[param.names](names, given) + suggest(given, known, "known:"),
                )
        scope = rule.scope if isinstance(rule.scope, dict) else {}
        for attr, wanted in scope.items():
            if attr not in names.values:
                raise loaded.error(
                    i,
                    "scope",
                    f"scope attribute {attr!r} is not an attribute of the compared cases"
                    + suggest(attr, names.known("attribute"), "the compared cases have"),
                )
            for value in wanted if isinstance(wanted, list) else [wanted]:
                (n,) = cmp.aggregate("COUNT(*)", *cmp.scope_clause({attr: value}))
                if not n:
                    raise loaded.error(
                        i,
                        "scope",
                        f"scope value {attr} = {_text(value)!r} occurs in none of the compared cases"
                        + suggest(
                            _text(value), sorted(names.values[attr]), "the compared cases have"
                        ),
                    )
        (n,) = cmp.aggregate("COUNT(*)", *cmp.scope_clause(rule.scope))
        if not n and not rule.allow_empty:
            raise loaded.error(
                i,
                "scope",
                "the scope matches no case of the comparison (each value occurs, but not "
                "together); set allow_empty = true if that is expected",
            )
        sizes.append(int(n))
    return sizes
