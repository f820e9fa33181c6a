"""Compare screen: the scoreboard by segment, the changed cases (paged), the case pane.

The case list is a window of at most PAGE rows over the comparison's temp
table; stepping past either end fetches the neighbouring page with a keyset
query, so the widget never holds a whole run. Every SQLite call runs in a
thread worker; results come back as messages (tui/messages.py). The widgets
draw what they are given; the triage and lifecycle actions are in
`case_actions.py`.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, LoadingIndicator
from textual.worker import get_current_worker

from evaltui.compare import (
    FILTER_CYCLE,
    CaseDetail,
    CaseRow,
    Comparison,
    Filter,
    Reducer,
    SegmentRow,
)
from evaltui.models import CASE_STATUSES
from evaltui.store import Store
from evaltui.taxonomy import Taxonomy
from evaltui.triage import Finding
from evaltui.tui.messages import (
    Built,
    CaseChosen,
    DetailLoaded,
    Jump,
    Opened,
    PageLoaded,
    ReadAhead,
    SegmentChosen,
)
from evaltui.tui.render import counts_text, title_text
from evaltui.tui.screens.case_actions import CaseActions
from evaltui.tui.screens.compare_keys import COMPARE_KEYS
from evaltui.tui.screens.path_keys import PathKeys
from evaltui.tui.widgets import CaseList, CasePane, FilterBar, Scoreboard
from evaltui.tui.widgets.safe import Input, Static

PAGE = 60


class CompareScreen(CaseActions, PathKeys):
    """Baseline vs candidate (and fallback), stepping through what changed."""

    BINDINGS = COMPARE_KEYS

    def __init__(
        self,
        baseline: int,
        candidate: int,
        fallback: int | None = None,
        reducer: Reducer | None = None,
    ) -> None:
        super().__init__()
        self.run_ids = (baseline, candidate, fallback)
        self.reducer = reducer or Reducer()
        self.comparison: Comparison | None = None
        self.flt = Filter()
        self.filter_index = 0
        self.rows: list[CaseRow] = []
        self.total = 0
        self.current: CaseRow | None = None
        self.current_detail: CaseDetail | None = None
        self.position = 0
        self.window_start = 1  # position of self.rows[0]
        self.segments: list[SegmentRow] = []
        self.counts: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.generation = 0  # bumps when the filter changes: stale answers are dropped
        self.taxonomy: Taxonomy | None = None
        self.progress: dict[str, tuple[int, int]] = {}
        self.history: list[Finding] = []
        self.not_saved: dict[int, str] = {}
        self.include_hidden = False
        self._figures_shown = False  # a Built after the first one is a refresh
        # case id -> (row, detail, finding history): the current case and its neighbours
        self._details: dict[int, tuple[CaseRow, CaseDetail, list[Finding]]] = {}
        # When a case was last put on screen (time.perf_counter()): what `make bench` times.
        self.shown_at: float | None = None

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · compare", style="bold"), id="title")
        yield Static(Text("Comparing…"), id="counts")
        yield Scoreboard(id="scoreboard")
        yield FilterBar(Text(""), id="filter-line")
        yield Input(placeholder="search case key, input, expected or output; Enter to apply, Esc to cancel",
                    id="search")  # fmt: skip
        with Horizontal(id="compare-body"):
            yield CaseList(id="cases")
            yield CasePane(id="case-pane")
        yield LoadingIndicator(id="loading")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#compare-body").display = False
        self.query_one("#scoreboard").display = False
        self.build()

    def on_unmount(self) -> None:
        if self.comparison is not None:
            self.comparison.close()

    # -- building ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-build", exit_on_error=False)
    def build(self) -> None:
        b, c, f = self.run_ids
        from evaltui import taxonomy

        statuses = frozenset(CASE_STATUSES) if self.include_hidden else frozenset({"active"})
        cmp = Comparison(self.db_path, b, c, f, reducer=self.reducer, statuses=statuses)
        with Store(self.db_path) as store:
            tax = taxonomy.load(store, getattr(self.app, "taxonomy_path", None))
        # The first page goes out before the segment tally: people read the worst case first.
        rows = cmp.page(Filter(), limit=PAGE)
        first = cmp.read_case(rows[0]) if rows else None
        self.post_message(Opened(cmp, rows, tax, first))
        self.post_message(self.figures(cmp, tax))

    @on(Opened)
    def opened(self, message: Opened) -> None:
        if self.comparison is not None and self.comparison is not message.comparison:
            self.comparison.close()
        self.comparison, self.taxonomy = message.comparison, message.taxonomy
        self.flt, self.filter_index = Filter(), 0
        self._details = {message.first[0].case_id: message.first} if message.first else {}
        self.query_one("#loading").display = False
        self.query_one("#compare-body").display = True
        self.show_title()
        self.generation += 1
        first = message.rows[0].case_id if message.rows else None
        self.page_loaded(PageLoaded(message.rows, None, first, self.generation, 1))
        self.query_one("#cases", CaseList).focus()

    @on(Built)
    def built(self, message: Built) -> None:
        refresh = self.comparison is message.comparison and self._figures_shown
        self._figures_shown = True
        self.comparison = message.comparison
        self.segments, self.counts, self.statuses = (
            message.segments,
            message.counts,
            message.statuses,
        )
        self.taxonomy, self.progress = message.taxonomy, message.progress
        self.query_one("#loading").display = False
        self.query_one("#compare-body").display = True
        self.query_one("#scoreboard").display = True
        self.show_title()
        self.show_counts()
        if not refresh:
            self.load_tools(message.comparison)
        self.query_one("#scoreboard", Scoreboard).show(
            self.segments, message.comparison.fallback is not None
        )
        if refresh and self.rows:
            # Figures changed (a retirement): keep the place in the list.
            self.load_page(self.rows[0].key - 1, None, start=self.window_start,
                           select=self.current.case_id if self.current else None)  # fmt: skip
            return
        if self.flt == Filter():
            self.total = message.comparison.count(self.flt)  # from the tally just made: no scan
        else:
            self.load_page(self.rows[0].key - 1 if self.rows else None, None, start=self.window_start,
                           select=self.current.case_id if self.current else None)  # fmt: skip
        self.show_filter_line()

    def show_title(self) -> None:
        assert self.comparison is not None
        self.query_one("#title", Static).update(title_text(self.comparison))

    def show_counts(self) -> None:
        self.query_one("#counts", Static).update(
            counts_text(
                self.counts,
                self.statuses,
                self.progress,
                included=self.include_hidden,
                tools=self.tool_stats,
            )
        )

    # -- the case list --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-page", exit_on_error=False)
    def load_page(
        self, after: int | None, before: int | None, *,
        select_last: bool = False, select: int | None = None, start: int | None = None,
    ) -> None:  # fmt: skip
        """A window of PAGE rows after/before an order key. `start` is the window's
        position when the caller knows it (stepping); otherwise it is counted."""
        cmp = self.comparison
        if cmp is None:
            return
        generation = self.generation
        rows = cmp.page(self.flt, after=after, before=before, limit=PAGE)
        total = cmp.count(self.flt)
        if rows and start is None:
            start = 1 if after is None and before is None else cmp.position(rows[0], self.flt)
        elif rows and before is not None and start is not None:
            start = start - len(rows)
        if get_current_worker().is_cancelled:
            return
        target = select
        if rows and select is None:
            target = rows[-1].case_id if select_last else rows[0].case_id
        self.post_message(PageLoaded(rows, total, target, generation, start or 1))

    @on(PageLoaded)
    @on(PageLoaded)
    def page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self.generation:
            return
        if message.total is not None:
            self.total = message.total
        table = self.query_one("#cases", CaseList)
        if not message.rows and self.rows:
            self.notify("No more cases that way", markup=False, timeout=2)
            return
        self.rows = message.rows
        self.window_start = message.start
        cmp = self.comparison
        table.show(
            self.rows,
            dimensions=cmp.dimensions if cmp else [],
            risk=cmp.risk_dimension if cmp else None,
            fallback=cmp is not None and cmp.fallback is not None,
        )
        self.show_filter_line()
        if not self.rows:
            self.current = None
            self.query_one("#case-pane", CasePane).say(
                "No cases match this filter. F clears the filters."
            )
            return
        index = next((i for i, r in enumerate(self.rows) if r.case_id == message.select), 0)
        table.move_cursor(row=index)
        self.select_row(self.rows[index])

    def show_filter_line(self) -> None:
        self.query_one("#filter-line", FilterBar).show(
            self.flt,
            total=self.total if self._figures_shown else None,
            position=self.position if self.current is not None else None,
        )

    @on(CaseChosen)
    def case_chosen(self, message: CaseChosen) -> None:
        if message.open:
            self.action_open_case()
            return
        row = next((r for r in self.rows if r.case_id == message.case_id), None)
        if row is not None and (self.current is None or row.case_id != self.current.case_id):
            self.select_row(row)

    def select_row(self, row: CaseRow) -> None:
        self.current = row
        index = next((i for i, r in enumerate(self.rows) if r.case_id == row.case_id), 0)
        self.position = self.window_start + index
        cached = self._details.get(row.case_id)
        if cached is not None:  # read ahead: shown in the same refresh as the cursor move
            self.detail_loaded(DetailLoaded(cached[0], cached[1], self.generation, cached[2]))
        self.load_detail(row)  # and read again: another session may have changed it

    def _neighbours_of(self, row: CaseRow) -> list[CaseRow]:
        index = next((i for i, r in enumerate(self.rows) if r.case_id == row.case_id), None)
        if index is None:
            return []
        return [self.rows[i] for i in (index + 1, index - 1, index + 2) if 0 <= i < len(self.rows)]

    @work(thread=True, exclusive=True, group="compare-readahead", exit_on_error=False)
    def read_ahead(self, rows: list[CaseRow]) -> None:
        """Details of the cases next to the current one, so a step needs no round trip."""
        cmp = self.comparison
        if cmp is None:
            return
        found = {}
        for row in rows:
            if row.case_id in self._details:
                continue
            if get_current_worker().is_cancelled:
                return
            found[row.case_id] = cmp.read_case(row)
        self.post_message(ReadAhead(found))

    @on(ReadAhead)
    def read_ahead_done(self, message: ReadAhead) -> None:
        self._details.update(message.details)
        while len(self._details) > 12:  # a few cases either side; memory stays flat
            self._details.pop(next(iter(self._details)))

    @work(thread=True, exclusive=True, group="compare-detail", exit_on_error=False)
    def load_detail(self, row: CaseRow) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        generation = self.generation
        fresh, detail, hist = cmp.read_case(row)
        if get_current_worker().is_cancelled:
            return
        self.post_message(DetailLoaded(fresh, detail, generation, hist))

    @on(DetailLoaded)
    def detail_loaded(self, message: DetailLoaded) -> None:
        if self.current is None or message.row.case_id != self.current.case_id:
            return
        shown = (message.row, message.detail, message.history)
        if self.current_detail is message.detail or (
            self._details.get(message.row.case_id) == shown
            and self.current_detail == message.detail
        ):
            return  # the same as on screen: no repaint
        self.current_detail = message.detail
        self.current = message.row
        self.history = message.history
        self._path_reset()
        self.query_one("#case-pane", CasePane).show(
            message.row, message.detail, self.reducer, message.history
        )
        self.shown_at = time.perf_counter()
        self.show_alert()
        self.show_filter_line()
        self._details[message.row.case_id] = (message.row, message.detail, message.history)
        self.read_ahead(self._neighbours_of(message.row))

    # -- stepping -------------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        table = self.query_one("#cases", CaseList)
        if not self.rows:
            return
        index = table.cursor_row + step
        if 0 <= index < len(self.rows):
            table.move_cursor(row=index)
            # show it now, not when the RowHighlighted message comes round (a no-op then)
            self.select_row(self.rows[index])
            return
        # Past the window: fetch the neighbouring page (keyset), cursor at its near end.
        if step > 0:
            self.load_page(self.rows[-1].key, None, start=self.window_start + len(self.rows))
        else:
            self.load_page(None, self.rows[0].key, select_last=True, start=self.window_start)

    def action_jump(self, step: int) -> None:
        self.find_regression(step)

    @work(thread=True, exclusive=True, group="compare-jump", exit_on_error=False)
    def find_regression(self, step: int) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        row = cmp.neighbour(self.current, self.flt, step=step, changes={"regressed"})
        self.post_message(Jump(row, "regression", self.generation))

    def action_untriaged(self, step: int) -> None:
        self.find_untriaged(step)

    @work(thread=True, exclusive=True, group="compare-jump", exit_on_error=False)
    def find_untriaged(self, step: int) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        row = cmp.neighbour(self.current, self.flt.with_(triage="untriaged"), step=step)
        self.post_message(Jump(row, "untriaged case", self.generation))

    @on(Jump)
    def jumped(self, message: Jump) -> None:
        if message.generation != self.generation:
            return
        if message.row is None:
            self.notify(f"No {message.what} that way", markup=False, timeout=2)
            return
        row = message.row
        if any(r.case_id == row.case_id for r in self.rows):
            table = self.query_one("#cases", CaseList)
            table.move_cursor(
                row=next(i for i, r in enumerate(self.rows) if r.case_id == row.case_id)
            )
            return
        # Not in the window: load the page that starts just before it.
        self.load_page(row.key - 1, None, select=row.case_id)

    # -- filters ------------------------------------------------------------------------------

    def set_filter(self, flt: Filter) -> None:
        self.flt = flt
        self.generation += 1
        self.current = None
        self.load_page(None, None)

    def action_cycle_filter(self) -> None:
        for _ in FILTER_CYCLE:  # the next kind that has cases: an empty one is skipped
            self.filter_index = (self.filter_index + 1) % len(FILTER_CYCLE)
            if sum(self.counts.get(c, 0) for c in FILTER_CYCLE[self.filter_index][1]):
                break
        self.set_filter(self.flt.with_(changes=FILTER_CYCLE[self.filter_index][1]))

    def action_segment_filter(self) -> None:
        segment = self.query_one("#scoreboard", Scoreboard).highlighted_segment
        if segment is not False:
            self.set_filter(self.flt.with_(segment=segment))

    @on(SegmentChosen)
    def segment_chosen(self, message: SegmentChosen) -> None:
        self.set_filter(self.flt.with_(segment=message.segment))
        self.query_one("#cases", CaseList).focus()

    def action_clear_filters(self) -> None:
        self.filter_index = 0
        self.set_filter(Filter())

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.flt.search_text()
        box.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        self.set_filter(self.flt.parse(event.value))
        self.query_one("#cases", CaseList).focus()

    # -- other screens, panes ------------------------------------------------------------------

    def action_zoom(self) -> None:
        cases = self.query_one("#cases", CaseList)
        cases.display = not cases.display
        if not cases.display:
            self.query_one("#case-view").focus()
        else:
            cases.focus()

    def action_gate(self) -> None:
        from evaltui.tui.screens.gate import GateScreen

        b, c, f = self.run_ids
        self.app.push_screen(GateScreen(b, c, f))

    def action_toggle_hidden(self) -> None:
        self.include_hidden = not self.include_hidden
        self.notify(
            "Retired and quarantined cases are counted"
            if self.include_hidden
            else "Retired and quarantined cases are left out",
            markup=False,
        )
        self.action_rebuild()

    def action_cycle_pane(self) -> None:
        order = ["#scoreboard", "#cases", "#case-view"]
        focused = self.focused
        ids = [self.query_one(sel) for sel in order]
        i = ids.index(focused) if focused in ids else -1
        ids[(i + 1) % len(ids)].focus()

    def action_open_case(self) -> None:
        if self.current is None or self.current_detail is None:
            return
        from evaltui.tui.screens.case import CaseScreen

        self.app.push_screen(CaseScreen(self.current, self.current_detail, self.reducer))

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:  # Esc in the search box cancels the search, not the screen
            box.display = False
            self.query_one("#cases", CaseList).focus()
            return
        self.app.pop_screen()

    def action_rebuild(self) -> None:
        self.query_one("#loading").display = True
        self._figures_shown = False
        self.build()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("step", "jump", "open_case", "cycle_filter", "segment_filter", "search",
                      "clear_filters", "cycle_pane", "assign", "pick_class", "owner", "verdict",
                      "accept", "note", "undo", "untriaged", "case_status", "stale",
                      "toggle_hidden") and self.comparison is None:  # fmt: skip
            return None
        return True
