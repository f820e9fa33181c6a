"""Compare screen: the scoreboard by segment, the changed cases (paged), the case pane.

The case list is a window of at most PAGE rows over the comparison's temp
table; stepping past either end fetches the neighbouring page with a keyset
query, so the widget never holds a whole run. Every SQLite call runs in a
thread worker; results come back as messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, LoadingIndicator, Static
from textual.worker import get_current_worker

from evaltui.compare import (
    CHANGED,
    CHANGES,
    CaseDetail,
    CaseRow,
    Comparison,
    Filter,
    Reducer,
    SegmentRow,
)
from evaltui.textsafe import one_line
from evaltui.tui.render import case_renderable, change_text, verdict_text

PAGE = 60
# What `f` cycles through.
FILTER_CYCLE: list[tuple[str, frozenset[str]]] = [
    ("changed", CHANGED),
    *[(c, frozenset({c})) for c in CHANGES],
    ("all", frozenset(CHANGES)),
]


@dataclass
class Built(Message):
    comparison: Comparison
    segments: list[SegmentRow]
    counts: dict[str, int]
    statuses: dict[str, int]


@dataclass
class PageLoaded(Message):
    rows: list[CaseRow]
    total: int
    select: int | None  # case id to put the cursor on
    generation: int
    start: int  # 1-based position of rows[0] in the filtered list


@dataclass
class DetailLoaded(Message):
    row: CaseRow
    detail: CaseDetail
    generation: int


@dataclass
class Jump(Message):
    """The result of a next/previous-regression query."""

    row: CaseRow | None
    what: str
    generation: int = field(default=0)


class CompareScreen(Screen[None]):
    """Baseline vs candidate (and fallback), stepping through what changed."""

    BINDINGS = [
        Binding("j", "step(1)", "Next", tooltip="Next case in the list", id="compare.next"),
        Binding("k", "step(-1)", "Prev", tooltip="Previous case in the list", id="compare.prev"),
        Binding(
            "n", "jump(1)", "Next regr.", tooltip="Next regression", id="compare.next-regression"
        ),
        Binding(
            "N",
            "jump(-1)",
            "Prev regr.",
            tooltip="Previous regression",
            id="compare.prev-regression",
        ),
        Binding(
            "tab",
            "cycle_pane",
            "Pane",
            tooltip="Cycle focus: scoreboard, cases, case pane",
            id="compare.cycle-pane",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            tooltip="Search case keys, inputs and outputs",
            id="compare.search",
        ),
        Binding(
            "f",
            "cycle_filter",
            "Filter",
            tooltip="Cycle the change kinds shown",
            id="compare.filter",
        ),
        Binding(
            "s",
            "segment_filter",
            "Segment",
            tooltip="Show only the scoreboard's highlighted segment",
            id="compare.segment",
        ),
        Binding(
            "F", "clear_filters", "Clear", tooltip="Clear every filter", id="compare.clear-filters"
        ),
        Binding(
            "o",
            "open_case",
            "Open",
            tooltip="Open the full case (every sample, scrollable)",
            id="compare.open",
        ),
        Binding(
            "r",
            "rebuild",
            "Refresh",
            tooltip="Recompute the comparison from the store",
            id="compare.refresh",
        ),
        Binding("escape", "back", "Back", tooltip="Back to the runs", id="compare.back"),
    ]

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

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · compare", style="bold"), id="title")
        yield Static(Text("Comparing…"), id="counts")
        yield DataTable(id="scoreboard", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="filter-line")
        yield Input(placeholder="search case key, input, expected or output; Enter to apply, Esc to cancel",
                    id="search")  # fmt: skip
        with Horizontal(id="compare-body"):
            yield DataTable(id="cases", cursor_type="row")
            with VerticalScroll(id="case-pane"):
                yield Static(Text(""), id="case-view")
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
        cmp = Comparison(self.app.db_path, b, c, f, reducer=self.reducer)  # type: ignore[attr-defined]
        self.post_message(Built(cmp, cmp.segments(), cmp.counts(), cmp.status_counts()))

    @on(Built)
    def built(self, message: Built) -> None:
        if self.comparison is not None:
            self.comparison.close()
        self.comparison = message.comparison
        self.segments, self.counts, self.statuses = (
            message.segments,
            message.counts,
            message.statuses,
        )
        self.query_one("#loading").display = False
        self.query_one("#compare-body").display = True
        self.query_one("#scoreboard").display = True
        self.show_title()
        self.show_counts()
        self.show_scoreboard()
        self.generation += 1
        self.load_page(None, None, select_first=True)
        self.query_one("#cases", DataTable).focus()

    def show_title(self) -> None:
        cmp = self.comparison
        assert cmp is not None
        t = Text("evaltui · compare  ", style="bold")
        t.append(one_line(cmp.baseline.name, 30))
        t.append(" → ", style="bold")
        t.append(one_line(cmp.candidate.name, 30))
        if cmp.fallback:
            t.append("  fallback ", style="dim")
            t.append(one_line(cmp.fallback.name, 24))
        t.append(f"   reducer {cmp.reducer.label}", style="dim")
        self.query_one("#title", Static).update(t)

    def show_counts(self) -> None:
        t = Text()
        for change in CHANGES:
            n = self.counts.get(change, 0)
            if n or change in ("regressed", "improved"):
                t.append_text(change_text(change))
                t.append(f" {n:,}   ")
        excluded = [f"{n} {s}" for s, n in self.statuses.items() if s != "active" and n]
        if excluded:
            t.append("excluded: " + ", ".join(excluded), style="yellow")
        self.query_one("#counts", Static).update(t)

    def show_scoreboard(self) -> None:
        table = self.query_one("#scoreboard", DataTable)
        table.clear(columns=True)
        fallback = self.comparison is not None and self.comparison.fallback is not None
        cols = ["segment", "n", "baseline", "candidate", "delta", *(["fallback"] if fallback else []),
                "p>f", "f>p", "p", ""]  # fmt: skip
        rows = []
        for seg in self.segments:
            label = "all" if seg.dimension == "all" else f"{seg.dimension}={seg.value}"
            delta = seg.delta
            cells = [
                Text(one_line(label, 32), style="bold" if seg.dimension == "all" else ""),
                Text(f"{seg.n:,}", justify="right"),
                Text(_pct(seg.baseline_rate), justify="right"),
                Text(_pct(seg.candidate_rate), justify="right"),
                Text("-" if delta is None else f"{delta * 100:+.1f}", justify="right",
                     style="red" if (delta or 0) < 0 else "green" if (delta or 0) > 0 else ""),
                *([Text(_pct(seg.fallback_rate), justify="right")] if fallback else []),
                Text(str(seg.regressed), justify="right", style="red" if seg.regressed else ""),
                Text(str(seg.improved), justify="right", style="green" if seg.improved else ""),
                Text(f"{seg.p_value:.3g}", justify="right"),
                Text("*", style="bold red" if (delta or 0) < 0 else "bold green") if seg.significant else Text(""),
            ]  # fmt: skip
            rows.append(cells)
        for i, name in enumerate(cols):
            width = max([len(name), *(r[i].cell_len for r in rows)])
            table.add_column(name, width=width)
        for i, r in enumerate(rows):
            table.add_row(*r, key=str(i))

    # -- the case list --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-page", exit_on_error=False)
    def load_page(
        self, after: int | None, before: int | None, *, select_first: bool = False,
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
            target = rows[0].case_id if select_first or not select_last else rows[-1].case_id
            if select_last:
                target = rows[-1].case_id
        self.post_message(PageLoaded(rows, total, target, generation, start or 1))

    @on(PageLoaded)
    def page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self.generation:
            return
        self.total = message.total
        table = self.query_one("#cases", DataTable)
        if not message.rows and self.rows:
            self.notify("No more cases that way", markup=False, timeout=2)
            return
        self.rows = message.rows
        self.window_start = message.start
        fallback = self.comparison is not None and self.comparison.fallback is not None
        table.clear(columns=True)
        dims = self.comparison.dimensions if self.comparison else []
        risk = self.comparison.risk_dimension if self.comparison else None
        cells = []
        for row in self.rows:
            cells.append(
                [
                    change_text(row.change),
                    Text(one_line(row.case_key, 28)),
                    verdict_text(row.baseline, row.baseline_samples),
                    verdict_text(row.candidate, row.candidate_samples),
                    *([verdict_text(row.fallback)] if fallback else []),
                    Text(
                        one_line(row.segments.get(risk) or "", 10) if risk and risk in dims else ""
                    ),
                ]
            )
        names = ["change", "case", "base", "cand", *(["fb"] if fallback else []), risk or ""]
        for i, name in enumerate(names):
            width = max([len(name), 4, *(c[i].cell_len for c in cells)])
            table.add_column(name, width=width)
        for row, c in zip(self.rows, cells, strict=True):
            table.add_row(*c, key=str(row.case_id))
        self.show_filter_line()
        if not self.rows:
            self.current = None
            self.query_one("#case-view", Static).update(
                Text("No cases match this filter. F clears the filters.", style="dim")
            )
            return
        index = next((i for i, r in enumerate(self.rows) if r.case_id == message.select), 0)
        table.move_cursor(row=index)
        self.select_row(self.rows[index])

    def show_filter_line(self) -> None:
        t = Text("showing ", style="dim")
        t.append(self.flt.describe(), style="bold")
        t.append(f"  ({self.total:,} cases)", style="dim")
        if self.current is not None and self.total:
            t.append(f"   case {self.position:,} of {self.total:,}", style="dim")
        t.append("   f filter · s segment · / search · F clear", style="dim")
        self.query_one("#filter-line", Static).update(t)

    @on(DataTable.RowHighlighted, "#cases")
    def case_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key else None
        row = next((r for r in self.rows if str(r.case_id) == key), None)
        if row is not None and (self.current is None or row.case_id != self.current.case_id):
            self.select_row(row)

    def select_row(self, row: CaseRow) -> None:
        self.current = row
        index = next((i for i, r in enumerate(self.rows) if r.case_id == row.case_id), 0)
        self.position = self.window_start + index
        self.load_detail(row)

    @work(thread=True, exclusive=True, group="compare-detail", exit_on_error=False)
    def load_detail(self, row: CaseRow) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        generation = self.generation
        detail = cmp.detail(row.case_id)
        if get_current_worker().is_cancelled:
            return
        self.post_message(DetailLoaded(row, detail, generation))

    @on(DetailLoaded)
    def detail_loaded(self, message: DetailLoaded) -> None:
        if self.current is None or message.row.case_id != self.current.case_id:
            return
        self.current_detail = message.detail
        self.query_one("#case-view", Static).update(
            case_renderable(message.row, message.detail, self.reducer)
        )
        self.query_one("#case-pane", VerticalScroll).scroll_to(y=0, animate=False, immediate=True)
        self.show_filter_line()

    # -- stepping -------------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        table = self.query_one("#cases", DataTable)
        if not self.rows:
            return
        index = table.cursor_row + step
        if 0 <= index < len(self.rows):
            table.move_cursor(row=index)
            return
        # Past the window: fetch the neighbouring page (keyset), cursor at its near end.
        if step > 0:
            self.load_page(
                self.rows[-1].key, None, select_first=True, start=self.window_start + len(self.rows)
            )
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

    @on(Jump)
    def jumped(self, message: Jump) -> None:
        if message.generation != self.generation:
            return
        if message.row is None:
            self.notify(f"No {message.what} that way", markup=False, timeout=2)
            return
        row = message.row
        if any(r.case_id == row.case_id for r in self.rows):
            table = self.query_one("#cases", DataTable)
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
        self.load_page(None, None, select_first=True)

    def action_cycle_filter(self) -> None:
        self.filter_index = (self.filter_index + 1) % len(FILTER_CYCLE)
        _, changes = FILTER_CYCLE[self.filter_index]
        self.set_filter(Filter(changes, self.flt.segment, self.flt.text))

    def action_segment_filter(self) -> None:
        table = self.query_one("#scoreboard", DataTable)
        if not self.segments or table.cursor_row < 0:
            return
        seg = self.segments[table.cursor_row]
        segment = None if seg.dimension == "all" else (seg.dimension, seg.value)
        self.set_filter(Filter(self.flt.changes, segment, self.flt.text))

    @on(DataTable.RowSelected, "#scoreboard")
    def scoreboard_selected(self, event: DataTable.RowSelected) -> None:
        self.action_segment_filter()
        self.query_one("#cases", DataTable).focus()

    def action_clear_filters(self) -> None:
        self.filter_index = 0
        self.set_filter(Filter())

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.flt.text
        box.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        self.set_filter(Filter(self.flt.changes, self.flt.segment, event.value.strip()))
        self.query_one("#cases", DataTable).focus()

    # -- panes and screens -------------------------------------------------------------------

    def action_cycle_pane(self) -> None:
        order = ["#scoreboard", "#cases", "#case-pane"]
        focused = self.focused
        ids = [self.query_one(sel) for sel in order]
        i = ids.index(focused) if focused in ids else -1
        ids[(i + 1) % len(ids)].focus()

    def action_open_case(self) -> None:
        if self.current is None or self.current_detail is None:
            return
        from evaltui.tui.screens.case import CaseScreen

        self.app.push_screen(CaseScreen(self.current, self.current_detail, self.reducer))

    @on(DataTable.RowSelected, "#cases")
    def case_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_case()

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.display:  # Esc in the search box cancels the search, not the screen
            box.display = False
            self.query_one("#cases", DataTable).focus()
            return
        self.app.pop_screen()

    def action_rebuild(self) -> None:
        self.query_one("#loading").display = True
        self.build()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("step", "jump", "open_case", "cycle_filter", "segment_filter", "search",
                      "clear_filters", "cycle_pane") and self.comparison is None:  # fmt: skip
            return None
        return True


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"
