"""Case status (retire, restore, quarantine) and the stale rules' reads: lifecycle keeps
the rules and events, this module the statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from evaltui.store.store import Store

if TYPE_CHECKING:  # loaded where used: opening a store for the app needs neither
    pass


def _json(value: Any) -> str:
    """JSON as the store writes it (the event log's form): sorted keys, compact."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- case status (retire, restore, quarantine: lifecycle) ----------------------------


class CaseRef(NamedTuple):
    id: int
    suite: str
    case_key: str


@dataclass(frozen=True)
class CaseState:
    """A case's name and status, as a status change reads it first."""

    suite: str
    case_key: str
    status: str
    reason: str | None
    note: str | None


@dataclass(frozen=True)
class CaseEntry:
    """A case with its status: who set it, when, why (`evaltui cases`)."""

    id: int
    suite: str
    case_key: str
    status: str
    reason: str | None
    note: str | None
    by: str | None
    at: str | None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RetiredCase:
    """A retirement, as a decision record lists those since the previous decision."""

    suite: str
    case_key: str
    reason: str | None
    by: str | None
    at: str | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SteadyCase(NamedTuple):
    """An active case with the same outcome in each of its last runs."""

    case: CaseRef
    runs: int  # how many of its last runs it was in
    passed: int  # in how many of them it passed (all of them, or none)
    run_ids: list[int]


def case_state(store: Store, case_id: int) -> CaseState | None:
    row = store.conn.execute(
        "SELECT suite, case_key, status, status_reason, status_note FROM cases WHERE id = ?",
        (case_id,),
    ).fetchone()
    return None if row is None else CaseState(*row)


def case_status_at(store: Store, case_id: int) -> str | None:
    """When the case's status was last set (None: never)."""
    row = store.conn.execute("SELECT status_at FROM cases WHERE id = ?", (case_id,)).fetchone()
    return None if row is None else row[0]


def write_case_status(
    store: Store, case_id: int, status: str, reason: str | None, note: str | None, by: str, at: str
) -> None:
    """Set a case's status (inside the caller's transaction, which logs the change)."""
    store.conn.execute(
        "UPDATE cases SET status = ?, status_reason = ?, status_note = ?, status_by = ?, "
        "status_at = ? WHERE id = ?",
        (status, reason, note, by, at, case_id),
    )


def list_cases(
    store: Store, *, status: str | None = None, suite: str | None = None, limit: int | None = None
) -> list[CaseEntry]:
    """Cases with their status, by suite and key (only those of a status or a suite)."""
    clauses, params = ["1"], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if suite:
        clauses.append("suite = ?")
        params.append(suite)
    q = (
        "SELECT id, suite, case_key, status, status_reason, status_note, status_by, status_at, "
        f"attributes FROM cases WHERE {' AND '.join(clauses)} ORDER BY suite, case_key"
    )
    if limit:
        q += f" LIMIT {int(limit)}"
    return [
        CaseEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}"))
        for r in store.conn.execute(q, params)
    ]


def retired_since(store: Store, at: str | None) -> list[RetiredCase]:
    """Cases retired after `at` (every retired case when None), oldest first."""
    q = (
        "SELECT suite, case_key, status_reason, status_by, status_at, status_note FROM cases "
        "WHERE status = 'retired'"
        + (" AND status_at > ?" if at else "")
        + " ORDER BY status_at, suite, case_key"
    )
    return [RetiredCase(*r) for r in store.conn.execute(q, (at,) if at else ())]


def status_counts(store: Store) -> dict[str, int]:
    """How many cases have each status (statuses no case has are left out)."""
    q = "SELECT status, COUNT(*) FROM cases GROUP BY status"
    return {str(status): int(n) for status, n in store.conn.execute(q)}


# Per active case, its last N runs (newest first) with a worst-of-N outcome per run.
_STEADY = """
    WITH per_run AS (
        SELECT r.case_id, r.run_id, MIN(r.verdict = 'pass') AS passed
        FROM results r JOIN cases k ON k.id = r.case_id AND k.status = 'active'
        GROUP BY r.case_id, r.run_id
    ), ranked AS (
        SELECT case_id, run_id, passed,
               ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY run_id DESC) AS rn
        FROM per_run
    )
    SELECT x.case_id, k.suite, k.case_key, COUNT(*), SUM(x.passed), GROUP_CONCAT(x.run_id)
    FROM ranked x JOIN cases k ON k.id = x.case_id
    WHERE x.rn <= ?
    GROUP BY x.case_id
    HAVING COUNT(*) >= ? AND (SUM(x.passed) = COUNT(*) OR SUM(x.passed) = 0)
    ORDER BY k.suite, k.case_key
"""


def steady_cases(store: Store, runs: int) -> Iterator[SteadyCase]:
    """The active cases in at least `runs` runs that passed (worst of their samples) in
    each of their last `runs` runs, or failed in each; by suite and key."""
    for cid, suite, key, n, passed, run_ids in store.conn.execute(_STEADY, (runs, runs)):
        ids = [int(i) for i in str(run_ids).split(",")]
        yield SteadyCase(CaseRef(cid, suite, key), n, passed, ids)


def active_inputs(store: Store) -> Iterator[tuple[CaseRef, str]]:
    """The active cases with an input, and the input, oldest case first."""
    for cid, suite, key, text in store.conn.execute(
        "SELECT id, suite, case_key, input FROM cases WHERE status = 'active' AND input <> '' "
        "ORDER BY id"
    ):
        yield CaseRef(cid, suite, key), text


def active_attribute(store: Store, attribute: str) -> Iterator[tuple[CaseRef, Any]]:
    """The active cases that have `attribute`, with its value, by suite and key."""
    path = '$."' + attribute.replace('"', '""') + '"'
    for cid, suite, key, value in store.conn.execute(
        "SELECT id, suite, case_key, json_extract(attributes, ?) FROM cases "
        "WHERE status = 'active' AND json_extract(attributes, ?) IS NOT NULL "
        "ORDER BY suite, case_key",
        (path, path),
    ):
        yield CaseRef(cid, suite, key), value


def active_first_seen_before(store: Store, day: str) -> Iterator[tuple[CaseRef, str, str]]:
    """The active cases first seen in a run made (or imported) before `day` (YYYY-MM-DD),
    with that run's name and date, by suite and key."""
    for cid, suite, key, first, created in store.conn.execute(
        "SELECT k.id, k.suite, k.case_key, r.name, COALESCE(r.created_at, r.imported_at) "
        "FROM cases k JOIN runs r ON r.id = k.first_seen_run WHERE k.status = 'active' "
        "AND substr(COALESCE(r.created_at, r.imported_at), 1, 10) < ? ORDER BY k.suite, k.case_key",
        (day,),
    ):
        yield CaseRef(cid, suite, key), first, created
