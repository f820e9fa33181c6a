"""Every message the app's workers and widgets post back to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from evaltui.compare import CaseDetail, CaseRow, Comparison, Reducer, SegmentRecord
    from evaltui.compare.verified import VerifiedRow
    from evaltui.gate import DecisionRecord, DecisionRow, TeamDecisionRow
    from evaltui.gate.lock import Lock
    from evaltui.models import RunSummary
    from evaltui.review.calibration.queue import GoldFeedback, QueueItem
    from evaltui.review.calibration.samples import SampleRecord
    from evaltui.review.labelguide.proposals import Proposed
    from evaltui.review.labelguide.ratify import Suggestion as RatifySuggestion
    from evaltui.review.lifecycle import RetirePlan, Suggestion
    from evaltui.review.taxonomy import Taxonomy
    from evaltui.review.triage import Finding
    from evaltui.store.runs.grader import ResultView
    from evaltui.team.live import LinkState
    from evaltui.trajectory import ToolStats
    from evaltui.tui.case_cursor import Page
    from evaltui.tui.opening import ProductionLines
    from evaltui.views.trend import Trend

    CaseView = tuple[CaseRow, CaseDetail, list[Finding]]


# -- runs screen ---------------------------------------------------------------------------------


@dataclass
class RunsLoaded(Message):
    """The runs list and the current baseline/candidate/fallback marks."""

    runs: list[RunSummary]
    selection: dict[str, int | None]


@dataclass
class Marked(Message):
    mark: str
    run_name: str | None
    selection: dict[str, int | None]


# -- compare screen ------------------------------------------------------------------------------


@dataclass
class Opened(Message):
    """The comparison is classified and its first page read; figures follow in `Built`."""

    comparison: Comparison
    rows: list[CaseRow]
    taxonomy: Taxonomy
    first: CaseView | None


@dataclass
class Built(Message):
    """The comparison's figures: segment table, counts, statuses, triage progress."""

    comparison: Comparison
    segments: list[SegmentRecord]
    counts: dict[str, int]
    statuses: dict[str, int]
    taxonomy: Taxonomy
    progress: dict[str, tuple[int, int]]


@dataclass
class PageLoaded(Message):
    """A page of the case list, read for a request of the cursor (tui/case_cursor.py)."""

    page: Page


@dataclass
class ToolsLoaded(Message):
    """Per-run tool statistics of the comparison (None for a run without trajectories),
    and the production estimate's lines with the traffic weights in force (#28)."""

    stats: dict[str, ToolStats | None]
    production: ProductionLines | None = None
    verified: list[VerifiedRow] = field(default_factory=list)  # #27: judged results' figures


class ColumnsNeeded(Message):
    """The case list's rows need wider columns than before (the list and the case pane
    may share the width anew)."""


@dataclass
class RowsWanted(Message):
    """The case list shows a position whose row is not held (scrolled onto it)."""

    position: int


@dataclass
class DetailLoaded(Message):
    row: CaseRow
    detail: CaseDetail
    generation: int
    history: list[Finding]


@dataclass
class ReadAhead(Message):
    details: dict[int, CaseView]
    prepared: list[Any] = field(default_factory=list)  # the cases rendered ahead (case_pane.py)


class PolicyChosen(Message):
    """The gate screen made another policy the store's: what a compare screen shows from
    the policy in force (its production lines, #28) is read again."""


@dataclass
class Saved(Message):
    """A triage action was committed."""

    case_id: int
    text: str
    advance: bool
    next_row: CaseRow | None
    row: CaseRow | None = None  # the saved case as it is now (its triage columns)
    progress: dict[str, tuple[int, int]] | None = None  # triage progress after it
    no_next: str = "No untriaged case after this one in the list"  # advance found none


@dataclass
class NotSaved(Message):
    """A write did not commit: the cases it was for are marked NOT SAVED."""

    case_ids: list[int]
    text: str
    error: str


