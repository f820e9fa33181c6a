"""`evaltui sync`: pull the team's events into the local store, push the outbox.

One sync, as the store's joined member (ledger.Link):

1. fold again the events that were waiting (a run imported since, a time now reached);
2. pull every event after the cursor, a page at a time; each page is checked (hash and
   chain, events.ChainCheck over the ledger), folded (fold.Folder) and recorded, and the
   cursor moved, in one local transaction;
3. push the outbox (the reviewer's local findings no ledger row names), 500 events a
   server transaction, each chained after the stream's last event held here; a batch is
   recorded in the ledger once the server committed it. A push the server refuses for
   what it holds (another machine of the same reviewer wrote on the same case: a fork)
   is met by pulling and chaining again;
4. in blind review, read the cases just labelled (their others' labels became readable);
5. pull once more (what others pushed meanwhile).

Each step commits on its own, so a lost connection or a kill loses nothing: what was
pushed but not recorded comes back in the next pull and is adopted as this store's own.
A second sync with nothing new changes nothing (only the time of the last sync).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from evaltui.gate.history import record_signatures
from evaltui.review import triage
from evaltui.store.store import Store, now_iso
from evaltui.team import TeamError, db, decisions, gold, hashes, ledger, signatures, statuses
from evaltui.team.client import Conflict, Pulled, TeamClient
from evaltui.team.events import TeamEvent
from evaltui.team.fold import (
    Folder,
    Outcome,
    event_of,
    parse_case_subject,
    parse_run_identity,
    subject_of,
)
from evaltui.team.schema import ROLE_KINDS

PAGE = 1000  # events pulled and folded per local transaction
PUSH = 500  # events per server transaction (client.BATCH)
ATTEMPTS = 5  # pushes met by a fork before the sync gives up (the outbox stays)


@dataclass
class SyncResult:
    project: str
    reviewer: str
    role: str = ""
    pushed: int = 0  # events the server did not hold
    present: int = 0  # events it held already (pushed before, not recorded here)
    pulled: int = 0  # events received and checked
    outcome: Outcome = field(default_factory=Outcome)
    refused: list[str] = field(default_factory=list)  # named, the first 20
    unshareable: list[str] = field(default_factory=list)  # local findings that cannot go
    not_shareable: int = 0  # how many (`unshareable` names the first 20)
    not_allowed: int = 0  # local findings, status changes, gold its role may not write
    not_shared: dict[str, int] = field(default_factory=dict)  # local findings by other names
    outbox: int = 0  # still to share after this sync
    cursor: int = 0
    conflicts: int = 0
    mismatch: list[str] = field(default_factory=list)  # taxonomy or policy not the team's
    decisions: dict[str, Any] = field(default_factory=dict)  # decisions.summary

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "project": self.project,
            "reviewer": self.reviewer,
            "role": self.role,
            "pushed": self.pushed,
            "already_there": self.present,
            "pulled": self.pulled,
            "folded": o.statuses["folded"],
            "waiting": o.statuses["waiting"],
            "kept": o.statuses["kept"],
            "rejected": o.statuses["rejected"],
            "refused": o.statuses["refused"],
            "findings_added": o.added,
            "cases_changed": o.changed,
            "outbox": self.outbox,
            "cursor": self.cursor,
            "not_allowed": self.not_allowed,
            "not_shareable": self.not_shareable,
            "not_shared": dict(sorted(self.not_shared.items())),
            "conflicts": self.conflicts,
            "mismatch": self.mismatch,
            "not_in_taxonomy": dict(sorted(o.not_in_taxonomy.items())),
            "problems": [*self.refused, *o.rejected, *self.unshareable][:20],
            "waiting_for": o.waiting[:20],
            "decisions": self.decisions,
        }


class Syncer:
    """One sync of one store over one connection (autocommit)."""

    def __init__(self, store: Store, conn: Any, link: ledger.Link) -> None:
        self.store = store
        self.link = link
        self.check = ledger.LedgerCheck(store)
        self.client = TeamClient(conn, link.project, link.schema, check=self.check)
        self.result = SyncResult(link.project, link.reviewer)
        self.role = link.role
        self.info: dict[str, Any] = {}
        self.sign_key = signatures.sign_key(store)
        self.own_key: str | None = None

    def run(self) -> SyncResult:
        reviewer, self.role = self.client.whoami()
        self.info = self.client.project_info()
        self.result.mismatch = hashes.mismatches(self.store, self.info)
        members = self.client.members()
        self.own_key = next((m["signing_key"] for m in members if m["reviewer"] == reviewer), None)
        check = signatures.for_store(self.store, members, self.info["signed"])
        self.check.signatures = check
        try:
            return self._run(reviewer)
        finally:
            check.close()

    def _run(self, reviewer: str) -> SyncResult:
        self.result.role = self.role
        if reviewer != self.link.reviewer:
            raise TeamError(
                f"this login is the reviewer {reviewer!r} in project {self.link.project!r}, "
                f"and this store joined as {self.link.reviewer!r}: join again as that login"
            )
        self.retry_waiting()
        self.pull()
        pushed_subjects: set[str] = set()
        for attempt in range(ATTEMPTS):
            try:
                pushed_subjects |= self.push()
                break
            except Conflict:
                self.result.conflicts += 1
                if attempt == ATTEMPTS - 1:
                    raise
                self.pull()
        if pushed_subjects and self.info["blind"]:
            self.reveal(sorted(pushed_subjects))
        self.pull()
        self.result.outbox, self.result.not_shared = ledger.outbox_size(self.store, reviewer)
        # what is left of the other kinds' outboxes is what this sync could not push
        self.result.outbox += len(statuses.outbox(self.store, reviewer))
        self.result.outbox += len(gold.outbox(self.store, reviewer))
        self.result.decisions = decisions.summary(self.store, reviewer, self.role)
        self.result.outbox += sum(self.result.decisions[k] for k in ("outbox", "not_allowed"))
        self.result.outbox -= self.result.not_allowed + self.result.not_shareable
        return self.result

    # -- in ---------------------------------------------------------------------------------

    @contextmanager
    def folding(self) -> Iterator[Folder]:
        """One local transaction: fold, then recompute the cases touched."""
        try:
            with self.store.transaction():
                triage.refold(self.store, in_transaction=True)
                folder = Folder(self.store, self.link, self.result.outcome)
                yield folder
                folder.finish()
        finally:
            self.check.flush()  # written (or rolled back): the ledger answers again

    def take(self, pulled: Pulled, cursor: int | None = None) -> None:
        """Fold a page of checked events and record the refused ones; move the cursor."""
        with self.folding() as folder:
            before = self.result.outcome.statuses.copy()
            for event in pulled.events:
                folder.place(event)
            for refusal in pulled.refused:
                ledger.record(self.store, refusal.event, "refused", refusal.reason)
                self.result.outcome.statuses["refused"] += 1
                if len(self.result.refused) < 20:
                    self.result.refused.append(str(refusal))
            if cursor is not None:
                ledger.put_setting(self.store, ledger.CURSOR_SETTING, cursor)
            if pulled.events or pulled.refused:
                page = self.result.outcome.statuses - before
                self.store.log_event(
                    "team.pull",
                    "team",
                    self.link.project,
                    after={s: page[s] for s in ledger.STATUSES if page[s]},
                    context={"cursor": cursor, "events": len(pulled.events) + len(pulled.refused)},
                )
        self.result.pulled += len(pulled.events) + len(pulled.refused)

    def pull(self) -> None:
        cursor = ledger.cursor(self.store)
        while True:
            page = self.client.pull(cursor, limit=PAGE)
            if page.cursor == cursor:
                break
            self.take(page, page.cursor)
            cursor = page.cursor
        self.result.cursor = cursor

    def retry_waiting(self) -> None:
        waiting = ledger.waiting(self.store, self.link.project)
        if waiting:
            with self.folding() as folder:
                for event in waiting:
                    folder.place(event)

    def reveal(self, subjects: list[str]) -> None:
        """Blind review: the cases this sync labelled, read again."""
        for start in range(0, len(subjects), PAGE):
            self.take(self.client.pull_subjects(subjects[start : start + PAGE]))

    # -- out --------------------------------------------------------------------------------

    def push(self) -> set[str]:
        """Push the outbox; the subjects pushed. Conflict: pull and call again."""
        self.result.not_allowed = 0
        self.result.unshareable.clear()
        self.result.not_shareable = 0
        out = _Outbound(self)
        project = self.link.project
        after = 0
        while page := ledger.outbox(self.store, self.link.reviewer, after, PUSH):
            after = page[-1].finding.id
            for item in page:
                f = item.finding
                make = partial(event_of, item, project)
                out.add(f.kind, subject_of(item), make, f.uid, f"finding {f.uid[:16]} ({f.kind})")
        for ev, subject in statuses.outbox(self.store, self.link.reviewer):
            make = partial(statuses.event_of, ev, subject, project)
            out.add(statuses.KIND, subject, make, statuses.ref(ev.hash or ""))
        for answer, subject in gold.outbox(self.store, self.link.reviewer):
            make = partial(gold.event_of, answer, subject, project)
            out.add(gold.KIND, subject, make, gold.ref(answer.uid), f"gold item {answer.uid[:16]}")
        for rec, pair, problem in decisions.outbox(self.store, self.link.reviewer):
            signed = out.record_signatures()
            make = partial(decisions.event_of, rec, pair, problem, self.link, signed)
            name = f"decision {rec.id} ({rec.content_hash[:12]})"
            out.add(decisions.KIND, pair, make, decisions.ref(rec.content_hash), name)
        out.send()
        subjects = out.case_subjects
        runs = {r for s in subjects for r in (parse_case_subject(s) or [])[:2]}
        for identity in sorted(runs):
            parsed = parse_run_identity(identity)
            if parsed is not None:
                self.client.record_run(parsed[0], parsed[1] or None)
        return subjects

    def _send(self, batch: list[tuple[TeamEvent, str]]) -> None:
        """Push one batch (signed when this store has a key); once the server committed it,
        record it in the ledger."""
        events = [e for e, _ in batch]
        if self.sign_key is not None:
            events = signatures.sign(events, self.sign_key)
            batch = [(e, uid) for e, (_, uid) in zip(events, batch, strict=True)]
        elif self.own_key is not None or self.info["signed"]:
            why = "has a registered signing key" if self.own_key else "requires signatures"
            raise TeamError(
                f"project {self.link.project!r} {why}, and this store has no key to sign "
                f"{self.link.reviewer!r}'s events with: `evaltui team join URL --project "
                f"{self.link.project} --sign-key PRIVATE_KEY`; nothing was pushed"
            )
        try:
            out = self.client.push(events)
        finally:
            self.check.flush()
        with self.store.transaction():
            for event, uid in batch:
                ledger.record(self.store, event, "folded", None, uid)
        self.result.pushed += len(out.inserted)
        self.result.present += len(out.present)


class _Outbound:
    """One push's events, chained and sent in batches of PUSH: an outbox item of a kind
    this role may not write is counted (`not_allowed`), one that cannot be an event (its
    maker raised ValueError) is named (`unshareable`), never sent."""

    def __init__(self, syncer: Syncer) -> None:
        self.syncer = syncer
        self.allowed = ROLE_KINDS.get(syncer.role, ())
        self.heads: dict[str, str | None] = {}  # each subject's newest event, this push
        self.batch: list[tuple[TeamEvent, str]] = []
        self.case_subjects: set[str] = set()  # the cases pushed (blind review reveals them)
        self._signatures: dict[int, str] | None = None

    def add(
        self,
        kind: str,
        subject: str | None,
        make: Callable[[str | None], TeamEvent],
        ref: str,
        name: str = "",
    ) -> None:
        """The event `make(prev)` builds for an item on `subject` (None: it has none, and
        `make` says why), with the ledger's `ref` for it."""
        syncer, result = self.syncer, self.syncer.result
        if kind not in self.allowed:
            result.not_allowed += 1
            return
        link = syncer.link
        if subject is not None and subject not in self.heads:
            self.heads[subject] = ledger.head(syncer.store, link.project, link.reviewer, subject)
        try:
            event = make(None if subject is None else self.heads[subject])
        except ValueError as exc:
            result.not_shareable += 1
            if len(result.unshareable) < 20:
                result.unshareable.append(f"{name}: {exc}")
            return
        self.heads[event.subject] = event.hash
        self.batch.append((event, ref))
        if event.subject.startswith("case:"):
            self.case_subjects.add(event.subject)
        if len(self.batch) >= PUSH:
            self.send()

    def send(self) -> None:
        if self.batch:
            self.syncer._send(self.batch)
            self.batch = []

    def record_signatures(self) -> dict[int, str]:
        """This store's signatures of its kept decision records, read once a push."""
        if self._signatures is None:
            self._signatures = record_signatures(self.syncer.store)
        return self._signatures


