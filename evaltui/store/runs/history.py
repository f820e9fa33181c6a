"""A suite's history (trend): the runs sharing a suite and each case's outcome by run,
read through a `Store.reader()` connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evaltui.errors import InputError
from evaltui.store.runs.status import CaseRef

if TYPE_CHECKING:  # loaded where used: opening a store for the app needs neither
    pass


def _json(value: Any) -> str:
    """JSON as the store writes it (the event log's form): sorted keys, compact."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- history (trend) -----------------------------------------------------------------


@dataclass(frozen=True)
class TrendRun:
    id: int
    name: str
    at: str


def suite_runs(conn: sqlite3.Connection, run_id: int, last: int) -> list[TrendRun]:
    """The last `last` runs (by their own date, then import order) sharing a suite with
    run `run_id`, up to and including it; oldest first."""
    row = conn.execute(
        "SELECT suites, COALESCE(created_at, imported_at) FROM runs WHERE id = ?", (run_id,)
    ).fetchone()
    if row is None:
        raise InputError("run", f"no run with id {run_id}")
    suites, at = row
    q = (
        "SELECT id, name, COALESCE(created_at, imported_at) AS at FROM runs r "
        "WHERE EXISTS (SELECT 1 FROM json_each(r.suites) s WHERE s.value IN "
        "(SELECT value FROM json_each(?))) AND (at < ? OR (at = ? AND id <= ?)) "
        "ORDER BY at DESC, id DESC LIMIT ?"
    )
    return [TrendRun(*r) for r in conn.execute(q, (suites or "[]", at, at, run_id, last))][::-1]


class RunHistory:
    """The active cases' outcomes over some runs, from the per-run case tallies
    (`run_cases`): a case passes a run by `passes(passed, n)`, a SQL expression (0/1)
    of its passing and total samples (the comparison's Reducer.sql). Cases with no
    verdict in a run are not in it."""

    def __init__(
        self, conn: sqlite3.Connection, run_ids: list[int], passes: Callable[[str, str], str]
    ) -> None:
        self.conn, self.ids = conn, run_ids
        self.index = {rid: i for i, rid in enumerate(run_ids)}
        self.passes = passes("rc.np", "rc.n")
        self.marks = ",".join("?" * len(run_ids))
        self.base = (
            "FROM run_cases rc JOIN cases k ON k.id = rc.case_id "
            f"WHERE rc.run_id IN ({self.marks}) AND k.status = 'active' AND rc.n > 0"
        )
        self.per_case = (
            f"SELECT rc.case_id, COUNT(*) AS runs, SUM(1 - {self.passes}) AS fails "
            f"{self.base} GROUP BY rc.case_id HAVING fails > 0"
        )

    def pass_rates(self, attribute: str | None = None) -> dict[str, list[float | None]]:
        """Pass rate per run (None: no case of it in that run), by the value of the cases'
        `attribute` ("(none)": cases without it, as compare's segments name them); without
        one, all cases as "all"."""
        select, params = "'all'", []
        if attribute is not None:
            select, params = "json_extract(k.attributes, ?)", [f'$."{attribute}"']
        found: dict[str, list[float | None]] = {}
        q = f"SELECT {select}, rc.run_id, SUM({self.passes}), COUNT(*) {self.base} GROUP BY 1, 2"
        for value, rid, passed, n in self.conn.execute(q, (*params, *self.ids)):
            key = "(none)" if value is None else str(value)
            found.setdefault(key, [None] * len(self.ids))[self.index[rid]] = passed / n
        return found

    def by_attributes(self) -> Iterator[tuple[str, int, int, int]]:
        """(the cases' attributes as stored, run index, passing cases, cases), streamed:
        what a production estimate per run weights (views/trend.py, #28)."""
        q = (
            f"SELECT k.attributes, rc.run_id, SUM({self.passes}), COUNT(*) {self.base} "
            "GROUP BY k.attributes, rc.run_id"
        )
        for text, rid, passed, n in self.conn.execute(q, self.ids):
            yield str(text or "{}"), self.index[rid], int(passed), int(n)

    def failing(self) -> tuple[int, int]:
        """(cases failing in at least one run, cases failing in every one of the runs they
        are in, two or more)."""
        q = f"SELECT COUNT(*), COALESCE(SUM(fails = runs AND runs > 1), 0) FROM ({self.per_case})"
        failing, standing = self.conn.execute(q, self.ids).fetchone()
        return int(failing), int(standing)

    def most_failing(self, limit: int) -> list[CaseRef]:
        """The failing cases, standing failures first, then by how often they failed."""
        q = (
            f"SELECT c.case_id, k.suite, k.case_key FROM ({self.per_case}) c "
            "JOIN cases k ON k.id = c.case_id ORDER BY (c.fails = c.runs AND c.runs > 1) DESC, "
            "c.fails DESC, c.runs DESC, k.suite, k.case_key LIMIT ?"
        )
        return [CaseRef(*r) for r in self.conn.execute(q, (*self.ids, limit))]

    def outcomes(self, case_ids: list[int]) -> dict[int, list[str | None]]:
        """Each case's "pass" or "fail" per run (None: absent), oldest run first."""
        seen: dict[int, list[str | None]] = {cid: [None] * len(self.ids) for cid in case_ids}
        if case_ids:
            q = (
                f"SELECT rc.case_id, rc.run_id, {self.passes} FROM run_cases rc "
                f"WHERE rc.run_id IN ({self.marks}) AND rc.n > 0 "
                f"AND rc.case_id IN ({','.join('?' * len(case_ids))})"
            )
            for cid, rid, ok in self.conn.execute(q, [*self.ids, *case_ids]):
                seen[cid][self.index[rid]] = "pass" if ok else "fail"
        return seen
