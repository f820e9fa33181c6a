"""The compare screen's lines above the scoreboard that fit themselves: the change counts
(with the triage progress, each agent run's tool line and the production estimate), which
hold what they show, and the scoreboard's legend."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from evaltui.trajectory import ToolStats
from evaltui.tui.render import counts_text, legend_text, with_production
from evaltui.tui.widgets.safe import Static


class Counts(Static):
    """The counts block: as tall as its lines (wrapped at its width). It holds what it
    shows, each part given as it is read: the change counts, case statuses and triage
    progress with the figures, the progress again after each triage key, and the tool
    lines and production estimate read after the figures."""

    _lines = -1

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.counts: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.progress: dict[str, tuple[int, int]] = {}
        self.included = False  # retired and quarantined cases counted
        self.tool_stats: dict[str, ToolStats | None] | None = None
        self.production: list[str] = []  # the production estimate's lines (#28)

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

    def tools(self, stats: dict[str, ToolStats | None], production: list[str]) -> None:
        self.tool_stats, self.production = stats, production
        self.redraw()

    def redraw(self) -> None:
        tools, prod = self.tool_stats, self.production
        text = counts_text(
            self.counts, self.statuses, self.progress, included=self.included, tools=tools
        )
        self.show(with_production(text, prod))

    def show(self, text: Text) -> None:
        """New counts; as many lines as before: no layout pass (a triage key updates the
        progress, and must cost no layout)."""
        lines = len(text.wrap(self.app.console, max(1, self.content_size.width)))
        self.update(text, layout=lines != self._lines)
        self._lines = lines


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
