"""Findings: what each failure is, who owns it, and what reviewers said. No UI.

Every triage action appends one row to `findings` (never updated or deleted)
and rewrites the case's row in `case_triage` in the same transaction, with an
event in the log. A reviewer's state on a case is their latest row; an undo
is a row that restores the state before the action it undoes. See docs/triage.md.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import defaultdict
from itertools import combinations
from typing import Any, Literal

from evaltui.errors import InputError, NotFoundError
from evaltui.models import FINDING_VERDICTS
from evaltui.review.taxonomy import FailureClass
from evaltui.review.triage_state import (
    UNVERIFIED_SUFFIX,
    Finding,
    check_name,
    counts_as_adjudication,
    current_by_reviewer,
    effective,
    says_something,
    stamp,
    unverified_identities,
)
from evaltui.stats import cohen_kappa
from evaltui.store.store import Store, current_user, now_iso

# the pure fold lives in triage_state; these names are part of this module's interface too
__all__ = [
    "UNVERIFIED_SUFFIX", "Finding", "check_name", "counts_as_adjudication", "current_by_reviewer",
    "effective", "says_something", "stamp", "unverified_identities",
]  # fmt: skip

Kind = Literal["label", "undo", "adjudication"]
_UNSET: Any = object()

COLS = (
    "id, uid, baseline_run, candidate_run, case_id, kind, class, class_name, owner, verdict, "
    "note, reviewer, at, undoes, source, signer, step"
)
ADJUDICATORS_SETTING = "triage.adjudicators"


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


def adjudicators(store: Store) -> list[str]:
    """The reviewers this store lists as adjudicators (empty: any local reviewer)."""
    return list(store.get_setting(ADJUDICATORS_SETTING) or [])


def _recompute(store: Store, base: int, cand: int, case_id: int) -> dict[str, Any] | None:
    eff = effective(history(store, base, cand, case_id), adjudicators(store))
    store.conn.execute(
        "DELETE FROM case_triage WHERE baseline_run = ? AND candidate_run = ? AND case_id = ?",
        (base, cand, case_id),
    )
    if eff is not None:
        store.conn.execute(
            "INSERT INTO case_triage (baseline_run, candidate_run, case_id, state, class, owner, "
            "verdict, reviewers, updated_at, classes, steps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (base, cand, case_id, eff["state"], eff["class"], eff["owner"], eff["verdict"],
             json.dumps(eff["reviewers"]), now_iso(), json.dumps(eff["classes"]),
             json.dumps(eff["steps"])),
        )  # fmt: skip
    return eff


FOLD_VERSION = 2  # 2: unverified findings never decide a state; a note or owner alone is not triage
FOLD_SETTING = "triage.fold_version"
_CT_COLS = "state, class, owner, verdict, reviewers, classes, steps"


def _refold_cases(store: Store, cases: list[tuple[int, int, int]]) -> int:
    """Recompute these cases' states (inside a transaction); how many changed."""
    changed = 0
    for base, cand, case_id in cases:
        where = "baseline_run = ? AND candidate_run = ? AND case_id = ?"
        before = store.conn.execute(
            f"SELECT {_CT_COLS} FROM case_triage WHERE {where}", (base, cand, case_id)
        ).fetchone()
        _recompute(store, base, cand, case_id)
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
    cases = [tuple(r) for r in store.conn.execute(
        "SELECT DISTINCT baseline_run, candidate_run, case_id FROM findings ORDER BY 1, 2, 3"
    )]  # fmt: skip
    changed = _refold_cases(store, cases)
    _put_setting(store, FOLD_SETTING, FOLD_VERSION)
    if changed:
        store.log_event("triage.refold", "store", "case_triage",
                        after={"cases": len(cases), "changed": changed},
                        context={"fold": FOLD_VERSION})  # fmt: skip
    return changed


def _put_setting(store: Store, key: str, value: Any) -> None:
    store.conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value)),
    )


