"""The full case: input, expected, every sample's outputs side by side, criteria. Scrollable."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer

from evaltui.compare import CaseDetail, CaseRow, Reducer
from evaltui.textsafe import one_line
from evaltui.tui.render import case_renderable
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.widgets.safe import Static


class CaseScreen(AppScreen):
    BINDINGS = [
        Binding(
            "escape", "app.pop_screen", "Back", tooltip="Back to the comparison", id="case.back"
        ),
        Binding("j", "scroll(3)", "Down", tooltip="Scroll down", id="case.down"),
        Binding("k", "scroll(-3)", "Up", tooltip="Scroll up", id="case.up"),
        Binding("space", "page(1)", "Page", tooltip="Scroll a page down", id="case.page-down"),
    ]

    def __init__(
        self, row: CaseRow | None, detail: CaseDetail, reducer: Reducer, why: Text | None = None
    ) -> None:
        super().__init__()
        self.row, self.detail, self.reducer = row, detail, reducer
        self.why = why  # why the case is shown (a stale suggestion's evidence), above it

    def compose(self) -> ComposeResult:
        title = Text("evaltui · case  ", style="bold")
        title.append(one_line(f"{self.detail.suite} / {self.detail.case_key}", 80))
        yield Static(title, id="title")
        with VerticalScroll(id="case-full"):
            if self.why is not None:
                yield Static(self.why, id="case-why")
            yield Static(
                case_renderable(self.row, self.detail, self.reducer, full=True), id="case-full-view"
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#case-full", VerticalScroll).focus()

    def action_scroll(self, lines: int) -> None:
        pane = self.query_one("#case-full", VerticalScroll)
        pane.scroll_relative(y=lines, animate=False)

    def action_page(self, direction: int) -> None:
        pane = self.query_one("#case-full", VerticalScroll)
        pane.scroll_relative(y=direction * max(1, pane.size.height - 2), animate=False)
