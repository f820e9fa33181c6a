"""Retire, quarantine and restore shared as team events (kind `case_status`).

A case's status belongs to the case (its suite and key), not to a comparison: the
subject is `casestatus:[suite, case key]`. Only adjudicators and release owners may
write one (schema.ROLE_KINDS, enforced by the database's insert policy); a reviewer's
status changes stay in its store.

The outbox is every status change this store's event log holds (`case.retire`,
`case.quarantine`, `case.restore`) by the joined reviewer, made here (no `source` in its
context), that no ledger row names: the ledger names it as `log:HASH`, the logged
event's own link hash, which the payload carries too, so a push whose record was lost
is adopted when it comes back. Folding a pulled one applies it when it is newer than the
case's current status (lifecycle.apply_shared): the latest change wins in every store.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.models import CaseStatus
from evaltui.review import lifecycle
from evaltui.store import runs
from evaltui.store.events import Event
from evaltui.store.store import Store
from evaltui.team import ledger
from evaltui.team.events import TeamEvent, canonical_json, first_problem, string_parts

KIND = "case_status"
ACTIONS = tuple(lifecycle.ACTIONS.values())


class StatusPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: CaseStatus
    reason: lifecycle.RetireReason | None
    note: str | None = Field(max_length=10_000)
    log: str = Field(pattern=r"^[0-9a-f]{64}$")


def subject(suite: str, case_key: str) -> str:
    return "casestatus:" + canonical_json([suite, case_key])


def parse_subject(text: str) -> tuple[str, str] | None:
    parts = string_parts(text, "casestatus", 2)
    return None if parts is None else (parts[0], parts[1])


def ref(log_hash: str) -> str:
    """How the ledger names a logged status change (its `finding_uid` column)."""
    return f"log:{log_hash}"


def outbox(store: Store, reviewer: str) -> list[tuple[Event, str]]:
    """This reviewer's status changes made here and not shared yet, oldest first, each
    with its subject."""
    out: list[tuple[Event, str]] = []
    after = 0
    while page := store.events_by_action(ACTIONS, after, 500):
        after = page[-1].id
        for ev in page:
            ctx = ev.context if isinstance(ev.context, dict) else {}
            if ev.actor != reviewer or ctx.get("source") or not ev.hash:
                continue
            if ledger.finding_events(store, ref(ev.hash)):
                continue
            out.append((ev, subject(str(ctx.get("suite")), str(ctx.get("case_key")))))
    return out


def event_of(ev: Event, subj: str, project: str, prev: str | None) -> TeamEvent:
    after = ev.after if isinstance(ev.after, dict) else {}
    payload = {
        "status": after.get("status"),
        "reason": after.get("reason"),
        "note": after.get("note"),
        "log": ev.hash,
    }
    return TeamEvent.make(project, ev.actor, KIND, subj, payload, prev=prev, client_at=ev.at)


def fold(store: Store, event: TeamEvent, project: str) -> tuple[str, str | None, str | None]:
    """(ledger status, reason, ledger ref) for one verified case_status event."""
    parts = parse_subject(event.subject)
    if parts is None:
        return "rejected", "its subject is not a case (casestatus:[suite, case key])", None
    try:
        p = StatusPayload.model_validate(event.payload)
    except ValidationError as exc:
        return "rejected", f"its payload is not a status change: {first_problem(exc)}", None
    if (p.status == "retired") != (p.reason is not None):
        return "rejected", "a retirement gives a reason, and only a retirement does", None
    case_id = runs.case_by_key(store, parts[0], parts[1])
    if case_id is None:
        return "waiting", f"the case {parts[0]}/{parts[1]} is not in this store", None
    lifecycle.apply_shared(
        store, case_id, p.status, p.reason, p.note, event.author, event.client_at, f"team:{project}"
    )
    return "folded", None, ref(p.log)
