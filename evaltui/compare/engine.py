"""The comparison engine: baseline vs candidate (and fallback), case by case. No UI.

A `Comparison` classifies every case once, in SQL, into a temporary table on its own
connection (the wide result rows are never read: per-case outcomes and fingerprints are
in `run_cases`). Everything else (counts, the segment table, pages of changed cases,
neighbours, the gate's measures) is a query on that table. This module is the only one
that names the temporary tables; the store's tables are named by their owners
(store/runs/ and review/triage/joins.py, "the comparison's reads"), whose fragments it composes
(docs/compare.md).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from evaltui.compare import paths
from evaltui.compare.filter import Filter
from evaltui.compare.kinds import CHANGED, CHANGES, RANK, Reducer
from evaltui.compare.rows import (
    CaseDetail,
    CaseRow,
    TriagedCase,
    build_sets,
    case_row,
    check_dimensions,
    declared_reducer,
    default_dimensions,
    read_detail,
    risk_dimension,
    run_ref,
)
from evaltui.compare.summary import (
    CompareSummary,
    CriterionFlips,
    SegmentRecord,
    segment_table,
    summarise,
)
from evaltui.errors import InputError
from evaltui.models import CASE_STATUSES, StepRef
from evaltui.review import triage
from evaltui.review.triage import joins
from evaltui.review.triage_state import SHOWN_STATE, TRIAGED, TRUSTED
from evaltui.store import runs
from evaltui.store.store import Store
from evaltui.trajectory import ToolStats

ACTIVE = frozenset({"active"})
CORRECTIONS = ("holm", "none")
ORD_SHIFT = 1 << 40  # list order: (change rank, risk rank, case id) packed in one integer
_NAMED = f"ct.case_id IS NOT NULL AND {TRUSTED} AND ct.classes <> '[]'"  # a verified class
_ids = itertools.count(1)


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
        reducer: Reducer | str | None = None,  # or "declared": what the logs declared
        dimensions: Sequence[str] | None = None,
        statuses: frozenset[str] = ACTIVE,
        correction: str = "holm",
        first: int | None = None,
    ) -> None:
        """`first`: a preview holding only the first `first` cases of the default list
        (cases only in the candidate left out; its figures are not the comparison's),
        ready in about half the time."""
        self.db_path, self.first = str(db_path), first
        self.reducer = reducer if isinstance(reducer, Reducer) else Reducer()
        self.statuses = statuses
        if correction not in CORRECTIONS:
            raise InputError("correction", f"unknown correction {correction!r}; use holm or none")
        self.correction = correction  # of the segment table's p-values
        self._lock = threading.RLock()
        self._div_table: str | None = None  # made by the first divergence filter
        # read-only, recognised (a newer store refused, an older one migrated first); the
        # classification's temporary tables live on it
        self.conn = Store.reader(db_path, check_same_thread=False)
        self.conn.execute("PRAGMA temp_store = FILE")
        self.baseline = run_ref(self.conn, baseline)
        self.candidate = run_ref(self.conn, candidate)
        self.fallback = run_ref(self.conn, fallback) if fallback is not None else None
        if isinstance(reducer, str) and reducer.startswith("declared"):  # declared[:NAME]
            self.reducer = declared_reducer(self.baseline, self.candidate, reducer[9:] or None)
        runs = [self.baseline, self.candidate] + ([self.fallback] if self.fallback else [])
        self.dimensions = list(dimensions) if dimensions is not None else default_dimensions(runs)
        check_dimensions(self.dimensions)
        self.risk_dimension = risk_dimension(self.dimensions, runs)
        self.table = f"cmp_{next(_ids)}"
        self._tally_rows: list[tuple[Any, ...]] | None = None
        self._build()

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        """Classify every case into the temp table.

        Each run's per-case outcome is in `run_cases` (written at import), so
        the baseline and candidate meet in one primary-key join, streamed in
        case order. Segment values are read once per distinct attributes set
        (`attr_sets`), not once per case, into a small mapping table `{t}_sets`.
        """
        red = self.reducer
        t = self.table
        conn = self.conn
        with self._lock:
            conn.execute("BEGIN")
            self.set_values = build_sets(conn, t, self.dimensions, self.risk_dimension)
            # n counts the samples with a verdict: a case with none (n = 0) neither passes nor fails
            b_pass = f"CASE WHEN b.n = 0 THEN NULL ELSE {red.sql('b.np', 'b.n')} END"
            c_pass = f"CASE WHEN c.n IS NULL OR c.n = 0 THEN NULL ELSE {red.sql('c.np', 'c.n')} END"
            f_pass = f"CASE WHEN f.n IS NULL OR f.n = 0 THEN NULL ELSE {red.sql('f.np', 'f.n')} END"
            R = RANK  # the change is stored as its list rank (an integer): sorts and groups fast
            change = (
                f"CASE WHEN c.n IS NULL THEN {R['dropped']} "
                f"WHEN b.n = 0 OR c.n = 0 THEN {R['unscored']} "
                f"WHEN ({b_pass}) = 1 AND ({c_pass}) = 0 THEN {R['regressed']} "
                f"WHEN ({b_pass}) = 0 AND ({c_pass}) = 1 THEN {R['improved']} "
                f"WHEN c.nl > 0 AND b.nl = 0 THEN {R['limit_hit']} "  # a flag, never a regression
                f"WHEN ({c_pass}) = 0 AND c.ne > 0 THEN {R['errored']} "
                f"WHEN ({c_pass}) = 0 THEN {R['still_failing']} "
                f"WHEN b.tp <> c.tp THEN {R['tools_changed']} "
                f"WHEN b.ss <> c.ss OR b.fp <> c.fp THEN {R['output_changed']} "
                f"ELSE {R['still_passing']} END"
            )
            fb = self.fallback.id if self.fallback else None
            fb_cols = f"f.np, f.n, {f_pass}" if self.fallback else "NULL, NULL, NULL"
            fb_sel = (
                f"f.np AS f_np, f.n AS f_n, {f_pass} AS f_pass"
                if self.fallback
                else "NULL AS f_np, NULL AS f_n, NULL AS f_pass"
            )
            conn.execute(
                f"""CREATE TEMP TABLE {t} (
                    case_id INTEGER PRIMARY KEY, status TEXT NOT NULL, attr_set INTEGER,
                    change INTEGER NOT NULL, ord INTEGER NOT NULL,
                    b_np INTEGER, b_n INTEGER, b_ne INTEGER, b_pass INTEGER,
                    c_np INTEGER, c_n INTEGER, c_ne INTEGER, c_pass INTEGER,
                    f_np INTEGER, f_n INTEGER, f_pass INTEGER, b_nl INTEGER, c_nl INTEGER
                )"""
            )
            regressed = f" AND b.n > 0 AND c.n > 0 AND ({b_pass}) = 1 AND ({c_pass}) = 0"
            # A preview tries the regressions alone first (the list's first kind): the
            # change of only those rows is worked out. Too few: every case, as the whole.
            for only in [regressed, ""] if self.first is not None else [""]:
                conn.execute(
                    f"""INSERT INTO {t}
                SELECT case_id, status, attr_set, change,
                       (change * 16 + COALESCE(rr, 9)) * {ORD_SHIFT} + case_id,
                       b_np, b_n, b_ne, b_pass, c_np, c_n, c_ne, c_pass, f_np, f_n, f_pass, b_nl, c_nl
                FROM (
                    SELECT b.case_id AS case_id, k.status AS status, k.attr_set AS attr_set,
                           {change} AS change, g.risk_rank AS rr,
                           b.np AS b_np, b.n AS b_n, b.ne AS b_ne, {b_pass} AS b_pass,
                           c.np AS c_np, c.n AS c_n, c.ne AS c_ne, {c_pass} AS c_pass,
                           {fb_sel}, b.nl AS b_nl, c.nl AS c_nl
                    {runs.paired_cases(f"{t}_sets", fb)}{only}
                ){self._preview_clause()}""",
                    (self.candidate.id, self.baseline.id),
                )
                if only and conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] < self.first:
                    conn.execute(f"DELETE FROM {t}")
                else:
                    break
            if self.first is not None:  # a preview: the first page is all there is
                conn.execute("COMMIT")
                self._indexed = False
                return
            # Cases only in the candidate: looked for only when the counts say some exist.
            (paired,) = conn.execute(f"SELECT COUNT(*) FROM {t} WHERE c_n IS NOT NULL").fetchone()
            (cand_cases,) = conn.execute(runs.RUN_CASE_COUNT, (self.candidate.id,)).fetchone()
            if paired < cand_cases:
                conn.execute(
                    f"""INSERT INTO {t}
                    SELECT c.case_id, k.status, k.attr_set, {RANK["added"]},
                           ({RANK["added"]} * 16 + COALESCE(g.risk_rank, 9)) * {ORD_SHIFT} + c.case_id,
                           NULL, NULL, NULL, NULL, c.np, c.n, c.ne, {c_pass}, {fb_cols}, NULL, c.nl
                    {runs.candidate_only_cases(f"{t}_sets", fb)}""",
                    (self.candidate.id, self.baseline.id),
                )
            conn.execute("COMMIT")
        self._indexed = False  # the list-order index is built on the first list query

    def _preview_clause(self) -> str:
        if self.first is None:
            return ""
        st = ",".join(f"'{x}'" for x in sorted(self.statuses) if x in CASE_STATUSES)
        ranks = ",".join(str(RANK[c]) for c in sorted(CHANGED))
        return f" WHERE status IN ({st}) AND change IN ({ranks}) ORDER BY 5 LIMIT {int(self.first)}"

    def reader(self) -> closing[sqlite3.Connection]:
        """A read-only connection of its own to the compared store (closed on leaving the
        `with`), for the owners' reads this comparison does not hold: judgments, traffic."""
        return closing(Store.reader(self.db_path, migrate=False))

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

    # The tally groups on one small integer per case (status, change, verdicts) and the
    # attributes set: integer keys sort fast; segment values come from the sets.
    _KIND = (
        "((((CASE status WHEN 'active' THEN 0 WHEN 'quarantined' THEN 1 ELSE 2 END) * 16 + change) * 3 + "
        "COALESCE(b_pass, 2)) * 3 + COALESCE(c_pass, 2)) * 3 + COALESCE(f_pass, 2)"
    )

    def _grouped(self, where: str = "1", params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # One packed integer per case, grouped by SQLite (which releases the GIL while it
        # works, so the screen keeps drawing on the other core).
        q = (
            f"SELECT ({self._KIND}) * 4294967296 + COALESCE(attr_set, 0) AS key, COUNT(*) "
            f"FROM {self.table} WHERE {where} GROUP BY key"
        )
        with self._lock:
            packed = dict(self.conn.execute(q, list(params)).fetchall())
        statuses = CASE_STATUSES
        empty = (None,) * len(self.dimensions)
        out = []
        for key, n in packed.items():
            kind, attr_set = divmod(key, 4294967296)
            kind, f = divmod(kind, 3)
            kind, c = divmod(kind, 3)
            kind, b = divmod(kind, 3)
            st, ch = divmod(kind, 16)  # room for 16 change kinds (there are 10)
            out.append(
                (
                    statuses[st],
                    CHANGES[ch],
                    None if b == 2 else b,
                    None if c == 2 else c,
                    None if f == 2 else f,
                    *self.set_values.get(attr_set, empty),
                    n,
                )
            )
        return out

    def _tally(self) -> list[tuple[Any, ...]]:
        """Cases grouped by (status, change, verdicts, segment values), with counts."""
        if self._tally_rows is None:
            self._tally_rows = self._grouped()
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
        out: dict[str, int] = dict.fromkeys(CASE_STATUSES, 0)
        for row in self._tally():
            out[row[0]] = out.get(row[0], 0) + row[-1]
        return out

    def segments(self, without: Iterable[int] | None = None) -> list[SegmentRecord]:
        """The "all" row, then one row per value of each segment dimension.

        `without`: case ids to leave out, as if retired (to preview a retirement).
        """
        tally = self._tally() if without is None else self._tally_without(without)
        return segment_table(
            tally, self.dimensions, self.statuses, self.fallback is not None, self.correction
        )

    def cells(self, attributes: Sequence[str]) -> dict[tuple[Any, ...], int]:
        """Included cases counted by (values of `attributes`, baseline, candidate and
        fallback pass: 1, 0 or None): what the production estimate weights (#28,
        compare/production.py). Each attribute must be a segment dimension."""
        at = [5 + self.dimensions.index(a) for a in attributes]
        out: dict[tuple[Any, ...], int] = {}
        for row in self._tally():
            if row[0] in self.statuses:
                key = (tuple(row[i] for i in at), *row[2:5])
                out[key] = out.get(key, 0) + row[-1]
        return out

    def _tally_without(self, case_ids: Iterable[int]) -> list[tuple[Any, ...]]:
        ids = sorted(set(case_ids))
        with self._lock:
            self.conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self.table}_x (case_id INTEGER PRIMARY KEY)"
            )
            self.conn.execute(f"DELETE FROM {self.table}_x")
            self.conn.executemany(f"INSERT INTO {self.table}_x VALUES (?)", [(i,) for i in ids])
        return self._grouped(f"case_id NOT IN (SELECT case_id FROM {self.table}_x)")

    def refresh_status(self, case_ids: Iterable[int] | None = None) -> None:
        """Re-read lifecycle status from the store (after a retire/restore)."""
        with self._lock:
            if case_ids is None:
                self.conn.execute(runs.statuses_again(self.table))
            else:
                for cid in case_ids:
                    self.conn.execute(runs.status_again(self.table), (cid, cid))
            self._tally_rows = None

    def criterion_changes(self) -> dict[str, CriterionFlips]:
        """Per criterion (reduced like the verdict): flips each way, over paired active cases,
        and how many regressed while the case's own verdict held. Reads the wide rows:
        slower than the rest, so callers run it in a worker."""
        red = self.reducer
        per = runs.CRITERIA_PER_CASE
        where, params = self._status_clause()
        q = f"""
            SELECT b.name,
                   SUM({red.sql("b.np", "b.n")} = 1 AND {red.sql("c.np", "c.n")} = 0),
                   SUM({red.sql("b.np", "b.n")} = 0 AND {red.sql("c.np", "c.n")} = 1),
                   SUM({red.sql("b.np", "b.n")} = 1 AND {red.sql("c.np", "c.n")} = 0
                       AND t.change IN ({RANK["still_passing"]}, {RANK["output_changed"]}))
            FROM ({per}) b JOIN ({per}) c ON c.case_id = b.case_id AND c.name = b.name
            JOIN {self.table} t ON t.case_id = b.case_id
            WHERE b.n > 0 AND c.n > 0 AND t.{where}
            GROUP BY b.name ORDER BY b.name
        """
        with self._lock:
            rows = self.conn.execute(q, [self.baseline.id, self.candidate.id, *params]).fetchall()
        return {
            name: CriterionFlips(
                pass_to_fail=int(a or 0), fail_to_pass=int(b or 0), hidden_regressions=int(h or 0)
            )
            for name, a, b, h in rows
        }

    # -- the case list -----------------------------------------------------------------------

    def _where(self, flt: Filter) -> tuple[str, list[Any]]:
        """The WHERE clause over `_from` (aliases t, k, g, ct) for a filter."""
        st = sorted(flt.statuses if flt.statuses is not None else self.statuses)
        clauses = [f"t.status IN ({','.join('?' * len(st))})"]
        params: list[Any] = list(st)
        changes = sorted(RANK[c] for c in flt.changes)
        clauses.append(f"t.change IN ({','.join('?' * len(changes))})")
        params += changes
        if flt.segment:
            dim, value = flt.segment
            if dim not in self.dimensions:
                raise InputError(
                    "filter", f"no segment dimension {dim!r}; have {', '.join(self.dimensions)}"
                )
            col = f"g.s{self.dimensions.index(dim)}"
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
                f"OR k.expected LIKE ? ESCAPE '\\' OR {runs.OUTPUT_LIKE})"
            )
            params += [like, like, like, self.baseline.id, self.candidate.id, like]
        if flt.triage == "untriaged":
            clauses.append(f"NOT {TRIAGED}")
        elif flt.triage == "triaged":
            clauses.append(TRIAGED)
        elif flt.triage == "disagreement":
            clauses.append("ct.state = 'disagreement'")
        elif flt.triage == "noted":  # a verified note and no class (#29): not triage
            clauses.append(
                "COALESCE(ct.classes, '[]') = '[]' AND t.case_id IN "
                "(SELECT value FROM json_each(?))"
            )
            with self._lock:
                noted = triage.noted_cases(self.conn, self.baseline.id, self.candidate.id)
            params.append(json.dumps(noted))
        if flt.failure_class:
            clauses.append("EXISTS (SELECT 1 FROM json_each(ct.classes) WHERE value = ?)")
            params.append(flt.failure_class)
        if flt.owner:
            clauses.append("ct.owner = ?")
            params.append(flt.owner)
        for column, wanted in (("tools", flt.tool), ("sources", flt.source)):
            if wanted:  # either run's path of the case called that tool / read that source
                clauses.append(runs.path_filter(column))
                params += [self.baseline.id, self.candidate.id, wanted]
        if flt.divergence:
            clauses.append(
                f"t.case_id IN (SELECT case_id FROM {self._divergences()} WHERE kind = ?)"
            )
            params.append(paths.divergence_kind(flt.divergence, "filter"))
        return " AND ".join(clauses), params

    def _divergences(self) -> str:
        """The table of each case's first divergence, made on the first filter that asks."""
        with self._lock:
            if self._div_table is None:
                trio = (self.conn, self.table, self.baseline, self.candidate)
                self._div_table = paths.divergence_table(*trio)
            return self._div_table

    @property
    def _cols(self) -> str:
        return (
            "t.case_id, k.suite, k.case_key, t.change, t.ord, t.status, "
            "t.b_pass, t.b_ne, t.b_np, t.b_n, t.c_pass, t.c_ne, t.c_np, t.c_n, t.f_pass, "
            f"{SHOWN_STATE}, ct.class, ct.owner, ct.verdict, t.b_nl, t.c_nl"
            + "".join(f", g.s{i}" for i in range(len(self.dimensions)))
        )

    def _ensure_index(self) -> None:
        """The index the case list pages on; figures never need it, so it waits for a list."""
        if not self._indexed:
            with self._lock:
                if not self._indexed:
                    self.conn.execute(
                        f"CREATE INDEX IF NOT EXISTS {self.table}_ord ON {self.table}(ord)"
                    )
                    self._indexed = True

    @property
    def _from(self) -> str:
        # Findings are live (another session may write them): joined at read time, by primary key.
        return self._joined(self.table)

    def _joined(self, rows: str) -> str:
        """`rows` of the classification (t) with their case (k), segment values (g) and triage (ct)."""
        return (
            f"{runs.with_cases(rows, f'{self.table}_sets')} "
            f"{joins.triage_join(self.baseline.id, self.candidate.id)}"
        )

    def _row(self, r: Sequence[Any]) -> CaseRow:
        return case_row(r, self.dimensions)

    def page(
        self,
        flt: Filter | None = None,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CaseRow]:
        """Up to `limit` cases in list order after (or before) an order key, skipping
        `offset` first (counted away from the key): a keyset query."""
        flt = flt or Filter()
        where, params = self._where(flt)
        if not self._indexed and flt.plain and after is None and before is None and not offset:
            # The very first page: a top-N scan of the temp table alone is quicker than
            # building the order index first (that waits for the next list query).
            inner = where.replace("t.status", "status").replace("t.change", "change")
            top = f"(SELECT * FROM {self.table} WHERE {inner} ORDER BY ord LIMIT ?)"
            q = f"SELECT {self._cols} FROM {self._joined(top)} ORDER BY t.ord"
            with self._lock:
                return [self._row(r) for r in self.conn.execute(q, [*params, limit]).fetchall()]
        self._ensure_index()
        order = "t.ord"
        if after is not None:
            where += " AND t.ord > ?"
            params.append(after)
        if before is not None:
            where += " AND t.ord < ?"
            params.append(before)
            order = "t.ord DESC"
        q = f"SELECT {self._cols} FROM {self._from} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
        with self._lock:
            rows = self.conn.execute(q, [*params, limit, max(0, offset)]).fetchall()
        out = [self._row(r) for r in rows]
        return out[::-1] if before is not None else out

    def count(self, flt: Filter | None = None) -> int:
        flt = flt or Filter()
        if flt.plain and (flt.statuses is None or flt.statuses == self.statuses):
            counts = self.counts()  # from the tally: no scan
            return sum(counts[c] for c in flt.changes)
        where, params = self._where(flt)
        with self._lock:
            return int(
                self.conn.execute(
                    f"SELECT COUNT(*) FROM {self._from} WHERE {where}", params
                ).fetchone()[0]
            )

    def position(self, row: CaseRow, flt: Filter | None = None) -> int:
        """1-based position of `row` in the filtered list."""
        self._ensure_index()
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
            flt = flt.with_(changes=frozenset(changes))
        key = None if row is None else row.ord
        end = {"after": key} if step > 0 else {"before": (1 << 62) if key is None else key}
        return next(iter(self.page(flt, limit=1, **end)), None)

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
        """Per change kind: (cases with a finding, cases), over the included statuses.

        Totals come from the tally; the triaged counts walk this comparison's
        findings (few) rather than every case."""
        where, params = self._status_clause()
        with self._lock:
            rows = self.conn.execute(
                f"SELECT t.change, COUNT(*) {joins.triaged_in(self.table)} "
                f"AND t.{where} AND {TRIAGED} GROUP BY t.change",
                [self.baseline.id, self.candidate.id, *params],
            ).fetchall()
        triaged = {CHANGES[r[0]]: int(r[1]) for r in rows}
        return {c: (triaged.get(c, 0), n) for c, n in self.counts().items()}

    def changed_keys(self, changes: Iterable[str]) -> dict[str, list[str]]:
        """Case keys ("suite/key" when several suites) by change, in list order."""
        self._ensure_index()
        where, params = self._status_clause()
        wanted = sorted(RANK[c] for c in set(changes))
        with self._lock:
            rows = self.conn.execute(
                f"SELECT t.change, k.suite, k.case_key FROM {self._from} WHERE t.{where} "
                f"AND t.change IN ({','.join('?' * len(wanted))}) ORDER BY t.ord",
                [*params, *wanted],
            ).fetchall()
            suites = len(
                {run_suite for r in (self.baseline, self.candidate) for run_suite in r.suites}
            )
        out: dict[str, list[str]] = {CHANGES[c]: [] for c in wanted}
        for change, suite, key in rows:
            out[CHANGES[change]].append(f"{suite}/{key}" if suites > 1 else key)
        return out

    # -- reads for the gate (compare/measures.py and gate/decide.py) ----------------------
    # Conditions are SQL over the aliases `t` (the classification: change, ord, status,
    # b_/c_/f_ np, n, ne, pass), `k` (cases), `g` (segment values s0..sN, one per
    # dimension) and `ct` (case_triage). Table names stay out of them.

    def scope_clause(self, scope: Any) -> tuple[str, list[Any]]:
        """A rule scope (`"all"` or {attribute: value or [values]}) as a condition on `g`."""
        if scope == "all" or not scope:
            return "1", []
        clauses, params = [], []
        for attr, wanted in scope.items():
            if attr not in self.dimensions:
                raise InputError(
                    "policy", f"scope attribute {attr!r} is not a segment dimension here"
                )
            values = wanted if isinstance(wanted, list) else [wanted]
            col = f"g.s{self.dimensions.index(attr)}"
            clauses.append(f"CAST({col} AS TEXT) IN ({','.join('?' * len(values))})")
            params += [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
        return " AND ".join(clauses), params

    def aggregate(
        self, select: str, where: str = "1", params: Sequence[Any] = ()
    ) -> tuple[Any, ...]:
        """One row of `select` over the included cases matching `where`."""
        return self._scoped(select, where, params)[0]

    def rows_where(
        self, select: str, where: str = "1", params: Sequence[Any] = (), limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of `select` over the included cases matching `where`, in list order."""
        tail = " ORDER BY t.ord" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return self._scoped(select, where, params, tail)

    def _scoped(
        self, select: str, where: str, params: Sequence[Any], tail: str = ""
    ) -> list[tuple[Any, ...]]:
        st, sp = self._status_clause()
        q = f"SELECT {select} FROM {self._from} WHERE t.{st} AND {where}{tail}"
        with self._lock:
            return [tuple(r) for r in self.conn.execute(q, [*sp, *params])]

    def result_values(
        self, run_id: int, select: str, where: str = "1", params: Sequence[Any] = (), tail: str = ""
    ) -> list[tuple[Any, ...]]:
        """Rows of `select` over one run's results (alias `r`) on the included cases
        matching `where`; `tail` adds ORDER BY / LIMIT (its `?` come after `params`)."""
        st, sp = self._status_clause()
        q = (
            f"SELECT {select} FROM {runs.results_in(self.table, f'{self.table}_sets')} "
            f"WHERE r.run_id = ? AND t.{st} AND {where} {tail}"
        )
        with self._lock:
            return [tuple(r) for r in self.conn.execute(q, [run_id, *sp, *params])]

    def baseline_classes(self) -> set[str]:
        """The failure classes on any baseline-failing case of the whole comparison."""
        rows = self.rows_where("ct.classes", f"t.b_pass = 0 AND {_NAMED}")
        return {c for (cls,) in rows for c in json.loads(cls)}

    def new_failure_modes(
        self, where: str = "1", params: Sequence[Any] = ()
    ) -> tuple[list[str], list[str]]:
        """Failure modes new in the candidate (#29): the classes of candidate-failing cases
        matching `where` that no baseline-failing case of the comparison has (verified
        findings), and the keys of those cases, in list order."""
        had, classes, cases = self.baseline_classes(), set[str](), list[str]()
        for cls, key in self.rows_where(
            "ct.classes, k.case_key", f"{where} AND t.c_pass = 0 AND {_NAMED}", params
        ):
            if new := set(json.loads(cls)) - had:
                classes |= new
                cases.append(key)
        return sorted(classes), cases

    def triaged(self) -> list[TriagedCase]:
        """Each included case with a verified finding, in list order."""
        return [
            TriagedCase(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "[]"), bool(r[6]))
            for r in self.rows_where(
                f"ct.class, ct.owner, ct.verdict, ct.state, k.case_key, ct.classes, {TRIAGED}",
                f"ct.case_id IS NOT NULL AND {TRUSTED}",
            )
        ]

    def untriaged_regressions(self) -> list[str]:
        """Keys of the included regressed cases not triaged (no class, no verdict), in list order."""
        cond = f"t.change = {RANK['regressed']} AND NOT {TRIAGED}"
        return [r[0] for r in self.rows_where("k.case_key", cond)]

    def reference_set(self) -> list[tuple[str, str, str]]:
        """(suite, case key, status) of every case in the comparison, whatever its status."""
        with self._lock:
            return [
                tuple(r)
                for r in self.conn.execute(
                    f"SELECT k.suite, k.case_key, k.status FROM {self._from} ORDER BY k.suite, k.case_key"
                )
            ]

    # -- one case --------------------------------------------------------------------------

    def findings(self, case_id: int) -> list[Any]:
        """The finding history of a case in this comparison, read on this connection."""
        with self._lock:
            return triage.history(self.conn, self.baseline.id, self.candidate.id, case_id)

    def read_case(self, row: CaseRow) -> tuple[CaseRow, CaseDetail, list[Any]]:
        """A case as the app shows it: its row again (triage columns may have changed),
        its samples and its finding history, read on this connection."""
        return self.row(row.case_id) or row, self.detail(row.case_id), self.findings(row.case_id)

    def detail(self, case_id: int) -> CaseDetail:
        with self._lock:
            return read_detail(self.conn, case_id, self.baseline, self.candidate, self.fallback)

    def step_in_case(self, case_id: int, index: int) -> StepRef:
        """`paths.step_of` for a case named by id (evaltui label --step)."""
        if self.row(case_id) is None:
            raise InputError("--step", "the case is in neither run")
        return paths.step_of(self.detail(case_id), index)

    # -- the whole thing as data ----------------------------------------------------------------

    def tools_called(self) -> list[str]:  # every tool either run called (agent runs)
        with self._lock:
            rows = self.conn.execute(
                runs.TOOLS_CALLED, (self.baseline.id, self.candidate.id)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def tool_stats(self) -> dict[str, ToolStats | None]:
        """Each run's tool statistics over the included cases it has (None: the run
        recorded no trajectories, and nothing is read for it)."""
        out: dict[str, ToolStats | None] = {}
        trio = (self.baseline, self.candidate, self.fallback)
        for name, run in zip(("baseline", "candidate", "fallback"), trio, strict=True):
            if run is None:
                continue
            out[name] = None
            if run.has_paths:
                cases = self.rows_where("t.case_id", f"t.{name[0]}_n IS NOT NULL")
                out[name] = paths.tool_stats(self.conn, run.id, [c[0] for c in cases])
        return out

    def summary(self, *, with_keys: bool = True, with_criteria: bool = True) -> CompareSummary:
        """The comparison summarised: `evaltui compare --json` prints its dump (docs/compare.md).
        `with_keys`: the changed cases' keys; `with_criteria`: the criteria's flips (reads
        the wide rows)."""
        return summarise(self, with_keys=with_keys, with_criteria=with_criteria)
