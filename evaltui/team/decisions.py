"""Release decisions shared as team events (kind `decision`), kept as another's (#30).

A release decision is a gate record kept whole in this store's `decisions` (its
canonical JSON, content hash, policy sha256), heading the event log's chain. Only
release owners may write one to the team store (schema.ROLE_KINDS, enforced by the
database's insert policy).

**Out.** The outbox is every decision this store's own gate kept whose decider is the
joined reviewer, that no ledger row names (`decision:CONTENT_HASH`). A decision kept
under another name is not this login's word: never pushed, counted by name. The subject
is the comparison, each run as the team names it (`comparison:[baseline, candidate]`,
events.run_identity); the payload is the record as the store keeps it (its canonical JSON
as a string: jsonb would rewrite a number such as 4e-05, and the hash and signature are
over these bytes), its content hash, and the same key's signature of it when `gate
--out --sign` made one. A record whose event would pass the team's payload limit is
named, not pushed.

**In.** A pulled decision is taken only when its record is an evaltui decision record
whose content hash matches (gate.verify.sealed_problems, what `evaltui verify` checks
first) and is the payload's, in canonical form; whose runs are the subject's; whose
decider is the event's author; whose author is no name this store's own findings or
decisions use; and whose signature, when it carries one, verifies against this store's
allowed-signers file (`findings signers`, as `evaltui verify` falls back to). Then it is
kept in `team_decisions` (store/team_decisions.py) as the author's, with whether its
signature verified: never in `decisions` nor in the event log's chain, so this store's
own decision history, `gate --status` and `verify` know nothing of it. It waits while
this store lacks either run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui import signing
from evaltui.errors import InputError
from evaltui.gate.record import canonical
from evaltui.gate.verify import sealed_problems
from evaltui.review import triage
from evaltui.store import decisions, runs, team_decisions
from evaltui.store.store import Store, now_iso
from evaltui.team import ledger
from evaltui.team.events import (
    TeamEvent,
    comparison_subject,
    first_problem,
    parse_run_identity,
    run_identity,
    string_parts,
)
from evaltui.team.ledger import Link
from evaltui.team.schema import ROLE_KINDS

KIND = "decision"
_HEX64 = r"^[0-9a-f]{64}$"


def ref(content_hash: str) -> str:
    """How the ledger names a shared decision (its `finding_uid` column)."""
    return f"decision:{content_hash}"


def parse_subject(text: str) -> tuple[str, str] | None:
    """(baseline, candidate) run identities of a comparison subject in its canonical form."""
    parts = string_parts(text, "comparison", 2)
    return None if parts is None else (parts[0], parts[1])


# -- out ------------------------------------------------------------------------------------


@dataclass
class Pending:
    """This store's decisions not yet shared: the reviewer's (each with its subject, or
    why it cannot go), and the others' by decider."""

    mine: list[tuple[decisions.OwnRecord, str | None, str | None]]  # record, subject, problem
    others: dict[str, int]


def pending(store: Store, reviewer: str) -> Pending:
    out = Pending([], {})
    after = 0
    while page := decisions.page(store.conn, after, 100):
        after = page[-1].id
        digests = runs.run_digests(
            store, {r for x in page for r in (x.baseline_run, x.candidate_run)}
        )
        for rec in page:
            if ledger.finding_events(store, ref(rec.content_hash)):
                continue
            if rec.decided_by != reviewer:
                out.others[rec.decided_by] = out.others.get(rec.decided_by, 0) + 1
                continue
            base, cand = digests.get(rec.baseline_run), digests.get(rec.candidate_run)
            if not base or not cand or not base[0] or not cand[0]:
                out.mine.append((rec, None, "one of its runs has no file digest (sha256)"))
                continue
            out.mine.append(
                (rec, comparison_subject(run_identity(*base), run_identity(*cand)), None)
            )
    return out


def outbox(store: Store, reviewer: str) -> list[tuple[decisions.OwnRecord, str | None, str | None]]:
    """This reviewer's decisions not yet shared, oldest first, each with its subject or
    why it has none."""
    return pending(store, reviewer).mine


def event_of(
    rec: decisions.OwnRecord,
    subject: str | None,
    problem: str | None,
    link: Link,
    signatures: dict[int, str],
    prev: str | None,
) -> TeamEvent:
    """The event sharing a kept decision, signed when `gate --sign` signed its record
    (`signatures`: gate.history.record_signatures). ValueError: it cannot go into a team
    store (no run digest, or over the payload limit)."""
    if subject is None or problem is not None:
        raise ValueError(problem or "it has no subject")
    payload = {
        "record": rec.text,
        "content_hash": rec.content_hash,
        "signature": signatures.get(rec.id),
    }
    return TeamEvent.make(link.project, link.reviewer, KIND, subject, payload, prev=prev)


def summary(store: Store, reviewer: str, role: str) -> dict[str, Any]:
    """What `sync --json` and `team status --json` say of decisions: this reviewer's not
    yet shared (`outbox`; `not_allowed` when the role may not write them), the others'
    never shared (by decider), the decision events held here by ledger status, and the
    decisions kept as another's."""
    found = pending(store, reviewer)
    allowed = KIND in ROLE_KINDS.get(role, ())
    return {
        "outbox": len(found.mine) if allowed else 0,
        "not_allowed": 0 if allowed else len(found.mine),
        "not_shared": dict(sorted(found.others.items())),
        "events": ledger.counts(store, KIND),
        "kept_as_team": team_decisions.count(store.conn),
    }


