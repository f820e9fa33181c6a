"""A dialog for errors meant for people."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from evaltui.textsafe import visible
from evaltui.tui.widgets.safe import Static


class ErrorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="error.close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.error_title = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Static(Text(visible(self.error_title), style="bold red"))
            yield Static(Text(visible(self.message, multiline=True, limit=4000)))
            yield Static(Text("Enter or Esc closes.", style="dim"))
