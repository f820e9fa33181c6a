"""A policy checked against what it will measure, before anything is measured.

A typo must never turn a rule into one that measures nothing and passes: every
scope attribute must be an attribute of the compared cases, every scope value
one that occurs (exactly: a value that differs only in case, or nearly, gets
"did you mean"), every failure class one of the taxonomy's, and a scope that
matches no case is an error unless the rule says `allow_empty = true`.
Errors name the policy file, the rule and its line.
"""

from __future__ import annotations

import difflib
from typing import Any

from evaltui.compare import Comparison
from evaltui.gate.policy import LoadedPolicy
from evaltui.store.rows import MANY
from evaltui.taxonomy import Taxonomy


def _suggest(wanted: str, known: list[str]) -> str:
    folded = [k for k in known if k.casefold() == wanted.casefold()]
    close = folded or difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if known:
        shown = ", ".join(repr(k) for k in known[:12]) + (" …" if len(known) > 12 else "")
        return f"; the compared cases have {shown}"
    return ""


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_policy(loaded: LoadedPolicy, cmp: Comparison, taxonomy: Taxonomy) -> list[int]:
    """Refuse (InputError naming file, rule, line) a policy that would measure the wrong
    thing; returns the number of cases in each rule's scope, in rule order."""
    runs = [r for r in (cmp.baseline, cmp.candidate, cmp.fallback) if r is not None]
    values: dict[str, set[str]] = {}
    for run in runs:
        for attr, counts in run.attribute_values.items():
            values.setdefault(attr, set()).update(v for v in counts if v != MANY)
    attributes = sorted(values)
    classes = sorted(c.key for c in taxonomy.classes)
    sizes = []
    for i, rule in enumerate(loaded.policy.rule):
        if rule.class_ is not None and rule.class_ not in taxonomy.by_key:
            raise loaded.error(
                i, "class",
                f"unknown failure class {rule.class_!r} (taxonomy: {taxonomy.source})"
                + _suggest(rule.class_, classes),
            )  # fmt: skip
        if rule.tool is not None:
            tools = cmp.tools_called()
            if rule.tool not in tools:
                raise loaded.error(
                    i, "tool",
                    f"no tool {rule.tool!r} is called in the compared runs"
                    + (f" (they call: {', '.join(tools[:20])})" if tools else " (they record no tool calls)")
                    + _suggest(rule.tool, tools),
                )  # fmt: skip
        scope = rule.scope if isinstance(rule.scope, dict) else {}
        for attr, wanted in scope.items():
            if attr not in values:
                raise loaded.error(
                    i, "scope",
                    f"scope attribute {attr!r} is not an attribute of the compared cases"
                    + _suggest(attr, attributes),
                )  # fmt: skip
            for value in wanted if isinstance(wanted, list) else [wanted]:
                (n,) = cmp.aggregate("COUNT(*)", *cmp.scope_clause({attr: value}))
                if not n:
                    raise loaded.error(
                        i, "scope",
                        f"scope value {attr} = {_text(value)!r} occurs in none of the compared cases"
                        + _suggest(_text(value), sorted(values[attr])),
                    )  # fmt: skip
        (n,) = cmp.aggregate("COUNT(*)", *cmp.scope_clause(rule.scope))
        if not n and not rule.allow_empty:
            raise loaded.error(
                i, "scope",
                "the scope matches no case of the comparison (each value occurs, but not "
                "together); set allow_empty = true if that is expected",
            )  # fmt: skip
        sizes.append(int(n))
    return sizes
