"""Help built from the real bindings of the screen it was opened from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
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
        # A table per group (this screen, then a focused widget's), its title above it: the
        # key column is as wide as the widest key (a title in it made it wide), what a key
        # does takes the rest of the width and wraps, the id is as wide as it is.
        key_width = max([3, *(len(item.key) for item in self.keys)])
        id_width = max([18, *(len(item.binding_id) for item in self.keys)])
        groups: dict[str, list[KeyHelp]] = {}
        for item in self.keys:
            groups.setdefault(item.group, []).append(item)
        parts: list[RenderableType] = []
        for n, (group, items) in enumerate(groups.items()):
            table = Table(box=None, expand=True, show_header=n == 0, header_style="bold")
            table.add_column("key", no_wrap=True, width=key_width)
            table.add_column("does", ratio=1)
            table.add_column("id (for remapping)", style="dim", no_wrap=True, width=id_width)
            for item in items:
                style = "" if item.enabled else "dim"
                table.add_row(
                    Text(item.key, style="bold " + style),
                    Text(visible(item.tooltip or item.description), style=style),
                    Text(item.binding_id, style=style),
                )
            parts += [Text(group, style="bold underline"), table]
        with VerticalScroll(id="help-body"):
            yield Static(Text(f"Keys: {self.title_text}", style="bold"), id="help-title")
            yield Static(Group(*parts), id="help-table")
            closing = "Dim keys cannot act right now.  ↑ ↓ PgUp PgDn scroll, Esc closes."
            yield Static(Text(closing, style="dim"))
