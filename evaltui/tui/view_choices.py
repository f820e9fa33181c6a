"""What a reviewer chose about a comparison's view, and where they left it: the reducer and
segment dimensions chosen in the app, retired cases counted or not, the change kinds
shown, and the place kept per comparison and reviewer (`evaltui.views.view_state`: saved when
the compare screen is left or the app quits, restored when it is opened again). No
Textual here: the compare screen asks and shows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from evaltui.compare import FILTER_CYCLE, CaseDetail, CaseRow, Filter, Reducer
from evaltui.compare.kinds import CHANGED
from evaltui.errors import InputError
from evaltui.exporters.case_markdown import case_markdown
from evaltui.files import write_new_file
from evaltui.textsafe import one_line, visible
from evaltui.views import view_state
from evaltui.views.view_state import ViewState

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from evaltui.review.triage import Finding
    from evaltui.store import Store
    from evaltui.views.view_state import ViewState

RunIds = tuple[int, int, int | None]  # baseline, candidate, fallback
REDUCERS = [
    ("worst", "worst: a case passes when every sample passes (worst-of-N)"),
    ("majority", "majority: when most samples pass"),
    ("mean", "mean: when the mean score passes"),
    ("best", "best: when any sample passes"),
    ("at-least-2", "at-least-2: when at least 2 samples pass"),
    ("declared", "declared: the reducer the eval tool's logs declared"),
]
COPIES = [
    ("key", "the case key (suite/key)"),
    ("candidate", "the candidate's output (first sample)"),
    ("baseline", "the baseline's output (first sample)"),
    ("markdown", "a Markdown summary of the case, for a ticket"),
]


class ViewChoices:
    """The view of one comparison as chosen, and the saved place still to restore."""

    def __init__(self, reducer: Reducer | None = None) -> None:
        self.reducer = reducer or Reducer()
        self.reducer_choice: str | None = None  # chosen in the app ("declared"...)
        self.dimensions: list[str] | None = None  # segment dimensions; None: the default
        self.include_hidden = False  # retired and quarantined cases counted
        self.filter_index = 0  # in FILTER_CYCLE: `f` shows the next kind
        self.saved: ViewState | None = None  # read, to apply once the comparison is open
        self.place: tuple[int | None, int] = (None, 1)  # (case id, position) to go back to
        self.restoring = False  # the saved place is on its way

    def reducer_arg(self) -> Reducer | str:
        """What the comparison is built with: "declared" is resolved by it."""
        return "declared" if self.reducer_choice == "declared" else self.reducer

    def choose_reducer(self, key: str) -> None:
        self.reducer_choice = key
        self.reducer = Reducer() if key == "declared" else Reducer.parse(key)

    def next_changes(self, counts: dict[str, int]) -> frozenset[str]:
        """`f`: the next kind of change in the cycle that has cases (an empty one is skipped)."""
        for _ in FILTER_CYCLE:
            self.filter_index = (self.filter_index + 1) % len(FILTER_CYCLE)
            if sum(counts.get(c, 0) for c in FILTER_CYCLE[self.filter_index][1]):
                break
        return FILTER_CYCLE[self.filter_index][1]

    # -- kept per comparison ---------------------------------------------------------------

    def apply(self, state: ViewState | None) -> None:
        """A saved view, before building: reducer, segments and hidden cases now; the
        filter and the place once the comparison is open (`restore`)."""
        self.saved = state
        if state is not None:
            self.choose_reducer(state.reducer)
            self.dimensions = state.segments
            self.include_hidden = state.include_hidden

    def hold(self, flt: Filter, position: int, row: CaseRow | None) -> None:
        """Keep the place and the filter while the comparison is built again in place (a
        reducer, segments, retired cases counted): restored as a saved view is."""
        if self.saved is None:
            self.saved = self.state(flt, position, row.case_id if row is not None else None)

    def restore(self, dimensions: list[str] | None = None) -> Filter | None:
        """The saved filter (and the place to go to), once the comparison is open; None
        when nothing was saved or the saved view is the default one. A segment filter on
        an attribute not among the comparison's `dimensions` is dropped."""
        state, self.saved = self.saved, None
        self.filter_index, self.restoring = 0, False
        if state is None:
            return None
        changes = frozenset(state.changes) if state.changes else CHANGED
        self.filter_index = next((i for i, (_, c) in enumerate(FILTER_CYCLE) if c == changes), 0)
        segment = state.segment
        if segment and dimensions is not None and segment[0] not in dimensions:
            segment = None  # (segmented by other attributes now)
        flt = Filter(changes=changes, segment=segment).parse(state.search)
        self.place = (state.case_id, state.position)
        self.restoring = flt != Filter() or self.place != (None, 1)
        return flt if self.restoring else None

    def state(self, flt: Filter, position: int, case_id: int | None) -> ViewState:
        return ViewState(
            changes=sorted(flt.changes) if flt.changes != CHANGED else [],
            segment=flt.segment,
            search=flt.search_text()[:2000],
            reducer=self.reducer_choice or self.reducer.label,
            segments=self.dimensions,
            include_hidden=self.include_hidden,
            position=max(1, position),
            case_id=case_id,
        )


def read_view(
    open_store: Callable[[], Store], run_ids: RunIds
) -> tuple[ViewState | None, str | None]:
    """The view the app's reviewer saved for a comparison (`open_store` opens the store
    as them), and why it was not applied (it does not check)."""
    with open_store() as store:
        try:
            return view_state.load(store, *run_ids), None
        except InputError as exc:
            return None, f"The saved view was not applied: {one_line(exc.message, 160)}"


def keep_view(open_store: Callable[[], Store], run_ids: RunIds, state: ViewState) -> str | None:
    """Keep the view for a comparison, the app's reviewer's; what went wrong, if it was not kept."""
    try:
        with open_store() as store:
            view_state.save(store, *run_ids, state)
    except Exception as exc:
        return f"Where you were was not saved: {one_line(exc, 120)}"
    return None


def copy_file(what: str, detail: CaseDetail, text: str, folder: Path) -> Path:
    """`y` then `f`: the text written to a new file in `folder` (never over one), named
    for what it is and the case (`evaltui-markdown-qa_math-001.md`); its path."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{detail.suite}/{detail.case_key}")
    stem = folder / f"evaltui-{what}-{slug.strip('._')[:60] or 'case'}"
    return write_new_file(stem, ".md" if what == "markdown" else ".txt", text).resolve()


def copy_text(
    what: str, row: CaseRow, detail: CaseDetail, reducer: Reducer, history: list[Finding]
) -> str:
    """What `y` copies: the case's own data, through the untrusted-text door (visible
    forms only)."""
    if what == "key":
        return visible(f"{detail.suite}/{detail.case_key}", limit=2000)
    if what in ("candidate", "baseline"):
        samples = detail.candidate if what == "candidate" else detail.baseline
        if not samples:
            return ""
        s = samples[0]
        return visible(s.output, multiline=True, limit=None, length=s.output_length)

    return case_markdown(row, detail, reducer, history)
