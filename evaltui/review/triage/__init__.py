"""Findings: what each failure is, who owns it, and what reviewers said. No UI.

Every triage action appends one row to `findings` (never updated or deleted)
and rewrites the case's row in `case_triage` in the same transaction, with an
event in the log. A reviewer's state on a case is their latest row; an undo
is a row that restores the state before the action it undoes. See docs/triage.md.

The owner of `findings` and `case_triage`: no other module names them in SQL; findings
files and OTLP export call the functions here, which take and return the typed records
of triage_state.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from evaltui.errors import InputError, NotFoundError
from evaltui.models import StepRef
from evaltui.review.taxonomy import FailureClass
from evaltui.review.triage_state import (
    UNSET,
    UNVERIFIED_SUFFIX,
    Agreement,
    CaseFinding,
    CaseState,
    Draft,
    Finding,
    Kind,
    NamedFinding,
    Opinion,
    RunName,
    check_name,
    check_verdict,
    counts_as_adjudication,
    current_by_reviewer,
    effective,
    latest_note,
    pairwise_agreement,
    relabelled,
    says_something,
    shown_state,
    stamp,
    step_to_json,
    uncounted_adjudications,
    unverified_identities,
)
from evaltui.store.runs import case_key_of, join_names, run_exists
from evaltui.store.store import Store, now_iso

# the records and the pure fold live in triage_state; these names are this module's too
__all__ = [
    "UNVERIFIED_SUFFIX", "Agreement", "CaseFinding", "CaseState", "Draft", "Finding", "Kind",
    "NamedFinding", "Opinion", "RunName", "check_name", "counts_as_adjudication", "current_by_reviewer",
    "effective", "says_something", "stamp", "unverified_identities",
]  # fmt: skip

COLS = (
    "id, uid, baseline_run, candidate_run, case_id, kind, class, class_name, owner, verdict, "
    "note, reviewer, at, undoes, source, signer, step"
)
ADJUDICATORS_SETTING = "triage.adjudicators"

# the runs and case a row names, for the listings (the run tables' owner writes the joins)
_NAMES_CT = join_names({"b": "ct.baseline_run", "c": "ct.candidate_run"}, ("k", "ct.case_id"))
_NAMES_F = join_names({"b": "f.baseline_run", "c": "f.candidate_run"}, ("k", "f.case_id"))


def _rows(db: Store | sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Finding]:
    conn = db.conn if isinstance(db, Store) else db
    return [
        Finding.from_row(r)
        for r in conn.execute(f"SELECT {COLS} FROM findings WHERE {where} ORDER BY at, uid", params)
    ]


def history(db: Store | sqlite3.Connection, base: int, cand: int, case_id: int) -> list[Finding]:
    """Every finding on a case in a comparison, oldest first (any open connection will do)."""
    return _rows(
        db, "baseline_run = ? AND candidate_run = ? AND case_id = ?", (base, cand, case_id)
    )


def on_cases(db: Store | sqlite3.Connection, cand: int, case_ids: Iterable[int]) -> list[Finding]:
    """Every finding on these cases in any comparison with `cand` as its candidate, oldest
    first (hidden gold scores reviewers' triage answers: calibration/triage_gold.py)."""
    ids = json.dumps(sorted(set(case_ids)))
    where = "candidate_run = ? AND case_id IN (SELECT value FROM json_each(?))"
    return _rows(db, where, (cand, ids))


def noted_cases(db: Store | sqlite3.Connection, base: int, cand: int) -> list[int]:
    """Cases of a comparison on which a verified reviewer's current opinion has a note
    (open coding, #29: the `noted` filter adds "and no class"). Reads only the findings
    of cases some finding gave a note."""
    rows = _rows(
        db,
        "baseline_run = ? AND candidate_run = ? AND case_id IN (SELECT case_id FROM findings "
        "WHERE baseline_run = ? AND candidate_run = ? AND note IS NOT NULL AND note <> '')",
        (base, cand, base, cand),
    )
    by_case: dict[int, list[Finding]] = {}
    for f in rows:  # oldest first, as current_by_reviewer reads them
        if f.verified:
            by_case.setdefault(f.case_id, []).append(f)
    return sorted(
        case_id
        for case_id, found in by_case.items()
        if any((f.note or "").strip() for f in current_by_reviewer(found).values())
    )


def adjudicators(store: Store) -> list[str]:
    """The reviewers this store lists as adjudicators (empty: any local reviewer)."""
    return list(store.get_setting(ADJUDICATORS_SETTING) or [])


def recompute(store: Store, base: int, cand: int, case_id: int) -> CaseState | None:
    """Rewrite the case's `case_triage` row from its findings (in the caller's transaction)."""
    eff = effective(history(store, base, cand, case_id), adjudicators(store))
    store.conn.execute(
        "DELETE FROM case_triage WHERE baseline_run = ? AND candidate_run = ? AND case_id = ?",
        (base, cand, case_id),
    )
    if eff is not None:
        store.conn.execute(
            "INSERT INTO case_triage (baseline_run, candidate_run, case_id, state, class, owner, "
            "verdict, reviewers, updated_at, classes, steps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                base,
                cand,
                case_id,
                eff.state,
                eff.class_key,
                eff.owner,
                eff.verdict,
                json.dumps(list(eff.reviewers)),
                now_iso(),
                json.dumps(list(eff.classes)),
                eff.steps_json(),
            ),
        )
    return eff


