"""Blind human judgments of the grader's verdicts.

The owner of the `judgments` table: no other module names it in SQL. A judgment is an
event, like a finding: every action appends one row (never updated or deleted, triggers
refuse it) with who and when, and one event in the store's hash-chained log, in the same
transaction. A reviewer's state on a result is a fold of their
rows: a judgment sets it, an undo returns to the state before the judgment it undoes.

A result is judged on one criterion, or on its own verdict (criterion '', written
`verdict`). `purpose` says why it was judged: `calibration` (a sample item, or a file of
labels) counts in the grader's figures; `gold` (an item with a known answer, mixed into a
reviewer's queue) measures the reviewer, never the grader. docs/calibration.md.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from evaltui.errors import InputError
from evaltui.review.triage_state import check_name
from evaltui.store.events import now_iso
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT, VERDICT_WORD, ResultRef
from evaltui.store.store import Store

HumanVerdict = Literal["pass", "fail", "unsure"]
HUMAN_VERDICTS: tuple[HumanVerdict, ...] = get_args(HumanVerdict)
Purpose = Literal["calibration", "gold"]
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
Kind = Literal["judgment", "undo"]

_COLS = (
    "uid, run_id, case_id, epoch, criterion, kind, verdict, note, reviewer, at, undoes, "
    "sample, purpose, seconds, source"
)


def criterion_word(criterion: str) -> str:
    """How people write a criterion: the result's own verdict is `verdict`."""
    return VERDICT_WORD if criterion == VERDICT else criterion


def criterion_name(word: str | None) -> str:
    """The stored name of a criterion people wrote (`verdict` or none: the result's own)."""
    return VERDICT if word in (None, "", VERDICT_WORD) else str(word)


@dataclass(frozen=True, slots=True)
class Judgment:
    """One row: a reviewer's judgment of a result on a criterion, or an undo."""

    uid: str
    ref: ResultRef
    criterion: str
    kind: Kind
    verdict: HumanVerdict | None
    note: str | None
    reviewer: str
    at: str
    undoes: str | None
    sample: str | None
    purpose: Purpose
    seconds: float | None
    source: str

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> Judgment:
        return cls(
            uid=r[0],
            ref=ResultRef(int(r[1]), int(r[2]), int(r[3])),
            criterion=r[4],
            kind=r[5],
            verdict=r[6],
            note=r[7],
            reviewer=r[8],
            at=r[9],
            undoes=r[10],
            sample=r[11],
            purpose=r[12],
            seconds=r[13],
            source=r[14],
        )


@dataclass(frozen=True, slots=True)
class Label:
    """The human side of one judged result: the reviewers' current pass/fail verdicts and
    what they come to (`verdict` None when they disagree: disputed, left out)."""

    ref: ResultRef
    verdict: Literal["pass", "fail"] | None
    said: tuple[tuple[str, str, str], ...]  # (reviewer, pass or fail, uid), by reviewer

    @property
    def disputed(self) -> bool:
        return self.verdict is None


@dataclass(frozen=True, slots=True)
class Labels:
    """Every result judged on a criterion in some runs: agreed labels, disputed ones, and
    results only judged unsure."""

    criterion: str
    labels: tuple[Label, ...]
    unsure: int  # results whose only current judgments are "unsure"

    @property
    def agreed(self) -> list[Label]:
        return [x for x in self.labels if not x.disputed]

    @property
    def disputed(self) -> int:
        return sum(1 for x in self.labels if x.disputed)

    @property
    def reviewers(self) -> list[str]:
        return sorted({who for x in self.labels for who, _, _ in x.said})


# -- reading ---------------------------------------------------------------------------------


def history(conn: sqlite3.Connection, ref: ResultRef, criterion: str) -> list[Judgment]:
    """Every row on one result and criterion, oldest first."""
    return [
        Judgment.from_row(r)
        for r in conn.execute(
            f"SELECT {_COLS} FROM judgments WHERE run_id = ? AND criterion = ? AND case_id = ? "
            "AND epoch = ? ORDER BY id",
            (ref.run_id, criterion, ref.case_id, ref.epoch),
        )
    ]


def _fold(rows: Iterable[Judgment]) -> dict[tuple[ResultRef, str], Judgment]:
    """Each (result, reviewer)'s judgment in force: judgments stack, an undo pops one."""
    stacks: dict[tuple[ResultRef, str], list[Judgment]] = defaultdict(list)
    for j in rows:
        stack = stacks[(j.ref, j.reviewer)]
        if j.kind == "judgment":
            stack.append(j)
        elif stack and stack[-1].uid == j.undoes:
            stack.pop()
    return {key: stack[-1] for key, stack in stacks.items() if stack}


