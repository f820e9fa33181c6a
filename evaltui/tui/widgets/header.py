"""The compare screen's lines above the scoreboard that fit themselves: the change counts
(with the triage progress, each agent run's tool line and the production estimate), which
hold what they show, and the scoreboard's legend."""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Console
from rich.text import Text

from evaltui.textsafe import visible
from evaltui.trajectory import ToolStats
from evaltui.tui.opening import ProductionLines
from evaltui.tui.render import counts_text, legend_text, with_production
from evaltui.tui.widgets.safe import Static

ROWS = 6  # the header's rows when its style sets none (CompareScreen #counts: max-height)


class Counts(Static):
    """The counts block: as tall as its lines (wrapped at its width). It holds what it
    shows, each part given as it is read: the change counts, case statuses and triage
    progress with the figures, the progress again after each triage key, and the tool
    lines and production estimate read after the figures. The corrected estimate's line
    (when the store's policy asks for it) is said in the longest wording that fits the
    rows the header has left, so it is never cut and pushes nothing out."""

    _lines = -1

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.counts: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.progress: dict[str, tuple[int, int]] = {}
        self.included = False  # retired and quarantined cases counted
        self.tool_stats: dict[str, ToolStats | None] | None = None
        self.production = ProductionLines()  # the production estimate's lines (#28)
        self._fitted: dict[tuple[int, int], str] = {}  # the corrected line's wording

    def figures(
        self,
        counts: dict[str, int],
        statuses: dict[str, int],
        progress: dict[str, tuple[int, int]],
        included: bool,
    ) -> None:
        self.counts, self.statuses, self.progress = counts, statuses, progress
        self.included = included
        self.redraw()

    def triaged(self, progress: dict[str, tuple[int, int]]) -> None:
        self.progress = progress
        self.redraw()

    def tools(self, stats: dict[str, ToolStats | None], production: ProductionLines | None) -> None:
        self.tool_stats, self.production = stats, production or ProductionLines()
        self._fitted = {}
        self.redraw()

    def on_resize(self) -> None:  # fitted to the width: the corrected wording, the cut
        if self.counts:
            self.redraw()

    def redraw(self) -> None:
        tools, prod = self.tool_stats, self.production
        text = counts_text(
            self.counts, self.statuses, self.progress, included=self.included, tools=tools
        )
        if not prod.corrected:
            self.show(with_production(text, prod.lines))
            return
        width = self._width()
        above = with_production(text.copy(), prod.lines[:1])
        left = self._rows() - len(above.wrap(self.app.console, width))
        key = (width, max(1, left))  # a triage key redraws: the wording is fitted once
        if key not in self._fitted:
            self._fitted = {key: fit(prod.corrected, *key, self.app.console)}
        self.show(with_production(text, prod.lines, self._fitted[key]))

    def _width(self) -> int:
        return max(1, self.content_size.width or self.screen.size.width - 2)

    def _rows(self) -> int:
        limit = self.styles.max_height
        return int(limit.value) if limit is not None and limit.is_cells else ROWS

    def show(self, text: Text) -> None:
        """New counts; as many lines as before: no layout pass (a triage key updates the
        progress, and must cost no layout)."""
        width, rows = self._width(), self._rows()
        wrapped = text.wrap(self.app.console, width)
        lines = len(wrapped)
        if lines > rows:  # more than the rows it has: cut where the screen would, and say
            # so with "…" (never a clause that stops mid-way as if it were whole)
            kept = list(wrapped)[:rows]
            kept[-1].truncate(width - 1)
            kept[-1].rstrip()
            kept[-1].append("…")
            text, lines = Text("\n").join(kept), rows
        self.update(text, layout=lines != self._lines)
        self._lines = lines


def fit(wordings: list[str], width: int, rows: int, console: Console) -> str:
    """The first of `wordings` (longest first) that wraps into `rows` lines of `width`;
    else the last, shortened at a word to fit (a reason cut, never a figure)."""

    def lines(line: str) -> int:
        return len(Text(visible(line, limit=400)).wrap(console, width))

    for line in wordings:
        if lines(line) <= rows:
            return line
    last = visible(wordings[-1], limit=400)
    size = width * rows
    while size > 12 and lines(cut := textwrap.shorten(last, size, placeholder=" …")) > rows:
        size -= 4
    return cut


class Legend(Static):
    """What the scoreboard's columns mean, in the lines the screen can spare (two from
    30 rows, else one), in the longest wording that fits its width (render.legend_text)."""

    DEFAULT_CSS = "Legend { display: none; }"  # (shown with the scoreboard: `show`)
    fallback = False  # the comparison has a fallback run (its bar mark is explained)

    def show(self, *, fallback: bool) -> None:
        self.fallback = fallback
        self.display = True
        self.refit()

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        width = self.content_size.width or self.screen.size.width - 2
        lines = 2 if self.screen.size.height >= 30 else 1
        self.update(legend_text(width, lines, fallback=self.fallback))
