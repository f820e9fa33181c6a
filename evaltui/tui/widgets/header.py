"""The compare screen's lines above the scoreboard that fit themselves: the change counts
(with the triage progress and each agent run's tool line) and the scoreboard's legend."""

from __future__ import annotations

from rich.text import Text

from evaltui.tui.render import legend_text
from evaltui.tui.widgets.safe import Static


class Counts(Static):
    """The counts block: as tall as its lines (wrapped at its width)."""

    _lines = -1

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
