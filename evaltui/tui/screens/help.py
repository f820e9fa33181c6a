"""Help built from the real bindings of the screen it was opened from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen

from evaltui.textsafe import visible
from evaltui.tui.widgets.safe import Static


@dataclass(frozen=True)
class KeyHelp:
    key: str
    description: str
    tooltip: str
    binding_id: str
    enabled: bool
    group: str


def keys_of(screen: object) -> list[KeyHelp]:
    """The active bindings of `screen`: its own and the app's first, then its widgets'."""
    out: list[KeyHelp] = []
    app = screen.app  # type: ignore[attr-defined]
    for key, active in screen.active_bindings.items():  # type: ignore[attr-defined]
        binding = active.binding
        if binding.system or not binding.description:
            continue
        shown = binding.key_display or app.get_key_display(binding)
        group = (
            "this screen"
            if active.node in (screen, app)
            else f"{type(active.node).__name__} (focused)"
        )
        out.append(
            KeyHelp(
                shown or key,
                binding.description,
                binding.tooltip,
                binding.id or "",
                active.enabled,
                group,
            )
        )
    out.sort(key=lambda k: k.group != "this screen")  # stable: keeps each group's order
    return out


def keys_by_id(screen: Screen[Any]) -> dict[str, str]:
    """The key shown for each binding in force on `screen`, by binding id: as the app
    displays it, after the config's keymap (so a hint in words never goes stale)."""
    out: dict[str, str] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.id and binding.id not in out:
            shown = binding.key_display or screen.app.get_key_display(binding) or key
            out[binding.id] = "Enter" if shown == "⏎" else shown
    return out


class HelpScreen(ModalScreen[None]):
    """Every key the previous screen answers to, with what it does and its id."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help", id="help.close"),
    ]

    def __init__(self, title: str, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", no_wrap=True)
        table.add_column("does")
        table.add_column("id (for remapping)", style="dim", no_wrap=True)
        group = None
        for item in self.keys:
            if item.group != group:
                group = item.group
                table.add_row(Text(group, style="bold underline"), Text(""), Text(""))
            style = "" if item.enabled else "dim"
            table.add_row(
                Text(item.key, style="bold " + style),
                Text(visible(item.tooltip or item.description), style=style),
                Text(item.binding_id, style=style),
            )
        with VerticalScroll(id="help-body"):
            yield Static(Text(f"Keys: {self.title_text}", style="bold"), id="help-title")
            yield Static(table, id="help-table")
            yield Static(Text("Dim keys cannot act right now.  Esc closes.", style="dim"))
