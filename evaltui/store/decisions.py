"""The owner of the `decisions` table: gate decisions kept with their full record
(append-only). No other module names it in SQL; `gate.history` keeps and reads decisions
through the functions here, and the event log's chain check reads the heads they recorded.

The record is stored as the canonical JSON the gate made (sorted keys); this module
never parses or builds one (the store knows nothing of the gate's record model)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NewDecision:
    """A decision to keep: the columns of its row and its record (canonical JSON)."""

    decided_at: str
    decided_by: str
    baseline_run: int
    candidate_run: int
    fallback_run: int | None
    decision: str
    policy_sha256: str
    content_hash: str
    record: str


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One kept decision as `evaltui decisions` lists it (its runs by name)."""

    id: int
    decided_at: str
    decided_by: str
    baseline: str
    candidate: str
    decision: str
    policy_sha256: str
    content_hash: str

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON data (`evaltui decisions --json`), in the order above."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A kept decision's id and its record as stored (the JSON text, in the format of the
    evaltui that made it)."""

    id: int
    text: str


_INSERT = """
INSERT INTO decisions (decided_at, decided_by, baseline_run, candidate_run, fallback_run,
                       decision, policy_sha256, content_hash, record)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_LIST = """
SELECT d.id, d.decided_at, d.decided_by, d.baseline_run, d.candidate_run, d.decision,
       d.policy_sha256, d.content_hash
FROM decisions d
"""

# Each kept decision and the log's head it recorded (its record as stored, read by SQLite:
# a record that is not JSON has none).
_HEADS = """
SELECT id, CASE WHEN json_valid(record)
                THEN json_extract(record, '$.provenance.event_log_head') END
FROM decisions ORDER BY id
"""

# The columns a kept record is found by (`find`): never a caller's text in the SQL.
_FIND = {
    "content_hash": "SELECT id, record FROM decisions WHERE content_hash = ? ORDER BY id LIMIT 1",
    "decided_at": "SELECT id, record FROM decisions WHERE decided_at = ? ORDER BY id LIMIT 1",
}


def insert(conn: sqlite3.Connection, new: NewDecision) -> int:
    """Keep a decision (inside the caller's transaction, which also logs it); its id."""
    cur = conn.execute(
        _INSERT,
        (
            new.decided_at,
            new.decided_by,
            new.baseline_run,
            new.candidate_run,
            new.fallback_run,
            new.decision,
            new.policy_sha256,
            new.content_hash,
            new.record,
        ),
    )
    return int(cur.lastrowid or 0)


def rows(
    conn: sqlite3.Connection,
    limit: int | None = None,
    *,
    pair: tuple[int, int] | None = None,
    run_names: Mapping[int, str],
) -> list[DecisionRow]:
    """Kept decisions, newest first; with `pair`, only those of that (baseline, candidate).
    `run_names`: each run's name by id (the run tables' owner reads them)."""
    query = _LIST
    if pair is not None:
        query += " WHERE d.baseline_run = ? AND d.candidate_run = ?"
    query += " ORDER BY d.id DESC"
    if limit:
        query += f" LIMIT {int(limit)}"
    return [
        DecisionRow(i, at, by, run_names.get(b, ""), run_names.get(c, ""), *rest)
        for i, at, by, b, c, *rest in conn.execute(query, pair or ())
    ]


def record_text(conn: sqlite3.Connection, decision_id: int) -> str | None:
    """Kept decision `decision_id`'s record as stored (None: there is no such decision)."""
    row = conn.execute("SELECT record FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    return None if row is None else str(row[0])


def decided_at_before(conn: sqlite3.Connection, before: int | None = None) -> str | None:
    """When the latest kept decision was made (None before the first); with `before`,
    the latest one kept before decision `before`."""
    row = conn.execute(
        "SELECT decided_at FROM decisions WHERE id < ? ORDER BY id DESC LIMIT 1",
        (before if before is not None else 1 << 62,),
    ).fetchone()
    return None if row is None else str(row[0])


def find(conn: sqlite3.Connection, column: str, value: object) -> StoredRecord | None:
    """The first kept decision whose `column` (content_hash or decided_at) is `value`."""
    row = conn.execute(_FIND[column], (value,)).fetchone()
    return None if row is None else StoredRecord(int(row[0]), str(row[1]))


def heads(conn: sqlite3.Connection) -> list[tuple[int, object]]:
    """Each kept decision's id and the event log's head its record names (as stored: a
    string, or anything else a hand-made record holds), oldest first; none in a store
    made before decisions were kept."""
    if not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
    ).fetchone():
        return []
    return [(int(did), head) for did, head in conn.execute(_HEADS)]


@dataclass(frozen=True, slots=True)
class OwnRecord:
    """A kept decision as the team's outbox reads it: who decided, its runs by id, its
    content hash and its record as stored."""

    id: int
    decided_by: str
    baseline_run: int
    candidate_run: int
    content_hash: str
    text: str


def page(conn: sqlite3.Connection, after: int = 0, limit: int = 100) -> list[OwnRecord]:
    """Kept decisions after decision `after`, oldest first (the team's outbox)."""
    return [
        OwnRecord(int(i), str(by), int(b), int(c), str(h), str(rec))
        for i, by, b, c, h, rec in conn.execute(
            "SELECT id, decided_by, baseline_run, candidate_run, content_hash, record "
            "FROM decisions WHERE id > ? ORDER BY id LIMIT ?",
            (after, int(limit)),
        )
    ]


def deciders(conn: sqlite3.Connection) -> set[str]:
    """Every name this store's gate kept a decision under."""
    return {str(r[0]) for r in conn.execute("SELECT DISTINCT decided_by FROM decisions")}


def has_content_hash(conn: sqlite3.Connection, content_hash: str) -> bool:
    """Whether a kept decision has this content hash."""
    return find(conn, "content_hash", content_hash) is not None
