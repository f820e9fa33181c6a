"""Hidden gold answers shared as team events (kind `gold`), and folded back into gold items.

A local gold item is an answer on one result and one criterion (review/calibration/gold.py),
so its subject names both: `gold:[run identity, suite, case key, epoch, criterion]`, the
run as the team names it (its file's sha256, `#part` for one of a file's runs), the
criterion by its stored name ("" is the result's own verdict). Only adjudicators may write
one and only adjudicators may read one (schema.ROLE_KINDS and the events_select policy):
a reviewer's store never receives a gold answer, and a non-adjudicator's gold items stay
in its store (counted in `not_allowed`).

The outbox is every gold item (an answer or a withdrawal) set in this store (`source`
local: `gold add`, `gold withdraw`, `gold import`) under the joined reviewer's name that no
ledger row names: the ledger names it `gold:UID`. Its payload is the uid, the answer
(`pass`, `fail`, or null: withdrawn) and the note; its client time the item's own time.

Folding a pulled one writes the same item (same uid, same time, `set_by` its author,
source `team:PROJECT`). On each (result, criterion) the latest item by (time, uid) is in
force, so every store holding the same events has the same answers in force, whatever
order it folded them in. It is `rejected`, named, when its subject or payload is not a
gold answer, its time is not as evaltui writes it, its author is a name this store's own
findings or gold items use (a team member called `tester` is not this store's `tester`),
or its uid is another item's here. It `waits`, named and tried again at every sync, while
this store lacks the run, the case or the result (epoch), while the run scores no such
criterion here (calibration scores a gold answer only against judgments on a criterion
the run scores, and a judgment is refused on any other: an answer this store cannot score
is not taken), or while its time is ahead of this clock. The reasons never say which case
or what answer (docs/security.md: gold stays hidden from the CLI's output).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError
from evaltui.review.calibration import gold
from evaltui.review.calibration.gold import GoldItem
from evaltui.review.triage_state import check_name
from evaltui.store import runs
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT, ResultRef
from evaltui.store.store import Store
from evaltui.team import ledger
from evaltui.team.events import (
    TeamEvent,
    first_problem,
    gold_subject,
    parse_gold_subject,
    parse_run_identity,
    run_identity,
)

KIND = "gold"
Status = tuple[str, str | None, str | None]  # ledger status, reason, ledger ref


class GoldPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uid: str = Field(min_length=8, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
    answer: Literal["pass", "fail"] | None
    note: str | None


class Folding(Protocol):
    """What folding a gold event reads of the fold (fold.Folder)."""

    store: Store
    link: ledger.Link
    others: set[str]  # the names this store's own findings use, but the joined reviewer's
    now: datetime
    skew: int


def ref(uid: str) -> str:
    """How the ledger names a gold item (its `finding_uid` column)."""
    return f"gold:{uid}"


def outbox(store: Store, reviewer: str) -> list[tuple[GoldItem, str]]:
    """This reviewer's gold items set here and not shared yet, oldest first, each with its
    subject."""
    items = [
        g
        for g in gold.local_items(store.conn, reviewer)
        if not ledger.finding_events(store, ref(g.uid))
    ]
    sources = runs.run_digests(store, {g.ref.run_id for g in items})
    cases = grader.case_keys(store.conn, {g.ref.case_id for g in items})
    return [
        (
            g,
            gold_subject(
                run_identity(*sources[g.ref.run_id]),
                *cases[g.ref.case_id],
                g.ref.epoch,
                g.criterion,
            ),
        )
        for g in items
    ]


def event_of(item: GoldItem, subj: str, project: str, prev: str | None) -> TeamEvent:
    """The event sharing a gold item (ValueError: it cannot go into a team store)."""
    if parse_gold_subject(subj) is None:
        raise ValueError("its run has no file digest (sha256) to name it by")
    payload = {"uid": item.uid, "answer": item.answer, "note": item.note}
    return TeamEvent.make(project, item.set_by, KIND, subj, payload, prev=prev, client_at=item.at)


def fold(folding: Folding, event: TeamEvent) -> Status:
    """(ledger status, reason, ledger ref) for one verified gold event."""
    store, author = folding.store, event.author
    parts = parse_gold_subject(event.subject)
    if parts is None:
        return (
            "rejected",
            "its subject is not a gold answer's (gold:[run identity, suite, case key, epoch, "
            "criterion])",
            None,
        )
    try:
        p = GoldPayload.model_validate(event.payload)
    except ValidationError as exc:
        return "rejected", f"its payload is not a gold answer: {first_problem(exc)}", None
    try:
        check_name(author, "author")
    except InputError as exc:
        return "rejected", exc.detail, None
    if author in (folding.others | gold.local_setters(store.conn)) - {folding.link.reviewer}:
        return (
            "rejected",
            f"written as {author!r}, a name this store's own findings or gold answers use "
            f"(this store is {folding.link.reviewer!r} in the team): it would speak for them "
            "here",
            None,
        )
    timing = _time(folding, event.client_at)
    if timing is not None:
        return timing
    found = _result(store, parts.run, parts.suite, parts.case_key, parts.epoch)
    if isinstance(found, str):
        return "waiting", found, None
    if parts.criterion != VERDICT and parts.criterion not in grader.criteria(
        store.conn, found.run_id
    ):
        return (
            "waiting",
            "its run scores no such criterion in this store (imported with other options, or "
            "by another evaltui): a gold answer is scored only on a criterion the run scores",
            None,
        )
    item = GoldItem(
        p.uid,
        found,
        parts.criterion,
        p.answer,
        p.note,
        author,
        event.client_at,
        f"team:{folding.link.project}",
    )
    existing = gold.by_uid(store.conn, p.uid)
    if existing is not None:
        return _same(store, event, existing, item)
    gold.add_shared(store, item)
    return "folded", None, ref(p.uid)


def _same(store: Store, event: TeamEvent, existing: GoldItem, item: GoldItem) -> Status:
    """An event whose gold item this store holds already: its own echo (adopted), a copy,
    or another item reusing the uid."""
    fields = ("ref", "criterion", "answer", "note", "set_by", "at")
    if any(getattr(existing, f) != getattr(item, f) for f in fields):
        return (
            "rejected",
            f"its gold uid {existing.uid[:16]} is already another gold item here, with other "
            "content",
            None,
        )
    others = [
        h
        for h, s in ledger.finding_events(store, ref(existing.uid))
        if s == "folded" and h != event.hash
    ]
    if others:
        return "kept", f"a second copy of the gold item of event {others[0][:16]}", None
    return "folded", None, ref(existing.uid)


def _result(store: Store, run: str, suite: str, case_key: str, epoch: int) -> ResultRef | str:
    """The local result a subject names, or why this store cannot say yet."""
    sha, part = parse_run_identity(run) or ("", "")
    found = runs.run_by_sha256(store, sha, part)
    if found is None:
        return f"its run (sha256 {sha[:12]}) is not in this store: import the same file"
    case_id = runs.case_by_key(store, suite, case_key)
    if case_id is None:
        return "its case is not in this store yet"
    try:
        return grader.resolve_result(store.conn, found.id, case_id, epoch)
    except InputError:
        return "its run has no result on that case and epoch in this store"


def _time(folding: Folding, client_at: str) -> Status | None:
    """None when the time is one to order gold answers by; else why not (a time ahead of
    this clock waits, as a finding's does)."""
    try:
        t = datetime.fromisoformat(client_at)
        utc = t.astimezone(UTC).isoformat(timespec="microseconds") if t.tzinfo else None
    except (ValueError, OverflowError):
        utc = None
    if utc != client_at:
        return (
            "rejected",
            f"its time {client_at[:40]!r} is not UTC ISO 8601 to the microsecond, as evaltui "
            "writes it (gold answers are ordered by it)",
            None,
        )
    if (t - folding.now).total_seconds() > folding.skew:
        return (
            "waiting",
            f"it is dated {client_at[:40]}, ahead of this clock by more than the "
            f"{folding.skew} seconds allowed (EVALTUI_MAX_CLOCK_SKEW)",
            None,
        )
    return None
