"""Proposed classes from the store's notes (issue #29): the codebook's proposals over the
open notes of every comparison (or of one), each with an id that names its notes, the
taxonomy version it was made against, and, for one comparison, whether it is new in the
candidate (its notes fall only on cases the baseline does not fail).

Seeded and deterministic: the same notes, taxonomy and settings give the same proposals,
ids, order and members. `--json` (`as_json`) is this module's; docs/cli.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from evaltui.errors import InputError
from evaltui.review import taxonomy as taxonomies
from evaltui.review.codebook import (
    DEFAULT_MIN_SIZE,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    Proposal,
    Proposals,
    propose,
)
from evaltui.store import Store, runs
from evaltui.textsafe import visible

from . import notes as store_notes
from . import rulings
from .notes import NoteSource

# The comparison's outcome of each case asked for: (baseline passes, candidate passes), 1, 0
# or None. The comparison is a layer above this one: the caller passes its reader
# (evaltui/service/codebook.py).
Outcomes = Callable[[list[int]], dict[int, tuple[int | None, int | None]]]


class Offered(BaseModel):
    """A proposal as the store offers it for ratification."""

    model_config = ConfigDict(frozen=True)

    id: str  # "p" + 10 hex of the sha256 of its note ids: names exactly these notes
    proposal: Proposal
    candidate_only: bool | None  # new in the candidate (None: no comparison was given)


class Proposed(BaseModel):
    """Everything `propose` offers, with what it was made from."""

    model_config = ConfigDict(frozen=True)

    offered: tuple[Offered, ...]
    result: Proposals
    sources: dict[str, NoteSource]  # each open note's finding and case, by note id
    set_aside: int  # notes a rejected proposal covered (never proposed again)
    taxonomy_version: int
    taxonomy_sha256: str
    taxonomy_source: str
    baseline: str | None  # the comparison the notes came from (None: every comparison)
    candidate: str | None

    def find(self, ref: str, field: str = "PROPOSAL") -> Offered:
        """A proposal by its id or its suggested key; refused in one line when it is not
        among these (its notes changed, or it was asked for with other settings)."""
        for o in self.offered:
            if ref in (o.id, o.proposal.key):
                return o
        known = ", ".join(f"{o.id} ({o.proposal.key})" for o in self.offered[:8]) or "none"
        raise InputError(
            field,
            f"no proposal {visible(ref, limit=80)!r} among the current ones ({known}); "
            "`evaltui codebook propose` lists them, with the same runs and settings",
        )

    def as_json(self) -> dict[str, Any]:
        """`codebook propose --json` (docs/cli.md)."""
        body = self.result.model_dump(mode="json")
        body["proposals"] = [
            {"id": o.id, **o.proposal.model_dump(mode="json"), "candidate_only": o.candidate_only}
            for o in self.offered
        ]
        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "taxonomy": {
                "version": self.taxonomy_version,
                "sha256": self.taxonomy_sha256,
                "source": self.taxonomy_source,
            },
            "set_aside": self.set_aside,
            **body,
        }


def proposal_id(p: Proposal) -> str:
    return "p" + hashlib.sha256("\n".join(p.note_ids).encode()).hexdigest()[:10]


def propose_in_store(
    store: Store,
    *,
    base: int | None = None,
    cand: int | None = None,
    seed: int = 0,
    min_size: int = DEFAULT_MIN_SIZE,
    threshold: float = DEFAULT_THRESHOLD,
    window: int = DEFAULT_WINDOW,
    outcomes: Outcomes | None = None,
) -> Proposed:
    """Proposals over the open notes of every comparison (or of BASE vs CAND), compared
    with the store's taxonomy (its latest version: ratifying writes there). With BASE vs
    CAND and `outcomes`, each says whether it is new in the candidate."""
    if (base is None) != (cand is None):
        raise InputError("BASE CAND", "give both runs of the comparison, or neither")
    current = taxonomies.latest(store)
    read = store_notes.read(store, base=base, cand=cand, ruled=rulings.covered(store))
    result = propose(
        read.notes,
        current.classes,
        min_size=min_size,
        seed=seed,
        threshold=threshold,
        window=window,
    )
    flags: dict[int, bool] = {}
    names: tuple[str | None, str | None] = (None, None)
    if base is not None and cand is not None:
        if outcomes is not None:
            flags = _candidate_only(outcomes, result.proposals, read.sources)
        names = (_run_name(store, base), _run_name(store, cand))
    offered = tuple(
        Offered(id=proposal_id(p), proposal=p, candidate_only=flags.get(i) if flags else None)
        for i, p in enumerate(result.proposals)
    )
    return Proposed(
        offered=offered,
        result=result,
        sources=read.sources,
        set_aside=read.set_aside,
        taxonomy_version=current.version,
        taxonomy_sha256=current.sha256,
        taxonomy_source=current.taxonomy().source,
        baseline=names[0],
        candidate=names[1],
    )


def _run_name(store: Store, run: int) -> str:
    return next((r.name for r in runs.list_runs(store) if r.id == run), str(run))


def _candidate_only(
    outcomes: Outcomes, proposals: tuple[Proposal, ...], sources: dict[str, NoteSource]
) -> dict[int, bool]:
    """Per proposal: its notes are on cases the candidate fails and on none the baseline
    fails (a failure mode the baseline never had)."""
    outcome = outcomes(sorted({sources[n].case_id for p in proposals for n in p.note_ids}))
    flags = {}
    for k, p in enumerate(proposals):
        seen = [outcome[sources[n].case_id] for n in p.note_ids if sources[n].case_id in outcome]
        flags[k] = any(c == 0 for _, c in seen) and not any(b == 0 for b, _ in seen)
    return flags
