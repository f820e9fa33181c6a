"""The owner of the `team_decisions` table: release decisions another member's gate made,
pulled from the team store and kept as theirs (append-only; docs/team.md). No other
module names it in SQL; evaltui/team/decisions.py keeps them, `evaltui decisions` lists
them after this store's own.

They are never in `decisions` (whose rows are this store's own gate's and head the event
log's chain) nor in the event log: a record this store's gate did not make is not in its
decision history. Like `decisions`, the record is kept as the canonical JSON it came as;
this module never parses one."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

SIGNATURE_STATES = ("verified", "unsigned", "unchecked")


@dataclass(frozen=True, slots=True)
class NewTeamDecision:
    """A decision to keep as another's: who wrote it where, and its record."""

    event_hash: str
    project: str
    author: str
    received_at: str
    baseline_run: int
    candidate_run: int
    decided_at: str
    decided_by: str
    decision: str
    policy_sha256: str
    content_hash: str
    record: str  # canonical JSON, as the author's store keeps it
    signature: str | None
    signature_state: str  # verified, unsigned, unchecked (signed; no allowed-signers here)
    signer: str | None  # the principal whose signature verified


@dataclass(frozen=True, slots=True)
class TeamDecisionRow:
    """One decision kept as another's, as `evaltui decisions` lists it (runs by name)."""

    team_id: int
    project: str
    author: str
    decided_at: str
    decided_by: str
    baseline: str
    candidate: str
    decision: str
    policy_sha256: str
    content_hash: str
    signature: str  # verified, unsigned, unchecked
    signer: str | None
    event_hash: str
    received_at: str

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON data (`evaltui decisions --json`): `id` null and `team` the
        project, so that it is never taken for one of this store's own decisions."""
        return {"id": None, "team": self.project, **asdict(self)}


_COLUMNS = (
    "event_hash, project, author, received_at, baseline_run, candidate_run, decided_at, "
    "decided_by, decision, policy_sha256, content_hash, record, signature, signature_state, "
    "signer"
)
_LIST = (
    "SELECT id, project, author, decided_at, decided_by, baseline_run, candidate_run, "
    "decision, policy_sha256, content_hash, signature_state, signer, event_hash, received_at "
    "FROM team_decisions"
)


def insert(conn: sqlite3.Connection, new: NewTeamDecision) -> int:
    """Keep a decision as another's (inside the caller's transaction); its id."""
    if new.signature_state not in SIGNATURE_STATES:
        raise ValueError(f"unknown signature state {new.signature_state!r}")
    values = asdict(new)
    cur = conn.execute(
        f"INSERT INTO team_decisions ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
        tuple(values[c.strip()] for c in _COLUMNS.split(",")),
    )
    return int(cur.lastrowid or 0)


def by_event(conn: sqlite3.Connection, event_hash: str) -> int | None:
    """The id of the decision kept from this team event, if any."""
    row = conn.execute(
        "SELECT id FROM team_decisions WHERE event_hash = ?", (event_hash,)
    ).fetchone()
    return None if row is None else int(row[0])


def by_content(conn: sqlite3.Connection, content_hash: str) -> tuple[int, str] | None:
    """(id, event hash) of the first decision kept with this content hash, if any."""
    row = conn.execute(
        "SELECT id, event_hash FROM team_decisions WHERE content_hash = ? ORDER BY id LIMIT 1",
        (content_hash,),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def rows(
    conn: sqlite3.Connection,
    limit: int | None = None,
    *,
    pair: tuple[int, int] | None = None,
    run_names: Mapping[int, str],
) -> list[TeamDecisionRow]:
    """Decisions kept as another's, newest kept first; with `pair`, only those of that
    (baseline, candidate)."""
    query = _LIST
    if pair is not None:
        query += " WHERE baseline_run = ? AND candidate_run = ?"
    query += " ORDER BY id DESC"
    if limit:
        query += f" LIMIT {int(limit)}"
    return [
        TeamDecisionRow(i, p, a, at, by, run_names.get(b, ""), run_names.get(c, ""), *rest)
        for i, p, a, at, by, b, c, *rest in conn.execute(query, pair or ())
    ]


def record_text(conn: sqlite3.Connection, team_id: int) -> str | None:
    """Team decision `team_id`'s record as kept (None: there is no such decision)."""
    row = conn.execute("SELECT record FROM team_decisions WHERE id = ?", (team_id,)).fetchone()
    return None if row is None else str(row[0])


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM team_decisions").fetchone()[0])
