"""Compare screen: the scoreboard by segment, the changed cases (paged), the case pane.

The case list is a window of at most PAGE rows over the comparison's temp
table; stepping past either end fetches the neighbouring page with a keyset
query, so the widget never holds a whole run. Every SQLite call runs in a
thread worker; results come back as messages.
"""

from __future__ import annotations

import time
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

from evaltui import triage
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
from evaltui.stats import pct
from evaltui.store import Store
from evaltui.taxonomy import Taxonomy
from evaltui.textsafe import one_line
from evaltui.triage import Finding
from evaltui.tui.render import case_renderable, change_text, verdict_text
from evaltui.tui.screens.lifecycle import (
    ConfirmEffect,
    NotePrompt,
    Previewed,
    ReasonPicker,
    StaleScreen,
    StatusRequest,
    Written,
    effect_table,
)
from evaltui.tui.screens.prompts import ClassPicker, TextPrompt, VerdictPicker

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
    taxonomy: Taxonomy
    progress: dict[str, tuple[int, int]]


@dataclass
class Opened(Message):
    """The comparison is classified and its first page read; figures follow in `Built`."""

    comparison: Comparison
    rows: list[CaseRow]
    taxonomy: Taxonomy
    first: tuple[CaseRow, CaseDetail, list[Finding]] | None


@dataclass
class PageLoaded(Message):
    rows: list[CaseRow]
    total: int | None  # None: not counted yet
    select: int | None  # case id to put the cursor on
    generation: int
    start: int  # 1-based position of rows[0] in the filtered list


@dataclass
class DetailLoaded(Message):
    row: CaseRow
    detail: CaseDetail
    generation: int
    history: list[Finding]


@dataclass
class ReadAhead(Message):
    details: dict[int, tuple[CaseRow, CaseDetail, list[Finding]]]


@dataclass
class Saved(Message):
    """A triage action was committed."""

    case_id: int
    text: str
    advance: bool
    next_row: CaseRow | None


