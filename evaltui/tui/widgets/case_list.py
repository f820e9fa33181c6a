"""The case list: a window of a comparison's cases (never a whole run), drawn line by line.

The list is as tall as the filtered list (`total` lines, so the scrollbar says where the
cursor is in all of it), but it holds only a window of rows; a line outside the window
is drawn as a placeholder until its page is read (keyset, tui/case_cursor.py).
Each row is rendered once to a strip of fixed-width cells and cached; moving the cursor
repaints two lines, and nothing asks the screen for a layout (docs/performance.md). The
widths come from the rows (widgets/case_columns.py), taken before a row is drawn: a
page with a wider cell widens its column (the list drawn again, once).
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from evaltui.compare import CaseRow
from evaltui.textsafe import inert, one_line
from evaltui.tui.messages import CaseChosen, ColumnsNeeded, RowsWanted
from evaltui.tui.render import change_text, verdict_text
from evaltui.tui.widgets.case_columns import CELL_MAX, RISK_MAX, Needs, fit, layout


def class_cell(row: CaseRow) -> Text:
    if row.triage_state == "disagreement":
        return Text("disagree!", style="bold yellow")
    return Text(
        one_line(row.triage_class or "", CELL_MAX),
        style="cyan" if row.triage_state == "adjudicated" else "",
    )


class CaseList(ScrollView, can_focus=True):
    """Draws the window of rows it is given, with a cursor at an absolute position.

    Positions are 1-based over the whole filtered list; `start` is the position of
    `rows[0]`. A click on a row posts `CaseChosen`.
    """

    # The list's keys move the screen's cursor (tui/case_cursor.py), not a scroll.
    BINDINGS = [
        Binding("down", "screen.step(1)", "Next", show=False, id="cases.down"),
        Binding("up", "screen.step(-1)", "Prev", show=False, id="cases.up"),
        Binding("pagedown", "screen.page(1)", "Page down", show=False, id="cases.page-down"),
        Binding("pageup", "screen.page(-1)", "Page up", show=False, id="cases.page-up"),
        Binding("home,ctrl+home", "screen.first", "First", show=False, id="cases.first"),
        Binding("end,ctrl+end", "screen.last", "Last", show=False, id="cases.last"),
        Binding("enter", "screen.open_case", "Open", show=False, id="cases.open"),
    ]
    COMPONENT_CLASSES = {"case-list--cursor", "case-list--header", "case-list--pending"}
    DEFAULT_CSS = """
    CaseList { overflow-x: hidden; overflow-y: scroll; }
    CaseList > .case-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    CaseList:blur > .case-list--cursor { background: $block-cursor-blurred-background; text-style: none; }
    CaseList > .case-list--header { text-style: bold; color: $text-accent; }
    CaseList > .case-list--pending { color: $text-muted; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[CaseRow] = []
        self.start = 1
        self.total = 0
        self.cursor = 0  # absolute position, 0: none
        self.risk: str | None = None
        self.fallback = False
        # The columns: which the comparison has, what its rows need (case_columns.py),
        # which fit the width and how wide (fitted before a line is drawn at a width).
        self._names = layout(False, False)
        self.needs = Needs()
        self.columns: list[tuple[str, int]] = []
        self._fitted = -1  # the width `columns` were fitted to
        self._measured: dict[int, CaseRow] = {}  # case id -> the row its needs were taken from
        self._strips: dict[int, tuple[CaseRow, Strip]] = {}  # case id -> row drawn, its line
        self._header: Strip | None = None

    # -- what to draw ---------------------------------------------------------------------

    def configure(self, *, risk: str | None, fallback: bool) -> None:
        """The columns of a comparison; their widths come from its rows (`measure`)."""
        self.risk, self.fallback = risk, fallback
        self._names = layout(risk is not None, fallback)
        self.needs, self._measured = Needs(), {}
        self._fitted = -1
        self._strips.clear()
        self._header = None

    def measure(self, rows: list[CaseRow]) -> bool:
        """Take the widths `rows` need (before they are drawn); True when a column's need
        grew (the columns are fitted again, and the list repainted if they changed)."""
        fresh = [r for r in rows if self._measured.get(r.case_id) is not r]
        self._measured = {r.case_id: r for r in rows}  # (the window's: memory stays flat)
        if not self.needs.take(fresh, self.risk):
            return False
        if self._fitted >= 0 and self._fit(self._fitted):
            self.refresh()
        return True

    def _fit(self, width: int) -> bool:
        """Fit the columns to `width`; True when they changed (the lines drawn are dropped)."""
        self._fitted = width
        columns = fit(self._names, self.needs, width)
        if columns == self.columns:
            return False
        self.columns = columns
        self._strips.clear()
        self._header = None
        return True

    def show(self, rows: list[CaseRow], start: int, total: int) -> None:
        """A new window (and the list's length); the cursor stays where it is. Nothing is
        repainted unless a line on screen changed (a page read ahead is off screen)."""
        if self.measure(rows):
            self.post_message(ColumnsNeeded())
        top = int(self.scroll_offset.y)
        on_screen = range(top + 1, top + self.scrollable_content_region.height)
        before = [self.row_at(p) for p in on_screen]
        self.rows, self.start, self.total = rows, start, max(total, start + len(rows) - 1)
        kept = {r.case_id: r for r in rows}
        self._strips = {k: v for k, v in self._strips.items() if kept.get(k) == v[0]}
        self._resize()
        if before != [self.row_at(p) for p in on_screen]:
            self.refresh()

    def move_to(self, position: int) -> None:
        """Put the cursor at an absolute position and keep it in view: two lines repainted."""
        old, self.cursor = self.cursor, position
        height = self.scrollable_content_region.height - 1  # the header line
        top = int(self.scroll_offset.y)
        if height > 0 and not top < position <= top + height:
            # Off screen: scroll by half a screen past it (a step at the edge), or put it
            # in the middle (a jump). The whole list repaints, once per half screen.
            if position in (top, top + height + 1):
                top = (
                    position - 1 - height // 2 if position <= top else position - (height + 1) // 2
                )
            else:
                top = position - (height + 1) // 2
            top = max(0, min(top, self.total - height))
            self.scroll_to(y=top, animate=False, immediate=True)
            return
        for pos in (old, position):
            if pos:
                self.refresh(Region(0, pos - top, self.size.width, 1))

    def row_at(self, position: int) -> CaseRow | None:
        index = position - self.start
        return self.rows[index] if 0 <= index < len(self.rows) else None

    # -- drawing ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._restyled)

    def _restyled(self, _theme: object) -> None:
        """A new theme: the lines drawn in the old colours are drawn again."""
        self._strips.clear()
        self._header = None
        self.refresh()

    def _resize(self) -> None:
        size = Size(self.scrollable_content_region.width, self.total + 1)
        if size != self.virtual_size:
            # overflow-y is always scroll: a new length changes no region, so no layout
            self.set_reactive(CaseList.virtual_size, size)
            self._scroll_update(size)

    def _line(self, cells: dict[str, Text]) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for name, width in self.columns:
            cell = cells[name]
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        return inert(line)  # the door: a row's text is data

    def _strip_of(self, text: Text, base: Style) -> Strip:
        width = self.scrollable_content_region.width
        segments = list(text.render(self.app.console))
        return Strip(Segment.apply_style(segments, base), text.cell_len).crop_extend(0, width, base)

    def _row_strip(self, row: CaseRow) -> Strip:
        cached = self._strips.get(row.case_id)
        if cached is not None and cached[0] == row:
            strip = cached[1]
        else:
            segment = row.segments.get(self.risk) if self.risk else None
            cells = {
                "change": change_text(row.change),
                "case": Text(one_line(row.case_key, CELL_MAX)),
                "base": verdict_text(row.baseline, row.baseline_samples),
                "cand": verdict_text(row.candidate, row.candidate_samples),
                "fb": verdict_text(row.fallback),
                "risk": Text(one_line(segment or "", RISK_MAX)),
                "class": class_cell(row),
                "owner": Text(one_line(row.triage_owner or "", CELL_MAX)),
            }
            strip = self._strip_of(self._line(cells), self.rich_style)
            self._strips[row.case_id] = (row, strip)
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._fitted:  # laid out at a new width: fitted before a line is drawn
            self._fit(width)
        if y == 0:
            if self._header is None or self._header.cell_length != width:
                style = self.get_component_rich_style("case-list--header")
                names = {n: Text(n) for n in self._names} | {"risk": Text(self.risk or "")}
                self._header = self._strip_of(self._line(names), self.rich_style + style)
            return self._header
        position = y + int(self.scroll_offset.y)
        if position > self.total:
            return Strip.blank(width, self.rich_style)
        row = self.row_at(position)
        if row is None:
            style = self.rich_style + self.get_component_rich_style("case-list--pending")
            return self._strip_of(Text(f"  … case {position:,}"), style)
        strip = self._row_strip(row)
        if position == self.cursor:
            cursor = self.get_component_rich_style("case-list--cursor")
            if self.app.no_color:
                cursor += Style(reverse=True, bold=True)
            strip = Strip(Segment.apply_style(list(strip), None, cursor), strip.cell_length)
        return strip

    def missing_on_screen(self) -> int | None:
        """The first position on screen whose row is not held."""
        top = int(self.scroll_offset.y)
        bottom = min(self.total, top + self.scrollable_content_region.height - 1)
        return next((p for p in range(top + 1, bottom + 1) if self.row_at(p) is None), None)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolled (the mouse wheel, say) onto rows not held: ask for them."""
        super().watch_scroll_y(old_value, new_value)
        missing = self.missing_on_screen()
        if missing is not None:
            self.post_message(RowsWanted(missing))

    def on_resize(self) -> None:
        if self._fit(self.scrollable_content_region.width):
            self.refresh()  # (a line drawn at this width before: drawn again)
        self._resize()

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            return
        row = self.row_at(event.y + int(self.scroll_offset.y))
        if row is not None:
            self.post_message(CaseChosen(row.case_id, open=event.chain > 1))
