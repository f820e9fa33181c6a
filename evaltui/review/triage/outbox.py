"""The team store's outbox: the findings made in this store that the team has not yet
shared (team/ledger.py passes the uids it has shared as its own SQL). Part of the owner
of `findings` (review/triage/)."""

from __future__ import annotations

from evaltui.review.triage import COLS
from evaltui.review.triage_state import Finding
from evaltui.store.runs import join_names
from evaltui.store.store import Store

_NAMES_LOCAL = join_names({"b": "f.baseline_run", "c": "f.candidate_run"}, ("k", "f.case_id"))


def unshared(
    store: Store, reviewer: str, shared: str, after: int = 0, limit: int = 500
) -> list[tuple[Finding, tuple[str, str], tuple[str, str], str, str]]:
    """A page of `reviewer`'s local findings whose uid `shared` (a query of the team
    ledger's, selecting uids) does not return, oldest first after finding id `after`:
    each with its runs' (sha256, source part) and its case's suite and key."""
    cols = ", ".join(f"f.{c.strip()}" for c in COLS.split(","))
    query = (
        f"SELECT {cols}, b.sha256, b.source_part, c.sha256, c.source_part, k.suite, k.case_key "
        f"FROM findings f {_NAMES_LOCAL} WHERE f.source = 'local' AND f.reviewer = ? "
        f"AND f.id > ? AND f.uid NOT IN ({shared}) ORDER BY f.id LIMIT ?"
    )
    out = []
    for r in store.conn.execute(query, (reviewer, after, limit)):
        n = len(r) - 6
        out.append(
            (Finding.from_row(r[:n]), (r[n], r[n + 1]), (r[n + 2], r[n + 3]), r[n + 4], r[n + 5])
        )
    return out


def unshared_counts(store: Store, shared: str) -> dict[str, int]:
    """How many local findings each reviewer name holds that `shared` does not return."""
    query = (
        "SELECT reviewer, count(*) FROM findings WHERE source = 'local' "
        f"AND uid NOT IN ({shared}) GROUP BY reviewer"
    )
    return {str(name): int(n) for name, n in store.conn.execute(query)}


def local_reviewers(store: Store) -> set[str]:
    """Every reviewer name this store's own findings were written under."""
    query = "SELECT DISTINCT reviewer FROM findings WHERE source = 'local'"
    return {str(r[0]) for r in store.conn.execute(query)}
