"""Reviewers' notes from the store, as the codebook reads them (issue #29).

A note is the note of an identity's current verified opinion on a case (its latest
label or undo: what `findings list` shows as theirs). It is *open* (to be coded) when
it names no class: the reviewer gave none, the case's state names none, and no ruling
gave it one. A coded note tells which class a proposal is near; a note a rejected
proposal covered is set aside (never proposed again). Unverified findings (from a file
whose signature did not verify) are not read: they never decide anything here either.

Read through `triage.in_file_order` (review/triage/ alone names the findings tables), one
case at a time: memory holds the open notes and, per class, the latest coded ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from itertools import groupby

from pydantic import BaseModel, ConfigDict

from evaltui.errors import InputError
from evaltui.review import triage
from evaltui.review.codebook import MAX_NOTES_ENV, Note
from evaltui.review.codebook.propose import max_notes
from evaltui.review.triage_state import NamedFinding, current_by_reviewer, effective
from evaltui.store import Store

CODED_PER_CLASS = 200  # coded notes kept per class (the latest): enough for its profile


class NoteSource(BaseModel):
    """Where an open note is: its finding, comparison and case, and who wrote it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    note: str  # the finding's uid (the Note's id)
    baseline_run: int
    candidate_run: int
    case_id: int
    baseline: str
    candidate: str
    suite: str
    case_key: str
    reviewer: str


class StoreNotes(BaseModel):
    """The notes a proposal reads: open ones with their sources, coded ones, set aside."""

    model_config = ConfigDict(frozen=True)

    notes: tuple[Note, ...]  # open notes (no class) and coded notes (their class)
    sources: dict[str, NoteSource]  # of each open note, by its id
    set_aside: int  # open notes a rejected proposal covered


def when(at: str) -> datetime:
    """A finding's time (stored as UTC ISO 8601) as an aware datetime."""
    t = datetime.fromisoformat(at)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _cases(store: Store, base: int | None, cand: int | None) -> Iterator[list[NamedFinding]]:
    """The findings case by case (a case's findings are adjacent in file order)."""
    for _, group in groupby(
        triage.in_file_order(store, base=base, cand=cand),
        key=lambda n: (n.baseline.sha256, n.candidate.sha256, n.suite, n.case_key),
    ):
        by_ids: dict[tuple[int, int, int], list[NamedFinding]] = {}
        for n in group:  # runs sharing a sha256 (two parts of one file) are kept apart
            f = n.finding
            by_ids.setdefault((f.baseline_run, f.candidate_run, f.case_id), []).append(n)
        yield from by_ids.values()


def read(
    store: Store,
    *,
    base: int | None = None,
    cand: int | None = None,
    ruled: Mapping[str, str | None] | None = None,
) -> StoreNotes:
    """The notes of every comparison (or of BASE vs CAND), coded as above; `ruled` is
    `rulings.covered`. More open notes than proposals read is refused, naming the count."""
    ruled = ruled or {}
    listed, limit = triage.adjudicators(store), max_notes()
    open_notes: list[Note] = []
    sources: dict[str, NoteSource] = {}
    coded: dict[str, list[tuple[str, str, Note]]] = {}
    set_aside = 0
    for case in _cases(store, base, cand):
        rows = [n.finding for n in case]
        state = effective(rows, listed)
        lead = state.class_key if state is not None else None
        first = case[0]
        for f in current_by_reviewer([r for r in rows if r.verified]).values():
            text = (f.note or "").strip()
            if not text:
                continue
            cls = f.class_key or lead or ruled.get(f.uid)
            if cls is None and f.uid in ruled:
                set_aside += 1
                continue
            note = Note(
                id=f.uid,
                text=f.note or "",
                case_key=f"{first.suite}/{first.case_key}",
                at=when(f.at),
                class_key=cls,
            )
            if cls is not None:
                kept = coded.setdefault(cls, [])
                heapq.heappush(kept, (f.at, f.uid, note))
                if len(kept) > CODED_PER_CLASS:
                    heapq.heappop(kept)  # the earliest goes
                continue
            if len(open_notes) >= limit:
                raise InputError(
                    "notes",
                    f"more than {limit:,} unclassified notes; proposals "
                    f"read at most {limit:,} ({MAX_NOTES_ENV})",
                )
            open_notes.append(note)
            sources[f.uid] = NoteSource(
                note=f.uid,
                baseline_run=f.baseline_run,
                candidate_run=f.candidate_run,
                case_id=f.case_id,
                baseline=first.baseline.name,
                candidate=first.candidate.name,
                suite=first.suite,
                case_key=first.case_key,
                reviewer=f.reviewer,
            )
    kept_coded = [n for key in sorted(coded) for _, _, n in sorted(coded[key])]
    return StoreNotes(notes=(*open_notes, *kept_coded), sources=sources, set_aside=set_aside)