@dataclass
class Progress(Message):
    progress: dict[str, tuple[int, int]]


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
        *[
            Binding(
                str(i),
                f"assign({i})",
                f"Class {i}",
                show=False,
                tooltip=f"Failure class {i} of the taxonomy, then the next untriaged case",
                id=f"compare.class-{i}",
            )
            for i in range(1, 10)
        ],
        Binding(
            "0",
            "pick_class",
            "Class…",
            tooltip="Pick any failure class from the list",
            id="compare.class-picker",
        ),
        Binding("w", "owner", "Owner", tooltip="Set the owner of the repair", id="compare.owner"),
        Binding(
            "v",
            "verdict",
            "Verdict",
            tooltip="Set the verdict: real regression, accepted, ...",
            id="compare.verdict",
        ),
        Binding(
            "a",
            "accept",
            "Accept",
            show=False,
            tooltip="Verdict 'accepted' (a known, accepted change)",
            id="compare.accept",
        ),
        Binding(
            "e", "note", "Note", tooltip="Write a one-line note on the case", id="compare.note"
        ),
        Binding(
            "u",
            "undo",
            "Undo",
            tooltip="Undo your last triage action (recorded)",
            id="compare.undo",
        ),
        Binding(
            "z",
            "zoom",
            "Zoom",
            show=False,
            tooltip="Give the case pane the whole width (toggle); for narrow terminals",
            id="compare.zoom",
        ),
        Binding(
            "g",
            "gate",
            "Gate",
            tooltip="The release gate: rules, decision, export",
            id="compare.gate",
        ),
        Binding(
            "X",
            "case_status",
            "Retire…",
            tooltip="Retire, quarantine or restore this case (shows the effect first)",
            id="compare.case-status",
        ),
        Binding(
            "S",
            "stale",
            "Stale",
            show=False,
            tooltip="Stale-case suggestions with evidence; bulk retire",
            id="compare.stale",
        ),
        Binding(
            "H",
            "toggle_hidden",
            "Show retired",
            show=False,
            tooltip="Count retired and quarantined cases in the figures (toggle)",
            id="compare.toggle-hidden",
        ),
        Binding(
            "t",
            "untriaged(1)",
            "Untriaged",
            show=False,
            tooltip="Next untriaged case",
            id="compare.next-untriaged",
        ),
        Binding(
            "T",
            "untriaged(-1)",
            "Prev untriaged",
            show=False,
            tooltip="Previous untriaged case",
            id="compare.prev-untriaged",
        ),
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
        self.taxonomy: Taxonomy | None = None
        self.progress: dict[str, tuple[int, int]] = {}
        self.history: list[Finding] = []
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
        from evaltui import taxonomy

        statuses = (
            frozenset({"active", "quarantined", "retired"})
            if self.include_hidden
            else frozenset({"active"})
        )
        cmp = Comparison(self.app.db_path, b, c, f, reducer=self.reducer, statuses=statuses)  # type: ignore[attr-defined]
        with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
            tax = taxonomy.load(store, getattr(self.app, "taxonomy_path", None))
        # The first page goes out before the segment tally: people read the worst case first.
        rows = cmp.page(Filter(), limit=PAGE)
        first = _read_case(cmp, rows[0]) if rows else None
        self.post_message(Opened(cmp, rows, tax, first))
        self.post_message(
            Built(
                cmp, cmp.segments(), cmp.counts(), cmp.status_counts(), tax, cmp.triage_progress()
            )
        )

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
        self.query_one("#cases", DataTable).focus()

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
        self.show_scoreboard()
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
        hidden = [f"{n} {s}" for s, n in self.statuses.items() if s != "active" and n]
        if hidden:
            label = "included: " if self.include_hidden else "excluded: "
            t.append(label + ", ".join(hidden) + "   ", style="yellow")
        done, total = self.progress.get("regressed", (0, 0))
        t.append(
            f"{done} of {total} regressions triaged", style="bold" if done < total else "green"
        )
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
                Text(pct(seg.baseline_rate), justify="right"),
                Text(pct(seg.candidate_rate), justify="right"),
                Text("-" if delta is None else f"{delta * 100:+.1f}", justify="right",
                     style="red" if (delta or 0) < 0 else "green" if (delta or 0) > 0 else ""),
                *([Text(pct(seg.fallback_rate), justify="right")] if fallback else []),
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
    def page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self.generation:
            return
        if message.total is not None:
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
                    Text(one_line(row.case_key, 24)),
                    verdict_text(row.baseline, row.baseline_samples),
                    verdict_text(row.candidate, row.candidate_samples),
                    *([verdict_text(row.fallback)] if fallback else []),
                    Text(
                        one_line(row.segments.get(risk) or "", 10) if risk and risk in dims else ""
                    ),
                    _class_cell(row),
                    Text(one_line(row.triage_owner or "", 14)),
                ]
            )
        names = [
            "change", "case", "base", "cand", *(["fb"] if fallback else []), risk or "", "class", "owner",
        ]  # fmt: skip
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
        if not self._figures_shown:  # the first page is up; the counts are on their way
            t.append("  (counting…)", style="dim")
            if self.current is not None:
                t.append(f"   case {self.position:,}", style="dim")
        else:
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
            found[row.case_id] = _read_case(cmp, row)
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
        fresh, detail, hist = _read_case(cmp, row)
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
        self.query_one("#case-view", Static).update(
            case_renderable(message.row, message.detail, self.reducer, history=message.history)
        )
        self.shown_at = time.perf_counter()
        self.query_one("#case-pane", VerticalScroll).scroll_to(y=0, animate=False, immediate=True)
        self.show_filter_line()
        self._details[message.row.case_id] = (message.row, message.detail, message.history)
        self.read_ahead(self._neighbours_of(message.row))

    # -- stepping -------------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        table = self.query_one("#cases", DataTable)
        if not self.rows:
            return
        index = table.cursor_row + step
        if 0 <= index < len(self.rows):
            table.move_cursor(row=index)
            # Show it now, not after the table's RowHighlighted message comes round
            # (that handler then sees the same case and does nothing).
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
        row = cmp.neighbour(self.current, _with(self.flt, triage="untriaged"), step=step)
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
        self.load_page(None, None)

    def action_cycle_filter(self) -> None:
        self.filter_index = (self.filter_index + 1) % len(FILTER_CYCLE)
        _, changes = FILTER_CYCLE[self.filter_index]
        self.set_filter(_with(self.flt, changes=changes))

    def action_segment_filter(self) -> None:
        table = self.query_one("#scoreboard", DataTable)
        if not self.segments or table.cursor_row < 0:
            return
        seg = self.segments[table.cursor_row]
        segment = None if seg.dimension == "all" else (seg.dimension, seg.value)
        self.set_filter(_with(self.flt, segment=segment))

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
        box.value = " ".join(
            p for p in (self.flt.triage or "", f"class:{self.flt.failure_class}" if self.flt.failure_class
                        else "", f"owner:{self.flt.owner}" if self.flt.owner else "", self.flt.text) if p
        )  # fmt: skip
        box.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        self.set_filter(parse_search(event.value, self.flt))
        self.query_one("#cases", DataTable).focus()

    # -- triage ----------------------------------------------------------------------------

    def action_assign(self, number: int) -> None:
        if self.taxonomy is None or self.current is None:
            return
        active = self.taxonomy.active
        if number > len(active):
            self.notify(
                f"No class {number}: the taxonomy has {len(active)}",
                severity="warning",
                markup=False,
            )
            return
        cls = active[number - 1]
        self.save(self.current.case_id, {"failure_class": cls}, advance=True,
                  text=f"{self.current.case_key}: {cls.name} → {cls.owner}")  # fmt: skip

    def action_pick_class(self) -> None:
        if self.taxonomy is None or self.current is None:
            return
        row = self.current

        def chosen(key: str | None) -> None:
            if key and self.taxonomy is not None:
                cls = self.taxonomy.get(key)
                self.save(row.case_id, {"failure_class": cls}, advance=True,
                          text=f"{row.case_key}: {cls.name} → {cls.owner}")  # fmt: skip

        self.app.push_screen(ClassPicker(self.taxonomy, row.triage_class), chosen)

    def action_owner(self) -> None:
        if self.current is None:
            return
        row = self.current

        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(row.case_id, {"owner": value.strip() or None}, advance=False,
                          text=f"{row.case_key}: owner {value.strip() or '(none)'}")  # fmt: skip

        self.app.push_screen(
            TextPrompt(f"Owner of {one_line(row.case_key, 40)} (Enter saves, Esc cancels)",
                       row.triage_owner or ""), chosen,
        )  # fmt: skip

    def action_verdict(self) -> None:
        if self.current is None:
            return
        row = self.current

        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(row.case_id, {"verdict": value}, advance=False,
                          text=f"{row.case_key}: verdict {value}")  # fmt: skip

        self.app.push_screen(VerdictPicker(row.triage_verdict), chosen)

    def action_accept(self) -> None:
        if self.current is not None:
            self.save(self.current.case_id, {"verdict": "accepted"}, advance=True,
                      text=f"{self.current.case_key}: accepted")  # fmt: skip

    def action_note(self) -> None:
        if self.current is None:
            return
        row = self.current
        mine = [f for f in self.history if f.reviewer == _me()]
        current_note = mine[-1].note if mine else ""

        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(row.case_id, {"note": value.strip() or None}, advance=False,
                          text=f"{row.case_key}: note")  # fmt: skip

        self.app.push_screen(
            TextPrompt(f"Note on {one_line(row.case_key, 40)} (Enter saves, Esc cancels)",
                       current_note or ""), chosen,
        )  # fmt: skip

    def action_undo(self) -> None:
        self.run_undo()

    @work(thread=True, group="compare-save", exit_on_error=False)
    def save(self, case_id: int, fields: dict[str, object], *, advance: bool, text: str) -> None:
        """Commit one action, then (for class assignments) find the next untriaged case."""
        cmp = self.comparison
        if cmp is None:
            return
        with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
            triage.label(store, cmp.baseline.id, cmp.candidate.id, case_id, **fields)  # type: ignore[arg-type]
        next_row = None
        if advance:
            here = cmp.row(case_id)
            next_row = cmp.neighbour(here, _with(self.flt, triage="untriaged"), step=1)
        self.post_message(Saved(case_id, text + " (saved)", advance, next_row))
        self.post_message(Progress(cmp.triage_progress()))

    @work(thread=True, group="compare-save", exit_on_error=False)
    def run_undo(self) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
            f = triage.undo(store, cmp.baseline.id, cmp.candidate.id)
            key = None
            if f is not None:
                key = store.conn.execute(
                    "SELECT case_key FROM cases WHERE id = ?", (f.case_id,)
                ).fetchone()[0]
        if f is None:
            self.post_message(Saved(-1, "Nothing of yours to undo in this comparison", False, None))
            return
        self.post_message(Saved(f.case_id, f"Undone on {key} (saved)", False, cmp.row(f.case_id)))
        self.post_message(Progress(cmp.triage_progress()))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.notify(one_line(message.text, 120), markup=False, timeout=3)
        self._details.clear()  # triage columns and histories changed
        if message.case_id < 0:
            return
        # Refresh the window in place (class and owner columns), then move on if asked.
        select = message.case_id
        if message.next_row is not None:
            select = message.next_row.case_id
        if self.rows:
            in_window = any(r.case_id == select for r in self.rows)
            if in_window:
                self.load_page(self.rows[0].key - 1, None, select=select, start=self.window_start)
            elif message.next_row is not None:
                self.load_page(message.next_row.key - 1, None, select=select)
        if message.advance and message.next_row is None:
            self.notify("No untriaged case after this one in the list", markup=False, timeout=3)

    @on(Progress)
    def progress_changed(self, message: Progress) -> None:
        self.progress = message.progress
        self.show_counts()

    # -- lifecycle ------------------------------------------------------------------------

    def action_case_status(self) -> None:
        if self.current is None:
            return
        row = self.current

        def chosen(choice: str | None) -> None:
            if not choice:
                return
            if choice == "restore":
                self.write_status(
                    [row.case_id], StatusRequest("active", None, None), f"{row.case_key}: restored"
                )
                return
            status, reason = (
                ("quarantined", None)
                if choice == "quarantine"
                else ("retired", choice.split(":", 1)[1])
            )

            def note_given(note: str | None) -> None:
                if note is not None:
                    self.preview_status(
                        [row.case_id], StatusRequest(status, reason, note or None), row.case_key
                    )

            self.app.push_screen(
                NotePrompt(f"Note: why {status} {one_line(row.case_key, 40)}"), note_given
            )

        extra = [("quarantine", "quarantine: keep visible, leave out of the gate, decide later")]
        if row.status != "active":
            extra.insert(0, ("restore", f"restore: make it active again (now {row.status})"))
        self.app.push_screen(
            ReasonPicker(f"{one_line(row.case_key, 50)}: status", None, extra), chosen
        )

    @work(thread=True, exclusive=True, group="compare-preview", exit_on_error=False)
    def preview_status(self, ids: list[int], request: StatusRequest, key: str) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        row = cmp.row(ids[0])
        only = {(d, v) for d, v in (row.segments.items() if row else []) if v is not None}
        table = effect_table(cmp.segments(), cmp.segments(without=ids), only)
        verb = {"retired": "Retire", "quarantined": "Quarantine"}.get(request.status, "Restore")
        title = f"{verb} {one_line(key, 40)} ({request.reason or request.status})? Effect on the figures:"
        self.post_message(Previewed(ids, request, table, title))

    @on(Previewed)
    def status_previewed(self, message: Previewed) -> None:
        def confirmed(ok: bool | None) -> None:
            if ok:
                key = self.current.case_key if self.current else ""
                self.write_status(message.ids, message.request, f"{key}: {message.request.status}")

        self.app.push_screen(ConfirmEffect(message.title, message.table), confirmed)

    @on(Written)
    def status_written(self, message: Written) -> None:
        self._details.clear()
        self.notify(message.text, markup=False)
        self.refresh_figures()

    @work(thread=True, group="compare-save", exit_on_error=False)
    def write_status(self, ids: list[int], request: StatusRequest, text: str) -> None:
        from evaltui import lifecycle

        status = request.status
        with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
            if status == "retired":
                lifecycle.retire(
                    store,
                    ids,
                    getattr(request, "reason", None) or "bad_case",
                    getattr(request, "note", None),
                )
            elif status == "quarantined":
                lifecycle.quarantine(store, ids, request.note)
            else:
                lifecycle.restore(store, ids)
        if self.comparison is not None:
            self.comparison.refresh_status(ids)
        self.post_message(Written(text + " (saved)"))

    @work(thread=True, exclusive=True, group="compare-figures", exit_on_error=False)
    def refresh_figures(self) -> None:
        cmp = self.comparison
        if cmp is None or self.taxonomy is None:
            return
        cmp.refresh_status()
        self.post_message(
            Built(
                cmp,
                cmp.segments(),
                cmp.counts(),
                cmp.status_counts(),
                self.taxonomy,
                cmp.triage_progress(),
            )
        )

    def action_stale(self) -> None:
        def back(_: None) -> None:
            self.refresh_figures()

        self.app.push_screen(StaleScreen(self.comparison), back)

    def action_zoom(self) -> None:
        cases = self.query_one("#cases", DataTable)
        cases.display = not cases.display
        if not cases.display:
            self.query_one("#case-pane").focus()
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
        self._figures_shown = False
        self.build()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("step", "jump", "open_case", "cycle_filter", "segment_filter", "search",
                      "clear_filters", "cycle_pane", "assign", "pick_class", "owner", "verdict",
                      "accept", "note", "undo", "untriaged", "case_status", "stale",
                      "toggle_hidden") and self.comparison is None:  # fmt: skip
            return None
        return True