def in_force(
    conn: sqlite3.Connection,
    run_ids: Iterable[int],
    criterion: str,
    purpose: Purpose = "calibration",
    reviewer: str | None = None,
) -> dict[tuple[ResultRef, str], Judgment]:
    """Each (result, reviewer)'s judgment in force on `criterion` in these runs."""
    rows: list[Judgment] = []
    who = " AND reviewer = ?" if reviewer is not None else ""
    for run_id in sorted(set(run_ids)):
        params: list[Any] = [run_id, criterion, purpose, *([reviewer] if reviewer else [])]
        rows.extend(
            Judgment.from_row(r)
            for r in conn.execute(
                f"SELECT {_COLS} FROM judgments WHERE run_id = ? AND criterion = ? "
                f"AND purpose = ?{who} ORDER BY id",
                params,
            )
        )
    return _fold(rows)


def labels(conn: sqlite3.Connection, run_ids: Iterable[int], criterion: str) -> Labels:
    """The calibration labels of the results judged on `criterion` in these runs."""
    by_ref: dict[ResultRef, list[Judgment]] = defaultdict(list)
    for (ref, _who), j in in_force(conn, run_ids, criterion).items():
        by_ref[ref].append(j)
    out, unsure = [], 0
    for ref in sorted(by_ref):
        said = sorted(
            (j.reviewer, str(j.verdict), j.uid)
            for j in by_ref[ref]
            if j.verdict in ("pass", "fail")
        )
        if not said:
            unsure += 1
            continue
        kinds = {v for _, v, _ in said}
        verdict: Any = kinds.pop() if len(kinds) == 1 else None
        out.append(Label(ref, verdict, tuple(said)))
    return Labels(criterion, tuple(out), unsure)