FOLD_VERSION = 2  # 2: unverified findings never decide a state; a note or owner alone is not triage
FOLD_SETTING = "triage.fold_version"
_CT_COLS = "state, class, owner, verdict, reviewers, classes, steps"


def refold_cases(store: Store, cases: list[tuple[int, int, int]]) -> int:
    """Recompute these cases' states (inside a transaction); how many changed."""
    changed = 0
    for base, cand, case_id in cases:
        where = "baseline_run = ? AND candidate_run = ? AND case_id = ?"
        before = store.conn.execute(
            f"SELECT {_CT_COLS} FROM case_triage WHERE {where}", (base, cand, case_id)
        ).fetchone()
        recompute(store, base, cand, case_id)
        after = store.conn.execute(
            f"SELECT {_CT_COLS} FROM case_triage WHERE {where}", (base, cand, case_id)
        ).fetchone()
        changed += before != after
    return changed


def refold(store: Store, *, in_transaction: bool = False) -> int:
    """Recompute every case's state once after the fold's rules changed (a store written
    by an earlier evaltui may hold states an unverified finding decided); how many
    changed. Recorded in the event log when any did. `in_transaction`: inside the
    caller's write (which then commits or rolls it back with its own work)."""
    if store.get_setting(FOLD_SETTING) == FOLD_VERSION:
        return 0
    if not in_transaction:
        if store.conn.execute("SELECT 1 FROM findings LIMIT 1").fetchone() is None:
            return 0  # nothing to fold: a reader writes nothing
        with store.transaction():
            return refold(store, in_transaction=True)
    cases = [
        tuple(r)
        for r in store.conn.execute(
            "SELECT DISTINCT baseline_run, candidate_run, case_id FROM findings ORDER BY 1, 2, 3"
        )
    ]
    changed = refold_cases(store, cases)
    _put_setting(store, FOLD_SETTING, FOLD_VERSION)
    if changed:
        store.log_event(
            "triage.refold",
            "store",
            "case_triage",
            after={"cases": len(cases), "changed": changed},
            context={"fold": FOLD_VERSION},
        )
    return changed


def _put_setting(store: Store, key: str, value: Any) -> None:
    store.put_setting(key, value)


def set_adjudicators(store: Store, names: list[str]) -> int:
    """List who may adjudicate, and recompute every case holding an adjudication (whether
    it counts depends on the list); how many cases changed state. One transaction."""
    for n in names:
        check_name(n, "--add", "adjudicator")
    with store.transaction():
        refold(store, in_transaction=True)
        before = adjudicators(store)
        _put_setting(store, ADJUDICATORS_SETTING, sorted(names))
        cases = [
            tuple(r)
            for r in store.conn.execute(
                "SELECT DISTINCT baseline_run, candidate_run, case_id FROM findings "
                "WHERE kind = 'adjudication' ORDER BY 1, 2, 3"
            )
        ]
        changed = refold_cases(store, cases)
        store.log_event(
            "set",
            "setting",
            ADJUDICATORS_SETTING,
            before=before,
            after=sorted(names),
            context={"cases_changed": changed},
        )
    return changed


