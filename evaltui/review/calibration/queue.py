"""A reviewer's judging queue: the items of a calibration sample they have not judged yet,
in the sample's order, with gold items mixed in at the sample's gold rate, unmarked.

What the screen may know of an item is its result and criterion; `purpose` goes back to
the store with the answer, never to the screen's text. The gold mix is seeded by the sample
and the reviewer, so a queue is the same each time it is opened (less what is judged).
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from dataclasses import dataclass

from evaltui.review.calibration import gold, judgments
from evaltui.review.calibration.judgments import Purpose
from evaltui.review.calibration.samples import SampleRecord
from evaltui.store.runs.grader import ResultRef

# When a reviewer learns how they did on gold: at the end of the session, or never (the
# adjudicator reads `calibrate report`). A store setting; docs/calibration.md.
FEEDBACK_SETTING = "calibration.gold_feedback"
FEEDBACK = ("end", "never")


@dataclass(frozen=True, slots=True)
class QueueItem:
    ref: ResultRef
    criterion: str
    sample: str  # the sample's uid, recorded with the judgment
    purpose: Purpose  # never shown: a gold item looks like any other


def _rng(sample: SampleRecord, reviewer: str) -> random.Random:
    digest = hashlib.sha256(f"{sample.uid}\n{reviewer}\ngold".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def build(conn: sqlite3.Connection, sample: SampleRecord, reviewer: str) -> list[QueueItem]:
    """The reviewer's queue on `sample`: what they have not judged yet, gold mixed in."""
    done = judgments.judged(conn, reviewer, sample.items, sample.criterion, "calibration")
    todo = [
        QueueItem(ref, sample.criterion, sample.uid, "calibration")
        for ref in sample.items
        if ref not in done
    ]
    rate = sample.gold_rate
    if not todo or rate <= 0:
        return todo
    in_sample = set(sample.items)
    pool = [g.ref for g in gold.in_force(conn, sample.criterion) if g.ref not in in_sample]
    answered = judgments.judged(conn, reviewer, pool, sample.criterion, "gold")
    pool = sorted(ref for ref in pool if ref not in answered)
    k = min(len(pool), round(len(todo) * rate / (1 - rate)))
    rng = _rng(sample, reviewer)
    queue = list(todo)
    for ref in rng.sample(pool, k):
        queue.insert(
            rng.randrange(len(queue) + 1), QueueItem(ref, sample.criterion, sample.uid, "gold")
        )
    return queue


@dataclass(frozen=True, slots=True)
class GoldFeedback:
    """How a reviewer did on the gold items of one session (told when it ends)."""

    answered: int
    right: int
    wrong: tuple[ResultRef, ...]


def feedback(conn: sqlite3.Connection, reviewer: str, items: list[QueueItem]) -> GoldFeedback:
    """The reviewer's answers in force on the session's gold items, against the answers."""
    golds = [it for it in items if it.purpose == "gold"]
    if not golds:
        return GoldFeedback(0, 0, ())
    crit = golds[0].criterion
    answers = {g.ref: g.answer for g in gold.in_force(conn, crit)}
    said = judgments.judged(conn, reviewer, [it.ref for it in golds], crit, "gold")
    rows = [(ref, j.verdict == answers.get(ref)) for ref, j in sorted(said.items())]
    return GoldFeedback(
        answered=len(rows),
        right=sum(ok for _, ok in rows),
        wrong=tuple(ref for ref, ok in rows if not ok),
    )
