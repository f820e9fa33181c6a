"""Compare screen: the scoreboard by segment, the changed cases (paged), the case pane.

The case list is a window of rows over the comparison's temp table; the cursor
and its paging are in `case_paging.py`, so the widget never holds a whole run. Every SQLite call runs in a
thread worker; results come back as messages (tui/messages.py). The widgets
draw what they are given; the triage and lifecycle actions are in
`case_actions.py`.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

from rich.text import Text
from textual import events, on, work
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
from evaltui.textsafe import one_line
from evaltui.triage import Finding
from evaltui.tui.messages import (
    Built,
    Jump,
    Opened,
    PageLoaded,
    SegmentChosen,
)
from evaltui.tui.render import counts_text, title_text
from evaltui.tui.screens.case_actions import CaseActions
from evaltui.tui.screens.case_paging import PAGE
from evaltui.tui.screens.compare_keys import COMPARE_KEYS, fit_footer, name_class_keys
from evaltui.tui.screens.compare_view import CompareView
from evaltui.tui.screens.path_keys import PathKeys
from evaltui.tui.widgets import CaseList, CasePane, FilterBar, Scoreboard
from evaltui.tui.widgets.safe import Input, Static


class CompareScreen(CaseActions, CompareView, PathKeys):
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
        self.restoring = False  # the saved place is being read (compare_view.py)
        self.place_to_restore: tuple[int | None, int] = (None, 1)
        self.reducer_choice: str | None = None  # a reducer chosen in the app ("declared"...)
        self.dimensions: list[str] | None = None  # segment dimensions chosen; None: the default
        self.comparison: Comparison | None = None
        self.flt = Filter()
        self.filter_index = 0
        self.rows: list[CaseRow] = []
        self.total = 0
        self.current: CaseRow | None = None
        self.current_detail: CaseDetail | None = None
        self.position = 0
        self.window_start = 1  # position of self.rows[0]
        self._fetching = False  # a page is on its way
        self._count_lines = -1
        self._previews: list[Comparison] = []  # first pages shown before the whole comparison
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
        yield Static(Text(""), id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#compare-body").display = False
        self.query_one("#scoreboard").display = False
        self.read_view()  # the view saved for this comparison, then build

    def on_resize(self, event: events.Resize) -> None:
        fit_footer(self, event.size.width)

    def name_keys(self) -> None:
        """Keys 1-9 by the taxonomy's class names, then the footer fitted again."""
        if self.taxonomy is not None:
            name_class_keys(self, [(c.name, c.owner) for c in self.taxonomy.active])
            fit_footer(self, self.size.width)

    def on_unmount(self) -> None:
        for cmp in [self.comparison, *self._previews]:
            if cmp is not None:
                cmp.close()

    # -- building ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-build", exit_on_error=False)
    def build(self) -> None:
        """The whole comparison in a thread and, meanwhile, a preview of its first page
        (`Comparison(first=...)`, about half the time at a million results): people read
        the worst case first. The preview's rows are the whole one's, so the list goes
        on from them when the figures arrive (`built`)."""
        b, c, f = self.run_ids
        from evaltui import taxonomy

        statuses = frozenset(CASE_STATUSES) if self.include_hidden else frozenset({"active"})
        args: dict[str, Any] = {"reducer": self.reducer_arg(), "statuses": statuses,
                                "dimensions": self.dimensions}  # fmt: skip
        done: dict[str, Any] = {}

        def whole() -> None:
            try:
                done["cmp"] = Comparison(self.db_path, b, c, f, **args)
            except BaseException as exc:
                done["error"] = exc

        thread = threading.Thread(target=whole, name="compare-whole", daemon=True)
        thread.start()
        try:
            preview = Comparison(self.db_path, b, c, f, first=PAGE, **args)
            with Store(self.db_path) as store:
                tax = taxonomy.load(store, getattr(self.app, "taxonomy_path", None))
            rows = preview.page(Filter(), limit=PAGE)
            first = preview.read_case(rows[0]) if rows else None
            self.post_message(Opened(preview, rows, tax, first))
        finally:
            thread.join()
        if "error" in done:
            raise done["error"]
        if get_current_worker().is_cancelled:
            done["cmp"].close()
            return
        self.post_message(self.figures(done["cmp"], tax))

    @on(Opened)
    def opened(self, message: Opened) -> None:
        if self.comparison is not None and self.comparison is not message.comparison:
            self.comparison.close()
        cmp = self.comparison = message.comparison
        self.taxonomy = message.taxonomy
        self.name_keys()
        self.reducer = cmp.reducer  # "declared" is resolved by the comparison
        self.flt, self.filter_index = Filter(), 0
        self._details = {message.first[0].case_id: message.first} if message.first else {}
        self.query_one("#loading").display = False
        self.query_one("#compare-body").display = True
        self.show_title()
        self.generation += 1
        listing = self.query_one("#cases", CaseList)
        listing.configure(risk=cmp.risk_dimension, fallback=cmp.fallback is not None)
        self.position, self.total = 0, 0
        listing.focus()
        # What is built now lives as long as the screen: out of the collector's way, so a
        # full collection (tens of ms, every few dozen keys) scans only what is new.
        gc.freeze()
        flt = self.restore_place()
        if flt is not None and (flt != Filter() or self.place_to_restore != (None, 1)):
            self.flt, self.restoring = flt, True  # restored when the figures arrive (`built`)
            return
        first = message.rows[0].case_id if message.rows else None
        self.page_loaded(PageLoaded(message.rows, None, first, self.generation, 1))

    @on(Built)
    def built(self, message: Built) -> None:
        previous = self.comparison
        swapped = previous is not None and previous is not message.comparison
        if swapped and previous is not None and previous.first is not None:
            # The preview: the whole comparison takes over. Closed with the screen, as a
            # read started on it may still be running.
            self._previews.append(previous)
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
        if self.restoring:  # where this reviewer left it: read from the whole comparison
            self.restore_to(*self.place_to_restore)
            return
        if refresh or swapped or self.flt != Filter():
            # Figures changed (a retirement) or a filter is on: read the place in the list
            # again; the cursor keeps its position (the next case, if this one left).
            self.reload_window(count=True)
            return
        self.total = message.comparison.count(self.flt)  # from the tally just made: no scan
        self.query_one("#cases", CaseList).show(self.rows, self.window_start, self.total)
        self.show_filter_line()

    def show_title(self) -> None:
        assert self.comparison is not None
        self.query_one("#title", Static).update(title_text(self.comparison))

    def show_counts(self) -> None:
        text = counts_text(self.counts, self.statuses, self.progress,
                           included=self.include_hidden, tools=self.tool_stats)  # fmt: skip
        lines = text.plain.count("\n")
        # as many lines as before: no layout pass (a triage key updates the progress)
        self.query_one("#counts", Static).update(text, layout=lines != self._count_lines)
        self._count_lines = lines

    def say(self, text: str) -> None:
        """The status line: what the last action did ("... (saved)"). One fixed line,
        updated without a layout pass, so confirming costs a triage key no time."""
        self.query_one("#status", Static).update(Text(one_line(text, 200)), layout=False)

    # -- the case list --------------------------------------------------------------------

    def show_filter_line(self) -> None:
        self.query_one("#filter-line", FilterBar).show(
            self.flt,
            total=self.total if self._figures_shown else None,
            position=self.position if self.current is not None else None,
        )

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
        index = next((i for i, r in enumerate(self.rows) if r.case_id == row.case_id), None)
        if index is not None:
            self.go_to(self.window_start + index)
            return
        # Not in the window: load the page that starts at it (its position counted).
        self.load_page(row.key - 1, None, select=row.case_id)

    # -- filters ------------------------------------------------------------------------------

    def set_filter(self, flt: Filter) -> None:
        self.flt = flt
        self.generation += 1
        self.current, self.position, self.total, self.rows = None, 0, 0, []
        self.load_page(None, None, start=1, count=True)

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

    @work(thread=True, exclusive=True, group="compare-restore", exit_on_error=False)
    def restore_to(self, case_id: int | None, position: int) -> None:
        """The page holding the saved case (if it is still in the saved filter's list),
        else the one at the saved position."""
        cmp, flt, generation = self.comparison, self.flt, self.generation
        if cmp is None:
            return
        total = cmp.count(flt)
        row = cmp.row(case_id) if case_id else None
        if row is not None and [r.case_id for r in cmp.page(flt, after=row.key - 1, limit=1)] == [
            case_id
        ]:
            rows, start = cmp.page(flt, after=row.key - 1, limit=PAGE), cmp.position(row, flt)
        else:
            case_id, skip = None, max(0, min(position, total) - 1)
            rows, start = cmp.page(flt, after=-1, limit=PAGE, offset=skip), skip + 1
        self.post_message(PageLoaded(rows, total, case_id, generation, start))

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:  # Esc in the search box cancels the search, not the screen
            box.display = False
            self.query_one("#cases", CaseList).focus()
            return
        self.save_view()
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
