"""The case pane: input, expected, outputs side by side with differences marked, criteria, history.

A case is rendered to lines once (at the pane's width) and those lines are drawn on
demand as the pane scrolls: stepping to a case costs one render of it, never a layout
pass that measures a tall widget (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from evaltui.compare import CaseDetail, CaseRow, Reducer
from evaltui.compare.paths import step_of
from evaltui.review.triage import Finding
from evaltui.textsafe import inert
from evaltui.tui.path_view import aligned_calls
from evaltui.tui.render import case_renderable
from evaltui.tui.widgets.safe import Static


class CaseLines(ScrollView, can_focus=True):
    """A renderable drawn as cached lines: rendered once per content and width."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.content: Any = Text("")  # what is shown (tests and the whole-case view read it)
        self._lines: list[Strip] = []
        self._width = -1

    def renderer(self) -> Callable[[Any], tuple[int, list[Strip]]]:
        """Render content to lines at the pane's width now; callable from a worker
        thread (it holds the console, options and style, and touches no widget)."""
        width = max(1, self.scrollable_content_region.width)
        console = self.app.console
        options = console.options.update(width=width, height=None, highlight=False)
        style = self.rich_style  # the widget's own colours (theme, CSS) under the content

        def render(content: Any) -> tuple[int, list[Strip]]:
            lines = console.render_lines(inert(content), options, style=style, pad=True)
            return width, [Strip(line, width) for line in lines]

        return render

    def update(self, renderable: Any, *, top: bool = True,
               lines: tuple[int, list[Strip]] | None = None, checked: bool = False) -> None:  # fmt: skip
        """Show content (`lines`: the same content already rendered, read ahead;
        `checked`: it has already passed `inert`, in the worker that rendered it)."""
        self.content = renderable if checked else inert(renderable)  # the door
        self._width = -1
        if lines is not None and lines[0] == max(1, self.scrollable_content_region.width):
            self._set_lines(*lines)
        else:
            self._relines()
        if top:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def _relines(self) -> None:
        width = self.scrollable_content_region.width
        if width > 0 and width != self._width:  # (0: not laid out yet; on_resize draws it)
            self._set_lines(*self.renderer()(self.content))

    def _set_lines(self, width: int, lines: list[Strip]) -> None:
        self._lines, self._width = lines, width
        # The scrollbar is always there (CSS overflow-y: scroll), so a new height
        # changes no region: the size is set without asking the screen for a layout.
        size = Size(width, len(lines))
        self.set_reactive(CaseLines.virtual_size, size)
        self._scroll_update(size)

    def on_resize(self) -> None:
        width = self._width
        self._relines()
        if self._width != width:  # drawn at the old width already: draw it again
            self.refresh()

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        height = self.scrollable_content_region.height
        below = len(self._lines) - index - 1
        if y == height - 1 and below > 0:  # no scrollbar (a step would redraw it whole): this
            more = f" ▼ {below + 1} more lines: tab to the pane, then ↓ / PgDn; o opens the whole case "
            return Strip(
                [
                    Segment(
                        more[:width].ljust(width), self.rich_style + Style(reverse=True, dim=True)
                    )
                ],
                width,
            )
        if 0 <= index < len(self._lines):
            return self._lines[index].crop_extend(0, width, None)
        return Strip([Segment(" " * max(width, 0), self.rich_style)], width)


# (case id, id of its detail, id of its history, reducer) -> (the objects, kept alive
# so the ids stay theirs; (width, lines))
Prepared = tuple[tuple[int, int, int, str], tuple[Any, tuple[int, list[Strip]]]]


def _ahead_key(
    row: CaseRow, detail: CaseDetail, history: list[Finding], reducer: Reducer
) -> tuple[int, int, int, str]:
    return row.case_id, id(detail), id(history), reducer.label


class CasePane(Vertical):
    """Draws one case from the data it is given; keeps the cases rendered ahead, and the
    path cursor of an agent run (`]` / `[` highlight a tool call of the two aligned
    paths, `=` shows its results whole; a case starts with none highlighted)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._prepared: dict[tuple[int, int, int, str], tuple[Any, tuple[int, list[Strip]]]] = {}
        self._shown: tuple[CaseRow, CaseDetail, Reducer, list[Finding]] | None = None
        self.path_cursor: int | None = None  # the highlighted aligned call
        self.path_unfolded = False  # its results shown whole

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
        self, row: CaseRow, detail: CaseDetail, reducer: Reducer, history: list[Finding]
    ) -> None:
        """A case (or the same case read again): from the top, no call highlighted."""
        self._shown = (row, detail, reducer, history)
        self.path_cursor, self.path_unfolded = None, False
        ready = self._prepared.pop(_ahead_key(row, detail, history, reducer), None)
        view = self.query_one("#case-view", CaseLines)
        if ready is not None:  # rendered ahead, through the door, in a worker
            view.update(ready[0][2], lines=ready[1], checked=True)
            return
        view.update(case_renderable(row, detail, reducer, history=history))

    def _draw_path(self) -> None:
        if self._shown is None:
            return
        row, detail, reducer, history = self._shown
        content = case_renderable(row, detail, reducer, history=history,
                                  path_cursor=self.path_cursor, path_unfolded=self.path_unfolded)  # fmt: skip
        self.query_one("#case-view", CaseLines).update(content)

    def step_call(self, step: int) -> bool:
        """Highlight the next (`step` 1) or previous (-1) tool call; False: the case
        shown has none."""
        calls = aligned_calls(self._shown[1]) if self._shown is not None else []
        if not calls:
            return False
        start = -1 if step > 0 else len(calls)  # none highlighted: from either end
        here = start if self.path_cursor is None else self.path_cursor
        self.path_cursor = max(0, min(len(calls) - 1, here + step))
        self.path_unfolded = False
        self._draw_path()
        return True

    def fold_call(self) -> bool:
        """Show the highlighted call's results whole, or folded again (the first call is
        highlighted when none is); False: the case shown has no tool calls."""
        found = self.path_cursor is not None or self.step_call(1)
        self.path_unfolded = not self.path_unfolded
        self._draw_path()
        return found

    def highlighted_call(self) -> tuple[int, dict[str, Any]] | None:
        """The highlighted call (its index in the aligned path, and where it is in the
        case's transcript: what a failure class can point at), or None."""
        if self.path_cursor is None or self._shown is None:
            return None

        return self.path_cursor, step_of(self._shown[1], self.path_cursor)

    def preparer(
        self, reducer: Reducer
    ) -> Callable[[CaseRow, CaseDetail, list[Finding]], Prepared]:
        """What a worker calls to render a neighbouring case ahead (`prepare` keeps it)."""
        render = self.query_one("#case-view", CaseLines).renderer()

        def prepare(row: CaseRow, detail: CaseDetail, history: list[Finding]) -> Prepared:
            content = inert(case_renderable(row, detail, reducer, history=history))
            return _ahead_key(row, detail, history, reducer), (
                (detail, history, content),
                render(content),
            )

        return prepare

    def prepare(self, prepared: list[Prepared]) -> None:
        """Keep cases rendered ahead (a few: memory stays flat)."""
        for key, value in prepared:
            self._prepared[key] = value
        while len(self._prepared) > 6:
            self._prepared.pop(next(iter(self._prepared)))

    def say(self, text: str) -> None:
        """A line instead of a case (no case matches)."""
        self._shown = None
        self.path_cursor, self.path_unfolded = None, False
        self.query_one("#case-view", CaseLines).update(Text(text, style="dim"))
