"""Rulings on proposed classes: a proposal accepted as a new class, merged into an existing
one, or rejected, with the notes it covered (issue #29). Append-only, each logged.

The owner of `codebook_rulings`: no other module names it in SQL. A ruling keeps each
covered note's finding uid, its comparison and case (ids and names), so the cases it
suggests labels for are known without proposing again, and a note once ruled on is never
proposed again (`covered`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from evaltui.errors import StoreError
from evaltui.store import Store
from evaltui.store.events import now_iso
from evaltui.textsafe import visible

RulingKind = Literal["accept", "merge", "reject"]
_COLS = "id, at, actor, kind, proposal, proposal_key, class, taxonomy_version, notes, terms, why"
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class CoveredNote(BaseModel):
    """A note a ruling covered: its finding, and the case in its comparison."""

    model_config = _FROZEN

    note: str  # the finding's uid
    baseline_run: int
    candidate_run: int
    case_id: int
    baseline: str  # run names, as they were when ruled
    candidate: str
    suite: str
    case_key: str


class Ruling(BaseModel):
    model_config = _FROZEN

    id: int
    at: str
    actor: str
    kind: RulingKind
    proposal: str  # the proposal's id (a hash of its notes)
    proposal_key: str  # the key it was offered under
    class_key: str | None  # the class it became or joined (None: rejected)
    taxonomy_version: int | None  # the version the ruling made, or read (merge, no change)
    notes: tuple[CoveredNote, ...]
    terms: tuple[str, ...]
    why: str


def add(
    store: Store,
    *,
    kind: RulingKind,
    proposal: str,
    proposal_key: str,
    class_key: str | None,
    taxonomy_version: int | None,
    notes: Sequence[CoveredNote],
    terms: Sequence[str],
    why: str,
) -> Ruling:
    """Keep a ruling and log it (`codebook.accept`, `.merge`, `.reject`), in the caller's
    transaction."""
    at = now_iso()
    cur = store.conn.execute(
        f"INSERT INTO codebook_rulings ({_COLS.split(', ', 1)[1]}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at,
            store.actor,
            kind,
            proposal,
            proposal_key,
            class_key,
            taxonomy_version,
            json.dumps([n.model_dump() for n in notes]),
            json.dumps(list(terms)),
            why,
        ),
    )
    store.log_event(
        f"codebook.{kind}",
        "proposal",
        proposal,
        after={
            "class": class_key,
            "taxonomy_version": taxonomy_version,
            "notes": len(notes),
            "key": proposal_key,
        },
        context={"why": why, "ruling": cur.lastrowid},
    )
    row = store.conn.execute(
        f"SELECT {_COLS} FROM codebook_rulings WHERE id = ?", (cur.lastrowid,)
    ).fetchone()
    return _ruling(row)


def _ruling(r: tuple[Any, ...]) -> Ruling:
    """A stored ruling; one a hand edit made unreadable is a StoreError naming it."""
    try:
        return Ruling(
            id=r[0],
            at=r[1],
            actor=r[2],
            kind=r[3],
            proposal=r[4],
            proposal_key=r[5],
            class_key=r[6],
            taxonomy_version=r[7],
            notes=tuple(CoveredNote.model_validate(n) for n in json.loads(r[8])),
            terms=tuple(json.loads(r[9])),
            why=r[10],
        )
    except (ValueError, TypeError, RecursionError) as exc:  # ValidationError is a ValueError
        why = visible(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, limit=120)
        raise StoreError(f"codebook ruling {r[0]} in the store is unreadable: {why}") from None


def rulings(store: Store, *, class_key: str | None = None) -> list[Ruling]:
    """Every ruling, oldest first (those giving `class_key` only, when it is given)."""
    where, params = ("WHERE class = ?", (class_key,)) if class_key else ("", ())
    return [
        _ruling(r)
        for r in store.conn.execute(
            f"SELECT {_COLS} FROM codebook_rulings {where} ORDER BY id", params
        )
    ]


def covered(store: Store) -> dict[str, str | None]:
    """Each note a ruling covered: the class it was given (accepted, merged), or None
    (rejected); a later ruling on the same note wins."""
    out: dict[str, str | None] = {}
    for r in rulings(store):
        for n in r.notes:
            out[n.note] = r.class_key
    return out
