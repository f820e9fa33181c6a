"""The comparison engine: baseline vs candidate (and fallback), case by case. No UI.

A `Comparison` classifies every case once, in SQL, into a temporary table on
its own connection (the wide result rows are never read: the covering index
`results_compare` holds verdict, score and an output fingerprint). Everything
else — change counts, the segment table, pages of changed cases, neighbours of
a case — is a query on that table. See docs/compare.md.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from evaltui.errors import InputError
from evaltui.stats import mcnemar_exact, wilson

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
# The order cases are listed in: regressions first.
CHANGES: tuple[Change, ...] = (
    "regressed",
    "errored",
    "improved",
    "output_changed",
    "dropped",
    "added",
    "still_failing",
    "still_passing",
)
CHANGED: frozenset[str] = frozenset(CHANGES[:6])  # what the case list shows by default
RANK = {c: i for i, c in enumerate(CHANGES)}

REDUCERS = ("worst", "mean", "majority", "best", "at-least-k")
MAX_SEGMENT_VALUES = 12
ALPHA = 0.05
ACTIVE = frozenset({"active"})
ORD_SHIFT = 1 << 40  # list order: (change rank, risk rank, case id) packed in one integer
RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "med": 2, "low": 3, "minimal": 4}
_IDENT = re.compile(r"^[A-Za-z0-9_.\- ]+$")
_ids = itertools.count(1)


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


@dataclass
class RunRef:
    id: int
    name: str
    role: str
    system: str
    sha256: str
    source_path: str
    attribute_values: dict[str, dict[str, int]]
    suites: list[str] = field(default_factory=list)


@dataclass
class SegmentRow:
    """One value of one segment dimension (dimension "all" is every case)."""

    dimension: str
    value: str
    n: int  # cases present in both runs (paired)
    baseline_passed: int
    candidate_passed: int
    fallback_passed: int | None
    fallback_n: int
    regressed: int  # pass -> not pass
    improved: int  # not pass -> pass
    added: int
    dropped: int

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline_passed / self.n if self.n else None

    @property
    def candidate_rate(self) -> float | None:
        return self.candidate_passed / self.n if self.n else None

    @property
    def fallback_rate(self) -> float | None:
        if self.fallback_passed is None or not self.fallback_n:
            return None
        return self.fallback_passed / self.fallback_n

    @property
    def delta(self) -> float | None:
        if not self.n:
            return None
        return (self.candidate_passed - self.baseline_passed) / self.n

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.regressed, self.improved)

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def as_dict(self) -> dict[str, Any]:
        def interval(k: int | None, n: int) -> list[float] | None:
            if k is None:
                return None
            ci = wilson(k, n)
            return None if ci is None else [round(ci[0], 6), round(ci[1], 6)]

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 6)

        return {
            "dimension": self.dimension,
            "value": self.value,
            "n": self.n,
            "baseline": {
                "passed": self.baseline_passed,
                "rate": r(self.baseline_rate),
                "ci95": interval(self.baseline_passed, self.n),
            },
            "candidate": {
                "passed": self.candidate_passed,
                "rate": r(self.candidate_rate),
                "ci95": interval(self.candidate_passed, self.n),
            },
            "fallback": None
            if self.fallback_passed is None
            else {
                "n": self.fallback_n,
                "passed": self.fallback_passed,
                "rate": r(self.fallback_rate),
                "ci95": interval(self.fallback_passed, self.fallback_n),
            },
            "delta": r(self.delta),
            "flips": {"pass_to_fail": self.regressed, "fail_to_pass": self.improved},
            "p_value": r(self.p_value),
            "significant": self.significant,
            "coverage": {"added": self.added, "dropped": self.dropped},
        }


@dataclass
class CaseRow:
    """A line of the case list."""

    case_id: int
    suite: str
    case_key: str
    change: Change
    ord: int  # the list order key (keyset paging)
    baseline: str | None  # "pass" | "fail" | "error" | None (absent)
    candidate: str | None
    fallback: str | None
    baseline_samples: tuple[int, int]  # (passed, n)
    candidate_samples: tuple[int, int]
    status: str
    segments: dict[str, str | None] = field(default_factory=dict)
    triage_state: str | None = None  # triaged | disagreement | adjudicated | None (untriaged)
    triage_class: str | None = None
    triage_owner: str | None = None
    triage_verdict: str | None = None

    @property
    def key(self) -> int:
        return self.ord


@dataclass
class Filter:
    """What the case list shows."""

    changes: frozenset[str] = CHANGED
    segment: tuple[str, str] | None = None  # (dimension, value)
    text: str = ""
    statuses: frozenset[str] | None = None  # None: the comparison's own
    triage: str | None = None  # "untriaged", "triaged" or "disagreement"
    failure_class: str | None = None
    owner: str | None = None

    def describe(self) -> str:
        parts = []
        if self.changes == CHANGED:
            parts.append("changed")
        elif self.changes == frozenset(CHANGES):
            parts.append("all cases")
        else:
            parts.append(",".join(c for c in CHANGES if c in self.changes))
        if self.segment:
            parts.append(f"{self.segment[0]}={self.segment[1]}")
        if self.triage:
            parts.append(self.triage)
        if self.failure_class:
            parts.append(f"class:{self.failure_class}")
        if self.owner:
            parts.append(f"owner:{self.owner}")
        if self.text:
            parts.append(f"/{self.text}")
        return " ".join(parts)


@dataclass
class Sample:
    epoch: int
    verdict: str
    score: float | None
    output: str
    criteria: dict[str, dict[str, Any]]
    latency_ms: float | None
    cost: float | None
    explanation: str | None
    error: str | None


@dataclass
class CaseDetail:
    case_id: int
    suite: str
    case_key: str
    input: str
    expected: str | None
    attributes: dict[str, Any]
    status: str
    status_reason: str | None
    baseline: list[Sample]
    candidate: list[Sample]
    fallback: list[Sample] | None

    def criteria_changes(self, reducer: Reducer) -> dict[str, tuple[str | None, str | None]]:
        """Per criterion, the reduced verdict in baseline and candidate."""

        def reduce(samples: list[Sample]) -> dict[str, str | None]:
            seen: dict[str, list[str]] = {}
            for s in samples:
                for name, c in s.criteria.items():
                    v = c.get("verdict")
                    if v is not None:
                        seen.setdefault(name, []).append(v)
            out: dict[str, str | None] = {}
            for name, verdicts in seen.items():
                passed, n = sum(v == "pass" for v in verdicts), len(verdicts)
                out[name] = "pass" if _reduce_py(reducer, passed, n) else "fail"
            return out

        b, c = reduce(self.baseline), reduce(self.candidate)
        return {name: (b.get(name), c.get(name)) for name in sorted(set(b) | set(c))}


def _reduce_py(reducer: Reducer, passed: int, n: int) -> bool:
    return {
        "worst": passed == n,
        "best": passed > 0,
        "majority": 2 * passed > n,
        "mean": 2 * passed >= n,
        "at-least-k": passed >= reducer.k,
    }[reducer.name]


def _run_ref(conn: sqlite3.Connection, run_id: int) -> RunRef:
    row = conn.execute(
        "SELECT id, name, role, system, sha256, source_path, attribute_values, suites "
        "FROM runs WHERE id = ?",
        (run_id,),
    ).fetchone()
    if row is None:
        from evaltui.errors import NotFoundError

        raise NotFoundError(f"no run with id {run_id}")
    return RunRef(
        row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6] or "{}"),
        json.loads(row[7] or "[]"),
    )  # fmt: skip


def default_dimensions(runs: Iterable[RunRef]) -> list[str]:
    """Attributes with few distinct values (2..12) in the compared runs, in a stable order."""
    merged: dict[str, set[str]] = {}
    many: set[str] = set()
    for run in runs:
        for key, values in run.attribute_values.items():
            if any(v.endswith("more") and v.startswith("\u2026") for v in values):
                many.add(key)
            merged.setdefault(key, set()).update(values)
    dims = [k for k, v in merged.items() if k not in many and 2 <= len(v) <= MAX_SEGMENT_VALUES]
    preferred = ["task", "risk", "risk_tier", "source_quality", "intent", "segment"]
    return sorted(dims, key=lambda k: (preferred.index(k) if k in preferred else len(preferred), k))


def _risk_dimension(dims: Sequence[str], runs: Iterable[RunRef]) -> str | None:
    keys = set(dims)
    for run in runs:
        keys.update(run.attribute_values)
    for k in sorted(keys):
        if k.lower() in ("risk", "risk_tier", "risk_level", "tier") or "risk" in k.lower():
            return k
    return None


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '""') + '"'


class Comparison:
    """Baseline vs candidate (optional fallback) over one store, classified once.

    Holds its own read connection (the classification lives in a temporary
    table on it); every method is safe to call from worker threads.
    """

    def __init__(
        self,
        db_path: str | Path,
        baseline: int,
        candidate: int,
        fallback: int | None = None,
        *,
        reducer: Reducer | None = None,
        dimensions: Sequence[str] | None = None,
        statuses: frozenset[str] = ACTIVE,
    ) -> None:
        self.db_path = str(db_path)
        self.reducer = reducer or Reducer()
        self.statuses = statuses
        self._lock = threading.RLock()
        from evaltui.store import Store

        Store(db_path, create=False).close()  # refuses a newer store, migrates an older one
        self.conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("PRAGMA temp_store = FILE")
        self.baseline = _run_ref(self.conn, baseline)
        self.candidate = _run_ref(self.conn, candidate)
        self.fallback = _run_ref(self.conn, fallback) if fallback is not None else None
        runs = [self.baseline, self.candidate] + ([self.fallback] if self.fallback else [])
        self.dimensions = list(dimensions) if dimensions is not None else default_dimensions(runs)
        for d in self.dimensions:
            if not _IDENT.match(d):
                raise InputError("--segments", f"not a usable attribute name: {d!r}")
        self.risk_dimension = _risk_dimension(self.dimensions, runs)
        self.table = f"cmp_{next(_ids)}"
        self._tally_rows: list[tuple[Any, ...]] | None = None
        self._build()

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        """Classify every case into the temp table, in a few streaming statements.

        The main statement walks the baseline's samples in index order and
        LEFT JOINs the candidate's sample of the same (case, epoch) through the
        covering index, grouping by case as it goes (no sort, no wide rows).
        Candidate samples with no baseline twin (added cases, extra epochs) are
        merged in afterwards; they are few.
        """
        red = self.reducer
        t = self.table
        dims = self.dimensions
        seg_decl = "".join(f", s{i}" for i in range(len(dims)))
        seg_sel = "".join(
            f", json_extract(k.attributes, '{_json_path(d)}') AS s{i}" for i, d in enumerate(dims)
        )
        risk = (
            f"json_extract(k.attributes, '{_json_path(self.risk_dimension)}')"
            if self.risk_dimension
            else "NULL"
        )
        risk_case = (
            "CASE lower(" + risk + ") "
            + " ".join(f"WHEN '{v}' THEN {r}" for v, r in RISK_ORDER.items())
            + " ELSE 9 END"
        )  # fmt: skip
        b_pass = f"CASE WHEN b_n IS NULL THEN NULL ELSE {red.sql('b_np', 'b_n')} END"
        c_pass = f"CASE WHEN c_n = 0 OR c_n IS NULL THEN NULL ELSE {red.sql('c_np', 'c_n')} END"
        change = (
            f"CASE WHEN c_n = 0 OR c_n IS NULL THEN 'dropped' "
            f"WHEN b_n IS NULL THEN 'added' "
            f"WHEN ({b_pass}) = 1 AND ({c_pass}) = 0 THEN 'regressed' "
            f"WHEN ({b_pass}) = 0 AND ({c_pass}) = 1 THEN 'improved' "
            f"WHEN ({c_pass}) = 0 AND c_ne > 0 THEN 'errored' "
            f"WHEN ({c_pass}) = 0 THEN 'still_failing' "
            f"WHEN b_ss <> c_ss OR b_fp <> c_fp THEN 'output_changed' "
            f"ELSE 'still_passing' END"
        )
        rank = "CASE change " + " ".join(f"WHEN '{c}' THEN {i}" for c, i in RANK.items()) + " END"
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            conn.execute(
                f"""CREATE TEMP TABLE {t} (
                    case_id INTEGER PRIMARY KEY,
                    b_np INTEGER, b_n INTEGER, b_ne INTEGER, b_ss REAL, b_fp REAL,
                    c_np INTEGER, c_n INTEGER, c_ne INTEGER, c_ss REAL, c_fp REAL,
                    f_np INTEGER, f_n INTEGER,
                    status TEXT, risk TEXT, risk_rank INTEGER{seg_decl},
                    change TEXT, ord INTEGER, b_pass INTEGER, c_pass INTEGER, f_pass INTEGER
                )"""
            )
            derived = f"{change} AS change, {b_pass} AS b_pass, {c_pass} AS c_pass"
            ord_expr = f"(({rank}) * 16 + risk_rank) * {ORD_SHIFT} + case_id AS ord"
            conn.execute(
                f"""INSERT INTO {t} (case_id, b_np, b_n, b_ne, b_ss, b_fp,
                        c_np, c_n, c_ne, c_ss, c_fp, status, risk, risk_rank{seg_decl},
                        change, b_pass, c_pass, ord)
                SELECT *, {ord_expr} FROM (SELECT *, {derived} FROM (
                SELECT b.case_id, SUM(b.verdict = 'pass') AS b_np, COUNT(*) AS b_n,
                       SUM(b.verdict = 'error') AS b_ne,
                       TOTAL(b.score) AS b_ss, TOTAL(b.output_crc * (b.epoch + 1)) AS b_fp,
                       SUM(c.verdict = 'pass') AS c_np, COUNT(c.verdict) AS c_n,
                       SUM(c.verdict = 'error') AS c_ne,
                       TOTAL(c.score) AS c_ss, TOTAL(c.output_crc * (c.epoch + 1)) AS c_fp,
                       k.status AS status, {risk} AS risk, {risk_case} AS risk_rank{seg_sel}
                FROM results b
                LEFT JOIN results c ON c.run_id = ? AND c.case_id = b.case_id AND c.epoch = b.epoch
                JOIN cases k ON k.id = b.case_id
                WHERE b.run_id = ?
                GROUP BY b.case_id))""",
                (self.candidate.id, self.baseline.id),
            )
            # Candidate samples with no baseline twin: extra epochs of known cases, and added cases.
            conn.execute(
                f"""CREATE TEMP TABLE {t}_extra AS
                SELECT c.case_id AS case_id, SUM(c.verdict = 'pass') AS np, COUNT(*) AS n,
                       SUM(c.verdict = 'error') AS ne, TOTAL(c.score) AS ss,
                       TOTAL(c.output_crc * (c.epoch + 1)) AS fp
                FROM results c
                WHERE c.run_id = ? AND NOT EXISTS (
                    SELECT 1 FROM results b
                    WHERE b.run_id = ? AND b.case_id = c.case_id AND b.epoch = c.epoch)
                GROUP BY c.case_id""",
                (self.candidate.id, self.baseline.id),
            )
            conn.execute(
                f"""UPDATE {t} SET c_np = c_np + e.np, c_n = c_n + e.n, c_ne = c_ne + e.ne,
                        c_ss = c_ss + e.ss, c_fp = c_fp + e.fp
                FROM {t}_extra e WHERE e.case_id = {t}.case_id"""
            )
            conn.execute(
                f"""INSERT INTO {t} (case_id, c_np, c_n, c_ne, c_ss, c_fp, status, risk, risk_rank{seg_decl})
                SELECT e.case_id, e.np, e.n, e.ne, e.ss, e.fp, k.status, {risk}, {risk_case}{seg_sel}
                FROM {t}_extra e JOIN cases k ON k.id = e.case_id
                WHERE e.case_id NOT IN (SELECT case_id FROM {t})"""
            )
            conn.execute(
                f"UPDATE {t} SET change = {change}, b_pass = {b_pass}, c_pass = {c_pass} "
                f"WHERE case_id IN (SELECT case_id FROM {t}_extra)"
            )
            conn.execute(
                f"UPDATE {t} SET ord = (({rank}) * 16 + risk_rank) * {ORD_SHIFT} + case_id "
                f"WHERE case_id IN (SELECT case_id FROM {t}_extra)"
            )
            conn.execute(f"DROP TABLE {t}_extra")
            if self.fallback:
                conn.execute(
                    f"""UPDATE {t} SET f_np = f.np, f_n = f.n,
                            f_pass = {red.sql("f.np", "f.n")} FROM (
                        SELECT case_id, SUM(verdict = 'pass') AS np, COUNT(*) AS n
                        FROM results WHERE run_id = ? GROUP BY case_id) f
                    WHERE f.case_id = {t}.case_id""",
                    (self.fallback.id,),
                )
            conn.execute(f"CREATE INDEX {t}_ord ON {t}(ord)")
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Comparison:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- figures --------------------------------------------------------------------------

    def _status_clause(self, statuses: frozenset[str] | None = None) -> tuple[str, list[str]]:
        st = sorted(statuses if statuses is not None else self.statuses)
        return f"status IN ({','.join('?' * len(st))})", st

    def _tally(self) -> list[tuple[Any, ...]]:
        """One scan: cases grouped by (status, change, pairing, verdicts, segment values)."""
        if self._tally_rows is None:
            segs = "".join(f", s{i}" for i in range(len(self.dimensions)))
            q = (
                f"SELECT status, change, b_pass, c_pass, f_pass{segs}, COUNT(*) FROM {self.table} "
                f"GROUP BY status, change, b_pass, c_pass, f_pass{segs}"
            )
            with self._lock:
                self._tally_rows = self.conn.execute(q).fetchall()
        return self._tally_rows

    def counts(self) -> dict[str, int]:
        """Cases by change (only the statuses the comparison includes)."""
        out: dict[str, int] = dict.fromkeys(CHANGES, 0)
        for row in self._tally():
            if row[0] in self.statuses:
                out[row[1]] += row[-1]
        return out

    def status_counts(self) -> dict[str, int]:
        """Cases by lifecycle status, whether included or not."""
        out = {"active": 0, "quarantined": 0, "retired": 0}
        for row in self._tally():
            out[row[0]] = out.get(row[0], 0) + row[-1]
        return out

    def segments(self, without: Iterable[int] | None = None) -> list[SegmentRow]:
        """The "all" row, then one row per value of each segment dimension.

        `without`: case ids to leave out, as if retired (to preview a retirement).
        """
        tally = self._tally() if without is None else self._tally_without(without)
        cells: dict[tuple[str, str], list[int]] = {}

        def add(dim: str, value: str, change: str, b: Any, c: Any, f: Any, n: int) -> None:
            cell = cells.setdefault((dim, value), [0] * 9)
            if b is not None and c is not None:
                cell[0] += n
                cell[1] += n * int(b)
                cell[2] += n * int(c)
                if f is not None:
                    cell[3] += n * int(f)
                    cell[4] += n
                cell[5] += n * int(b == 1 and c == 0)
                cell[6] += n * int(b == 0 and c == 1)
            cell[7] += n * (change == "added")
            cell[8] += n * (change == "dropped")

        for row in tally:
            status, change, b, c, f = row[:5]
            if status not in self.statuses:
                continue
            n = row[-1]
            add("all", "all", change, b, c, f, n)
            for i, dim in enumerate(self.dimensions):
                v = row[5 + i]
                add(dim, "(none)" if v is None else str(v), change, b, c, f, n)
        out = [self._segment_row("all", "all", cells.get(("all", "all"), [0] * 9))]
        for dim in self.dimensions:
            for (d, value), cell in sorted(cells.items()):
                if d == dim:
                    out.append(self._segment_row(dim, value, cell))
        return out

    def _tally_without(self, case_ids: Iterable[int]) -> list[tuple[Any, ...]]:
        ids = sorted(set(case_ids))
        segs = "".join(f", s{i}" for i in range(len(self.dimensions)))
        with self._lock:
            self.conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self.table}_x (case_id INTEGER PRIMARY KEY)"
            )
            self.conn.execute(f"DELETE FROM {self.table}_x")
            self.conn.executemany(f"INSERT INTO {self.table}_x VALUES (?)", [(i,) for i in ids])
            return self.conn.execute(
                f"SELECT status, change, b_pass, c_pass, f_pass{segs}, COUNT(*) FROM {self.table} "
                f"WHERE case_id NOT IN (SELECT case_id FROM {self.table}_x) "
                f"GROUP BY status, change, b_pass, c_pass, f_pass{segs}"
            ).fetchall()

    def refresh_status(self, case_ids: Iterable[int] | None = None) -> None:
        """Re-read lifecycle status from the store (after a retire/restore)."""
        with self._lock:
            if case_ids is None:
                self.conn.execute(
                    f"UPDATE {self.table} SET status = k.status FROM cases k WHERE k.id = {self.table}.case_id"
                )
            else:
                for cid in case_ids:
                    self.conn.execute(
                        f"UPDATE {self.table} SET status = (SELECT status FROM cases WHERE id = ?) "
                        "WHERE case_id = ?",
                        (cid, cid),
                    )
            self._tally_rows = None

    def _segment_row(self, dim: str, value: str, r: Sequence[int]) -> SegmentRow:
        return SegmentRow(
            dimension=dim,
            value=value,
            n=r[0],
            baseline_passed=r[1],
            candidate_passed=r[2],
            fallback_passed=r[3] if self.fallback else None,
            fallback_n=r[4],
            regressed=r[5],
            improved=r[6],
            added=r[7],
            dropped=r[8],
        )

    def criterion_changes(self) -> dict[str, dict[str, int]]:
        """Per criterion (reduced like the verdict): flips each way, over paired active cases,
        and how many regressed while the case's own verdict held. Reads the wide rows:
        slower than the rest, so callers run it in a worker."""
        red = self.reducer
        per = (
            "SELECT r.case_id, j.key AS name, "
            "SUM(json_extract(j.value, '$.verdict') = 'pass') AS np, "
            "COUNT(json_extract(j.value, '$.verdict')) AS n "
            "FROM results r, json_each(r.criteria) j WHERE r.run_id = ? "
            "GROUP BY r.case_id, j.key"
        )
        where, params = self._status_clause()
        q = f"""
            SELECT b.name,
                   SUM({red.sql("b.np", "b.n")} = 1 AND {red.sql("c.np", "c.n")} = 0),
                   SUM({red.sql("b.np", "b.n")} = 0 AND {red.sql("c.np", "c.n")} = 1),
                   SUM({red.sql("b.np", "b.n")} = 1 AND {red.sql("c.np", "c.n")} = 0
                       AND t.change IN ('still_passing', 'output_changed'))
            FROM ({per}) b JOIN ({per}) c ON c.case_id = b.case_id AND c.name = b.name
            JOIN {self.table} t ON t.case_id = b.case_id
            WHERE b.n > 0 AND c.n > 0 AND t.{where}
            GROUP BY b.name ORDER BY b.name
        """
        with self._lock:
            rows = self.conn.execute(q, [self.baseline.id, self.candidate.id, *params]).fetchall()
        return {
            name: {
                "pass_to_fail": int(a or 0),
                "fail_to_pass": int(b or 0),
                "hidden_regressions": int(h or 0),
            }
            for name, a, b, h in rows
        }

    # -- the case list -----------------------------------------------------------------------

    def _where(self, flt: Filter) -> tuple[str, list[Any]]:
        """The WHERE clause over `{table} t JOIN cases k` for a filter."""
        st = sorted(flt.statuses if flt.statuses is not None else self.statuses)
        clauses = [f"t.status IN ({','.join('?' * len(st))})"]
        params: list[Any] = list(st)
        changes = sorted(flt.changes)
        clauses.append(f"t.change IN ({','.join('?' * len(changes))})")
        params += changes
        if flt.segment:
            dim, value = flt.segment
            if dim not in self.dimensions:
                raise InputError(
                    "filter", f"no segment dimension {dim!r}; have {', '.join(self.dimensions)}"
                )
            col = f"t.s{self.dimensions.index(dim)}"
            if value == "(none)":
                clauses.append(f"{col} IS NULL")
            else:
                clauses.append(f"CAST({col} AS TEXT) = ?")
                params.append(value)
        if flt.text:
            like = (
                "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            clauses.append(
                "(k.case_key LIKE ? ESCAPE '\\' OR k.input LIKE ? ESCAPE '\\' "
                "OR k.expected LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM results r "
                "WHERE r.case_id = t.case_id AND r.run_id IN (?, ?) AND r.output LIKE ? ESCAPE '\\'))"
            )
            params += [like, like, like, self.baseline.id, self.candidate.id, like]
        if flt.triage == "untriaged":
            clauses.append("ct.case_id IS NULL")
        elif flt.triage == "triaged":
            clauses.append("ct.case_id IS NOT NULL")
        elif flt.triage == "disagreement":
            clauses.append("ct.state = 'disagreement'")
        if flt.failure_class:
            clauses.append("ct.class = ?")
            params.append(flt.failure_class)
        if flt.owner:
            clauses.append("ct.owner = ?")
            params.append(flt.owner)
        return " AND ".join(clauses), params

    @property
    def _cols(self) -> str:
        return (
            "t.case_id, k.suite, k.case_key, t.change, t.ord, t.status, "
            "t.b_pass, t.b_ne, t.b_np, t.b_n, t.c_pass, t.c_ne, t.c_np, t.c_n, t.f_pass, "
            "ct.state, ct.class, ct.owner, ct.verdict"
            + "".join(f", t.s{i}" for i in range(len(self.dimensions)))
        )

    @property
    def _from(self) -> str:
        # Findings are live (another session may write them): joined at read time, by primary key.
        return (
            f"{self.table} t JOIN cases k ON k.id = t.case_id "
            f"LEFT JOIN case_triage ct ON ct.baseline_run = {int(self.baseline.id)} "
            f"AND ct.candidate_run = {int(self.candidate.id)} AND ct.case_id = t.case_id"
        )

    def _row(self, r: Sequence[Any]) -> CaseRow:
        segs = r[19:]

        def verdict(passed: Any, errors: Any, present: Any) -> str | None:
            if present is None:
                return None
            if passed:
                return "pass"
            return "error" if errors else "fail"

        return CaseRow(
            case_id=r[0],
            suite=r[1],
            case_key=r[2],
            change=r[3],
            ord=r[4],
            status=r[5],
            baseline=verdict(r[6], r[7], r[9]),
            candidate=verdict(r[10], r[11], r[13] or None),
            fallback=None if r[14] is None else ("pass" if r[14] else "fail"),
            baseline_samples=(int(r[8] or 0), int(r[9] or 0)),
            candidate_samples=(int(r[12] or 0), int(r[13] or 0)),
            segments={
                d: (None if v is None else str(v))
                for d, v in zip(self.dimensions, segs, strict=True)
            },
            triage_state=r[15],
            triage_class=r[16],
            triage_owner=r[17],
            triage_verdict=r[18],
        )

    def page(
        self,
        flt: Filter | None = None,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[CaseRow]:
        """Up to `limit` cases in list order after (or before) an order key: a keyset query."""
        flt = flt or Filter()
        where, params = self._where(flt)
        order = "t.ord"
        if after is not None:
            where += " AND t.ord > ?"
            params.append(after)
        if before is not None:
            where += " AND t.ord < ?"
            params.append(before)
            order = "t.ord DESC"
        q = f"SELECT {self._cols} FROM {self._from} WHERE {where} ORDER BY {order} LIMIT ?"
        with self._lock:
            rows = self.conn.execute(q, [*params, limit]).fetchall()
        out = [self._row(r) for r in rows]
        return out[::-1] if before is not None else out

    def count(self, flt: Filter | None = None) -> int:
        where, params = self._where(flt or Filter())
        with self._lock:
            return int(
                self.conn.execute(
                    f"SELECT COUNT(*) FROM {self._from} WHERE {where}", params
                ).fetchone()[0]
            )

    def position(self, row: CaseRow, flt: Filter | None = None) -> int:
        """1-based position of `row` in the filtered list."""
        where, params = self._where(flt or Filter())
        q = f"SELECT COUNT(*) FROM {self._from} WHERE {where} AND t.ord <= ?"
        with self._lock:
            return int(self.conn.execute(q, [*params, row.ord]).fetchone()[0])

    def neighbour(
        self,
        row: CaseRow | None,
        flt: Filter | None = None,
        *,
        step: int = 1,
        changes: Iterable[str] | None = None,
    ) -> CaseRow | None:
        """The next (step=1) or previous (step=-1) case after `row`, optionally of given changes."""
        flt = flt or Filter()
        if changes is not None:
            flt = replace(flt, changes=frozenset(changes))
        if step > 0:
            rows = self.page(flt, after=None if row is None else row.ord, limit=1)
        else:
            rows = self.page(flt, before=(1 << 62) if row is None else row.ord, limit=1)
        return rows[0] if rows else None

    def find(self, suite: str | None, case_key: str) -> CaseRow | None:
        where = "k.case_key = ?" + (" AND k.suite = ?" if suite else "")
        params = [case_key] + ([suite] if suite else [])
        with self._lock:
            r = self.conn.execute(
                f"SELECT {self._cols} FROM {self._from} WHERE {where} ORDER BY k.suite LIMIT 1",
                params,
            ).fetchone()
        return None if r is None else self._row(r)

    def row(self, case_id: int) -> CaseRow | None:
        with self._lock:
            r = self.conn.execute(
                f"SELECT {self._cols} FROM {self._from} WHERE t.case_id = ?", (case_id,)
            ).fetchone()
        return None if r is None else self._row(r)

    def triage_progress(self) -> dict[str, tuple[int, int]]:
        """Per change kind: (cases with a finding, cases), over the included statuses."""
        where, params = self._status_clause()
        with self._lock:
            rows = self.conn.execute(
                f"SELECT t.change, COUNT(ct.case_id), COUNT(*) FROM {self._from} "
                f"WHERE t.{where} GROUP BY t.change",
                params,
            ).fetchall()
        out: dict[str, tuple[int, int]] = {c: (0, 0) for c in CHANGES}
        out.update({r[0]: (int(r[1]), int(r[2])) for r in rows})
        return out

    def changed_keys(self, changes: Iterable[str]) -> dict[str, list[str]]:
        """Case keys ("suite/key" when several suites) by change, in list order."""
        where, params = self._status_clause()
        wanted = sorted(set(changes))
        with self._lock:
            rows = self.conn.execute(
                f"SELECT t.change, k.suite, k.case_key FROM {self._from} WHERE t.{where} "
                f"AND t.change IN ({','.join('?' * len(wanted))}) ORDER BY t.ord",
                [*params, *wanted],
            ).fetchall()
            suites = len(
                {run_suite for r in (self.baseline, self.candidate) for run_suite in r.suites}
            )
        out: dict[str, list[str]] = {c: [] for c in wanted}
        for change, suite, key in rows:
            out[change].append(f"{suite}/{key}" if suites > 1 else key)
        return out

    # -- one case --------------------------------------------------------------------------

    def detail(self, case_id: int) -> CaseDetail:
        with self._lock:
            c = self.conn.execute(
                "SELECT suite, case_key, input, expected, attributes, status, status_reason "
                "FROM cases WHERE id = ?",
                (case_id,),
            ).fetchone()
            if c is None:
                from evaltui.errors import NotFoundError

                raise NotFoundError(f"no case with id {case_id}")

            def samples(run: RunRef | None) -> list[Sample]:
                if run is None:
                    return []
                return [
                    Sample(
                        epoch=r[0],
                        verdict=r[1],
                        score=r[2],
                        output=r[3],
                        criteria=json.loads(r[4] or "{}"),
                        latency_ms=r[5],
                        cost=r[6],
                        explanation=r[7],
                        error=r[8],
                    )
                    for r in self.conn.execute(
                        "SELECT epoch, verdict, score, output, criteria, latency_ms, cost, "
                        "explanation, error FROM results WHERE run_id = ? AND case_id = ? ORDER BY epoch",
                        (run.id, case_id),
                    )
                ]

            return CaseDetail(
                case_id=case_id,
                suite=c[0],
                case_key=c[1],
                input=c[2],
                expected=c[3],
                attributes=json.loads(c[4] or "{}"),
                status=c[5],
                status_reason=c[6],
                baseline=samples(self.baseline),
                candidate=samples(self.candidate),
                fallback=samples(self.fallback) if self.fallback else None,
            )

    # -- the whole thing as data ----------------------------------------------------------------

    def summary(self, *, with_keys: bool = True, with_criteria: bool = True) -> dict[str, Any]:
        """The stable JSON of `evaltui compare --json` (docs/compare.md)."""

        def run(r: RunRef | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "system": r.system,
                "sha256": r.sha256,
            }

        counts = self.counts()
        out: dict[str, Any] = {
            "schema": "evaltui.compare/1",
            "baseline": run(self.baseline),
            "candidate": run(self.candidate),
            "fallback": run(self.fallback),
            "reducer": self.reducer.label,
            "statuses": sorted(self.statuses),
            "excluded": {k: v for k, v in self.status_counts().items() if k not in self.statuses},
            "dimensions": self.dimensions,
            "counts": counts,
            "coverage": {"added": counts["added"], "dropped": counts["dropped"]},
            "segments": [s.as_dict() for s in self.segments()],
        }
        if with_criteria:
            out["criteria"] = self.criterion_changes()
        if with_keys:
            out["changed"] = self.changed_keys(CHANGED)
        return out