def set_adjudicators(store: Store, names: list[str]) -> int:
    """List who may adjudicate, and recompute every case holding an adjudication (whether
    it counts depends on the list); how many cases changed state. One transaction."""
    for n in names:
        check_name(n, "--add", "adjudicator")
    with store.transaction():
        refold(store, in_transaction=True)
        before = adjudicators(store)
        _put_setting(store, ADJUDICATORS_SETTING, sorted(names))
        cases = [tuple(r) for r in store.conn.execute(
            "SELECT DISTINCT baseline_run, candidate_run, case_id FROM findings "
            "WHERE kind = 'adjudication' ORDER BY 1, 2, 3"
        )]  # fmt: skip
        changed = _refold_cases(store, cases)
        store.log_event("set", "setting", ADJUDICATORS_SETTING, before=before,
                        after=sorted(names), context={"cases_changed": changed})  # fmt: skip
    return changed


def _insert(store: Store, f: dict[str, Any]) -> Finding:
    cur = store.conn.execute(
        "INSERT INTO findings (uid, baseline_run, candidate_run, case_id, kind, class, class_name, "
        "owner, verdict, note, reviewer, at, undoes, source, signer, step) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (f["uid"], f["baseline_run"], f["candidate_run"], f["case_id"], f["kind"], f["class"],
         f["class_name"], f["owner"], f["verdict"], f["note"], f["reviewer"], f["at"],
         f.get("undoes"), f.get("source", "local"), f.get("signer"), f.get("step")),
    )  # fmt: skip
    return Finding.from_row(
        store.conn.execute(f"SELECT {COLS} FROM findings WHERE id = ?", (cur.lastrowid,)).fetchone()
    )


def _check(store: Store, base: int, cand: int, case_id: int) -> None:
    if store.conn.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone() is None:
        raise NotFoundError(f"no case with id {case_id}")
    for run in (base, cand):
        if store.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone() is None:
            raise NotFoundError(f"no run with id {run}")


def label(
    store: Store,
    base: int,
    cand: int,
    case_id: int,
    *,
    failure_class: FailureClass | Any | None = _UNSET,
    owner: str | Any | None = _UNSET,
    verdict: str | Any | None = _UNSET,
    note: str | Any | None = _UNSET,
    adjudicate: bool = False,
    reviewer: str | None = None,
    step: dict[str, Any] | Any | None = _UNSET,
) -> Finding:
    """Record one action by a reviewer on a case; fields not given keep the reviewer's value.

    Setting a class resets the owner to the class's owner unless an owner is given, and
    points the finding at `step` (a tool call of the path: {run, index, tool, call_id,
    turn}) or at no step when none is given.
    Committed before it returns.
    """
    reviewer = check_name(reviewer or current_user(), "--reviewer")
    if adjudicate:
        listed = adjudicators(store)
        if listed and reviewer not in listed:
            raise InputError(
                "--adjudicate",
                f"{reviewer} is not an adjudicator of this store ({', '.join(listed)}); "
                "`evaltui findings adjudicators --add NAME` lists one",
            )
    if verdict is not _UNSET and verdict is not None and verdict not in FINDING_VERDICTS:
        raise InputError(
            "--verdict", f"unknown verdict {verdict!r}; use one of {', '.join(FINDING_VERDICTS)}"
        )
    with store.transaction():
        refold(store, in_transaction=True)
        _check(store, base, cand, case_id)
        rows = history(store, base, cand, case_id)
        mine = current_by_reviewer(rows).get(reviewer)
        state: dict[str, Any] = mine.state() if mine else {"class": None, "class_name": None, "owner": None,
                                           "verdict": None, "note": None, "step": None}  # fmt: skip
        before = dict(state) if mine and not mine.empty else None
        if failure_class is not _UNSET:
            if failure_class is None:
                state["class"] = state["class_name"] = None
            else:
                state["class"], state["class_name"] = failure_class.key, failure_class.name
                if owner is _UNSET:
                    state["owner"] = failure_class.owner
        if failure_class is not _UNSET and step is _UNSET:
            state["step"] = None
        if step is not _UNSET:
            state["step"] = json.dumps(step, sort_keys=True) if step else None
        if owner is not _UNSET:
            state["owner"] = owner or None
        if verdict is not _UNSET:
            state["verdict"] = verdict
        if note is not _UNSET:
            state["note"] = note or None
        finding = _insert(
            store,
            {**state, "uid": uuid.uuid4().hex, "baseline_run": base, "candidate_run": cand,
             "case_id": case_id, "kind": "adjudication" if adjudicate else "label",
             "reviewer": reviewer, "at": stamp(rows)},
        )  # fmt: skip
        eff = _recompute(store, base, cand, case_id)
        store.log_event(
            "finding.adjudicate" if adjudicate else "finding.label",
            "case",
            f"{base}:{cand}:{case_id}",
            before=before,
            after=finding.state(),
            context={"finding": finding.uid, "case_state": eff["state"] if eff else None},
            actor=reviewer,
        )
    return finding


