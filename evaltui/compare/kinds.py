"""Change kinds and their list order, and reducers (how a case's samples become one outcome)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from evaltui.errors import InputError

Change = Literal[
    "regressed",
    "errored",
    "improved",
    "output_changed",
    "dropped",
    "added",
    "still_failing",
    "still_passing",
]
# The order cases are listed in (the Literal's order): regressions first.
CHANGES: tuple[Change, ...] = get_args(Change)
CHANGED: frozenset[str] = frozenset(CHANGES[:6])  # what the case list shows by default
RANK: dict[str, int] = {c: i for i, c in enumerate(CHANGES)}

REDUCERS = ("worst", "mean", "majority", "best", "at-least-k")


@dataclass(frozen=True)
class Reducer:
    """How a case's samples become one pass/fail: worst-of-N by default."""

    name: str = "worst"
    k: int = 1

    @classmethod
    def parse(cls, text: str) -> Reducer:
        """`worst`, `mean`, `majority`, `best` or `at-least-K` (e.g. `at-least-2`)."""
        t = text.strip().lower().replace("_", "-")
        aliases = {"worst-of-n": "worst", "min": "worst", "any": "best", "max": "best"}
        t = aliases.get(t, t)
        if t in ("worst", "mean", "majority", "best"):
            return cls(t)
        m = re.fullmatch(r"at-?least-?(\d+)", t)
        if m and int(m[1]) >= 1:
            return cls("at-least-k", int(m[1]))
        raise InputError(
            "--reducer",
            f"unknown reducer {text!r}; use worst, mean, majority, best or at-least-K (e.g. at-least-2)",
        )

    @property
    def label(self) -> str:
        return f"at-least-{self.k}" if self.name == "at-least-k" else self.name

    def sql(self, passed: str, n: str) -> str:
        """A SQL expression (0/1) for "the case passes" from passing and total samples."""
        return {
            "worst": f"({passed} = {n})",
            "best": f"({passed} > 0)",
            "majority": f"(2 * {passed} > {n})",
            "mean": f"(2 * {passed} >= {n})",
            "at-least-k": f"({passed} >= {int(self.k)})",
        }[self.name]

    def passes(self, passed: int, n: int) -> bool:
        """The same rule as `sql`, in Python."""
        return {
            "worst": passed == n,
            "best": passed > 0,
            "majority": 2 * passed > n,
            "mean": 2 * passed >= n,
            "at-least-k": passed >= self.k,
        }[self.name]
