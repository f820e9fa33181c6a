"""What a gate metric is: `Metric` (name, doc line, unit, parameters, measure function),
the `Param`s a rule passes and the kinds of thing each names, and `Scoped`, what a
measure function gets. The entries themselves are `compare/measures.py`'s registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from evaltui.compare.engine import Comparison
from evaltui.compare.production import Production
from evaltui.units import Unit

KEYS_LIMIT = 25  # case keys quoted as evidence per rule

# What a rule parameter names; `gate/checks.py` knows where each kind's names come
# from (the taxonomy, the compared runs, the findings...) and refuses one that is not there.
NameKind = Literal[
    "class", "tool", "owner", "attribute", "value", "criterion", "segment", "bound", "basis"
]
NAME_KINDS: tuple[NameKind, ...] = get_args(NameKind)
NAME_WORDS: dict[NameKind, str] = {  # docs/gate.md
    "class": "a failure class of the taxonomy in force",
    "tool": "a tool either run calls",
    "owner": "an owner of a finding on the compared cases, or of a failure class of the taxonomy",
    "attribute": "an attribute of the compared cases",
    "value": "a value of an attribute of the compared cases",
    "criterion": "a criterion both runs score",
    "segment": "a segment dimension of the comparison",
    "bound": "`lower`, `point` (the default) or `upper`: which end of the 95% interval is read",
    "basis": "`covered` (the default), `worst` or `best`: which traffic (docs/production.md)",
}

Measured = tuple[float | None, dict[str, Any]]
# A hypothetical label on an untriaged regression (gate/lock.py): its failure class (marked
# "new:" when no baseline-failing case names it), its verdict and its owner (None: unset).
Label = tuple[str | None, str | None, str | None]


@dataclass(frozen=True)
class Param:
    """A rule parameter a metric takes: its TOML key, what it names, what it means."""

    key: str
    names: NameKind
    doc: str
    required: bool = False


@dataclass(frozen=True)
class Scoped:
    """What a measure function gets: the comparison, the rule's scope as SQL, its settings."""

    cmp: Comparison
    where: str  # the scope as a condition (aliases of `Comparison.aggregate`)
    sql_params: list[Any]
    alpha: float
    args: Mapping[str, str]  # the rule's parameters, by key
    # the traffic weights and the estimator (#28): what the weighted metrics read
    production: Production | None = None

    def one(self, select: str, cond: str = "1", extra: list[Any] | None = None) -> tuple[Any, ...]:
        """One row of `select` over the cases in scope that meet `cond`."""
        return self.cmp.aggregate(
            select, f"{self.where} AND {cond}", [*self.sql_params, *(extra or [])]
        )

    def keys(self, cond: str, extra: list[Any] | None = None) -> list[str]:
        """The first KEYS_LIMIT case keys in scope that meet `cond` (evidence), in list order."""
        rows = self.cmp.rows_where(
            "k.case_key",
            f"{self.where} AND {cond}",
            [*self.sql_params, *(extra or [])],
            limit=KEYS_LIMIT,
        )
        return [r[0] for r in rows]

    def count(self, cond: str, extra: list[Any] | None = None) -> Measured:
        """The number of cases in scope that meet `cond`, with their keys as evidence."""
        (n,) = self.one("COUNT(*)", cond, extra)
        return float(n), {"cases": self.keys(cond, extra)}


@dataclass(frozen=True)
class Metric:
    """One metric a rule can name (docs/gate.md's table is generated from these)."""

    name: str
    doc: str  # what the value is, one line (docs/gate.md)
    unit: Unit
    measure: Callable[[Scoped], Measured]
    params: tuple[Param, ...] = ()
    # result columns the value is computed from: a value that overflows is refused naming
    # the largest of them (run, line, field), never written as inf
    reads: tuple[str, ...] = field(default=())
    # a metric that reads triage: what one label on an untriaged regression in its scope
    # adds to its value (a count), or to its audit (real, grader_wrong); gate/lock.py
    labelled: Callable[[Mapping[str, str], Label], Any] | None = None


# -- what one label on an untriaged regression adds (gate/lock.py: is the decision locked?)


def labelled_class(args: Mapping[str, str], lab: Label) -> int:
    return int(lab[0] is not None and lab[0].removeprefix("new:") == args.get("class"))


def labelled_open(args: Mapping[str, str], lab: Label) -> int:  # settled verdicts close it
    return int(lab[1] in (None, "real_regression") and args.get("for_owner") in (None, lab[2]))


def labelled_new(args: Mapping[str, str], lab: Label) -> int:
    return int(lab[0] is not None and lab[0].startswith("new:"))


def labelled_nothing(args: Mapping[str, str], lab: Label) -> int:  # a label triages, and agrees
    return 0


def labelled_audit(args: Mapping[str, str], lab: Label) -> tuple[int, int]:  # (real, grader_wrong)
    return int(lab[1] in ("real_regression", "accepted")), int(lab[1] == "grader_wrong")
