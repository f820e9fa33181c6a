"""The trend over a suite's last runs: pass rate per segment, run by run, and each case's
history (pass/fail per run), standing failures first.

Read from the per-run case tallies (`run_cases`: passing and total samples), reduced with
the comparison's reducer, active cases only. Bounded: at most `last` runs, and at most
`max_cases` case histories (the ones that failed most), whatever the store's size.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from evaltui.compare.kinds import Reducer
from evaltui.compare.rows import check_dimensions
from evaltui.errors import InputError

SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class TrendRun:
    id: int
    name: str
    at: str


@dataclass
class Trend:
    runs: list[TrendRun]  # oldest first
    # (dimension, value, pass rate per run (None: no case of it in that run)); "all" first
    segments: list[tuple[str, str, list[float | None]]] = field(default_factory=list)
    # (suite, case key, per run "pass" | "fail" | None (absent)), the most failing first
    cases: list[tuple[str, str, list[str | None]]] = field(default_factory=list)
    standing: int = 0  # cases failing in every one of the runs they are in (two or more)
    failing: int = 0  # cases failing in at least one run


def spark(rates: list[float | None]) -> str:
    """One character per run: ▁ (0%) to █ (100%); · where the run has no such case."""
    return "".join(
        "·" if r is None else SPARKS[min(len(SPARKS) - 1, int(r * len(SPARKS)))] for r in rates
    )


def history(marks: list[str | None]) -> str:
    """One character per run: ✓ pass, ✗ fail, · absent (readable without colour)."""
    return "".join({"pass": "✓", "fail": "✗"}.get(m or "", "·") for m in marks)


def trend(
    db_path: str | Path,
    run_id: int,
    *,
    last: int = 12,
    reducer: Reducer | None = None,
    dimensions: list[str] | None = None,
    max_cases: int = 200,
) -> Trend:
    """The last `last` runs (by their own date, then import order) sharing a suite with
    run `run_id`, up to and including it."""
    reducer = reducer or Reducer()
    check_dimensions(dimensions or [])
    passes = reducer.sql("rc.np", "rc.n")
    uri = f"file:{Path(db_path)}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        row = conn.execute("SELECT suites, COALESCE(created_at, imported_at) FROM runs WHERE id = ?",
                           (run_id,)).fetchone()  # fmt: skip
        if row is None:
            raise InputError("run", f"no run with id {run_id}")
        suites, at = row
        runs = [TrendRun(*r) for r in conn.execute(
            "SELECT id, name, COALESCE(created_at, imported_at) AS at FROM runs r "
            "WHERE EXISTS (SELECT 1 FROM json_each(r.suites) s WHERE s.value IN "
            "(SELECT value FROM json_each(?))) AND (at < ? OR (at = ? AND id <= ?)) "
            "ORDER BY at DESC, id DESC LIMIT ?", (suites or "[]", at, at, run_id, last),
        )][::-1]  # fmt: skip
        out = Trend(runs)
        if not runs:
            return out
        ids = [r.id for r in runs]
        marks = ",".join("?" * len(ids))
        base = (f"FROM run_cases rc JOIN cases k ON k.id = rc.case_id "
                f"WHERE rc.run_id IN ({marks}) AND k.status = 'active' AND rc.n > 0")  # fmt: skip
        index = {rid: i for i, rid in enumerate(ids)}

        def rates(select: str, params: tuple[str, ...] = ()) -> dict[str, list[float | None]]:
            found: dict[str, list[float | None]] = {}
            q = f"SELECT {select}, rc.run_id, SUM({passes}), COUNT(*) {base} GROUP BY 1, 2"
            for value, rid, passed, n in conn.execute(q, (*params, *ids)):
                if value is not None:
                    found.setdefault(str(value), [None] * len(ids))[index[rid]] = passed / n
            return found

        out.segments.append(("all", "", rates("'all'").get("all", [None] * len(ids))))
        for d in dimensions or []:
            found = rates("json_extract(k.attributes, ?)", (f'$."{d}"',))
            out.segments += [(d, value, series) for value, series in sorted(found.items())]
        per_case = (f"SELECT rc.case_id, COUNT(*) AS runs, SUM(1 - {passes}) AS fails "
                    f"{base} GROUP BY rc.case_id HAVING fails > 0")  # fmt: skip
        out.failing, out.standing = conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(fails = runs AND runs > 1), 0) FROM ({per_case})", ids
        ).fetchone()
        worst = conn.execute(
            f"SELECT c.case_id, k.suite, k.case_key FROM ({per_case}) c JOIN cases k ON k.id = c.case_id "
            "ORDER BY (c.fails = c.runs AND c.runs > 1) DESC, c.fails DESC, c.runs DESC, k.suite, "
            "k.case_key LIMIT ?", (*ids, max_cases),
        ).fetchall()  # fmt: skip
        seen: dict[int, list[str | None]] = {cid: [None] * len(ids) for cid, _, _ in worst}
        if seen:
            cids = list(seen)
            q = (f"SELECT rc.case_id, rc.run_id, {passes} FROM run_cases rc WHERE rc.run_id IN ({marks}) "
                 f"AND rc.n > 0 AND rc.case_id IN ({','.join('?' * len(cids))})")  # fmt: skip
            for cid, rid, ok in conn.execute(q, [*ids, *cids]):
                seen[cid][index[rid]] = "pass" if ok else "fail"
        out.cases = [(suite, key, seen[cid]) for cid, suite, key in worst]
    return out
