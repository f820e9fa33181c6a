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
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError, NotFoundError
from evaltui.models import FINDING_VERDICTS, FindingVerdict
from evaltui.store.store import Store, current_user, now_iso
from evaltui.taxonomy import FailureClass

Kind = Literal["label", "undo", "adjudication"]
_UNSET: Any = object()

COLS = (
    "id, uid, baseline_run, candidate_run, case_id, kind, class, class_name, owner, verdict, "
    "note, reviewer, at, undoes, source"
)


@dataclass
class Finding:
    id: int
    uid: str
    baseline_run: int
    candidate_run: int
    case_id: int
    kind: str
    class_key: str | None
    class_name: str | None
    owner: str | None
    verdict: str | None
    note: str | None
    reviewer: str
    at: str
    undoes: str | None
    source: str
    case_key: str | None = None  # filled where a caller needs it (undo's confirmation)

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> Finding:
        return cls(*r)

    @property
    def empty(self) -> bool:
        """A cleared state (an undo back to nothing): not a finding."""
        return (
            self.class_key is None and self.verdict is None and not self.note and self.owner is None
        )

    def state(self) -> dict[str, Any]:
        return {
            "class": self.class_key,
            "class_name": self.class_name,
            "owner": self.owner,
            "verdict": self.verdict,
            "note": self.note,
        }


def _rows(db: Store | sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Finding]:
    conn = db.conn if isinstance(db, Store) else db
    return [
        Finding.from_row(r)
        for r in conn.execute(f"SELECT {COLS} FROM findings WHERE {where} ORDER BY id", params)
    ]


def history(db: Store | sqlite3.Connection, base: int, cand: int, case_id: int) -> list[Finding]:
    """Every finding on a case in a comparison, oldest first (any open connection will do)."""
    return _rows(
        db, "baseline_run = ? AND candidate_run = ? AND case_id = ?", (base, cand, case_id)
    )


def current_by_reviewer(rows: list[Finding]) -> dict[str, Finding]:
    """Each reviewer's latest row (labels and undos; adjudications are separate)."""
    out: dict[str, Finding] = {}
    for f in rows:
        if f.kind != "adjudication":
            out[f.reviewer] = f
    return out


def effective(rows: list[Finding]) -> dict[str, Any] | None:
    """The case's state from its findings: triaged, disagreement or adjudicated (or None)."""
    current = {r: f for r, f in current_by_reviewer(rows).items() if not f.empty}
    adjudications = [f for f in rows if f.kind == "adjudication"]
    last_adj = adjudications[-1] if adjudications else None
    if last_adj is not None and all(f.id < last_adj.id for f in current.values()):
        return {
            "state": "adjudicated", "class": last_adj.class_key, "owner": last_adj.owner,
            "verdict": last_adj.verdict, "reviewers": sorted({*current, last_adj.reviewer}),
        }  # fmt: skip
    if not current:
        return None
    opinions = {(f.class_key, f.verdict) for f in current.values()}
    latest = max(current.values(), key=lambda f: f.id)
    if last_adj is not None:
        # reviewers who spoke after the adjudication and differ from it reopen the case
        opinions.add((last_adj.class_key, last_adj.verdict))
    state = "triaged" if len(opinions) == 1 else "disagreement"
    return {
        "state": state, "class": latest.class_key, "owner": latest.owner,
        "verdict": latest.verdict, "reviewers": sorted(current),
    }  # fmt: skip


def _recompute(store: Store, base: int, cand: int, case_id: int) -> dict[str, Any] | None:
    eff = effective(history(store, base, cand, case_id))
    store.conn.execute(
        "DELETE FROM case_triage WHERE baseline_run = ? AND candidate_run = ? AND case_id = ?",
        (base, cand, case_id),
    )
    if eff is not None:
        store.conn.execute(
            "INSERT INTO case_triage (baseline_run, candidate_run, case_id, state, class, owner, "
            "verdict, reviewers, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (base, cand, case_id, eff["state"], eff["class"], eff["owner"], eff["verdict"],
             json.dumps(eff["reviewers"]), now_iso()),
        )  # fmt: skip
    return eff


