"""The case pane: input, expected, outputs side by side with differences marked, criteria, history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from evaltui.compare import CaseDetail, CaseRow, Reducer
from evaltui.triage import Finding
from evaltui.tui.render import case_renderable
from evaltui.tui.widgets.safe import Static


class CasePane(VerticalScroll):
    """Scrollable; draws one case from the data it is given."""

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="case-alert")
        yield Static(Text(""), id="case-view")

    def on_mount(self) -> None:
        self.query_one("#case-alert").display = False

    def alert(self, text: str | None) -> None:
        """A line above the case in reverse red (NOT SAVED), or none."""
        box = self.query_one("#case-alert", Static)
        box.display = text is not None
        box.update(Text(text or "", style="bold reverse red"))

    def show(
        self, row: CaseRow, detail: CaseDetail, reducer: Reducer, history: list[Finding],
        path_cursor: int | None = None, path_unfolded: bool = False,
    ) -> None:  # fmt: skip
        self.query_one("#case-view", Static).update(
            case_renderable(
                row,
                detail,
                reducer,
                history=history,
                path_cursor=path_cursor,
                path_unfolded=path_unfolded,
            )
        )
        self.scroll_to(y=0, animate=False, immediate=True)  # a highlighted call is drawn first

    def say(self, text: str) -> None:
        """A line instead of a case (no case matches)."""
        self.query_one("#case-view", Static).update(Text(text, style="dim"))
