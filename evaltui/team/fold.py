"""Findings as team events, and team events folded back into findings.

A local finding (a label, an undo, an adjudication) becomes one event: its author is the
reviewer, its subject the case (`case:[baseline, candidate, suite, case key]`, each run
by its file's sha256, with `#part` when the file holds several runs), its client time the
finding's own time (`at`, which orders findings in every store), its payload the
finding's fields and uid. Folding a pulled event inserts the same finding (same uid, same
time, source `team:PROJECT`) and recomputes the case with the existing convergent fold
(triage_state.effective), so every store holding the same events shows the same state.

A pulled event is taken only for its own author: it is refused (`rejected`) when it is
written under a name this store's own findings use (it would speak as them here), when it
retracts another reviewer's finding, when it reuses a finding's uid with other content,
or when its payload is not a finding. It `waits` when this store lacks its runs or case,
its class, the finding it undoes, or when its time is still ahead of this clock.

The database already held the author to its login (row-level security) and the chain
check to its hash: a folded finding speaks for its author (its `signer` is the author,
as a verified findings file's is its signer).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError
from evaltui.files import env_limit
from evaltui.models import FindingVerdict
from evaltui.review import taxonomy, triage
from evaltui.review.triage_state import Draft, Opinion, step_from_json
from evaltui.store import runs
from evaltui.store.store import Store
from evaltui.team import decisions, gold, ledger, statuses
from evaltui.team.events import (
    TeamEvent,
    case_subject,
    first_problem,
    parse_run_identity,
    run_identity,
    string_parts,
)
from evaltui.team.ledger import Link, Outgoing

MAX_CLOCK_SKEW_S = 600  # as a findings file's (EVALTUI_MAX_CLOCK_SKEW)
FOLDED_KINDS = ("label", "undo", "adjudication")


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: Literal["baseline", "candidate", "fallback"]
    index: int = Field(ge=0, le=1_000_000)
    tool: str | None = Field(default=None, max_length=200)
    call_id: str | None = Field(default=None, max_length=200)
    turn: int | None = Field(default=None, ge=0, le=1_000_000)


class Payload(BaseModel):
    """A finding's fields as a team event carries them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    uid: str = Field(min_length=8, max_length=64)
    class_: str | None = Field(alias="class", max_length=200)
    class_name: str | None = Field(max_length=500)
    owner: str | None = Field(max_length=500)
    verdict: FindingVerdict | None
    note: str | None
    undoes: str | None = Field(max_length=64)
    step: _Step | None


def payload_of(f: triage.Finding) -> dict[str, Any]:
    return {
        "uid": f.uid,
        "class": f.class_key,
        "class_name": f.class_name,
        "owner": f.owner,
        "verdict": f.verdict,
        "note": f.note,
        "undoes": f.undoes,
        "step": f.step.model_dump() if f.step else None,
    }


def subject_of(item: Outgoing) -> str:
    return case_subject(
        run_identity(*item.baseline), run_identity(*item.candidate), item.suite, item.case_key
    )


def event_of(item: Outgoing, project: str, prev: str | None) -> TeamEvent:
    """The event sharing a local finding (ValueError: it cannot go into a team store)."""
    f = item.finding
    if not item.baseline[0] or not item.candidate[0]:
        raise ValueError("one of its runs has no file digest (sha256) to name it by")
    return TeamEvent.make(
        project, f.reviewer, f.kind, subject_of(item), payload_of(f), prev=prev, client_at=f.at
    )


def parse_case_subject(subject: str) -> list[str] | None:
    """[baseline, candidate, suite, case key] of a case subject in its canonical form."""
    return string_parts(subject, "case", 4)


@dataclass
class Outcome:
    """What a fold did: ledger statuses, the findings added, the cases whose state changed."""

    statuses: Counter[str] = field(default_factory=Counter)
    added: int = 0
    changed: int = 0
    rejected: list[str] = field(default_factory=list)  # named, the first 20
    waiting: list[str] = field(default_factory=list)  # named, the first 20
    latest: str | None = None  # the last other member's finding folded: who, what, when
    not_in_taxonomy: Counter[str] = field(default_factory=Counter)  # class -> events held


class _Wait(Exception):
    pass


class _Reject(Exception):
    pass