def sync(store: Store, conn: Any | None = None) -> SyncResult:
    """Sync the store with its team (`team join` first); over `conn` when given (autocommit),
    else a connection of its own to the joined URL."""

    found = ledger.link(store)
    if found is None:
        raise TeamError(
            "this store has not joined a team store: `evaltui team join URL --project P`"
        )
    started = now_iso()
    try:
        with db.translated():
            if conn is not None:
                result = Syncer(store, conn, found).run()
            else:
                with db.connect(found.url, autocommit=True) as own:
                    result = Syncer(store, own, found).run()
    except TeamError as exc:
        _note(store, {"attempt_at": started, "error": exc.message})
        raise
    _note(
        store,
        {
            "attempt_at": started,
            "ok_at": now_iso(),
            "error": None,
            "pushed": result.pushed,
            "pulled": result.pulled,
            "mismatch": result.mismatch,
        },
    )
    return result


def _note(store: Store, values: dict[str, Any]) -> None:
    """The last sync, for `team status` and the app (not in the event log)."""
    last = last_sync(store)
    store.set_setting(ledger.LAST_SYNC_SETTING, {**last, **values}, log=False)


def last_sync(store: Store) -> dict[str, Any]:
    value = store.get_setting(ledger.LAST_SYNC_SETTING, {}, limit=100_000)
    return value if isinstance(value, dict) else {}