def undo(store: Store, base: int, cand: int, reviewer: str | None = None) -> Finding | None:
    """Undo the reviewer's latest action in this comparison not yet undone; recorded as a row."""
    reviewer = check_name(reviewer or current_user(), "--reviewer")
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
        prev = earlier[-1].state() if earlier else {"class": None, "class_name": None, "owner": None,
                                                    "verdict": None, "note": None, "step": None}  # fmt: skip
        finding = _insert(
            store,
            {**prev, "uid": uuid.uuid4().hex, "baseline_run": base, "candidate_run": cand,
             "case_id": target.case_id, "kind": "undo", "reviewer": reviewer, "at": stamp(case_all),
             "undoes": target.uid},
        )  # fmt: skip
        _recompute(store, base, cand, target.case_id)
        store.log_event(
            "finding.undo",
            "case",
            f"{base}:{cand}:{target.case_id}",
            before=target.state(),
            after=prev,
            context={"finding": finding.uid, "undoes": target.uid},
            actor=reviewer,
        )
    finding.case_key = store.conn.execute(
        "SELECT case_key FROM cases WHERE id = ?", (finding.case_id,)
    ).fetchone()[0]
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
) -> list[dict[str, Any]]:
    """Each case with a finding: its state, with its runs and case key.

    `state` as shown: `triaged` (a class or a verdict), `disagreement`, `adjudicated`,
    `untriaged` (only an owner or a note), `unverified` (only unverified findings).
    `note` is the latest verified note (an unverified one only where nothing verified
    speaks), `note_by` who wrote it; `unverified` lists the unverified identities;
    `uncounted_adjudications` counts adjudications this store keeps but does not
    count (unverified, or by someone it does not list): there this store's state
    differs from a store that counts them.
    """
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
        "FROM case_triage ct JOIN runs b ON b.id = ct.baseline_run JOIN runs c ON c.id = ct.candidate_run "
        f"JOIN cases k ON k.id = ct.case_id WHERE {where} "
        "ORDER BY b.name, c.name, k.suite, k.case_key",
        params,
    ).fetchall()
    out = []
    for r in rows:
        hist = history(store, r[10], r[11], r[12])
        noted = [f for f in current_by_reviewer(hist).values() if f.note]
        noted += [f for f in hist if f.note and counts_as_adjudication(f, listed)]
        verified = [f for f in noted if f.verified]
        latest = max(verified or noted, key=lambda f: f.key) if noted else None
        state, names = r[4], json.loads(r[8])
        if state == "triaged" and r[5] is None and r[7] is None:  # as SHOWN_STATE says it
            spoken = any(not n.endswith(UNVERIFIED_SUFFIX) for n in names)
            state = "untriaged" if spoken else "unverified"
        out.append(
            {
                "baseline": r[0], "candidate": r[1], "suite": r[2], "case_key": r[3],
                "state": state, "class": r[5], "owner": r[6], "verdict": r[7],
                "reviewers": names, "updated_at": r[9],
                "note": latest.note if latest else None,
                "note_by": latest.identity if latest else None,
                "unverified": unverified_identities(hist),
                "uncounted_adjudications": sum(
                    1 for f in hist if f.kind == "adjudication" and not counts_as_adjudication(f, listed)
                ),
            }
        )  # fmt: skip
    return out


