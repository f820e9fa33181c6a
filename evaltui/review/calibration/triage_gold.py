"""Hidden gold in the triage queue (#27): a gold item on the result's own verdict of a
candidate run's result is a case like any other in every comparison with that candidate.
Nothing in the queue marks it (the compare screen, the case list, `findings list` and the
log read no gold); the reviewer's triage answer on the case is scored against the gold
answer, and each reviewer's accuracy is shown by `evaltui findings gold` (and under
`findings list`), never which cases were gold.

A triage answer says whether the grader's change is real, so it implies the candidate
result's true verdict: `real_regression` or `accepted` keeps the grader's verdict of the
candidate's result, `grader_wrong` turns it over; `flaky`, `bad_case` and no verdict are
not scored, nor is a case whose samples in the candidate the grader scored differently
(the answer is about the case, not one sample). (`grader_wrong` on a regression is taken to mean the candidate's fail is
wrong, as the verified delta takes it; docs/calibration.md.) Only verified findings are
scored: an unsigned file's finding does not speak for the reviewer it names.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from evaltui.estimate import ReviewerAccuracy, reviewer_accuracy
from evaltui.review import triage
from evaltui.review.calibration import gold
from evaltui.review.calibration.gold import GoldItem
from evaltui.review.triage_state import Finding, current_by_reviewer
from evaltui.stats import ALPHA
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT

KEEPS = frozenset({"real_regression", "accepted"})  # the grader's verdict stands
TURNS = frozenset({"grader_wrong"})  # the grader's verdict is the wrong one


@dataclass(frozen=True, slots=True)
class TriageGold:
    """One reviewer's triage answers on hidden gold: overall, and by the gold answer."""

    reviewer: str
    overall: ReviewerAccuracy
    on_pass: ReviewerAccuracy
    on_fail: ReviewerAccuracy

    def as_json(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            **_acc(self.overall),
            "on_pass": _acc(self.on_pass),
            "on_fail": _acc(self.on_fail),
        }


def _acc(a: ReviewerAccuracy) -> dict[str, Any]:
    iv = a.interval
    return {
        "correct": a.correct,
        "answered": a.n,
        "accuracy": None if a.accuracy is None else round(a.accuracy, 6),
        "interval": None if iv is None else [round(iv.low, 6), round(iv.high, 6)],
    }


def implied(verdict: str | None, graded: str | None) -> str | None:
    """The candidate result's true verdict a triage answer implies (None: not scored)."""
    if graded not in ("pass", "fail"):
        return None
    if verdict in KEEPS:
        return graded
    if verdict in TURNS:
        return "fail" if graded == "pass" else "pass"
    return None


def _case_verdicts(
    conn: sqlite3.Connection, run_id: int, case_ids: Iterable[int]
) -> dict[int, str]:
    """The grader's verdict of each case whose samples in the run all have the same one: a
    triage answer is about the case, so it speaks for a sample only when they agree."""
    found = grader.case_verdicts(conn, run_id, case_ids, VERDICT)
    return {c: str(next(iter(v))) for c, v in found.items() if len(v) == 1 and None not in v}


def accuracy(conn: sqlite3.Connection, alpha: float = ALPHA) -> list[TriageGold]:
    """Each reviewer's accuracy on the gold items their triage answers scored, by name."""
    items = gold.in_force(conn, VERDICT)
    by_run: dict[int, dict[int, list[GoldItem]]] = defaultdict(lambda: defaultdict(list))
    for g in items:
        by_run[g.ref.run_id][g.ref.case_id].append(g)
    tallies: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for cand, cases in sorted(by_run.items()):
        graded = _case_verdicts(conn, cand, cases)
        per_case: dict[tuple[int, int], list[Finding]] = defaultdict(list)
        for f in triage.on_cases(conn, cand, cases):
            per_case[(f.baseline_run, f.case_id)].append(f)
        for (_, case_id), rows in sorted(per_case.items()):
            for f in current_by_reviewer(rows).values():
                if not f.verified:
                    continue
                for g in cases[case_id]:
                    said = implied(f.verdict, graded.get(case_id))
                    if said is not None and g.answer is not None:
                        tallies[f.reviewer].append((said, g.answer))
    out = []
    for who, pairs in sorted(tallies.items()):
        on = {c: [s == a for s, a in pairs if a == c] for c in ("pass", "fail")}
        right = [s == a for s, a in pairs]
        out.append(
            TriageGold(
                reviewer=who,
                overall=reviewer_accuracy(sum(right), len(right), alpha),
                on_pass=reviewer_accuracy(sum(on["pass"]), len(on["pass"]), alpha),
                on_fail=reviewer_accuracy(sum(on["fail"]), len(on["fail"]), alpha),
            )
        )
    return out
