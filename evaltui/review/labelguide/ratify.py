"""Ratifying a proposal (issue #29): accept it as a new failure class, merge it into an
existing one, or reject it; then the labels it suggests, confirmed by a reviewer.

Accepting or merging writes a new taxonomy version (the class's description is its rubric
line; its examples, the proposal's representative cases) and a ruling, in one transaction,
both logged. It changes no finding: the notes' cases become *suggested labels*, and each
becomes a finding only when a reviewer confirms it (`confirm`: an ordinary label, by them,
that findings files export and sign like any other). Rejecting keeps a ruling only: its
notes are set aside, never proposed again. Bad input changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from evaltui.errors import InputError
from evaltui.review import taxonomy as taxonomies
from evaltui.review import triage
from evaltui.review.taxonomy import (
    EXAMPLES_MAX,
    KEY_RE,
    FailureClass,
    Taxonomy,
    TaxonomyVersion,
)
from evaltui.review.triage_state import Finding, effective
from evaltui.store import Store
from evaltui.textsafe import visible

from . import rulings
from .proposals import Offered, Proposed
from .rulings import CoveredNote, Ruling

EXAMPLES_PER_PROPOSAL = 3  # cases a new class carries as its examples
RUBRIC_MAX = 500
EXAMPLE_CHARS = 300  # FailureClass.examples' longest: a longer case key is not an example


class Ratified(BaseModel):
    """What a ruling did: the ruling, the taxonomy version it made (None: none), and how
    many labels it suggests."""

    model_config = ConfigDict(frozen=True)

    ruling: Ruling
    version: TaxonomyVersion | None
    suggested: int  # cases (in their comparisons) it suggests labelling with its class


def _covered(proposed: Proposed, offered: Offered) -> list[CoveredNote]:
    out = []
    for note_id in offered.proposal.note_ids:
        s = proposed.sources[note_id]
        out.append(
            CoveredNote(
                note=s.note,
                baseline_run=s.baseline_run,
                candidate_run=s.candidate_run,
                case_id=s.case_id,
                baseline=s.baseline,
                candidate=s.candidate,
                suite=s.suite,
                case_key=s.case_key,
            )
        )
    return out


def _cases(covered: list[CoveredNote]) -> int:
    return len({(n.baseline_run, n.candidate_run, n.case_id) for n in covered})


def examples(offered: Offered) -> list[str]:
    """The representatives' cases first (nearest the centroid), then the proposal's others."""
    p = offered.proposal
    cases = dict.fromkeys([*(r.case_key for r in p.representatives), *p.cases])
    return [c for c in cases if len(c) <= EXAMPLE_CHARS][:EXAMPLES_PER_PROPOSAL]


def _unruled(store: Store, offered: Offered) -> None:
    """Refuse a proposal whose notes a ruling covered meanwhile (another session)."""
    covered = rulings.covered(store)
    if any(n in covered for n in offered.proposal.note_ids):
        raise InputError(
            "PROPOSAL",
            f"{offered.id} ({offered.proposal.key}) was ruled on meanwhile; propose again",
        )


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InputError(field, "is required and may not be blank")
    if "\n" in text or "\r" in text:
        raise InputError(field, "is one line")
    if len(text) > limit:
        raise InputError(field, f"is {len(text):,} characters; at most {limit:,}")
    return text


def accept(
    store: Store,
    proposed: Proposed,
    ref: str,
    *,
    owner: str,
    description: str,
    key: str | None = None,
    name: str | None = None,
    why: str = "",
) -> Ratified:
    """The proposal as a new class of the store's taxonomy (a new version)."""
    offered = proposed.find(ref)
    p = offered.proposal
    key = (key or p.key).strip()
    if not KEY_RE.match(key) or len(key) > 40:
        raise InputError(
            "--key",
            f"{visible(key, limit=60)!r} is not a class key "
            "(lower_snake_case, at most 40 characters)",
        )
    cls = FailureClass(
        key=key,
        name=_text(name or p.name, "--name", 80),
        owner=_text(owner, "--owner", 80),
        description=_text(description, "--description", RUBRIC_MAX),
        examples=examples(offered),
    )
    why = _text(why, "--why", RUBRIC_MAX, required=False)
    covered = _covered(proposed, offered)
    with store.transaction():
        _unruled(store, offered)
        current = taxonomies.latest(store)
        if key in {c.key for c in current.classes}:
            raise InputError(
                "--key",
                f"the taxonomy already has a class {key!r} "
                f"(version {current.version}); give another --key",
            )
        tax = Taxonomy([*current.classes, cls])
        reason = why or f"accepted proposal {offered.id} as {key}"
        version = taxonomies.record(store, tax, reason=reason, in_transaction=True)
        ruling = rulings.add(
            store,
            kind="accept",
            proposal=offered.id,
            proposal_key=p.key,
            class_key=key,
            taxonomy_version=version.version if version else current.version,
            notes=covered,
            terms=p.terms,
            why=why,
        )
    return Ratified(ruling=ruling, version=version, suggested=_cases(covered))