# -- in -------------------------------------------------------------------------------------


class DecisionPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: str = Field(max_length=1 << 20)
    content_hash: str = Field(pattern=_HEX64)
    signature: str | None = Field(max_length=signing.MAX_SIG_BYTES)


class _Run(BaseModel):
    sha256: str


class _Policy(BaseModel):
    sha256: str


class _Provenance(BaseModel):
    baseline: _Run
    candidate: _Run
    policy: _Policy
    decided_at: str
    decided_by: str


class _Head(BaseModel):
    """What this store reads of a pulled record to list it (any evaltui's format)."""

    decision: str
    provenance: _Provenance


def fold(
    store: Store, event: TeamEvent, link: Link, others: set[str]
) -> tuple[str, str | None, str | None]:
    """(ledger status, reason, ledger ref) for one verified decision event. `others`: the
    names this store's own findings use but its reviewer's (fold.Folder.others)."""
    subject = parse_subject(event.subject)
    if subject is None:
        return "rejected", "its subject is not a comparison (comparison:[base, cand])", None
    try:
        p = DecisionPayload.model_validate(event.payload)
    except ValidationError as exc:
        return "rejected", f"its payload is not a decision: {first_problem(exc)}", None
    try:
        data = json.loads(p.record)
    except ValueError:
        return "rejected", "its record is not JSON", None
    if not isinstance(data, dict):
        return "rejected", "its record is not a JSON object", None
    problems = sealed_problems(data)
    if problems:
        return "rejected", f"its record: {problems[0]}", None
    if data["content_hash"] != p.content_hash:
        return "rejected", "its record's content hash is not the one the event names", None
    if canonical(data).decode("utf-8") != p.record:
        return "rejected", "its record is not in canonical form (as a store keeps it)", None
    try:
        head = _Head.model_validate(data)
    except ValidationError as exc:
        return "rejected", f"its record lacks {first_problem(exc, 'record')}", None
    prov, author = head.provenance, event.author
    try:
        triage.check_name(author, "author")
    except InputError as exc:
        return "rejected", exc.detail, None
    if author in (others | decisions.deciders(store.conn)) - {link.reviewer}:
        return (
            "rejected",
            (
                f"written as {author!r}, a name this store's own findings or decisions use (this "
                f"store is {link.reviewer!r} in the team): it would speak for them here"
            ),
            None,
        )
    if prov.decided_by != author:
        return (
            "rejected",
            (
                f"its record was decided by {prov.decided_by[:80]!r}, not by its author: a "
                "member shares only their own decisions"
            ),
            None,
        )
    ids: list[int] = []
    for role, identity, sha in (
        ("baseline", subject[0], prov.baseline.sha256),
        ("candidate", subject[1], prov.candidate.sha256),
    ):
        parsed = parse_run_identity(identity)
        if parsed is None:
            return "rejected", f"its {role} run {identity[:40]!r} is not a file digest", None
        digest, part = parsed
        if digest != sha:
            return (
                "rejected",
                (
                    f"its record's {role} run (sha256 {sha[:12]}) is not its subject's "
                    f"({digest[:12]})"
                ),
                None,
            )
        found = runs.run_by_sha256(store, digest, part)
        if found is None:
            return (
                "waiting",
                (
                    f"its {role} run (sha256 {digest[:12]}) is not in this store: import the "
                    "same file"
                ),
                None,
            )
        ids.append(found.id)
    if author == link.reviewer and decisions.has_content_hash(store.conn, p.content_hash):
        return "folded", None, ref(p.content_hash)  # this store's own, pushed before
    if team_decisions.by_event(store.conn, event.hash) is not None:
        return "folded", None, ref(p.content_hash)
    copy = team_decisions.by_content(store.conn, p.content_hash)
    if copy is not None:
        return "kept", f"a second copy of team decision {copy[0]} (event {copy[1][:16]})", None
    state, signer = "unsigned", None
    if p.signature is not None:
        try:
            state, signer = _signature(store, p.record, p.signature)
        except InputError as exc:
            return "rejected", f"its record's signature does not verify: {exc.detail}", None
    team_decisions.insert(
        store.conn,
        team_decisions.NewTeamDecision(
            event_hash=event.hash,
            project=link.project,
            author=author,
            received_at=now_iso(),
            baseline_run=ids[0],
            candidate_run=ids[1],
            decided_at=prov.decided_at,
            decided_by=prov.decided_by,
            decision=head.decision,
            policy_sha256=prov.policy.sha256,
            content_hash=p.content_hash,
            record=p.record,
            signature=p.signature,
            signature_state=state,
            signer=signer,
        ),
    )
    return "folded", None, ref(p.content_hash)


def _signature(store: Store, text: str, signature: str) -> tuple[str, str | None]:
    """(signature state, principal) of a record's signature against this store's
    allowed-signers file; InputError when it does not verify."""
    # load time: findings_files loads every importer; only a signed decision needs it
    from evaltui.review.findings_files import signers_file

    signers = signers_file(store, None)
    if signers is None:
        return "unchecked", None
    return "verified", signing.verify_text(text, signature, signers, signing.DECISION)