# -- agreement --------------------------------------------------------------------------------


def agreement(
    store: Store, *, base: int | None = None, cand: int | None = None
) -> list[dict[str, Any]]:
    """Per reviewer pair: cases both labelled, percent agreement and kappa on class and verdict."""
    where, params = _where({"baseline_run": base, "candidate_run": cand})
    rows = [
        Finding.from_row(r)
        for r in store.conn.execute(
            f"SELECT {COLS} FROM findings WHERE {where} ORDER BY id", params
        )
    ]
    by_case: dict[tuple[int, int, int], list[Finding]] = defaultdict(list)
    for f in rows:
        by_case[(f.baseline_run, f.candidate_run, f.case_id)].append(f)
    labels: dict[str, dict[tuple[int, int, int], Finding]] = defaultdict(dict)
    for key, fs in by_case.items():
        for reviewer, f in current_by_reviewer(fs).items():
            if not f.empty:
                labels[reviewer][key] = f
    out = []
    for r1, r2 in combinations(sorted(labels), 2):
        both = sorted(set(labels[r1]) & set(labels[r2]))
        cls_pairs = [(labels[r1][k].class_key, labels[r2][k].class_key) for k in both]
        ver_pairs = [(labels[r1][k].verdict, labels[r2][k].verdict) for k in both]
        out.append(
            {
                "reviewers": [r1, r2], "cases": len(both),
                "class_agreement": (sum(a == b for a, b in cls_pairs) / len(both)) if both else None,
                "class_kappa": cohen_kappa(cls_pairs),
                "verdict_agreement": (sum(a == b for a, b in ver_pairs) / len(both)) if both else None,
                "verdict_kappa": cohen_kappa(ver_pairs),
            }
        )  # fmt: skip
    return out


def resolve_case(store: Store, ref: str) -> int:
    """A case id from `suite/key`, a unique key, or `#id`."""
    if ref.startswith("#") and ref[1:].isdigit():
        row = store.conn.execute("SELECT id FROM cases WHERE id = ?", (int(ref[1:]),)).fetchone()
        if row:
            return int(row[0])
    rows = store.conn.execute("SELECT id, suite FROM cases WHERE case_key = ?", (ref,)).fetchall()
    if len(rows) == 1:
        return int(rows[0][0])
    if len(rows) > 1:
        raise InputError(
            "CASE",
            f"{ref!r} is in several suites ({', '.join(r[1] for r in rows)}); write SUITE/KEY",
        )
    if "/" in ref:
        suite, key = ref.split("/", 1)
        row = store.conn.execute(
            "SELECT id FROM cases WHERE suite = ? AND case_key = ?", (suite, key)
        ).fetchone()
        if row:
            return int(row[0])
    close = close_cases(store.conn, ref)
    hint = (
        "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        if close
        else ". `evaltui compare BASE CAND --keys` lists changed cases."
    )
    raise NotFoundError(f"No case {ref!r}{hint}")


def close_cases(conn: sqlite3.Connection, ref: str, n: int = 3) -> list[str]:
    """The store's cases whose key (or `suite/key`) is close to `ref`, best first, as
    `suite/key` (difflib's ratio, cutoff 0.6, as the policy's did-you-mean); read
    streaming, holding `n` at a time."""
    import bisect
    import difflib

    best: list[tuple[float, str]] = []  # (-ratio, suite/key): best first, ties by name
    matcher = difflib.SequenceMatcher(b=ref.casefold(), autojunk=False)
    whole = "/" in ref
    for suite, key in conn.execute("SELECT suite, case_key FROM cases"):
        name = f"{suite}/{key}"
        matcher.set_seq1((name if whole else key).casefold())
        if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
            continue
        ratio = matcher.ratio()
        if ratio >= 0.6:
            bisect.insort(best, (-ratio, name))
            del best[n:]
    return [name for _, name in best]