def append(store: Store, draft: Draft) -> Finding:
    """Add one finding, as the store numbers it (in the caller's transaction; then
    `recompute` its case)."""
    o = draft.opinion
    cur = store.conn.execute(
        "INSERT INTO findings (uid, baseline_run, candidate_run, case_id, kind, class, class_name, "
        "owner, verdict, note, reviewer, at, undoes, source, signer, step) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            draft.uid,
            draft.baseline_run,
            draft.candidate_run,
            draft.case_id,
            draft.kind,
            o.class_key,
            o.class_name,
            o.owner,
            o.verdict,
            o.note,
            draft.reviewer,
            draft.at,
            draft.undoes,
            draft.source,
            draft.signer,
            step_to_json(o.step),
        ),
    )
    return Finding.from_row(
        store.conn.execute(f"SELECT {COLS} FROM findings WHERE id = ?", (cur.lastrowid,)).fetchone()
    )


def by_uid(store: Store, uid: str) -> Finding | None:
    """The finding with this uid, if this store holds it."""
    row = store.conn.execute(f"SELECT {COLS} FROM findings WHERE uid = ?", (uid,)).fetchone()
    return Finding.from_row(row) if row is not None else None


def label(
    store: Store,
    base: int,
    cand: int,
    case_id: int,
    *,
    failure_class: FailureClass | Any | None = UNSET,
    owner: str | Any | None = UNSET,
    verdict: str | Any | None = UNSET,
    note: str | Any | None = UNSET,
    adjudicate: bool = False,
    reviewer: str | None = None,
    step: StepRef | Any | None = UNSET,
) -> Finding:
    """Record one action by a reviewer on a case; fields not given keep the reviewer's
    value (`relabelled`). Committed before it returns."""
    reviewer = check_name(reviewer or store.actor, "--reviewer")
    if adjudicate:
        listed = adjudicators(store)
        if listed and reviewer not in listed:
            raise InputError(
                "--adjudicate",
                f"{reviewer} is not an adjudicator of this store ({', '.join(listed)}); "
                "`evaltui findings adjudicators --add NAME` lists one",
            )
    check_verdict(verdict)
    with store.transaction():
        refold(store, in_transaction=True)
        _check(store, base, cand, case_id)
        rows = history(store, base, cand, case_id)
        mine = current_by_reviewer(rows).get(reviewer)
        was = mine.opinion if mine else Opinion()
        now = relabelled(
            was, failure_class=failure_class, owner=owner, verdict=verdict, note=note, step=step
        )
        kind: Kind = "adjudication" if adjudicate else "label"
        finding = append(
            store, Draft(uuid.uuid4().hex, base, cand, case_id, kind, now, reviewer, stamp(rows))
        )
        eff = recompute(store, base, cand, case_id)
        store.log_event(
            "finding.adjudicate" if adjudicate else "finding.label",
            "case",
            f"{base}:{cand}:{case_id}",
            before=was.logged() if mine and not mine.empty else None,
            after=finding.opinion.logged(),
            context={"finding": finding.uid, "case_state": eff.state if eff else None},
            actor=reviewer,
        )
    return finding


def undo(store: Store, base: int, cand: int, reviewer: str | None = None) -> Finding | None:
    """Undo the reviewer's latest action in this comparison not yet undone; recorded as a row."""
    reviewer = check_name(reviewer or store.actor, "--reviewer")
    with store.transaction():
        refold(store, in_transaction=True)
        rows = _rows(
            store, "baseline_run = ? AND candidate_run = ? AND reviewer = ?", (base, cand, reviewer)
        )
        rows = [f for f in rows if f.verified]  # never a file's finding that only names you
        undone = {f.undoes for f in rows if f.kind == "undo"}
        target = next((f for f in reversed(rows) if f.kind != "undo" and f.uid not in undone), None)
        if target is None:
            return None
        case_all = history(store, base, cand, target.case_id)
        case_rows = [f for f in case_all if f.reviewer == reviewer and f.verified]
        earlier = [f for f in case_rows if f.key < target.key and f.kind != "adjudication"]
        prev = earlier[-1].opinion if earlier else Opinion()
        uid, at = uuid.uuid4().hex, stamp(case_all)
        finding = append(
            store,
            Draft(uid, base, cand, target.case_id, "undo", prev, reviewer, at, undoes=target.uid),
        )
        recompute(store, base, cand, target.case_id)
        store.log_event(
            "finding.undo",
            "case",
            f"{base}:{cand}:{target.case_id}",
            before=target.opinion.logged(),
            after=prev.logged(),
            context={"finding": finding.uid, "undoes": target.uid},
            actor=reviewer,
        )
    finding.case_key = case_key_of(store, finding.case_id)
    return finding