@dataclass
class Jump(Message):
    """The result of a next/previous-regression query."""

    row: CaseRow | None
    what: str
    generation: int = field(default=0)


@dataclass
class SegmentChosen(Message):
    """The scoreboard's highlighted segment was chosen (None: the "all" row)."""

    segment: tuple[str, str] | None


@dataclass
class CaseChosen(Message):
    """A case in the list was highlighted (`open` False) or selected with Enter (`open` True)."""

    case_id: int
    open: bool


# -- lifecycle (compare and stale screens) -------------------------------------------------------


@dataclass
class StatusRequest:
    """What the user asked for: a status, a reason (retire) and a note."""

    status: str  # retired | quarantined | active
    reason: str | None
    note: str | None


@dataclass
class SuggestionsLoaded(Message):
    suggestions: list[Suggestion]
    counts: dict[str, int]


@dataclass
class Previewed(Message):
    ids: list[int]
    request: StatusRequest
    table: Table
    title: str


@dataclass
class StaleCaseRead(Message):
    """A stale suggestion's case, read to be opened (Enter on the stale screen)."""

    row: CaseRow | None
    detail: CaseDetail
    reducer: Reducer
    suggestion: Suggestion


@dataclass
class RetirePlanned(Message):
    """A bulk retirement of stale cases, planned (a reason per case) and its effect read."""

    plan: RetirePlan
    note: str | None
    body: RenderableType  # what it writes, what it leaves out, the effect on the figures
    title: str


@dataclass
class Written(Message):
    text: str


# -- gate screen ---------------------------------------------------------------------------------


@dataclass
class Evaluated(Message):
    record: DecisionRecord
    history: list[DecisionRow | TeamDecisionRow]  # this store's, then kept as another's
    lock: Lock | None = None  # whether triage can still change it (gate/lock.py)


@dataclass
class NeedPolicy(Message):
    suggestion: str
    error: str | None = None


@dataclass
class Exported(Message):
    text: str
    history: list[DecisionRow | TeamDecisionRow]


# -- trend screen --------------------------------------------------------------------------------


@dataclass
class TrendLoaded(Message):
    trend: Trend


# -- codebook screen -----------------------------------------------------------------------------


@dataclass
class ProposalsLoaded(Message):
    """Proposals from the notes (None with `problem`: why there are none, e.g. the codebook
    extra is missing), the suggested labels waiting, the store's taxonomy."""

    proposed: Proposed | None
    suggestions: list[RatifySuggestion]
    taxonomy: Taxonomy
    problem: str | None


@dataclass
class Ruled(Message):
    """A ruling or confirmed labels were committed."""

    text: str


# -- judging screen ------------------------------------------------------------------------------


@dataclass
class JudgeQueueLoaded(Message):
    """A reviewer's judging queue (gold items in it are not marked for the screen to show)."""

    sample: SampleRecord | None  # None: the run has no calibration sample
    queue: list[QueueItem]
    reviewer: str
    feedback: str  # when gold answers are told: "end" or "never"


@dataclass
class JudgeViewsLoaded(Message):
    """The results of queue items `start`.. as the screen shows them."""

    start: int
    views: list[ResultView | None]


@dataclass
class JudgmentSaved(Message):
    index: int
    verdict: str
    view: ResultView | None  # the grader's verdict, shown once the reviewer has answered


@dataclass
class JudgmentUndone(Message):
    index: int
    found: bool


@dataclass
class SessionEnded(Message):
    """How the reviewer did on the session's gold items (told at its end, when so set)."""

    feedback: GoldFeedback
    keys: dict[int, str]  # case id -> key, for the wrong ones


@dataclass
class CalibrationLoaded(Message):
    """The calibration panel's report, as lines of text (calibration/text.py)."""

    lines: list[str]


# -- the team store ------------------------------------------------------------------------------


@dataclass
class TeamChanged(Message):
    """The team link's state after a sync or a lost connection (team/live.py)."""

    state: LinkState
