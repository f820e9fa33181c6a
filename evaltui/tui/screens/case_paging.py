"""The compare screen's cursor over the case list: every key lands, across pages.

The cursor is an absolute position in the filtered list (`position`). A key moves it at
once; when the row there is in the window held, the case shows in the same frame. When
it is not (a page boundary, End, keys typed faster than pages arrive), the position
still moves, the list draws a placeholder there, and the page holding it is fetched
with a keyset query from the nearest row held (or from either end of the list). When
the page lands, the case at the position, wherever it got to meanwhile, is shown: N
presses move exactly N cases. Near either edge of the window the next page is read
ahead, so a step rarely waits at all. The window holds at most WINDOW rows.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.worker import get_current_worker

from evaltui.compare import CaseDetail, CaseRow, Comparison, Filter, Reducer
from evaltui.triage import Finding
from evaltui.tui.messages import CaseChosen, DetailLoaded, PageLoaded, ReadAhead, RowsWanted
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.widgets import CaseList, CasePane

PAGE = 60
WINDOW = 3 * PAGE
LAST = 1 << 62  # an order key after every case


class CasePaging(AppScreen):
    """Stepping, paging and the case pane's content (state is the screen's)."""

    comparison: Comparison | None
    flt: Filter
    reducer: Reducer
    rows: list[CaseRow]
    window_start: int
    total: int
    position: int
    current: CaseRow | None
    current_detail: CaseDetail | None
    history: list[Finding]
    generation: int
    shown_at: float | None
    _details: dict[int, tuple[CaseRow, CaseDetail, list[Finding]]]
    _fetching: bool
    _refills: int = 0  # pages fetched again for one scroll
    restoring: bool

    if TYPE_CHECKING:  # CompareScreen's, used here

        def show_filter_line(self) -> None: ...
        def show_alert(self) -> None: ...
        def _path_reset(self) -> None: ...

    @property
    def window_end(self) -> int:
        return self.window_start + len(self.rows) - 1

    # -- moving the cursor ------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        if self.rows or self.total:
            self.go_to(self.position + step)

    def action_page(self, pages: int) -> None:
        height = max(1, self.query_one("#cases", CaseList).scrollable_content_region.height - 2)
        self.action_step(pages * height)

    def action_first(self) -> None:
        self.action_step(1 - self.position)

    def action_last(self) -> None:
        self.action_step(max(self.total, self.window_end) - self.position)

    def go_to(self, target: int, *, reselect: bool = False) -> None:
        """Put the cursor at `target` (clamped to the list) and show the case there."""
        # While the preview shows (the whole comparison is being built) the list's end is
        # not known yet: the position may go past the page held; it is clamped after.
        previewing = self.comparison is not None and self.comparison.first is not None
        last = target if previewing else max(self.total, self.window_end, 1)
        target = max(1, min(target, last))
        self.position = target
        listing = self.query_one("#cases", CaseList)
        listing.move_to(target)
        row = listing.row_at(target)
        if row is None:  # not held yet: the position moves now, the case when its page lands
            self.current = None
            self.show_filter_line()
            self.fetch_for(target)
            return
        if reselect or self.current is None or row.case_id != self.current.case_id:
            self.select_row(row)
        self.read_pages_ahead()

    def read_pages_ahead(self) -> None:
        if self._fetching or not self.rows:
            return
        if self.window_end < self.total and self.window_end - self.position < PAGE // 3:
            self.fetch_for(self.window_end + 1)
        elif self.window_start > 1 and self.position - self.window_start < PAGE // 3:
            self.fetch_for(self.window_start - 1)

    def fetch_for(self, target: int, *, scrolled: bool = False) -> None:
        """Fetch the page holding position `target`, from the nearest key held
        (`scrolled`: for the list's view only; the cursor stays where it is)."""
        if self.comparison is not None and self.comparison.first is not None:
            return  # the preview holds one page: the whole comparison reads the rest (`built`)
        rows, start, end, total = self.rows, self.window_start, self.window_end, self.total
        self._fetching = True
        view = target if scrolled else None
        if rows and end < target <= end + PAGE:
            self.load_page(rows[-1].key, None, start=end + 1, mode="append", view=view)
        elif rows and start - PAGE <= target < start:
            self.load_page(None, rows[0].key, start=start, mode="prepend", view=view)
        elif target <= PAGE:
            self.load_page(None, None, start=1, view=view)
        elif total and target > total - PAGE:
            self.load_page(None, LAST, start=total + 1, view=view)
        elif rows and target > end:
            skip = target - end - 1 - PAGE // 2
            self.load_page(rows[-1].key, None, start=end + 1 + skip, offset=skip, view=view)
        elif rows:
            skip = start - target - PAGE // 2
            self.load_page(None, rows[0].key, start=start - skip, offset=skip, view=view)
        else:
            self.load_page(None, None, start=1, view=view)

    @work(thread=True, exclusive=True, group="compare-page", exit_on_error=False)
    def load_page(
        self, after: int | None, before: int | None, *, select: int | None = None,
        start: int | None = None, offset: int = 0, mode: str = "replace", count: bool = False,
        limit: int = PAGE, view: int | None = None,
    ) -> None:  # fmt: skip
        """PAGE rows after/before an order key. `start` is the position of the first row
        (after) or one past the last (before) when the caller knows it; otherwise it is
        counted. `count` counts the filtered list again (a new filter, a refresh)."""
        cmp = self.comparison
        if cmp is None:
            return
        generation = self.generation
        rows = cmp.page(self.flt, after=after, before=before, limit=limit, offset=offset)
        total = cmp.count(self.flt) if count or not self.total else None
        if rows and before is not None and start is not None:
            start -= len(rows)
        elif rows and start is None:
            start = 1 if after is None and before is None else cmp.position(rows[0], self.flt)
        if get_current_worker().is_cancelled:
            return
        self.post_message(PageLoaded(rows, total, select, generation, start or 1, mode, view))

    @on(PageLoaded)
    def page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self.generation:
            return
        self._fetching = self.restoring = False
        if message.total is not None:
            self.total = message.total
        rows, start = message.rows, message.start
        if message.mode == "append" and start == self.window_end + 1:
            rows, start = self.rows + rows, self.window_start
        elif message.mode == "prepend" and start + len(rows) == self.window_start:
            rows = rows + self.rows
        # keep the rows around the cursor (or what was scrolled to), and at least two
        # screens of them: a window smaller than the list's height could never fill it
        window = max(WINDOW, 2 * self.query_one("#cases", CaseList).size.height)
        if len(rows) > window:
            centre = self.position if message.follow is None else message.follow
            cut = max(0, min(len(rows) - window, centre - start - window // 2))
            rows, start = rows[cut : cut + window], start + cut
        if message.mode != "replace" and not message.rows:
            self.total = min(self.total, self.window_end)  # the list ends sooner than counted
            rows, start = self.rows, self.window_start
        self.rows, self.window_start = rows, start
        self.query_one("#cases", CaseList).show(rows, start, self.total)
        if not rows:
            self.current, self.position = None, 0
            self.show_filter_line()
            self.query_one("#case-pane", CasePane).say(
                "No cases match this filter. F clears the filters."
            )
            return
        if message.follow is not None:  # scrolled to: the rows are shown, the cursor stays
            missing = self.query_one("#cases", CaseList).missing_on_screen()
            if missing is not None and missing != message.follow and self._refills < 4:
                self._refills += 1  # scrolled further meanwhile (bounded: never a loop)
                self.fetch_for(missing, scrolled=True)
            return
        index = next((i for i, r in enumerate(rows) if r.case_id == message.select), None)
        target = self.position if index is None else start + index
        if message.mode == "replace" and index is None and not start <= target <= self.window_end:
            target = start  # a new list: its first row
        self.go_to(target, reselect=message.select is not None)
        self.show_filter_line()

    def reload_window(self, select: int | None = None, *, count: bool = False) -> None:
        """Read the window held again (rows changed in place); the cursor stays."""
        if self.rows:
            self._fetching = True
            self.load_page(self.rows[0].key - 1, None, select=select, start=self.window_start,
                           count=count, limit=len(self.rows))  # fmt: skip
        else:
            self.load_page(None, None, start=1, count=True)

    @on(RowsWanted)
    def rows_wanted(self, message: RowsWanted) -> None:
        if not self._fetching:  # a fetch on its way (a key's) brings the rows it needs
            self._refills = 0
            self.fetch_for(message.position, scrolled=True)

    @on(CaseChosen)
    def case_chosen(self, message: CaseChosen) -> None:
        index = next((i for i, r in enumerate(self.rows) if r.case_id == message.case_id), None)
        if index is not None:
            self.go_to(self.window_start + index)
        if message.open:
            self.action_open_case()  # type: ignore[attr-defined]

    # -- the case shown ---------------------------------------------------------------------

    def select_row(self, row: CaseRow) -> None:
        self.current = row
        cached = self._details.get(row.case_id)
        if cached is None:
            self.current_detail = None  # the pane still shows the last case until it is read
            self.show_filter_line()
            self.load_detail(row)
            return
        # Read ahead: shown in the same frame as the cursor move. Read again once that
        # frame is out (another session may have changed it): a worker started now would
        # hold the interpreter while the frame is drawn.
        self.detail_loaded(DetailLoaded(cached[0], cached[1], self.generation, cached[2]))
        self.call_after_refresh(self._read_again, row)

    def _read_again(self, row: CaseRow) -> None:
        if self.current is not None and self.current.case_id == row.case_id:
            self.load_detail(row)  # not once the cursor has moved on: it would cancel that read

    def _neighbours_of(self, row: CaseRow) -> list[CaseRow]:
        index = next((i for i, r in enumerate(self.rows) if r.case_id == row.case_id), None)
        if index is None:
            return []
        return [self.rows[i] for i in (index + 1, index - 1, index + 2) if 0 <= i < len(self.rows)]

    @work(thread=True, exclusive=True, group="compare-readahead", exit_on_error=False)
    def read_ahead(self, rows: list[CaseRow], prepare: Any) -> None:
        """Details of the cases next to the current one, read and rendered ahead, so a
        step needs no round trip and no render."""
        cmp = self.comparison
        if cmp is None:
            return
        found: dict[int, Any] = {}
        prepared = []
        for row in rows:
            if get_current_worker().is_cancelled:
                return
            view = self._details.get(row.case_id) or cmp.read_case(row)
            found[row.case_id] = view
            prepared.append(prepare(*view))
        self.post_message(ReadAhead(found, prepared))

    @on(ReadAhead)
    def read_ahead_done(self, message: ReadAhead) -> None:
        self._details.update(message.details)
        while len(self._details) > 12:  # a few cases either side; memory stays flat
            self._details.pop(next(iter(self._details)))
        self.query_one("#case-pane", CasePane).prepare(message.prepared)

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
        self._details[message.row.case_id] = shown
        pane = self.query_one("#case-pane", CasePane)
        self.call_after_refresh(
            self.read_ahead, self._neighbours_of(message.row), pane.preparer(self.reducer)
        )