def _insert(store: Store, f: dict[str, Any]) -> Finding:
    cur = store.conn.execute(
        "INSERT INTO findings (uid, baseline_run, candidate_run, case_id, kind, class, class_name, "
        "owner, verdict, note, reviewer, at, undoes, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (f["uid"], f["baseline_run"], f["candidate_run"], f["case_id"], f["kind"], f["class"],
         f["class_name"], f["owner"], f["verdict"], f["note"], f["reviewer"], f["at"],
         f.get("undoes"), f.get("source", "local")),
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
) -> Finding:
    """Record one action by a reviewer on a case; fields not given keep the reviewer's value.

    Setting a class resets the owner to the class's owner unless an owner is given.
    Committed before it returns.
    """
    reviewer = reviewer or current_user()
    if verdict is not _UNSET and verdict is not None and verdict not in FINDING_VERDICTS:
        raise InputError(
            "--verdict", f"unknown verdict {verdict!r}; use one of {', '.join(FINDING_VERDICTS)}"
        )
    with store.transaction():
        _check(store, base, cand, case_id)
        rows = history(store, base, cand, case_id)
        mine = current_by_reviewer(rows).get(reviewer)
        state: dict[str, Any] = mine.state() if mine else {"class": None, "class_name": None, "owner": None,
                                           "verdict": None, "note": None}  # fmt: skip
        before = dict(state) if mine and not mine.empty else None
        if failure_class is not _UNSET:
            if failure_class is None:
                state["class"] = state["class_name"] = None
            else:
                state["class"], state["class_name"] = failure_class.key, failure_class.name
                if owner is _UNSET:
                    state["owner"] = failure_class.owner
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
             "reviewer": reviewer, "at": now_iso()},
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
    reviewer = reviewer or current_user()
    with store.transaction():
        rows = _rows(
            store, "baseline_run = ? AND candidate_run = ? AND reviewer = ?", (base, cand, reviewer)
        )
        undone = {f.undoes for f in rows if f.kind == "undo"}
        target = next((f for f in reversed(rows) if f.kind != "undo" and f.uid not in undone), None)
        if target is None:
            return None
        case_rows = [
            f for f in history(store, base, cand, target.case_id) if f.reviewer == reviewer
        ]
        earlier = [f for f in case_rows if f.id < target.id and f.kind != "adjudication"]
        prev = earlier[-1].state() if earlier else {"class": None, "class_name": None,
                                                    "owner": None, "verdict": None, "note": None}  # fmt: skip
        finding = _insert(
            store,
            {**prev, "uid": uuid.uuid4().hex, "baseline_run": base, "candidate_run": cand,
             "case_id": target.case_id, "kind": "undo", "reviewer": reviewer, "at": now_iso(),
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
    """Each triaged case's effective finding, with its runs and case key."""
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
        speaking = [f for f in current_by_reviewer(hist).values() if not f.empty]
        speaking += [f for f in hist if f.kind == "adjudication"]
        latest = max(speaking, key=lambda f: f.id) if speaking else None
        out.append(
            {
                "baseline": r[0], "candidate": r[1], "suite": r[2], "case_key": r[3],
                "state": r[4], "class": r[5], "owner": r[6], "verdict": r[7],
                "reviewers": json.loads(r[8]), "updated_at": r[9],
                "note": latest.note if latest else None,
            }
        )  # fmt: skip
    return out


# -- files: reviewers working apart ----------------------------------------------------------


class _FileRun(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sha256: str


class FindingLine(BaseModel):
    """One line of a findings file (docs/triage.md)."""

    model_config = ConfigDict(extra="forbid")

    uid: str = Field(min_length=8, max_length=64)
    baseline: _FileRun
    candidate: _FileRun
    suite: str
    case_key: str
    kind: Kind
    reviewer: str = Field(min_length=1)
    at: str
    class_: str | None = Field(default=None, alias="class")
    class_name: str | None = None
    owner: str | None = None
    verdict: FindingVerdict | None = None
    note: str | None = None
    undoes: str | None = None


def export(store: Store, path: Path, *, base: int | None = None, cand: int | None = None) -> int:
    """Write every finding, one JSON object per line, in a stable order; returns the count."""
    where, params = _where({"f.baseline_run": base, "f.candidate_run": cand})
    rows = store.conn.execute(
        "SELECT f.uid, b.name, b.sha256, c.name, c.sha256, k.suite, k.case_key, f.kind, f.reviewer, "
        "f.at, f.class, f.class_name, f.owner, f.verdict, f.note, f.undoes "
        "FROM findings f JOIN runs b ON b.id = f.baseline_run JOIN runs c ON c.id = f.candidate_run "
        f"JOIN cases k ON k.id = f.case_id WHERE {where} "
        "ORDER BY b.sha256, c.sha256, k.suite, k.case_key, f.at, f.uid",
        params,
    ).fetchall()
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in rows:
            obj = {
                "uid": r[0], "baseline": {"name": r[1], "sha256": r[2]},
                "candidate": {"name": r[3], "sha256": r[4]}, "suite": r[5], "case_key": r[6],
                "kind": r[7], "reviewer": r[8], "at": r[9], "class": r[10], "class_name": r[11],
                "owner": r[12], "verdict": r[13], "note": r[14], "undoes": r[15],
            }  # fmt: skip
            fh.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(path)  # never a half-written file
    return len(rows)


def _run_id(store: Store, ref: _FileRun, path: Path, location: str, field: str) -> int:
    row = store.conn.execute(
        "SELECT id FROM runs WHERE sha256 = ? ORDER BY id LIMIT 1", (ref.sha256,)
    ).fetchone() if ref.sha256 else None  # fmt: skip
    if row is None:
        row = store.conn.execute(
            "SELECT id FROM runs WHERE name = ? ORDER BY id DESC", (ref.name,)
        ).fetchone()
    if row is None:
        raise InputError(
            str(path), f"run {ref.name!r} (sha256 {ref.sha256[:12]}) is not in this store; import it first",
            location=location, field=field,
        )  # fmt: skip
    return int(row[0])


def import_file(store: Store, path: Path) -> dict[str, int]:
    """Merge another reviewer's findings file: one transaction; known uids are skipped."""
    if not path.exists():
        raise InputError(str(path), "no such file")
    added = skipped = 0
    touched: set[tuple[int, int, int]] = set()
    with store.transaction():
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                location = f"line {number}"
                try:
                    line = FindingLine.model_validate_json(raw)
                except ValidationError as exc:
                    from evaltui.importers.base import validation_error

                    raise validation_error(path, exc, location) from None
                if store.conn.execute(
                    "SELECT 1 FROM findings WHERE uid = ?", (line.uid,)
                ).fetchone():
                    skipped += 1
                    continue
                base = _run_id(store, line.baseline, path, location, "baseline")
                cand = _run_id(store, line.candidate, path, location, "candidate")
                case = store.conn.execute(
                    "SELECT id FROM cases WHERE suite = ? AND case_key = ?",
                    (line.suite, line.case_key),
                ).fetchone()
                if case is None:
                    raise InputError(
                        str(path), f"case {line.suite}/{line.case_key} is not in this store",
                        location=location, field="case_key",
                    )  # fmt: skip
                _insert(
                    store,
                    {"uid": line.uid, "baseline_run": base, "candidate_run": cand, "case_id": case[0],
                     "kind": line.kind, "class": line.class_, "class_name": line.class_name,
                     "owner": line.owner, "verdict": line.verdict, "note": line.note,
                     "reviewer": line.reviewer, "at": line.at, "undoes": line.undoes,
                     "source": f"import:{path.name}"},
                )  # fmt: skip
                touched.add((base, cand, case[0]))
                added += 1
        states: Counter[str] = Counter()
        for base, cand, case_id in sorted(touched):
            eff = _recompute(store, base, cand, case_id)
            if eff:
                states[eff["state"]] += 1
        store.log_event(
            "findings.import", "file", str(path.resolve()),
            after={"added": added, "skipped": skipped, "cases": len(touched)},
            context={"states": dict(states)},
        )  # fmt: skip
    return {"added": added, "skipped": skipped, "cases": len(touched),
            "disagreements": states.get("disagreement", 0)}  # fmt: skip


# -- agreement --------------------------------------------------------------------------------


def cohen_kappa(pairs: list[tuple[Any, Any]]) -> float | None:
    """Cohen's kappa for two raters' labels on the same items; None when undefined."""
    n = len(pairs)
    if n == 0:
        return None
    po = sum(a == b for a, b in pairs) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if pe == 1:
        return 1.0 if po == 1 else None
    return (po - pe) / (1 - pe)


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
    raise NotFoundError(f"No case {ref!r}. `evaltui compare BASE CAND --keys` lists changed cases.")
