"""What proposing classes takes and gives: typed, frozen, no I/O.

Identifiers the caller gave (note ids, case keys) are kept exact, for looking the notes
and cases up again; every surface shows them through `textsafe` as it does any case key.
Everything derived from a note's text (terms, a suggested key and name, a representative
note's text) is inert already: `textsafe.visible`, or `[a-z0-9_]` for a key.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Note(BaseModel):
    """One reviewer's note on a case: a finding's note, with the class it names (if any)."""

    model_config = _FROZEN

    id: str = Field(min_length=1)  # unique among the notes given (a finding's uid, say)
    text: str
    case_key: str  # the case as the caller names it (e.g. SUITE/KEY)
    at: AwareDatetime  # when it was written: orders the saturation figure
    class_key: str | None = None  # the failure class the finding gives, if any


class Representative(BaseModel):
    """A note close to its proposal's centroid; `text` is visible, one line, cut."""

    model_config = _FROZEN

    note_id: str
    case_key: str
    text: str
    similarity: float  # cosine to the proposal's centroid


class ClassMatch(BaseModel):
    """The existing class nearest to a proposal, and how near (cosine of the centroid)."""

    model_config = _FROZEN

    key: str
    name: str  # visible
    similarity: float  # the larger of the two below
    rubric_similarity: float  # vs the class's name and description
    notes_similarity: float | None  # vs the notes already given that class (None: there are none)


class Proposal(BaseModel):
    """A cluster of unclassified notes offered as a failure class."""

    model_config = _FROZEN

    key: str  # suggested class key: lower_snake_case, unique against the classes and proposals
    name: str  # suggested name, visible
    size: int
    note_ids: tuple[str, ...]  # in the notes' sorted order
    cases: tuple[str, ...]  # distinct case keys, sorted
    terms: tuple[str, ...]  # distinctive terms, most distinctive first, visible
    representatives: tuple[Representative, ...]  # up to three, nearest the centroid first
    nearest: ClassMatch | None  # None when no active class was given
    new: bool  # no active class is at least `new_below` similar
    first_note: str  # the earliest member by (at, id): where it enters the saturation figure


class SaturationWindow(BaseModel):
    """One window of notes in time order, and the proposals first seen in it."""

    model_config = _FROZEN

    start: int  # 1-based position of its first note in time order
    end: int  # 1-based position of its last note
    first_at: AwareDatetime
    last_at: AwareDatetime
    new: int  # proposals whose earliest note is in this window
    new_keys: tuple[str, ...]
    total: int  # proposals seen so far


class Saturation(BaseModel):
    """New proposals per `window` notes over time: when coding has converged, new stays 0."""

    model_config = _FROZEN

    window: int
    windows: tuple[SaturationWindow, ...]
    last_new_at: int  # position of the last note that brought a new proposal (0: none did)
    quiet_windows: int  # trailing windows that brought no new proposal


class Settings(BaseModel):
    """The parameters the proposals were made with (echoed so a result can be reproduced)."""

    model_config = _FROZEN

    method: str
    threshold: float
    min_size: int
    new_below: float
    seed: int
    sample_size: int
    rounds: int  # clustering rounds run (1 when every note fit one sample)


class Proposals(BaseModel):
    """Everything `propose` finds: the proposals, the notes in none, the saturation figure."""

    model_config = _FROZEN

    proposals: tuple[Proposal, ...]  # largest first, then by first member
    unclustered: tuple[str, ...]  # note ids that fit no proposal (never forced into one)
    featureless: tuple[str, ...]  # of those, the notes with no usable words
    classified: int  # notes given that already had a class (not clustered)
    notes: int  # unclassified notes considered
    saturation: Saturation
    settings: Settings