# -- reading ------------------------------------------------------------------------------


def reviewers(store: Store, base: int, cand: int) -> list[str]:
    """Everyone with a finding in this comparison, sorted."""
    return sorted(
        r[0]
        for r in store.conn.execute(
            "SELECT DISTINCT reviewer FROM findings WHERE baseline_run = ? AND candidate_run = ?",
            (base, cand),
        )
    )


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """`col = ?` for every filter that is given (None means any)."""
    given = {col: v for col, v in filters.items() if v is not None}
    return " AND ".join([f"{col} = ?" for col in given] or ["1"]), list(given.values())


def list_findings(
    store: Store,
    *,
    base: int | None = None,
    cand: int | None = None,
    owner: str | None = None,
    failure_class: str | None = None,
    disagreements: bool = False,
) -> list[CaseFinding]:
    """Each case with a finding: its state as shown, with its runs and case key; see
    `CaseFinding`. `uncounted_adjudications` counts adjudications this store keeps but
    does not count (unverified, or by someone it does not list): there this store's
    state differs from a store that counts them."""
    refold(store)
    listed = adjudicators(store)
    where, params = _where(
        {
            "ct.baseline_run": base,
            "ct.candidate_run": cand,
            "ct.owner": owner,
            "ct.class": failure_class,
        }
    )
    if disagreements:
        where += " AND ct.state = 'disagreement'"
    rows = store.conn.execute(
        "SELECT b.name, c.name, k.suite, k.case_key, ct.state, ct.class, ct.owner, ct.verdict, "
        "ct.reviewers, ct.updated_at, ct.baseline_run, ct.candidate_run, ct.case_id "
        f"FROM case_triage ct {_NAMES_CT} WHERE {where} "
        "ORDER BY b.name, c.name, k.suite, k.case_key",
        params,
    ).fetchall()
    out = []
    for r in rows:
        hist = history(store, r[10], r[11], r[12])
        names, latest = json.loads(r[8]), latest_note(hist, listed)
        out.append(
            CaseFinding(
                baseline=r[0],
                candidate=r[1],
                suite=r[2],
                case_key=r[3],
                state=shown_state(r[4], r[5], r[7], names),
                class_key=r[5],
                owner=r[6],
                verdict=r[7],
                reviewers=names,
                updated_at=r[9],
                note=latest.note if latest else None,
                note_by=latest.identity if latest else None,
                unverified=unverified_identities(hist),
                uncounted_adjudications=uncounted_adjudications(hist, listed),
            )
        )
    return out


def agreement(store: Store, *, base: int | None = None, cand: int | None = None) -> list[Agreement]:
    """Per reviewer pair: cases both labelled, percent agreement and kappa on class and verdict."""
    where, params = _where({"baseline_run": base, "candidate_run": cand})
    return pairwise_agreement(
        Finding.from_row(r)
        for r in store.conn.execute(
            f"SELECT {COLS} FROM findings WHERE {where} ORDER BY id", params
        )
    )


def in_file_order(
    store: Store, *, base: int | None = None, cand: int | None = None
) -> Iterator[NamedFinding]:
    """Every finding (of these runs), streamed in a findings file's order: the runs by
    sha256, the case, then the reviewer's clock and uid; with its runs and case by name
    (what findings files and OTLP events say)."""
    where, params = _where({"f.baseline_run": base, "f.candidate_run": cand})
    cols = ", ".join(f"f.{c}" for c in COLS.split(", "))
    for r in store.conn.execute(
        f"SELECT {cols}, b.name, b.sha256, c.name, c.sha256, k.suite, k.case_key "
        f"FROM findings f {_NAMES_F} WHERE {where} "
        "ORDER BY b.sha256, c.sha256, k.suite, k.case_key, f.at, f.uid",
        params,
    ):
        baseline = RunName.model_construct(name=r[17], sha256=r[18])  # the store's, as written
        candidate = RunName.model_construct(name=r[19], sha256=r[20])
        yield NamedFinding(Finding.from_row(r), baseline, candidate, suite=r[21], case_key=r[22])


def _check(store: Store, base: int, cand: int, case_id: int) -> None:
    if case_key_of(store, case_id) is None:
        raise NotFoundError(f"no case with id {case_id}")
    for run in (base, cand):
        if not run_exists(store, run):
            raise NotFoundError(f"no run with id {run}")
