"""Small modal dialogs: pick a failure class, pick a verdict, type one line."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from evaltui.taxonomy import Taxonomy
from evaltui.textsafe import one_line, visible
from evaltui.triage import VERDICTS

VERDICT_HELP = {
    "real_regression": "a real regression: the candidate is worse here",
    "accepted": "a known, accepted change (ship with it)",
    "grader_wrong": "the grader is wrong, the output is fine",
    "flaky": "flaky: passes and fails across samples or reruns",
    "bad_case": "the case itself is wrong (fix or retire it)",
}


class ClassPicker(ModalScreen[str | None]):
    """Every active class, numbered as its hotkey; Enter picks, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without choosing", id="picker.cancel")
    ]

    def __init__(self, taxonomy: Taxonomy, current: str | None = None) -> None:
        super().__init__()
        self.taxonomy = taxonomy
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for i, c in enumerate(self.taxonomy.active, start=1):
            label = Text(f"{i:>2}  " if i <= 9 else "    ", style="bold")
            label.append(one_line(c.name, 30), style="bold" if c.key == self.current else "")
            label.append(f"  → {one_line(c.owner, 24)}", style="cyan")
            label.append(f"\n      {visible(c.description, limit=160)}", style="dim")
            options.append(Option(label, id=c.key))
        with Vertical(id="picker"):
            yield Static(Text("Failure class (Enter picks, Esc cancels)", style="bold"))
            yield OptionList(*options, id="picker-list")

    def on_mount(self) -> None:
        opts = self.query_one(OptionList)
        opts.focus()
        keys = [c.key for c in self.taxonomy.active]
        if self.current in keys:
            opts.highlighted = keys.index(self.current)

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class VerdictPicker(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without choosing", id="verdict.cancel")
    ]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for v in VERDICTS:
            label = Text(v, style="bold")
            label.append(f"  {VERDICT_HELP[v]}", style="dim")
            options.append(Option(label, id=v))
        with Vertical(id="picker"):
            yield Static(Text("Verdict (Enter picks, Esc cancels)", style="bold"))
            yield OptionList(*options, id="picker-list")

    def on_mount(self) -> None:
        opts = self.query_one(OptionList)
        opts.focus()
        if self.current in VERDICTS:
            opts.highlighted = VERDICTS.index(self.current)

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextPrompt(ModalScreen[str | None]):
    """One line of text. Enter saves (an empty line clears), Esc cancels. Keys type, never act."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without saving", id="prompt.cancel")
    ]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(Text(self.title_text, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
