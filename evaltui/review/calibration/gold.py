"""Hidden gold items: results whose answer on a criterion an adjudicator set, mixed unmarked
into reviewers' judging queues to measure the reviewers.

The owner of the `gold` table: no other module names it in SQL. Rows are append-only; the
latest row of a (result, criterion) is in force, and one with no answer withdraws it. The
latest is by the time each was set, then by uid, never by insertion order: a store that
folds adjudicators' answers from the team store (evaltui/team/gold.py) in another order
holds the same item in force. Each row says where it came from (`source`: `local`, or
`team:PROJECT` for an answer folded from the team store). The event log records that a
gold item was set (by whom, its opaque uid), never which result or what answer: `evaltui
log` does not give gold away. What "hidden" means in a local SQLite file:
docs/security.md.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evaltui.errors import InputError
from evaltui.estimate import ReviewerAccuracy, reviewer_accuracy
from evaltui.review import triage
from evaltui.review.calibration import judgments
from evaltui.review.triage_state import check_name
from evaltui.stats import ALPHA
from evaltui.store.events import now_iso
from evaltui.store.runs import grader
from evaltui.store.runs.grader import ResultRef
from evaltui.store.store import Store

Answer = Literal["pass", "fail"]
_COLS = "uid, run_id, case_id, epoch, criterion, answer, note, set_by, at, source"
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class GoldItem:
    """A result's known answer on a criterion (answer None: withdrawn)."""

    uid: str
    ref: ResultRef
    criterion: str
    answer: Answer | None
    note: str | None
    set_by: str
    at: str
    source: str = LOCAL

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> GoldItem:
        return cls(
            uid=r[0],
            ref=ResultRef(int(r[1]), int(r[2]), int(r[3])),
            criterion=r[4],
            answer=r[5],
            note=r[6],
            set_by=r[7],
            at=r[8],
            source=r[9],
        )

    @property
    def order(self) -> tuple[str, str]:
        """Which of two items on one (result, criterion) is the later: the time it was set,
        then the uid (the same in every store, whatever order it arrived in)."""
        return (self.at, self.uid)


def check_adjudicator(store: Store, who: str) -> str:
    """Only an adjudicator sets gold answers (any local reviewer when the store lists none)."""
    who = check_name(who, "--reviewer")
    listed = triage.adjudicators(store)
    if listed and who not in listed:
        raise InputError(
            "--reviewer",
            f"{who} is not an adjudicator of this store ({', '.join(listed)}): only an "
            "adjudicator sets gold answers (`evaltui findings adjudicators --add NAME`)",
        )
    return who


def _insert(store: Store, item: GoldItem) -> None:
    r = item.ref
    store.conn.execute(
        f"INSERT INTO gold ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.uid,
            r.run_id,
            r.case_id,
            r.epoch,
            item.criterion,
            item.answer,
            item.note,
            item.set_by,
            item.at,
            item.source,
        ),
    )
    store.log_event(
        "gold.set" if item.answer else "gold.withdraw",
        "gold",
        item.uid,
        after={"criterion": judgments.criterion_word(item.criterion)},
        context=None if item.source == LOCAL else {"source": item.source},
        actor=item.set_by,
    )


def set_answer(
    store: Store,
    ref: ResultRef,
    criterion: str,
    answer: Answer | None,
    *,
    note: str | None = None,
    by: str | None = None,
) -> GoldItem:
    """Set (or, with answer None, withdraw) a result's gold answer. One transaction."""
    if answer not in ("pass", "fail", None):
        raise InputError("--answer", f"a gold answer is pass or fail, not {answer!r}")
    who = check_adjudicator(store, by or store.actor)
    item = GoldItem(uuid.uuid4().hex, ref, criterion, answer, note or None, who, now_iso())
    with store.transaction():
        grader.resolve_result(store.conn, ref.run_id, ref.case_id, ref.epoch)
        _insert(store, item)
    return item


def add_imported(store: Store, items: Sequence[GoldItem]) -> tuple[int, int]:
    """Gold answers read from a file (uids from the file and line): (added, already there)."""
    added = 0
    with store.transaction():
        for item in items:
            grader.resolve_result(store.conn, item.ref.run_id, item.ref.case_id, item.ref.epoch)
            if store.conn.execute("SELECT 1 FROM gold WHERE uid = ?", (item.uid,)).fetchone():
                continue
            _insert(store, item)
            added += 1
    return added, len(items) - added


