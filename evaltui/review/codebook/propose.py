"""Proposed failure classes from reviewers' unclassified notes (method: docs/triage.md,
"From notes to classes"). Offline and deterministic: the notes are sorted by id first, so
the same notes in any order give the same proposals, in the same order, with the same
members.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from evaltui.errors import EvaltuiError, InputError
from evaltui.textsafe import visible

from .model import (
    ClassMatch,
    Note,
    Proposal,
    Proposals,
    Representative,
    Saturation,
    SaturationWindow,
    Settings,
)
from .text import excerpt, suggest_key, suggest_name, tokens, word_terms

if TYPE_CHECKING:
    from evaltui.review.taxonomy import FailureClass

DEFAULT_THRESHOLD = 0.92  # average cosine distance within which notes group (tuned: docs)
DEFAULT_MIN_SIZE = 3
DEFAULT_NEW_BELOW = 0.3  # a proposal less similar than this to every class is "new" (tuned: docs)
DEFAULT_WINDOW = 20
TERMS = 5
REPRESENTATIVES = 3
MAX_NOTES_ENV = "EVALTUI_CODEBOOK_MAX_NOTES"
DEFAULT_MAX_NOTES = 10_000
METHOD = "tfidf-words+chars/average-linkage"


class CodebookUnavailable(EvaltuiError):
    """numpy and scipy are not installed (the `codebook` extra)."""

    title = "Proposals need the codebook extra"

    def __init__(self) -> None:
        super().__init__("proposing classes needs numpy and scipy: pip install 'evaltui[codebook]'")


def max_notes() -> int:
    raw = os.environ.get(MAX_NOTES_ENV, "")
    if not raw:
        return DEFAULT_MAX_NOTES
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(MAX_NOTES_ENV, f"not a positive whole number: {visible(raw)!r}")
    return int(raw)


def _check(notes: Sequence[Note], min_size: int, threshold: float, window: int) -> None:
    if min_size < 2:
        raise InputError("--min-size", f"a proposal holds at least 2 notes, not {min_size}")
    if not 0.0 < threshold < 1.0:
        raise InputError("--threshold", f"a cosine distance between 0 and 1, not {threshold}")
    if window < 1:
        raise InputError("--window", f"at least 1 note, not {window}")
    limit, unclassified = max_notes(), sum(1 for n in notes if n.class_key is None)
    if unclassified > limit:  # the notes that are clustered (classified ones are compared)
        raise InputError(
            "notes", f"{unclassified:,} notes; proposals read at most {limit:,} ({MAX_NOTES_ENV})"
        )
    seen: set[str] = set()
    for n in notes:
        if n.id in seen:
            raise InputError("notes", f"two notes have the id {visible(n.id)!r}", field="id")
        seen.add(n.id)


def propose(
    notes: Iterable[Note],
    classes: Sequence[FailureClass],
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    new_below: float = DEFAULT_NEW_BELOW,
    window: int = DEFAULT_WINDOW,
) -> Proposals:
    """Group the unclassified notes into proposed classes.

    Args:
        notes: reviewers' notes; those with a `class_key` are not grouped, they tell which
            class a proposal is near. Ids must be unique.
        classes: the taxonomy's classes: keys a suggestion must not take, and (the active
            ones) the classes a proposal is compared with.
        min_size: the fewest notes a proposal holds; smaller groups stay unclustered.
        seed: chooses the samples when there are more notes than one sample holds.
        threshold: the average cosine distance within which notes group (0-1).
        new_below: a proposal less similar than this to every active class is `new`.
        window: notes per window of the saturation figure.
    """
    ordered = sorted(notes, key=lambda n: n.id)
    _check(ordered, min_size, threshold, window)
    try:
        # load time: numpy and scipy (an optional extra) only when notes are clustered
        from . import cluster as clustering
        from . import vectors  # load time: as above
    except ImportError as exc:
        if exc.name not in ("numpy", "scipy") and not str(exc.name).startswith(
            ("numpy.", "scipy.")
        ):
            raise
        raise CodebookUnavailable() from None
    open_notes = [n for n in ordered if n.class_key is None]
    coded = [n for n in ordered if n.class_key is not None]
    space, x, xw = vectors.fit([n.text for n in open_notes])
    ids = [n.id for n in open_notes]
    found = clustering.cluster(
        x, ids, threshold=threshold, seed=seed, sample_size=clustering.SAMPLE_SIZE
    )
    # a group is proposed when it is large enough and its notes share a word: a group
    # held together by character n-grams alone cannot be named, and is left unclustered
    kept = []
    for g in found.groups:
        if len(g) >= min_size:
            terms = _terms([open_notes[i] for i in g], space, len(open_notes))
            if terms:
                kept.append((g, terms))
    featureless = {i for i in range(len(open_notes)) if x.indptr[i] == x.indptr[i + 1]}
    matcher = _Matcher(vectors, space, classes, coded)
    taken = {c.key for c in classes}
    drafts = []
    for group, terms in kept:
        members = [open_notes[i] for i in group]
        first = min(members, key=lambda n: (n.at, n.id))
        drafts.append((group, members, first, terms))
    # largest first, then the one whose first note (by id) comes first
    drafts.sort(key=lambda d: (-len(d[0]), d[0][0]))
    centroids = vectors.normalise_rows(vectors.mean_rows(x, [d[0] for d in drafts]))
    word_centroids = vectors.normalise_rows(vectors.mean_rows(xw, [d[0] for d in drafts]))
    proposals = []
    for k, (group, members, first, terms) in enumerate(drafts):
        centroid = centroids[k]
        key = suggest_key(terms, taken)
        taken.add(key)
        nearest = matcher.nearest(word_centroids[k])
        proposals.append(
            Proposal(
                key=key,
                name=suggest_name(terms),
                size=len(members),
                note_ids=tuple(n.id for n in members),
                cases=tuple(sorted({n.case_key for n in members})),
                terms=tuple(visible(t, limit=None) for t in terms),
                representatives=_representatives(x, group, members, centroid),
                nearest=nearest,
                new=nearest is None or nearest.similarity < new_below,
                first_note=first.id,
            )
        )
    clustered = {i for d in drafts for i in d[0]}
    unclustered = tuple(n.id for i, n in enumerate(open_notes) if i not in clustered)
    return Proposals(
        proposals=tuple(proposals),
        unclustered=unclustered,
        featureless=tuple(open_notes[i].id for i in sorted(featureless)),
        classified=len(coded),
        notes=len(open_notes),
        saturation=saturation(open_notes, proposals, window),
        settings=Settings(
            method=METHOD,
            threshold=threshold,
            min_size=min_size,
            new_below=new_below,
            seed=seed,
            sample_size=clustering.SAMPLE_SIZE,
            rounds=found.rounds,
        ),
    )


def _terms(members: Sequence[Note], space: Any, n: int) -> list[str]:
    """The cluster's most distinctive words and bigrams: (share of its notes holding the
    term - share of the other notes holding it) x idf; in two of its notes at least."""
    inside: Counter[str] = Counter()
    for note in members:
        inside.update(set(word_terms(tokens(note.text))))
    size, others = len(members), max(1, n - len(members))
    shared = sorted(t for t, df_in in inside.items() if df_in >= 2)
    scored = []
    for term, idf, df in zip(shared, *space.word_stats(shared), strict=True):
        if idf <= 0.0:
            continue
        df_in = inside[term]
        score = (df_in / size - max(0, df - df_in) / others) * idf
        if score > 0.0:
            scored.append((-round(score, 9), -term.count(" "), term))  # a bigram first on a tie
    return [t for *_, t in sorted(scored)[:TERMS]]


def _representatives(
    x: Any, group: Sequence[int], members: Sequence[Note], centroid: Any
) -> tuple[Representative, ...]:
    sims = (x[list(group)] @ centroid.T).toarray().ravel().tolist()
    best = sorted(zip(sims, members, strict=True), key=lambda p: (-round(p[0], 9), p[1].id))
    return tuple(
        Representative(
            note_id=n.id, case_key=n.case_key, text=excerpt(n.text), similarity=round(s, 4)
        )
        for s, n in best[:REPRESENTATIVES]
    )


class _Matcher:
    """Each active class as two vectors: its rubric (name and description) and the mean of
    the notes already given it. A proposal's nearness is the larger cosine."""

    def __init__(
        self, vectors: Any, space: Any, classes: Sequence[FailureClass], coded: Sequence[Note]
    ) -> None:
        self.classes = [c for c in classes if not c.retired]
        self.rubrics = vectors.transform_words(
            space, [f"{c.name}. {c.description}" for c in self.classes]
        )
        by_class: dict[str, list[str]] = {}
        for note in coded:
            by_class.setdefault(note.class_key or "", []).append(note.text)
        with_notes = [c.key for c in self.classes if c.key in by_class]
        self.profile_row = {key: k for k, key in enumerate(with_notes)}
        self.profiles = None
        if with_notes:
            texts = [t for key in with_notes for t in by_class[key]]
            groups, start = [], 0
            for key in with_notes:
                groups.append(list(range(start, start + len(by_class[key]))))
                start += len(by_class[key])
            coded_x = vectors.transform_words(space, texts)
            self.profiles = vectors.normalise_rows(vectors.mean_rows(coded_x, groups))

    def nearest(self, centroid: Any) -> ClassMatch | None:
        if not self.classes:
            return None
        rubric = (self.rubrics @ centroid.T).toarray().ravel().tolist()
        notes = (
            [] if self.profiles is None else (self.profiles @ centroid.T).toarray().ravel().tolist()
        )
        matches = []
        for i, c in enumerate(self.classes):
            r = round(rubric[i], 6)
            row = self.profile_row.get(c.key)
            nsim = None if row is None else round(notes[row], 6)
            matches.append(
                ClassMatch(
                    key=c.key,
                    name=visible(c.name, limit=None),
                    similarity=max(r, nsim or 0.0),
                    rubric_similarity=r,
                    notes_similarity=nsim,
                )
            )
        return max(matches, key=lambda m: m.similarity)  # the first class on a tie


def saturation(
    open_notes: Sequence[Note], proposals: Sequence[Proposal], window: int
) -> Saturation:
    """New proposals per `window` notes, the notes in time order (then by id)."""
    timeline = sorted(open_notes, key=lambda n: (n.at, n.id))
    position = {n.id: i for i, n in enumerate(timeline)}
    firsts: dict[int, list[str]] = {}
    for p in proposals:
        firsts.setdefault(position[p.first_note] // window, []).append(p.key)
    windows, total, last_new = [], 0, 0
    for w, start in enumerate(range(0, len(timeline), window)):
        chunk = timeline[start : start + window]
        keys = tuple(sorted(firsts.get(w, [])))
        total += len(keys)
        if keys:
            last_new = max(position[p.first_note] + 1 for p in proposals if p.key in keys)
        windows.append(
            SaturationWindow(
                start=start + 1,
                end=start + len(chunk),
                first_at=chunk[0].at,
                last_at=chunk[-1].at,
                new=len(keys),
                new_keys=keys,
                total=total,
            )
        )
    quiet = 0
    for win in reversed(windows):
        if win.new:
            break
        quiet += 1
    return Saturation(
        window=window, windows=tuple(windows), last_new_at=last_new, quiet_windows=quiet
    )
