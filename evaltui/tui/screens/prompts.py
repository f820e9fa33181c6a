"""Modal dialogs: one option picker (classes, verdicts, retire reasons), one text prompt, one confirmation."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

from evaltui.models import FINDING_VERDICTS
from evaltui.review.lifecycle import REASON_HELP, REASONS
from evaltui.review.taxonomy import Taxonomy
from evaltui.textsafe import one_line, visible
from evaltui.tui.widgets.safe import Input, Option, OptionList, Static

VERDICT_HELP = {
    "real_regression": "a real regression: the candidate is worse here",
    "accepted": "a known, accepted change (ship with it)",
    "grader_wrong": "the grader is wrong, the output is fine",
    "flaky": "flaky: passes and fails across samples or reruns",
    "bad_case": "the case itself is wrong (fix or retire it)",
}
assert set(VERDICT_HELP) == set(FINDING_VERDICTS)


class OptionPicker(ModalScreen[str | None]):
    """A titled list of options; Enter dismisses with the option's id, Esc with None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without choosing", id="picker.cancel")
    ]

    def __init__(
        self, title: str, options: Sequence[tuple[str, RenderableType]], current: str | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(self.title_text, style="bold"))
            yield OptionList(
                *[Option(label, id=key) for key, label in self.options], id="picker-list"
            )

    def on_mount(self) -> None:
        # a picker opened as the app quits may be mounted without its children: nothing to do
        for opts in self.query(OptionList):
            opts.focus()
            ids = [key for key, _ in self.options]
            if self.current in ids:
                opts.highlighted = ids.index(self.current)

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ClassPicker(OptionPicker):
    """Every active class, numbered as its hotkey."""

    def __init__(self, taxonomy: Taxonomy, current: str | None = None) -> None:
        options: list[tuple[str, RenderableType]] = []
        for i, c in enumerate(taxonomy.active, start=1):
            label = Text(f"{i:>2}  " if i <= 9 else "    ", style="bold")
            label.append(one_line(c.name, 30), style="bold" if c.key == current else "")
            label.append(f"  → {one_line(c.owner, 24)}", style="cyan")
            # the description under the name, its wrapped lines indented as its first
            about = Padding(Text(visible(c.description, limit=160), style="dim"), (0, 0, 0, 6))
            options.append((c.key, Group(label, about)))
        super().__init__("Failure class (Enter picks, Esc cancels)", options, current)
        self.taxonomy = taxonomy


class CopyPicker(OptionPicker):
    """What `y` copies: Enter sends the highlighted text to the terminal's clipboard
    (dismissed with its id), `f` writes it to a file instead (`file:` + its id)."""

    BINDINGS = [
        Binding(
            "f",
            "to_file",
            "To a file",
            tooltip="Write the highlighted text to a new file (when the clipboard does not work)",
            id="copy.to-file",
        )
    ]

    def __init__(self, options: Sequence[tuple[str, Text]], to_file_key: str = "f") -> None:
        title = (
            "Copy: Enter sends it to the terminal's clipboard (OSC 52), "
            f"{to_file_key} writes it to a file, Esc cancels"
        )
        super().__init__(title, options)

    def action_to_file(self) -> None:
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None:
            self.dismiss(f"file:{self.options[highlighted][0]}")


class VerdictPicker(OptionPicker):
    def __init__(self, current: str | None = None) -> None:
        options = []
        for v in FINDING_VERDICTS:
            label = Text(v, style="bold")
            label.append(f"  {VERDICT_HELP[v]}", style="dim")
            options.append((v, label))
        super().__init__("Verdict (Enter picks, Esc cancels)", options, current)


class ReasonPicker(OptionPicker):
    """Retire reasons (id `retire:REASON`), after any `extra` (id, label) choices."""

    def __init__(
        self, title: str, default: str | None = None, extra: list[tuple[str, str]] | None = None
    ) -> None:
        options = [(key, Text(label, style="bold")) for key, label in extra or []]
        for r in REASONS:
            t = Text(f"retire: {r}", style="bold")
            t.append(f"  {REASON_HELP[r]}", style="dim")
            options.append((f"retire:{r}", t))
        super().__init__(title, options, f"retire:{default}" if default else None)


