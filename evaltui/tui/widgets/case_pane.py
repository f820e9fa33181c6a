"""The case pane: input, expected, outputs side by side with differences marked, criteria, history.

A case is rendered to lines once (at the pane's width) and those lines are drawn on
demand as the pane scrolls: stepping to a case costs one render of it, never a layout
pass that measures a tall widget (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from evaltui.compare import CaseDetail, CaseRow, Reducer
from evaltui.textsafe import inert
from evaltui.triage import Finding
from evaltui.tui.render import case_renderable
from evaltui.tui.widgets.safe import Static


class CaseLines(ScrollView, can_focus=True):
    """A renderable drawn as cached lines: rendered once per content and width."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.content: Any = Text("")  # what is shown (tests and the whole-case view read it)
        self._lines: list[Strip] = []
        self._width = -1

    def update(self, renderable: Any, *, top: bool = True) -> None:
        self.content = inert(renderable)  # the door: whatever is drawn here is data
        self._width = -1
        self._relines()
        if top:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def _relines(self) -> None:
        width = max(1, self.scrollable_content_region.width)
        if width == self._width:
            return
        console = self.app.console
        options = console.options.update(width=width, height=None, highlight=False)
        # the widget's own colours (theme, CSS) under the content, as Static draws it
        lines = console.render_lines(self.content, options, style=self.rich_style, pad=True)
        self._lines = [Strip(line, width) for line in lines]
        self._width = width
        self.virtual_size = Size(width, len(self._lines))

    def on_resize(self) -> None:
        self._relines()

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        if 0 <= index < len(self._lines):
            return self._lines[index].crop_extend(0, width, None)
        return Strip([Segment(" " * max(width, 0), self.rich_style)], width)


class CasePane(Vertical):
    """Draws one case from the data it is given."""

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="case-alert")
        yield CaseLines(id="case-view")

    def on_mount(self) -> None:
        self.query_one("#case-alert").display = False

    def alert(self, text: str | None) -> None:
        """A line above the case in reverse red (NOT SAVED), or none."""
        box = self.query_one("#case-alert", Static)
        if text is None and not box.display:
            return  # nothing to say, nothing said: no repaint, no layout
        box.display = text is not None
        box.update(Text(text or "", style="bold reverse red"))

    def show(
        self, row: CaseRow, detail: CaseDetail, reducer: Reducer, history: list[Finding],
        path_cursor: int | None = None, path_unfolded: bool = False,
    ) -> None:  # fmt: skip
        self.query_one("#case-view", CaseLines).update(
            case_renderable(
                row,
                detail,
                reducer,
                history=history,
                path_cursor=path_cursor,
                path_unfolded=path_unfolded,
            )
        )

    def say(self, text: str) -> None:
        """A line instead of a case (no case matches)."""
        self.query_one("#case-view", CaseLines).update(Text(text, style="dim"))
