"""Decisions kept in the store (append-only), their history, and the policy the app last used.

The `decisions` table is `store.decisions`'s: this module keeps and reads decisions
through it, and logs each one kept in the event log (one transaction)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evaltui.errors import NotFoundError, StoreError
from evaltui.gate.record import DecisionRecord, canonical
from evaltui.store import decisions, runs, team_decisions
from evaltui.store.decisions import DecisionRow
from evaltui.store.store import Store
from evaltui.store.team_decisions import TeamDecisionRow

__all__ = [
    "POLICY_SETTING",
    "DecisionRow",
    "KeptDecision",
    "TeamDecisionRow",
    "get_decision",
    "get_team_decision",
    "kept",
    "list_decisions",
    "list_team_decisions",
    "policy_path",
    "previous_decision_at",
    "record_decision",
    "record_signatures",
    "set_policy_path",
    "signed_when_kept",
]

POLICY_SETTING = "gate.policy_path"


@dataclass(frozen=True, slots=True)
class KeptDecision:
    """A decision kept in the store: its id and its record as kept.

    `data` is the record's JSON data in the format of the evaltui that made it: a record
    kept before an upgrade lacks fields this evaltui's `DecisionRecord` requires
    (gate/formats.py), so it is shown and compared as kept, never re-read through the
    model (`model()` reads one in this evaltui's format)."""

    id: int
    data: dict[str, Any]

    def model(self) -> DecisionRecord:
        """The record as this evaltui's model (a ValidationError for an earlier format)."""
        return DecisionRecord.model_validate(self.data)


def _kept(stored: decisions.StoredRecord) -> KeptDecision:
    try:
        data = json.loads(stored.text)
    except ValueError:
        data = None
    if not isinstance(data, dict):  # evaltui keeps only objects: the store was edited
        raise StoreError(
            f"decision {stored.id}'s kept record is not a JSON object: the store was changed "
            "outside evaltui (`evaltui log --verify`)"
        )
    return KeptDecision(stored.id, data)


def record_decision(store: Store, record: DecisionRecord) -> int:
    """Keep a decision in the store (append-only) and log it; returns its id."""
    prov = record.provenance
    new = decisions.NewDecision(
        decided_at=prov.decided_at,
        decided_by=prov.decided_by,
        baseline_run=prov.baseline.id,
        candidate_run=prov.candidate.id,
        fallback_run=prov.fallback.id if prov.fallback else None,
        decision=record.decision,
        policy_sha256=prov.policy.sha256,
        content_hash=record.content_hash,
        record=canonical(record.as_dict()).decode("utf-8"),
    )
    with store.transaction():
        did = decisions.insert(store.conn, new)
        store.log_event(
            "decision",
            "decision",
            did,
            after={"decision": record.decision, "content_hash": record.content_hash},
            context={
                "baseline": prov.baseline.name,
                "candidate": prov.candidate.name,
                "policy_sha256": prov.policy.sha256,
            },
            actor=prov.decided_by,
        )
    return did


def list_decisions(
    store: Store,
    limit: int | None = None,
    *,
    baseline: int | None = None,
    candidate: int | None = None,
) -> list[DecisionRow]:
    """Kept decisions, newest first; optionally only those of one baseline/candidate pair."""
    pair = (baseline, candidate) if baseline is not None and candidate is not None else None
    return decisions.rows(store.conn, limit, pair=pair, run_names=runs.run_names(store))


def list_team_decisions(
    store: Store,
    limit: int | None = None,
    *,
    baseline: int | None = None,
    candidate: int | None = None,
) -> list[TeamDecisionRow]:
    """Decisions kept as another's (pulled from the team store, docs/team.md), newest kept
    first; optionally only those of one baseline/candidate pair. Never this store's own:
    `list_decisions`, `previous_decision_at`, `kept` and `verify` do not read them."""
    pair = (baseline, candidate) if baseline is not None and candidate is not None else None
    return team_decisions.rows(store.conn, limit, pair=pair, run_names=runs.run_names(store))


def get_team_decision(store: Store, team_id: int) -> dict[str, Any]:
    """One decision kept as another's: its record as kept (JSON data)."""
    text = team_decisions.record_text(store.conn, team_id)
    if text is None:
        raise NotFoundError(
            f"No team decision {team_id}. `evaltui decisions` lists them (marked team:PROJECT)."
        )
    return _kept(decisions.StoredRecord(team_id, text)).data


def get_decision(store: Store, decision_id: int) -> KeptDecision:
    """One kept decision, its record as kept."""
    text = decisions.record_text(store.conn, decision_id)
    if text is None:
        raise NotFoundError(f"No decision {decision_id}. `evaltui decisions` lists them.")
    return _kept(decisions.StoredRecord(decision_id, text))


def previous_decision_at(store: Store, before: int | None = None) -> str | None:
    """When the latest kept decision was made (None before the first); with `before`,
    the latest one kept before decision `before` (to recompute that decision)."""
    return decisions.decided_at_before(store.conn, before)


def kept(store: Store, record: dict[str, Any]) -> KeptDecision | None:
    """The decision kept in the store that `record` claims to be: by its content hash,
    else by its decision time (so an edited, re-hashed copy is still found)."""
    prov = record.get("provenance")
    for column, value in (
        ("content_hash", record.get("content_hash")),
        ("decided_at", prov.get("decided_at") if isinstance(prov, dict) else None),
    ):
        stored = decisions.find(store.conn, column, value) if isinstance(value, str) else None
        if stored is not None:
            return _kept(stored)
    return None


def policy_path(store: Store) -> str | None:
    """The policy file the app last used on this store."""
    value = store.get_setting(POLICY_SETTING)
    return None if value is None else str(value)


def set_policy_path(store: Store, path: str) -> None:
    store.set_setting(POLICY_SETTING, path)


def signed_when_kept(store: Store, decision_id: int) -> bool:
    """Was kept decision `decision_id` exported signed (`gate --out --sign` logs it)?"""
    return store.logged("decision.sign", "decision", decision_id)


def record_signatures(store: Store) -> dict[int, str]:
    """Each kept decision's signature of its record as kept (canonical JSON), by decision
    id: what `gate --out --sign` logged with `decision.sign` (the latest one); none for a
    decision never signed, or signed by an evaltui before #30."""
    out: dict[int, str] = {}
    after = 0
    while events := store.events_by_action(("decision.sign",), after, 500):
        after = events[-1].id
        for ev in events:
            sig = ev.after.get("record_signature") if isinstance(ev.after, dict) else None
            if ev.entity == "decision" and ev.entity_id.isdigit() and isinstance(sig, str):
                out[int(ev.entity_id)] = sig
    return out
