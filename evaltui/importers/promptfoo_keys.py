"""promptfoo case keys: the rule in `evaltui.importers.promptfoo`'s module doc, worked out
for every row of a file before any record is built (a key depends on all the rows sharing
its description), in a private temporary SQLite file so memory does not grow with rows."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from evaltui.importers.promptfoo_model import Provider, Row, TestCase


def _js_string(value: Any) -> str:
    """A var as promptfoo's CSV writes it (JavaScript's String()): an object is
    "[object Object]", an array its items joined by commas, true is "true", 31.0 is "31"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return "" if value is None else str(value)


def vars_hash(variables: dict[str, Any], full: bool = False) -> str:
    """A short hash of a test's vars, the same from JSON and from CSV: values as the CSV
    writes them (so an object var hashes as "[object Object]" from both). `full` hashes
    the values as they are (JSON only), to tell apart tests that differ in an object alone."""
    norm = {
        str(k): (json.dumps(v, sort_keys=True) if full else _js_string(v))
        for k, v in variables.items()
        if v not in (None, "")
    }
    return hashlib.sha256(json.dumps(norm, sort_keys=True).encode()).hexdigest()[:8]


def case_keys(tests: list[tuple[str | None, dict[str, Any]]]) -> list[str]:
    """The case key of each (description, vars) of one column, by the rule in the module
    doc (worked out by the same index an import uses)."""
    index = KeyIndex()
    for i, (description, variables) in enumerate(tests):
        index.add(
            i,
            Row(
                testIdx=i, success=True, vars=variables, testCase=TestCase(description=description)
            ),
        )
    index.finish()
    return [key for _, key, _ in index.keys(0)]


def column_of(row: Row) -> tuple[int, str]:
    provider = row.provider
    if isinstance(provider, Provider):
        label = provider.label or provider.id or "provider"
    else:
        label = provider or "provider"
    return row.promptIdx, label


def variables_of(row: Row) -> dict[str, Any]:
    tc = row.testCase or TestCase()
    return row.vars if row.vars is not None else (tc.vars or {})


def _base_key(row: Row, variables: dict[str, Any]) -> str:
    cid = variables.get("case_id")
    if cid not in (None, ""):
        return str(cid)
    return ((row.testCase.description if row.testCase else None) or "").strip()


class KeyIndex:
    """Every row's case key and epoch, worked out before any record is built (a key
    depends on all the rows sharing its description). Kept in a private temporary SQLite
    file, so memory does not grow with the number of rows."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # "" = a temporary file, deleted on close
        self.db.execute(
            "CREATE TABLE k (pos INTEGER PRIMARY KEY, col INTEGER, test_idx INTEGER, "
            "base TEXT, hash TEXT, full TEXT)"
        )
        self.columns: dict[tuple[int, str], int] = {}
        self.labels: dict[int, str | None] = {}  # column: its first row's prompt label
        self.counts: dict[int, int] = defaultdict(int)
        self._batch: list[tuple[int, int, int, str, str, str]] = []

    def column(self, row: Row) -> int:
        key = column_of(row)
        col = self.columns.get(key)
        if col is None:
            col = self.columns[key] = len(self.columns)
            self.labels[col] = row.prompt.label if row.prompt else None
        return col

    def add(self, pos: int, row: Row) -> None:
        variables = variables_of(row)
        col = self.column(row)
        self.counts[col] += 1
        self._batch.append(
            (
                pos,
                col,
                row.testIdx,
                _base_key(row, variables),
                vars_hash(variables),
                vars_hash(variables, full=True),
            )
        )
        if len(self._batch) >= 10_000:
            self._flush()

    def _flush(self) -> None:
        self.db.executemany("INSERT INTO k VALUES (?, ?, ?, ?, ?, ?)", self._batch)
        self._batch.clear()

    def finish(self) -> None:
        """The key rule (module doc) for every row at once."""
        self._flush()
        self.db.executescript(
            """
            CREATE TABLE amb (col INTEGER, base TEXT, PRIMARY KEY (col, base));
            INSERT INTO amb SELECT col, base FROM k WHERE base != ''
                GROUP BY col, base HAVING count(DISTINCT hash) > 1;
            CREATE TABLE keyed0 AS SELECT pos, col, test_idx, full,
                CASE WHEN base = '' THEN 'vars #' || hash
                     WHEN EXISTS (SELECT 1 FROM amb a WHERE a.col = k.col AND a.base = k.base)
                     THEN base || ' #' || hash
                     ELSE base END AS key
                FROM k;
            -- tests that only an object-valued var tells apart (the JSON knows it, a CSV
            -- cannot): the full vars' hash is added, so they stay distinct cases
            CREATE TABLE amb2 (col INTEGER, key TEXT, PRIMARY KEY (col, key));
            INSERT INTO amb2 SELECT col, key FROM keyed0
                GROUP BY col, key HAVING count(DISTINCT full) > 1;
            CREATE TABLE keyed AS SELECT pos, col, test_idx,
                CASE WHEN EXISTS (SELECT 1 FROM amb2 a WHERE a.col = q.col AND a.key = q.key)
                     THEN key || ' #' || full ELSE key END AS key
                FROM keyed0 q;
            CREATE TABLE final AS SELECT pos, col, key,
                row_number() OVER (PARTITION BY col, key ORDER BY test_idx, pos) - 1 AS epoch
                FROM keyed;
            CREATE INDEX final_col ON final (col, pos);
            """
        )

    def keys(self, col: int) -> Iterator[tuple[int, str, int]]:
        """(position, key, epoch) of the column's rows, in file order."""
        yield from self.db.execute(
            "SELECT pos, key, epoch FROM final WHERE col = ? ORDER BY pos", (col,)
        )
