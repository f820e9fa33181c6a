"""The case pane: input, expected, outputs side by side with differences marked, criteria, history.

A case is rendered to lines once (at the pane's width) and those lines are drawn on
demand as the pane scrolls: stepping to a case costs one render of it, never a layout
pass that measures a tall widget (docs/performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from evaltui.compare import CaseDetail, CaseRow, Reducer
from evaltui.compare.paths import step_of
from evaltui.divergence import describe
from evaltui.errors import InputError
from evaltui.models import StepRef
from evaltui.review.triage import Finding
from evaltui.textsafe import inert
from evaltui.tui.findings_view import Rubric
from evaltui.tui.path_view import aligned_calls, divergence_at
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

    def update(
        self,
        renderable: Any,
        *,
        top: bool = True,
        lines: tuple[int, list[Strip]] | None = None,
        checked: bool = False,
    ) -> None:
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

    def restyle(self) -> None:
        """Rendered again in the widget's colours now (a new theme)."""
        self._width = -1
        self._relines()
        self.refresh()

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


# (case id, id of its detail, id of its history, reducer, theme and search marked) ->
# (the objects, kept alive so the ids stay theirs; (width, lines))
AheadKey = tuple[int, int, int, str, str]
Prepared = tuple[AheadKey, tuple[Any, tuple[int, list[Strip]]]]


def _ahead_key(
    row: CaseRow, detail: CaseDetail, history: list[Finding], reducer: Reducer, look: str
) -> AheadKey:
    return row.case_id, id(detail), id(history), reducer.label, look


MATCH_STYLE = Style(reverse=True, bold=True)  # a search match (reads the same under NO_COLOR)


def mark_matches(value: Any, needle: str) -> Any:
    """Every occurrence of `needle` (any case, as the search found it) marked in the
    texts of a renderable already through the door (`inert`): groups and tables walked."""

    if not needle:
        return value
    if isinstance(value, Text):
        value.highlight_regex(re.compile(re.escape(needle), re.IGNORECASE), MATCH_STYLE)
    elif isinstance(value, Group):
        for part in value.renderables:
            mark_matches(part, needle)
    elif isinstance(value, Table):
        for column in value.columns:
            for cell in column._cells:
                mark_matches(cell, needle)
    return value


class CasePane(Vertical):
    """Draws one case from the data it is given; keeps the cases rendered ahead, and the
    path cursor of an agent run (`]` / `[` highlight a tool call of the two aligned
    paths, `=` shows its results whole; a case starts with none highlighted)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._prepared: dict[AheadKey, tuple[Any, tuple[int, list[Strip]]]] = {}
        self._shown: tuple[CaseRow, CaseDetail, Reducer, list[Finding]] | None = None
        self.path_cursor: int | None = None  # the highlighted aligned call
        self.path_unfolded = False  # its results shown whole
        self.search = ""  # the search text, its matches marked in the case shown
        self._drawn_width: int | None = None  # the width the case shown was laid out for
        self.view = CaseLines(id="case-view")
        self.rubric: Rubric | None = None  # the label guide: a disputed class's line (#29)

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="case-alert")
        yield self.view

    def on_mount(self) -> None:
        self.query_one("#case-alert").display = False
        self.app.theme_changed_signal.subscribe(self, self._restyled)

    def _restyled(self, _theme: object) -> None:
        """A new theme: the case is rendered again in its colours, and the cases rendered
        ahead in the old ones are dropped."""
        self._prepared.clear()
        self.view.restyle()

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
        self._drawn_width = self._width()
        ready = self._prepared.pop(_ahead_key(row, detail, history, reducer, self._look()), None)
        if ready is not None:  # rendered ahead, through the door, in a worker
            self.view.update(ready[0][2], lines=ready[1], checked=True)
            return
        width, rubric = self._drawn_width, self.rubric
        content = inert(
            case_renderable(row, detail, reducer, history=history, width=width, rubric=rubric)
        )
        self.view.update(mark_matches(content, self.search), checked=True)

    def use_rubric(self, rubric: Rubric) -> None:
        """The label guide's lines from now on; the case shown is drawn again if they changed."""
        if self.rubric is None or rubric.sha256 != self.rubric.sha256:
            self.rubric = rubric
            self._prepared.clear()
            self._draw_path(top=False)

    def mark(self, search: str) -> None:
        """Mark `search`'s matches in the cases shown from now on, and in the one shown."""
        if search != self.search:
            self.search = search
            self._draw_path()

    def _width(self) -> int | None:
        """The cells a case is drawn in (None: not laid out yet)."""
        return self.view.scrollable_content_region.width or None

    def _look(self) -> str:
        """What a case's lines depend on beyond its data: theme, width, the search marked,
        the label guide."""
        sha = self.rubric.sha256 if self.rubric is not None else ""
        return f"{self.app.theme}\n{self._width()}\n{self.search}\n{sha}"

    def on_resize(self) -> None:
        if self._shown is not None and self._width() != self._drawn_width:
            self._draw_path(top=False)  # (the findings are laid out for the width)

    def _draw_path(self, *, top: bool = True) -> None:
        if self._shown is None:
            return
        row, detail, reducer, history = self._shown
        self._drawn_width = width = self._width()
        content = inert(
            case_renderable(
                row,
                detail,
                reducer,
                history=history,
                width=width,
                path_cursor=self.path_cursor,
                path_unfolded=self.path_unfolded,
                rubric=self.rubric,
            )
        )
        self.view.update(mark_matches(content, self.search), checked=True, top=top)

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

    def jump_divergence(self) -> str:
        """Highlight the first call where the candidate's path parts from the baseline's
        (the last call when only the final state differs); what it is, in words."""
        detail = self._shown[1] if self._shown is not None else None
        if detail is None or not any(
            s and s[0].trajectory for s in (detail.baseline, detail.candidate)
        ):
            return "This case has no agent path"
        row, found = divergence_at(detail)
        if row is not None:
            self.path_cursor, self.path_unfolded = row, False
            self._draw_path()
        return describe(found).capitalize()

    def highlighted_call(self) -> tuple[int, StepRef] | None:
        """The highlighted call (its index in the aligned path, and where it is in the
        case's transcript: what a failure class can point at), or None (also for a call
        a finding cannot point at, which is said)."""
        if self.path_cursor is None or self._shown is None:
            return None
        try:
            return self.path_cursor, step_of(self._shown[1], self.path_cursor)
        except InputError as exc:
            self.notify(
                f"{exc.message}: labelled without the call", severity="warning", markup=False
            )
            return None

    def preparer(
        self, reducer: Reducer
    ) -> Callable[[CaseRow, CaseDetail, list[Finding]], Prepared]:
        """What a worker calls to render a neighbouring case ahead (`prepare` keeps it)."""
        render = self.view.renderer()
        look, search = self._look(), self.search  # (lines of one theme are not another's)
        width, rubric = self._width(), self.rubric

        def prepare(row: CaseRow, detail: CaseDetail, history: list[Finding]) -> Prepared:
            content = inert(
                case_renderable(row, detail, reducer, history=history, width=width, rubric=rubric)
            )
            mark_matches(content, search)
            return _ahead_key(row, detail, history, reducer, look), (
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
        self.view.update(Text(text, style="dim"))