def merge(store: Store, proposed: Proposed, ref: str, class_key: str, *, why: str = "") -> Ratified:
    """The proposal's notes as examples of an existing active class: its cases are added
    to the class's examples (a new version when that changes it)."""
    offered = proposed.find(ref)
    why = _text(why, "--why", RUBRIC_MAX, required=False)
    covered = _covered(proposed, offered)
    with store.transaction():
        _unruled(store, offered)
        current = taxonomies.latest(store)
        tax = current.taxonomy()
        target = tax.by_key.get(class_key)
        if target is None or target.retired:
            active = ", ".join(c.key for c in tax.active)
            raise InputError(
                "--merge",
                f"no active class {visible(class_key, limit=60)!r} "
                f"in taxonomy version {current.version}; active: {active}",
            )
        joined = list(dict.fromkeys([*target.examples, *examples(offered)]))[:EXAMPLES_MAX]
        merged = target.model_copy(update={"examples": joined})
        classes = [merged if c.key == class_key else c for c in tax.classes]
        reason = why or f"merged proposal {offered.id} into {class_key}"
        version = taxonomies.record(store, Taxonomy(classes), reason=reason, in_transaction=True)
        ruling = rulings.add(
            store,
            kind="merge",
            proposal=offered.id,
            proposal_key=offered.proposal.key,
            class_key=class_key,
            taxonomy_version=version.version if version else current.version,
            notes=covered,
            terms=offered.proposal.terms,
            why=why,
        )
    return Ratified(ruling=ruling, version=version, suggested=_cases(covered))


def reject(store: Store, proposed: Proposed, ref: str, *, why: str = "") -> Ratified:
    """Not a class: a ruling only; its notes are never proposed again."""
    offered = proposed.find(ref)
    why = _text(why, "--why", RUBRIC_MAX, required=False)
    with store.transaction():
        _unruled(store, offered)
        ruling = rulings.add(
            store,
            kind="reject",
            proposal=offered.id,
            proposal_key=offered.proposal.key,
            class_key=None,
            taxonomy_version=None,
            notes=_covered(proposed, offered),
            terms=offered.proposal.terms,
            why=why,
        )
    return Ratified(ruling=ruling, version=None, suggested=0)


# -- suggested labels ---------------------------------------------------------------------


class Suggestion(BaseModel):
    """A case a ruling suggests labelling with its class, not yet labelled so."""

    model_config = ConfigDict(frozen=True)

    class_key: str
    ruling: int
    note: str  # the finding whose note the proposal covered
    note_text: str  # that note, visible and one line
    baseline_run: int
    candidate_run: int
    case_id: int
    baseline: str
    candidate: str
    suite: str
    case_key: str


def suggestions(store: Store, class_key: str | None = None) -> list[Suggestion]:
    """The labels accepted and merged proposals suggest, one per case and class, that no
    current opinion on the case gives yet; in ruling order, then the notes' order."""
    listed = triage.adjudicators(store)
    out: list[Suggestion] = []
    seen: set[tuple[str, int, int, int]] = set()
    for r in rulings.rulings(store, class_key=class_key):
        if r.class_key is None:
            continue
        for n in r.notes:
            where = (r.class_key, n.baseline_run, n.candidate_run, n.case_id)
            if where in seen:
                continue
            seen.add(where)
            state = effective(triage.history(store, *where[1:]), listed)
            if state is not None and r.class_key in state.classes:
                continue
            found = triage.by_uid(store, n.note)
            text = visible(found.note or "", limit=200) if found else ""
            out.append(
                Suggestion(
                    class_key=r.class_key,
                    ruling=r.id,
                    note=n.note,
                    note_text=text,
                    **n.model_dump(exclude={"note"}),
                )
            )
    return out


def confirm(
    store: Store, chosen: Sequence[Suggestion], taxonomy: Taxonomy, *, reviewer: str | None = None
) -> list[Finding]:
    """Label each chosen case with its class: one ordinary finding each, by the reviewer
    (fields they set before are kept: a note stays). Every class is checked first."""
    classes = {}
    for s in chosen:
        cls = taxonomy.by_key.get(s.class_key)
        if cls is None or cls.retired:
            raise InputError(
                "CLASS",
                f"{s.class_key!r} is not an active class of the taxonomy "
                f"in force ({taxonomy.source})",
            )
        classes[s.class_key] = cls
    return [
        triage.label(
            store,
            s.baseline_run,
            s.candidate_run,
            s.case_id,
            failure_class=classes[s.class_key],
            reviewer=reviewer,
        )
        for s in chosen
    ]