SHOWN_CHARS = 4000  # of a pre-filled value; the rest is kept whole unless edited away


def _tokens(value: str) -> list[tuple[str, str]]:
    """(shown, original) for each character of `value` as the prompt shows it (a control,
    bidi or zero-width character by its visible form), then one token for a cut tail."""
    head, tail = value[:SHOWN_CHARS], value[SHOWN_CHARS:]
    out = [(visible(ch, limit=None), ch) for ch in head]
    if tail:
        out.append((f"… [{len(tail):,} more characters]", tail))
    return out


def restore(value: str, edited: str) -> str:
    """What a reviewer meant by `edited`, the prompt's text for `value` after editing:
    `value` itself where they changed nothing, and every character they left alone as it
    was (a newline, a control, the part past the cut), never its visible stand-in. Only
    what they typed, or the visible forms they edited into, is taken literally."""
    tokens = _tokens(value)
    shown = "".join(t for t, _ in tokens)
    if edited == shown:
        return value
    room = min(len(shown), len(edited))
    p = 0
    while p < room and shown[p] == edited[p]:
        p += 1
    q = 0
    while q < room - p and shown[-1 - q] == edited[-1 - q]:
        q += 1
    head, at = [], 0  # whole tokens inside the common prefix
    for t, orig in tokens:
        if at + len(t) > p:
            break
        head.append(orig)
        at += len(t)
    tail, end = [], len(shown)  # whole tokens inside the common suffix
    for t, orig in reversed(tokens):
        if end - len(t) < len(shown) - q or end - len(t) < at:
            break
        tail.append(orig)
        end -= len(t)
    middle = edited[at : len(edited) - (len(shown) - end)]
    return "".join(head) + middle + "".join(reversed(tail))


class TextPrompt(ModalScreen[str | None]):
    """One line of text. Enter saves (an empty line clears), Esc cancels. Keys type, never act.

    A pre-filled value (an owner, a note) is shown in its visible form and handed
    back as it was, except where the reviewer changed it (`restore`): saving an
    untouched note keeps its newline, an owner keeps its control character."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without saving", id="prompt.cancel")
    ]

    def __init__(self, title: str, value: str = "", placeholder: str = "", hint: str = "") -> None:
        super().__init__()
        # The title and the pre-filled value may hold data: shown in their visible forms.
        self.title_text = visible(title, limit=600)
        self.original = value or ""
        self.value = "".join(t for t, _ in _tokens(self.original))
        self.placeholder = placeholder
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(Text(self.title_text, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            if self.hint:
                yield Static(Text(self.hint, style="dim"))

    def on_mount(self) -> None:
        # a prompt opened as the app quits may be mounted without its children: nothing to focus
        for field in self.query(Input):
            field.focus()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(restore(self.original, event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


TRIAGED_HINT = (
    "An owner or a note alone does not triage a case: it counts as triaged once a "
    "failure class (1-9, 0) or a verdict (v, a) is set."
)


def note_prompt(title: str) -> TextPrompt:
    """The one-line note asked before a status change (may be empty)."""
    return TextPrompt(title, placeholder="one line (Enter to continue, may be empty)")


class ConfirmEffect(ModalScreen[bool]):
    """The figures before and after; y writes, n/Esc cancels. Typing in the note box never confirms."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", tooltip="Write the change", id="confirm.yes"),
        Binding("n", "cancel", "No", tooltip="Cancel", id="confirm.no"),
        Binding("escape", "cancel", "Cancel", tooltip="Cancel", id="confirm.cancel"),
    ]

    def __init__(self, title: str, table: RenderableType) -> None:
        super().__init__()
        self.title_text = title
        self.table = table

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Text(self.title_text, style="bold"))
            with VerticalScroll(id="confirm-body"):
                yield Static(self.table)
            yield Static(Text("y: write it   n / Esc: cancel", style="dim"))

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