def _read_case(cmp: Comparison, row: CaseRow) -> tuple[CaseRow, CaseDetail, list[Finding]]:
    """A case as the pane shows it, read on the comparison's own connection: its row
    again (triage columns may have changed), its samples, its finding history."""
    return cmp.row(row.case_id) or row, cmp.detail(row.case_id), cmp.findings(row.case_id)


def _me() -> str:
    from evaltui.store.store import current_user

    return current_user()


def _with(flt: Filter, **changes: object) -> Filter:
    from dataclasses import replace

    return replace(flt, **changes)  # type: ignore[arg-type]


def _class_cell(row: CaseRow) -> Text:
    if row.triage_state == "disagreement":
        return Text("disagree!", style="bold yellow")
    return Text(
        one_line(row.triage_class or "", 18),
        style="cyan" if row.triage_state == "adjudicated" else "",
    )


def parse_search(text: str, current: Filter) -> Filter:
    """The search box: free text, plus `untriaged`, `triaged`, `disagreement`,
    `class:KEY` and `owner:NAME` tokens. The change kinds and segment are kept."""
    words, rest = text.split(), []
    triage_state = cls = owner = None
    for w in words:
        lw = w.lower()
        if lw in ("untriaged", "triaged", "disagreement", "disagreements"):
            triage_state = "disagreement" if lw.startswith("disagree") else lw
        elif lw.startswith("class:") and len(w) > 6:
            cls = w[6:]
        elif lw.startswith("owner:") and len(w) > 6:
            owner = w[6:]
        else:
            rest.append(w)
    return _with(current, text=" ".join(rest), triage=triage_state, failure_class=cls, owner=owner)
