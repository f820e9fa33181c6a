"""From reviewers' notes to failure classes: proposals for the label guide (issue #29).

`propose(notes, classes)` groups the notes that name no class into proposed classes,
offline and deterministically, each with its size, three representative notes, its
cases, distinctive terms, a suggested key and name, and the existing class it is nearest
(or "new"); notes that fit none stay unclustered. `Proposals.saturation` counts new
proposals per 20 notes in time order, so a team sees when coding has converged.

Below the store: it reads no store and shows nothing. The model and this package import
with the standard library and pydantic alone; proposing needs numpy and scipy (the
`codebook` extra) and says so in one line when they are missing. Method: docs/triage.md,
"From notes to classes".
"""

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
from .propose import (
    DEFAULT_MIN_SIZE,
    DEFAULT_NEW_BELOW,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    MAX_NOTES_ENV,
    CodebookUnavailable,
    propose,
    saturation,
)

__all__ = [
    "DEFAULT_MIN_SIZE", "DEFAULT_NEW_BELOW", "DEFAULT_THRESHOLD", "DEFAULT_WINDOW",
    "MAX_NOTES_ENV", "ClassMatch", "CodebookUnavailable", "Note", "Proposal", "Proposals",
    "Representative", "Saturation", "SaturationWindow", "Settings", "propose", "saturation",
]  # fmt: skip