class Folder:
    """Folds pulled events into one store, inside the caller's transaction: `place` each
    event in server order, then `finish` (recomputes the cases touched)."""

    def __init__(self, store: Store, link: Link, outcome: Outcome | None = None) -> None:
        self.store = store
        self.link = link
        self.others = ledger.local_names(store) - {link.reviewer}
        self.taxonomy = taxonomy.load(store)
        self.now = datetime.now(UTC)
        self.skew = env_limit("EVALTUI_MAX_CLOCK_SKEW", MAX_CLOCK_SKEW_S)
        self.runs: dict[str, int | None] = {}
        self.touched: set[tuple[int, int, int]] = set()
        self.outcome = outcome or Outcome()

    def place(self, event: TeamEvent) -> str:
        """Fold one verified event (or say why not) and write its ledger row; its status."""
        uid: str | None = None
        reason: str | None
        try:
            if event.kind == statuses.KIND:
                status, reason, uid = statuses.fold(self.store, event, self.link.project)
            elif event.kind == gold.KIND:
                status, reason, uid = gold.fold(self, event)
            elif event.kind == decisions.KIND:
                status, reason, uid = decisions.fold(self.store, event, self.link, self.others)
            elif event.kind not in FOLDED_KINDS:
                status, reason = "kept", f"a {event.kind} event: held, not folded into findings"
            else:
                status, reason, uid = self._fold(event)
        except _Wait as wait:
            status, reason = "waiting", str(wait)
        except _Reject as reject:
            status, reason = "rejected", str(reject)
        ledger.record(self.store, event, status, reason, uid)
        self.outcome.statuses[status] += 1
        named = {"rejected": self.outcome.rejected, "waiting": self.outcome.waiting}.get(status)
        if named is not None and len(named) < 20:
            named.append(f"{event.named()}: {reason}")
        return status

    def finish(self) -> int:
        """Recompute every case a folded finding touched; how many changed state."""
        changed = triage.refold_cases(self.store, sorted(self.touched))
        self.touched.clear()
        self.outcome.changed += changed
        return changed

    # -- deciding ---------------------------------------------------------------------------

    def _fold(self, event: TeamEvent) -> tuple[str, str | None, str | None]:
        author = event.author
        try:
            triage.check_name(author, "author")
        except InputError as exc:
            raise _Reject(exc.detail) from None
        if author in self.others:
            raise _Reject(
                f"written as {author!r}, a name this store's own findings use (this store is "
                f"{self.link.reviewer!r} in the team): it would speak for them here"
            )
        parts = parse_case_subject(event.subject)
        if parts is None:
            raise _Reject("its subject is not a case of a comparison")
        try:
            p = Payload.model_validate(event.payload)
        except ValidationError as exc:
            raise _Reject(f"its payload is not a finding: {first_problem(exc)}") from None
        if (event.kind == "undo") != (p.undoes is not None):
            raise _Reject("an undo names the finding it undoes, and only an undo does")
        at = self._time(event.client_at)
        base, cand = self._run(parts[0], "baseline"), self._run(parts[1], "candidate")
        found = runs.case_by_key(self.store, parts[2], parts[3])
        if found is None:
            raise _Wait(f"the case {parts[2]}/{parts[3]} is not in this store")
        case_id = found
        if p.class_ is not None and p.class_ not in self.taxonomy.by_key:
            self.outcome.not_in_taxonomy[p.class_[:80]] += 1
            version = f" (version {self.taxonomy.version})" if self.taxonomy.version else ""
            raise _Wait(
                f"the class {p.class_!r} is not in this store's taxonomy{version}: not folded "
                "until this store imports a taxonomy that has it (the team's)"
            )
        step = step_from_json(json.dumps(event.payload["step"])) if p.step else None
        finding = {
            "uid": p.uid,
            "baseline_run": base,
            "candidate_run": cand,
            "case_id": case_id,
            "kind": event.kind,
            "class": p.class_,
            "class_name": p.class_name,
            "owner": p.owner,
            "verdict": p.verdict,
            "note": p.note,
            "step": step,
            "reviewer": author,
            "at": at,
            "undoes": p.undoes,
            "source": f"team:{self.link.project}",
            "signer": author,
        }
        existing = self._finding(p.uid)
        if existing is not None:
            return self._same(event, existing, finding)
        if p.undoes is not None:
            target = self._finding(p.undoes)
            if target is None:
                raise _Wait(f"it undoes the finding {p.undoes[:16]}, not in this store yet")
            if target.identity != author:
                raise _Reject(
                    f"it retracts {target.identity}'s finding {p.undoes[:16]}: a reviewer "
                    "retracts only their own"
                )
            if (target.baseline_run, target.candidate_run, target.case_id) != (
                base,
                cand,
                case_id,
            ):
                raise _Reject(f"it undoes the finding {p.undoes[:16]}, on another case")
        triage.append(
            self.store,
            Draft(
                uid=p.uid,
                baseline_run=base,
                candidate_run=cand,
                case_id=case_id,
                kind=event.kind,  # type: ignore[arg-type]  # checked: label, undo, adjudication
                reviewer=author,
                at=at,
                undoes=p.undoes,
                source=f"team:{self.link.project}",
                signer=author,
                opinion=Opinion(
                    class_key=p.class_,
                    class_name=p.class_name,
                    owner=p.owner,
                    verdict=p.verdict,
                    note=p.note,
                    step=step,
                ),
            ),
        )
        self.touched.add((base, cand, case_id))
        self.outcome.added += 1
        if author != self.link.reviewer:
            what = {"label": "labelled", "undo": "undid", "adjudication": "adjudicated"}
            when = datetime.fromisoformat(at).astimezone(UTC).strftime("%H:%M:%S UTC")
            self.outcome.latest = f"{author} {what[event.kind]} {parts[3]} at {when}"
        return "folded", None, p.uid

    def _same(
        self, event: TeamEvent, existing: triage.Finding, finding: dict[str, Any]
    ) -> tuple[str, str | None, str | None]:
        """An event whose finding this store holds already: its own echo (adopted), a
        copy, or a forgery reusing the uid."""
        mine = (
            existing.kind,
            existing.reviewer,
            existing.at,
            existing.class_key,
            existing.class_name,
            existing.owner,
            existing.verdict,
            existing.note,
            existing.undoes,
            existing.step,
            existing.baseline_run,
            existing.candidate_run,
            existing.case_id,
        )
        theirs = tuple(
            finding[k]
            for k in (
                "kind",
                "reviewer",
                "at",
                "class",
                "class_name",
                "owner",
                "verdict",
                "note",
                "undoes",
                "step",
                "baseline_run",
                "candidate_run",
                "case_id",
            )
        )
        if mine != theirs:
            raise _Reject(
                f"its finding uid {existing.uid[:16]} is already {existing.identity}'s finding "
                "here, with other content"
            )
        if not existing.verified:
            return "kept", "the same finding came from a findings file first (unverified)", None
        others = [
            h
            for h, s in ledger.finding_events(self.store, existing.uid)
            if s == "folded" and h != event.hash
        ]
        if others:
            return "kept", f"a second copy of the finding of event {others[0][:16]}", None
        return "folded", None, existing.uid

    def _finding(self, uid: str) -> triage.Finding | None:
        return triage.by_uid(self.store, uid)

    def _time(self, client_at: str) -> str:
        try:
            t = datetime.fromisoformat(client_at)
        except ValueError:
            raise _Reject(f"its time {client_at[:40]!r} is not ISO 8601") from None
        if t.tzinfo is None:
            raise _Reject(f"its time {client_at[:40]!r} has no time zone")
        try:
            ahead = (t - self.now).total_seconds()
        except OverflowError:
            raise _Reject(
                f"its time {client_at[:40]!r} is outside the dates evaltui orders"
            ) from None
        if ahead > self.skew:
            raise _Wait(
                f"it is dated {client_at[:40]}, ahead of this clock by more than the "
                f"{self.skew} seconds allowed (EVALTUI_MAX_CLOCK_SKEW)"
            )
        return client_at

    def _run(self, identity: str, role: str) -> int:
        if identity not in self.runs:
            parsed = parse_run_identity(identity)
            if parsed is None:
                raise _Reject(f"its {role} run {identity[:40]!r} is not a file digest")
            ref = runs.run_by_sha256(self.store, parsed[0], parsed[1])
            self.runs[identity] = None if ref is None else ref.id
        found = self.runs[identity]
        if found is None:
            raise _Wait(
                f"its {role} run (sha256 {identity[:12]}) is not in this store: import the "
                "same file"
            )
        return found
