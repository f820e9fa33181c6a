"""Decisions kept in the store (append-only), their history, and the policy the app last used."""

from __future__ import annotations

import json
from typing import Any

from evaltui.errors import NotFoundError
from evaltui.gate.record import DecisionRecord, canonical
from evaltui.store.store import Store

POLICY_SETTING = "gate.policy_path"

_LIST = (
    "SELECT d.id, d.decided_at, d.decided_by, b.name, c.name, d.decision, d.policy_sha256, d.content_hash "
    "FROM decisions d JOIN runs b ON b.id = d.baseline_run JOIN runs c ON c.id = d.candidate_run"
)


def record_decision(store: Store, record: DecisionRecord) -> int:
    """Keep a decision in the store (append-only) and log it; returns its id."""
    prov = record.provenance
    with store.transaction():
        cur = store.conn.execute(
            "INSERT INTO decisions (decided_at, decided_by, baseline_run, candidate_run, fallback_run, decision, "
            "policy_sha256, content_hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (prov.decided_at, prov.decided_by, prov.baseline.id, prov.candidate.id,
             prov.fallback.id if prov.fallback else None, record.decision, prov.policy.sha256,
             record.content_hash, canonical(record.as_dict()).decode("utf-8")),
        )  # fmt: skip
        did = int(cur.lastrowid or 0)
        store.log_event(
            "decision", "decision", did,
            after={"decision": record.decision, "content_hash": record.content_hash},
            context={"baseline": prov.baseline.name, "candidate": prov.candidate.name,
                     "policy_sha256": prov.policy.sha256},
            actor=prov.decided_by,
        )  # fmt: skip
    return did


def list_decisions(
    store: Store,
    limit: int | None = None,
    *,
    baseline: int | None = None,
    candidate: int | None = None,
) -> list[dict[str, Any]]:
    """Kept decisions, newest first; optionally only those of one baseline/candidate pair."""
    q, params = _LIST, []
    if baseline is not None and candidate is not None:
        q += " WHERE d.baseline_run = ? AND d.candidate_run = ?"
        params = [baseline, candidate]
    q += " ORDER BY d.id DESC"
    if limit:
        q += f" LIMIT {int(limit)}"
    return [
        {"id": r[0], "decided_at": r[1], "decided_by": r[2], "baseline": r[3], "candidate": r[4],
         "decision": r[5], "policy_sha256": r[6], "content_hash": r[7]}
        for r in store.conn.execute(q, params)
    ]  # fmt: skip


def get_decision(store: Store, decision_id: int) -> dict[str, Any]:
    """One kept decision's full record, as JSON data."""
    row = store.conn.execute("SELECT record FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No decision {decision_id}. `evaltui decisions` lists them.")
    data: dict[str, Any] = json.loads(row[0])
    return data


def previous_decision_at(store: Store, before: int | None = None) -> str | None:
    """When the latest kept decision was made (None before the first); with `before`,
    the latest one kept before decision `before` (to recompute that decision)."""
    row = store.conn.execute(
        "SELECT decided_at FROM decisions WHERE id < ? ORDER BY id DESC LIMIT 1",
        (before if before is not None else 1 << 62,),
    ).fetchone()
    return None if row is None else str(row[0])


def kept(store: Store, record: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The decision kept in the store that `record` claims to be: by its content hash,
    else by its decision time (so an edited, re-hashed copy is still found)."""
    for column, value in (
        ("content_hash", record.get("content_hash")),
        ("decided_at", (record.get("provenance") or {}).get("decided_at")),
    ):
        row = store.conn.execute(
            f"SELECT id, record FROM decisions WHERE {column} = ? ORDER BY id LIMIT 1", (value,)
        ).fetchone()
        if row is not None:
            return int(row[0]), json.loads(row[1])
    return None


def policy_path(store: Store) -> str | None:
    """The policy file the app last used on this store."""
    value = store.get_setting(POLICY_SETTING)
    return None if value is None else str(value)


def set_policy_path(store: Store, path: str) -> None:
    store.set_setting(POLICY_SETTING, path)


def signed_when_kept(store: Store, decision_id: int) -> bool:
    """Was kept decision `decision_id` exported signed (`gate --out --sign` logs it)?"""
    row = store.conn.execute(
        "SELECT 1 FROM events WHERE entity = 'decision' AND entity_id = ? "
        "AND action = 'decision.sign'",
        (str(decision_id),),
    ).fetchone()
    return row is not None
