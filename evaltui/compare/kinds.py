"""Change kinds and their list order, and reducers (how a case's samples become one outcome)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from evaltui.errors import InputError

Change = Literal[
    "regressed",
    "errored",
    "limit_hit",
    "improved",
    "output_changed",
    "tools_changed",
    "dropped",
    "added",
    "unscored",
    "still_failing",
    "still_passing",
]
# The order cases are listed in (the Literal's order): regressions first.
CHANGES: tuple[Change, ...] = get_args(Change)
# What the case list shows by default: everything but the cases that stayed as they were.
# `unscored`: one side has no verdict for the case (predict-only, metrics-only): shown,
# never counted as a pass or a failure.
# `tools_changed`: passes in both, and the agent's tool path (calls and arguments) differs.
# `limit_hit`: the candidate hit a message, token or time limit the baseline did not, and
# the tool's verdict did not flip (a flip is `regressed` or `improved`, flagged): a limit
# is never a regression by itself (docs/compare.md).
CHANGED: frozenset[str] = frozenset(CHANGES) - {"still_failing", "still_passing"}
RANK: dict[str, int] = {c: i for i, c in enumerate(CHANGES)}
assert len(CHANGES) <= 16, "the engine packs a change into 4 bits (Comparison._KIND)"

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

    @classmethod
    def choice(cls, text: str) -> Reducer | str:
        """A reducer as the user names it: `declared` (the first the logs declare),
        `declared:NAME` (one of several they declare, e.g. `declared:max`), or one of ours."""
        t = text.strip()
        head, sep, name = t.partition(":")
        if head.lower() == "declared":
            if sep and not name.strip():
                raise InputError("--reducer", "declared: names no reducer (e.g. declared:max)")
            return f"declared:{name.strip()}" if sep else "declared"
        return cls.parse(t)

    @classmethod
    def declared(cls, name: str, epochs: int | None = None) -> Reducer | None:
        """The reducer a tool declared (Inspect's `epochs_reducer`), as the pass rule it
        amounts to when a case's reduced value passes at 1.0 (docs/compare.md): None for
        one with no such rule here (a custom reducer, or pass_at_k without the epochs)."""
        t = name.strip().lower().replace("-", "_")
        simple = {
            "max": "best",
            "min": "worst",
            "mode": "majority",
            "median": "majority",
            "mean": "worst",
        }
        if t in simple:
            return cls(simple[t])
        m = re.fullmatch(r"at_least_(\d+)", t)
        if m and int(m[1]) >= 1:
            return cls("at-least-k", int(m[1]))
        m = re.fullmatch(r"pass_at_(\d+)", t)
        if m and epochs and 1 <= int(m[1]) <= epochs:  # pass@k is 1 when fewer than k fail
            return cls("at-least-k", epochs - int(m[1]) + 1)
        return None

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