def add_shared(store: Store, item: GoldItem) -> None:
    """An adjudicator's gold answer folded from the team store (evaltui/team/gold.py),
    inside the caller's transaction: checked there, and written as it was set."""
    _insert(store, item)


def by_uid(conn: sqlite3.Connection, uid: str) -> GoldItem | None:
    row = conn.execute(f"SELECT {_COLS} FROM gold WHERE uid = ?", (uid,)).fetchone()
    return None if row is None else GoldItem.from_row(row)


def local_items(conn: sqlite3.Connection, set_by: str) -> list[GoldItem]:
    """The gold items (answers and withdrawals) set in this store under a name, in the
    order they were written (what the team store's outbox is made of)."""
    return [
        GoldItem.from_row(r)
        for r in conn.execute(
            f"SELECT {_COLS} FROM gold WHERE source = ? AND set_by = ? ORDER BY id",
            (LOCAL, set_by),
        )
    ]


def local_setters(conn: sqlite3.Connection) -> set[str]:
    """Every name this store's own gold items were set under."""
    query = "SELECT DISTINCT set_by FROM gold WHERE source = ?"
    return {str(r[0]) for r in conn.execute(query, (LOCAL,))}


def in_force(conn: sqlite3.Connection, criterion: str | None = None) -> list[GoldItem]:
    """Every gold item in force (on `criterion`, when given), by result: on each (result,
    criterion), the latest item (GoldItem.order), unless it withdraws the answer."""
    where, params = ("WHERE criterion = ?", [criterion]) if criterion is not None else ("", [])
    latest: dict[tuple[ResultRef, str], GoldItem] = {}
    for row in conn.execute(f"SELECT {_COLS} FROM gold {where}", params):
        item = GoldItem.from_row(row)
        key = (item.ref, item.criterion)
        if key not in latest or item.order > latest[key].order:
            latest[key] = item
    return sorted(
        (g for g in latest.values() if g.answer is not None),
        key=lambda g: (g.criterion, g.ref),
    )


def count(conn: sqlite3.Connection) -> int:
    """How many gold items are in force (what anyone may know)."""
    return len(in_force(conn))


@dataclass(frozen=True, slots=True)
class ReviewerGold:
    """One reviewer's accuracy on gold for one criterion, overall and by the gold answer's
    class (on items whose answer is pass, and on those whose answer is fail)."""

    reviewer: str
    criterion: str
    overall: ReviewerAccuracy
    on_pass: ReviewerAccuracy
    on_fail: ReviewerAccuracy
    unsure: int  # gold items answered "unsure": counted as not right in `overall`
    wrong: tuple[ResultRef, ...]  # told only when the session ends (or never)


def accuracy(
    conn: sqlite3.Connection,
    criterion: str | None = None,
    reviewers: Iterable[str] | None = None,
    alpha: float = ALPHA,
) -> list[ReviewerGold]:
    """Each reviewer's accuracy on the gold items they answered (their judgments with the
    gold purpose), per criterion; an "unsure" answer on gold counts as not right."""
    wanted = None if reviewers is None else set(reviewers)
    by_crit: dict[str, list[GoldItem]] = defaultdict(list)
    for g in in_force(conn, criterion):
        by_crit[g.criterion].append(g)
    out = []
    for crit, items in sorted(by_crit.items()):
        answers = {g.ref: g.answer for g in items}
        state = judgments.in_force(conn, {g.ref.run_id for g in items}, crit, "gold")
        tallies: dict[str, list[tuple[ResultRef, str, str]]] = defaultdict(list)
        for (ref, who), j in state.items():
            if ref in answers and j.verdict is not None and (wanted is None or who in wanted):
                tallies[who].append((ref, str(j.verdict), str(answers[ref])))
        for who, rows in sorted(tallies.items()):
            right = [said == gold for _, said, gold in rows]
            on = {
                cls: [said == gold for _, said, gold in rows if gold == cls]
                for cls in ("pass", "fail")
            }
            out.append(
                ReviewerGold(
                    reviewer=who,
                    criterion=crit,
                    overall=reviewer_accuracy(sum(right), len(right), alpha),
                    on_pass=reviewer_accuracy(sum(on["pass"]), len(on["pass"]), alpha),
                    on_fail=reviewer_accuracy(sum(on["fail"]), len(on["fail"]), alpha),
                    unsure=sum(1 for _, said, _ in rows if said == "unsure"),
                    wrong=tuple(ref for ref, said, gold in rows if said != gold),
                )
            )
    return out