def set_hash(conn: sqlite3.Connection, labels_: Labels) -> str:
    """The SHA-256 of the judgment set a figure used: one JSON line per judgment in force
    [run sha256, suite, case key, epoch, criterion, reviewer, verdict, uid], sorted. The
    same judgments give the same hash in any store holding the same runs."""
    runs = {r: grader.run_identity(conn, r)[1] for r in {x.ref.run_id for x in labels_.labels}}
    keys = grader.case_keys(conn, (x.ref.case_id for x in labels_.labels))
    word = criterion_word(labels_.criterion)
    lines = sorted(
        json.dumps(
            [
                runs[x.ref.run_id],
                *keys.get(x.ref.case_id, ("", "")),
                x.ref.epoch,
                word,
                who,
                verdict,
                uid,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for x in labels_.labels
        for who, verdict, uid in x.said
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def judged(
    conn: sqlite3.Connection,
    reviewer: str,
    refs: Iterable[ResultRef],
    criterion: str,
    purpose: Purpose | None = None,
) -> dict[ResultRef, Judgment]:
    """The reviewer's judgment in force on each of `refs` that has one (of either purpose
    unless one is given)."""
    wanted = set(refs)
    out: dict[ResultRef, Judgment] = {}
    for p in (purpose,) if purpose else PURPOSES:
        state = in_force(conn, {r.run_id for r in wanted}, criterion, p, reviewer)
        out.update({ref: j for (ref, _), j in state.items() if ref in wanted})
    return out


def judged_counts(conn: sqlite3.Connection) -> dict[tuple[int, str], int]:
    """Results judged for calibration per (run, criterion): any reviewer, any verdict."""
    return {
        (int(r[0]), str(r[1])): int(r[2])
        for r in conn.execute(
            "SELECT run_id, criterion, COUNT(DISTINCT case_id || ':' || epoch) FROM judgments "
            "WHERE purpose = 'calibration' GROUP BY run_id, criterion"
        )
    }


def runs_judged(conn: sqlite3.Connection, criterion: str | None = None) -> list[int]:
    """The runs with a calibration judgment (on `criterion`, when given)."""
    where, params = ("AND criterion = ?", [criterion]) if criterion is not None else ("", [])
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT run_id FROM judgments WHERE purpose = 'calibration' "
            f"{where} ORDER BY run_id",
            params,
        )
    ]


# -- writing ---------------------------------------------------------------------------------


def _insert(store: Store, j: Judgment) -> Judgment:
    store.conn.execute(
        f"INSERT INTO judgments ({_COLS}) VALUES ({', '.join('?' * 15)})",
        (
            j.uid,
            j.ref.run_id,
            j.ref.case_id,
            j.ref.epoch,
            j.criterion,
            j.kind,
            j.verdict,
            j.note,
            j.reviewer,
            j.at,
            j.undoes,
            j.sample,
            j.purpose,
            j.seconds,
            j.source,
        ),
    )
    return j


def _check_ref(store: Store, ref: ResultRef) -> None:
    grader.resolve_result(store.conn, ref.run_id, ref.case_id, ref.epoch)  # raises: none


def _log(store: Store, j: Judgment) -> None:
    # the event says what was judged and how, never why (`purpose` stays in the row: a
    # reader of `evaltui log` cannot tell a gold item from a sample item)
    store.log_event(
        "judgment.undo" if j.undoes else "judgment.record",
        "result",
        f"{j.ref.run_id}:{j.ref.case_id}:{j.ref.epoch}",
        after={
            "criterion": criterion_word(j.criterion),
            "verdict": j.verdict,
            **({"note": j.note} if j.note else {}),
        },
        context={"uid": j.uid, **({"sample": j.sample} if j.sample else {})},
        actor=j.reviewer,
    )


def record(
    store: Store,
    ref: ResultRef,
    criterion: str,
    verdict: HumanVerdict,
    *,
    note: str | None = None,
    reviewer: str | None = None,
    sample: str | None = None,
    purpose: Purpose = "calibration",
    seconds: float | None = None,
) -> Judgment:
    """Record one judgment, with its event, in one transaction (committed on return)."""
    if verdict not in HUMAN_VERDICTS:
        raise InputError(
            "--verdict", f"unknown verdict {verdict!r}; use one of {', '.join(HUMAN_VERDICTS)}"
        )
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    who = check_name(reviewer or store.actor, "--reviewer")
    j = Judgment(
        uid=uuid.uuid4().hex,
        ref=ref,
        criterion=criterion,
        kind="judgment",
        verdict=verdict,
        note=note or None,
        reviewer=who,
        at=now_iso(),
        undoes=None,
        sample=sample,
        purpose=purpose,
        seconds=None if seconds is None else round(float(seconds), 3),
        source="local",
    )
    with store.transaction():
        _check_ref(store, ref)
        _insert(store, j)
        _log(store, j)
    return j


def undo(
    store: Store,
    ref: ResultRef,
    criterion: str,
    *,
    reviewer: str | None = None,
    purpose: Purpose = "calibration",
) -> Judgment | None:
    """Undo the reviewer's judgment in force on the result (None: nothing to undo)."""
    who = check_name(reviewer or store.actor, "--reviewer")
    with store.transaction():
        rows = [j for j in history(store.conn, ref, criterion) if j.purpose == purpose]
        mine = [j for j in rows if j.reviewer == who]
        top = _fold(mine).get((ref, who))
        if top is None:
            return None
        after = _fold([*mine, _undo_row(top)]).get((ref, who))
        j = _undo_row(top, after.verdict if after else None)
        _insert(store, j)
        _log(store, j)
    return j


def _undo_row(top: Judgment, restored: HumanVerdict | None = None) -> Judgment:
    return Judgment(
        uid=uuid.uuid4().hex,
        ref=top.ref,
        criterion=top.criterion,
        kind="undo",
        verdict=restored,
        note=None,
        reviewer=top.reviewer,
        at=now_iso(),
        undoes=top.uid,
        sample=top.sample,
        purpose=top.purpose,
        seconds=None,
        source="local",
    )


def add_imported(
    store: Store, rows: Sequence[Judgment], signer: str | None = None
) -> tuple[int, int]:
    """Judgments read from a file (uids derived from the file and line, so importing the
    same file again adds nothing): (added, already there). One transaction; the import's
    event names the file's verified signer, if any."""
    added = 0
    with store.transaction():
        for j in rows:
            _check_ref(store, j.ref)
            if store.conn.execute("SELECT 1 FROM judgments WHERE uid = ?", (j.uid,)).fetchone():
                continue
            _insert(store, j)
            added += 1
        if added:
            store.log_event(
                "judgment.import",
                "file",
                rows[0].source,
                after={
                    "judgments": added,
                    "already_there": len(rows) - added,
                    **({"signer": signer} if signer else {}),
                },
            )
    return added, len(rows) - added
