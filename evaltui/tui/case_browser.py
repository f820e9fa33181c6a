"""The compare screen's case browser: the filter line, the search box, the case list and
the case at its cursor (the case pane). A widget composed by `CompareScreen`, which
hands it the comparison and forwards the keys; it holds the cursor (`CaseCursor`, which
decides where the cursor goes and which page to read) and the workers that read pages,
cases and the next regression, each answer coming back as a message to it.

A step must paint in one frame and never wait for SQLite (docs/architecture.md, "A key
press, end to end"): a key moves the cursor at once; the case is shown from the details
read ahead, read again once the frame is out, and its neighbours read and rendered ahead.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import LoadingIndicator
from textual.worker import Worker, get_current_worker

from evaltui.compare import CaseRow, Comparison, Filter, Reducer
from evaltui.divergence import DIVERGENCE_KINDS
from evaltui.models import StepRef
from evaltui.review.taxonomy import Taxonomy
from evaltui.textsafe import one_line
from evaltui.tui.case_cursor import CaseCursor, CaseView, Move, Page, PageRequest, read_page
from evaltui.tui.findings_view import Rubric
from evaltui.tui.messages import (
    CaseChosen,
    ColumnsNeeded,
    DetailLoaded,
    Jump,
    PageLoaded,
    ReadAhead,
    RowsWanted,
    Saved,
)
from evaltui.tui.screens.base import report_worker_failure
from evaltui.tui.screens.case import CaseScreen
from evaltui.tui.triage_desk import NotSavedCases
from evaltui.tui.widgets import CaseList, CasePane, FilterBar
from evaltui.tui.widgets.case_columns import core_width
from evaltui.tui.widgets.safe import Input

PANE_MIN = 36  # the narrowest the case pane is shown beside the list (else one at a time)
LIST_MAX = 110  # the widest the list gets beside the pane
# How long after a step its reads start: past the frame being drawn and then written by
# Textual's writer thread. A worker that starts before the write holds the interpreter
# (up to its 5 ms switch interval at a time) while the frame waits to be written.
AFTER_FRAME = 0.02


def class_hint(wanted: str, classes: list[tuple[str, str]]) -> str | None:
    """What to say when `class:WANTED` names no class of the taxonomy (`classes`: key,
    name): the closest key or name, else the keys there are. None: it is one."""
    keys = [key for key, _ in classes]
    if not classes or wanted in keys:
        return None
    said = one_line(wanted, 40)
    by_word = {key.lower(): key for key in keys} | {name.lower(): key for key, name in classes}
    close = difflib.get_close_matches(wanted.lower(), list(by_word), n=1, cutoff=0.6)
    if close:
        return f"No class {said} in the taxonomy: did you mean class:{by_word[close[0]]}?"
    listed = ", ".join(one_line(k, 40) for k in keys[:12]) + (", …" if len(keys) > 12 else "")
    return f"No class {said} in the taxonomy; its classes: {listed}"


class CaseBrowser(Vertical):
    """A comparison's cases, one window at a time, and the case at the cursor."""

    def __init__(self, not_saved: NotSavedCases, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cursor = CaseCursor()
        self.comparison: Comparison | None = None
        self.reducer = Reducer()
        self.counted = False  # the whole list is counted (the figures are in)
        self.not_saved = not_saved  # the screen's: the NOT SAVED line of the case shown
        # When a case was last put on screen (time.perf_counter()): what `make bench` times.
        self.shown_at: float | None = None
        # The parts a step touches, held (a query per key would cost the step its time).
        self.filter_bar = FilterBar(Text(""), id="filter-line")
        self.listing = CaseList(id="cases")
        self.pane = CasePane(id="case-pane")
        # The list and the pane side by side (`narrow` False) or one at a time; `zoomed`:
        # the pane has the whole width (`z`).
        self.narrow = False
        self.zoomed = False
        self._arranged: tuple[int, bool, bool] | None = None
        self.failure_classes: list[tuple[str, str]] = []  # the taxonomy's (key, name): hints

    def use_taxonomy(self, taxonomy: Taxonomy) -> Taxonomy:
        """The taxonomy in force: its classes for the search's hints, its rubric lines for
        the case pane (a dispute on a class shows them, #29)."""
        self.failure_classes = [(c.key, c.name) for c in taxonomy.classes]
        self.pane.use_rubric(Rubric.of(taxonomy))
        return taxonomy

    def compose(self) -> ComposeResult:
        yield self.filter_bar
        yield Input(
            placeholder="search case key, input, expected or output; Enter to apply, Esc to cancel",
            id="search",
        )
        with Horizontal(id="compare-body"):
            yield self.listing
            yield self.pane
        yield LoadingIndicator(id="loading")

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#compare-body").display = False

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event)  # (not bubbled by Textual: said here)

    # -- the comparison ----------------------------------------------------------------------

    def show_loading(self, on: bool) -> None:
        self.query_one("#loading").display = on
        if not on:
            self.query_one("#compare-body").display = True

    def open(
        self,
        cmp: Comparison,
        first: CaseView | None,
        rows: list[CaseRow] | None,
        flt: Filter,
        preview: list[CaseRow],
    ) -> None:
        """A comparison opened with its first rows (None: a saved place is on its way);
        `preview`: the first page read, which the columns are sized from either way."""
        self.comparison, self.reducer = cmp, cmp.reducer
        page = self.cursor.open(flt, first, previewing=cmp.first is not None)
        self.listing.configure(risk=cmp.risk_dimension, fallback=cmp.fallback is not None)
        self.listing.measure(preview)  # the columns' widths, before the first line is drawn
        self.share_width()
        self.show_loading(False)
        self.listing.focus()
        if rows is not None:
            self.land(Page(page.request, rows, None, 1))

    def take_whole(self, cmp: Comparison) -> None:
        """The whole comparison (after its preview, or refreshed): its figures are in."""
        self.comparison, self.counted = cmp, True
        self.cursor.previewing = False
        self.show_loading(False)

    def show_count(self, total: int) -> None:
        """The list's length from the figures: the rows held stay."""
        self.cursor.total = total
        self.listing.show(self.cursor.rows, self.cursor.start, total)
        self.show_filter_line()

    def set_filter(self, flt: Filter) -> None:
        self.pane.mark(flt.text)
        self.fetch(self.cursor.new_list(flt))

    def reload(self, *, count: bool = False) -> None:
        """Read the window again (figures changed); the cursor keeps its position."""
        self.fetch(self.cursor.reload(count=count))

    def forget(self, case_id: int | None = None) -> None:
        """Details kept that changed (one case's, or every case's)."""
        if case_id is None:
            self.cursor.details.clear()
        else:
            self.cursor.details.pop(case_id, None)

    # -- what it says ------------------------------------------------------------------------

    def show_filter_line(self) -> None:
        cursor = self.cursor
        self.filter_bar.show(
            cursor.flt,
            total=cursor.total if self.counted else None,
            position=cursor.position if cursor.current is not None else None,
        )

    def show_alert(self) -> None:
        """The current case's NOT SAVED line (or none)."""
        self.pane.alert(self.not_saved.alert(self.cursor.current))

    def zoom(self) -> None:
        """The case pane gets the whole width, or gives it back (toggle)."""
        self.zoomed = not self.zoomed
        self.share_width()
        (self.query_one("#case-view") if self.zoomed else self.listing).focus()

    def on_resize(self) -> None:
        self.share_width()

    @on(ColumnsNeeded)
    def columns_needed(self) -> None:
        self.share_width()

    def share_width(self) -> None:
        """Share the width between the list and the case pane: the list as wide as what
        it must show whole needs (case_columns.core_width), at least half; side by side
        when the pane keeps `PANE_MIN` cells, else one at a time (`z` switches)."""
        width = self.size.width
        if width <= 0:
            return
        wanted = max(core_width(self.listing.needs), min(width // 2, LIST_MAX))
        narrow = width - wanted - 3 < PANE_MIN  # (the pane's border and padding)
        if (wanted, narrow, self.zoomed) == self._arranged:
            return
        self._arranged = (wanted, narrow, self.zoomed)
        self.narrow = narrow
        self.listing.styles.width = "1fr" if narrow else wanted
        self.listing.display = not self.zoomed
        self.pane.display = self.zoomed or not narrow
        self.filter_bar.zoom_hint = "list" if self.zoomed else "case" if narrow else None
        if self.comparison is not None:
            self.show_filter_line()

    def search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.cursor.flt.search_text()
        box.focus()

    def cancel_search(self) -> bool:
        """Esc in the search box cancels the search; False: the box was not open."""
        box = self.query_one("#search", Input)
        if not box.display:
            return False
        box.display = False
        self.listing.focus()
        return True

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#search", Input).display = False
        flt = self.cursor.flt.parse(event.value)
        hint = class_hint(flt.failure_class, self.failure_classes) if flt.failure_class else None
        if hint is not None:  # (still applied: a finding may name a class from elsewhere)
            self.screen.notify(hint, severity="warning", timeout=8, markup=False)
        if flt.divergence is not None and flt.divergence not in DIVERGENCE_KINDS:
            said = f"No divergence {flt.divergence!r}: one of {', '.join(DIVERGENCE_KINDS)}"
            self.screen.notify(said, severity="warning", timeout=8, markup=False)
            flt = flt.with_(divergence=None)
        self.set_filter(flt)
        self.listing.focus()

    # -- moving: keys move the cursor, pages land -----------------------------------------------

    def step(self, n: int) -> None:
        self.follow(self.cursor.step(n))

    def page(self, pages: int) -> None:
        self.step(pages * max(1, self.listing.scrollable_content_region.height - 2))

    def first(self) -> None:
        self.follow(self.cursor.first())

    def last(self) -> None:
        self.follow(self.cursor.last())

    def go_to(self, position: int, *, reselect: bool = False) -> None:
        self.follow(self.cursor.go_to(position, reselect=reselect))

    def follow(self, move: Move | None) -> None:
        """Carry out a move of the cursor: the list's cursor, the case, the page to read."""
        if move is None:
            return
        self.listing.move_to(self.cursor.position)
        if move.show is not None and move.cached is not None:
            # Read ahead: shown in the same frame as the cursor move. Read again once that
            # frame is out (another session may have changed it): a worker started now
            # would hold the interpreter while the frame is drawn and written.
            self.show_case(move.cached)
            self.after_frame(self._read_again, move.show)
        elif move.show is not None:
            self.show_filter_line()  # the pane still shows the last case until it is read
            self.load_detail(move.show)
        elif self.cursor.current is None:
            self.show_filter_line()
        self.fetch(move.fetch)

    def fetch(self, request: PageRequest | None) -> None:
        if request is not None:
            self.load_page(request)

    @work(thread=True, exclusive=True, group="compare-page", exit_on_error=False)
    def load_page(self, request: PageRequest) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        page = read_page(cmp, request)
        if not get_current_worker().is_cancelled:
            self.post_message(PageLoaded(page))

    @work(thread=True, exclusive=True, group="compare-restore", exit_on_error=False)
    def restore(self, case_id: int | None, position: int) -> None:
        """The page holding the saved case (if it is still in the saved filter's list),
        else the one at the saved position."""
        cmp, cursor = self.comparison, self.cursor
        flt, generation, size = cursor.flt, cursor.generation, cursor.page
        if cmp is None:
            return
        total = cmp.count(flt)
        row = cmp.row(case_id) if case_id else None
        at = cmp.page(flt, after=row.key - 1, limit=1) if row is not None else []
        if row is not None and [r.case_id for r in at] == [case_id]:
            rows, start = cmp.page(flt, after=row.key - 1, limit=size), cmp.position(row, flt)
        else:
            case_id, skip = None, max(0, min(position, total) - 1)
            rows, start = cmp.page(flt, after=-1, limit=size, offset=skip), skip + 1
        request = PageRequest(flt, generation, select=case_id)
        self.post_message(PageLoaded(Page(request, rows, total, start)))

    @on(PageLoaded)
    def page_loaded(self, message: PageLoaded) -> None:
        self.land(message.page)

    def land(self, page: Page) -> None:
        """A page read: the list shows it, the cursor goes where it belongs."""
        cursor, listing = self.cursor, self.listing
        if not cursor.land(page, window=2 * listing.size.height):
            return
        listing.show(cursor.rows, cursor.start, cursor.total)
        if not cursor.rows:
            self.show_filter_line()
            self.pane.say("No cases match this filter. F clears the filters.")
            return
        if page.request.view is not None:  # scrolled to: the rows are shown, the cursor stays
            rows = listing.scrollable_content_region.height
            self.fetch(cursor.refill(listing.missing_on_screen(), page.request.view, rows))
            return
        self.follow(cursor.settle(page))
        self.show_filter_line()

    @on(RowsWanted)
    def rows_wanted(self, message: RowsWanted) -> None:
        self.fetch(
            self.cursor.wanted(message.position, self.listing.scrollable_content_region.height)
        )

    @on(CaseChosen)
    def case_chosen(self, message: CaseChosen) -> None:
        position = self.cursor.position_of(message.case_id)
        if position is not None:
            self.go_to(position)
        if message.open:
            self.open_case()

    def open_case(self) -> None:
        """The whole case, every sample, scrollable."""
        row, detail = self.cursor.current, self.cursor.detail
        if row is None or detail is None:
            return

        self.app.push_screen(CaseScreen(row, detail, self.reducer))

    # -- the next regression, the next untriaged case --------------------------------------------

    @work(thread=True, exclusive=True, group="compare-jump", exit_on_error=False)
    def find_regression(self, step: int) -> None:
        cmp, cursor = self.comparison, self.cursor
        if cmp is not None:
            row = cmp.neighbour(cursor.current, cursor.flt, step=step, changes={"regressed"})
            self.post_message(Jump(row, "regression", cursor.generation))

    @work(thread=True, exclusive=True, group="compare-jump", exit_on_error=False)
    def find_untriaged(self, step: int) -> None:
        cmp, cursor = self.comparison, self.cursor
        if cmp is not None:
            flt = cursor.flt.with_(triage="untriaged")
            row = cmp.neighbour(cursor.current, flt, step=step)
            self.post_message(Jump(row, "untriaged case", cursor.generation))

    @on(Jump)
    def jumped(self, message: Jump) -> None:
        if message.generation != self.cursor.generation:
            return
        if message.row is None:
            self.screen.notify(f"No {message.what} that way", timeout=2, markup=False)
            return
        position = self.cursor.position_of(message.row.case_id)
        if position is not None:
            self.go_to(position)
        else:  # not in the window: the page that starts at it (its position counted)
            self.fetch(self.cursor.page_from(message.row))

    def after_save(self, message: Saved) -> None:
        """A triage action committed: its row as it is now, then the next case (or the
        same one again, its findings changed)."""
        self.forget(message.case_id)  # its triage columns and history changed
        self.show_alert()
        cursor = self.cursor
        if message.row is not None and cursor.replace_row(message.row):
            self.listing.show(cursor.rows, cursor.start, cursor.total)  # its class and owner
        select = message.next_row.case_id if message.next_row is not None else message.case_id
        position = cursor.position_of(select)
        if position is not None:
            self.go_to(position, reselect=select == message.case_id)
        elif message.next_row is not None:  # further on: its page, its position counted
            self.fetch(cursor.page_from(message.next_row))

    # -- the case shown ---------------------------------------------------------------------

    def after_frame(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call `callback` once this step's frame is out (`AFTER_FRAME`)."""
        self.set_timer(AFTER_FRAME, partial(callback, *args))

    def _read_again(self, row: CaseRow) -> None:
        current = self.cursor.current
        if current is not None and current.case_id == row.case_id:
            self.load_detail(row)  # not once the cursor has moved on: it would cancel that read

    @work(thread=True, exclusive=True, group="compare-detail", exit_on_error=False)
    def load_detail(self, row: CaseRow) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        generation = self.cursor.generation
        fresh, detail, history = cmp.read_case(row)
        if not get_current_worker().is_cancelled:
            self.post_message(DetailLoaded(fresh, detail, generation, history))

    @on(DetailLoaded)
    def detail_loaded(self, message: DetailLoaded) -> None:
        self.show_case((message.row, message.detail, message.history))

    def show_case(self, view: CaseView) -> None:
        """Put a case read on screen, if it is the one at the cursor and not there yet;
        then read its neighbours ahead."""
        if not self.cursor.take(view):
            return
        row, detail, history = view
        self.pane.search = self.cursor.flt.text  # its matches marked
        self.pane.show(row, detail, self.reducer, history)
        self.shown_at = time.perf_counter()
        self.show_alert()
        self.show_filter_line()
        # (a pane not shown renders nothing ahead: it would be at no width)
        prepare = self.pane.preparer(self.reducer) if self.pane.display else None
        self.after_frame(self.read_ahead, self.cursor.neighbours(row), prepare)

    @work(thread=True, exclusive=True, group="compare-readahead", exit_on_error=False)
    def read_ahead(self, rows: list[CaseRow], prepare: Callable[..., Any] | None) -> None:
        """Details of the cases next to the current one, read and rendered ahead, so a
        step needs no round trip and no render."""
        cmp = self.comparison
        if cmp is None:
            return
        found: dict[int, CaseView] = {}
        prepared = []
        for row in rows:
            if get_current_worker().is_cancelled:
                return
            view = self.cursor.details.get(row.case_id) or cmp.read_case(row)
            found[row.case_id] = view
            if prepare is not None:
                prepared.append(prepare(*view))
        self.post_message(ReadAhead(found, prepared))

    @on(ReadAhead)
    def read_ahead_done(self, message: ReadAhead) -> None:
        self.cursor.keep(message.details)
        self.pane.prepare(message.prepared)

    # -- the path cursor (agent runs) ----------------------------------------------------------

    def highlighted_call(self) -> tuple[int, StepRef] | None:
        """The tool call highlighted in the case at the cursor (none while it is read)."""
        return self.pane.highlighted_call() if self.cursor.detail is not None else None

    def step_call(self, step: int) -> None:
        if self.cursor.detail is not None and not self.pane.step_call(step):
            self.screen.notify("This case has no tool calls", timeout=2, markup=False)

    def path_key(self, what: str) -> None:
        """`fold`: the highlighted call's results whole (or folded again); `divergence`:
        the first call where the candidate's path parts from the baseline's highlighted,
        and said in words."""
        if self.cursor.detail is None:
            return
        if what == "fold" and not self.pane.fold_call():
            self.screen.notify("This case has no tool calls", timeout=2, markup=False)
        elif what == "divergence":
            self.screen.notify(self.pane.jump_divergence(), timeout=4, markup=False)
