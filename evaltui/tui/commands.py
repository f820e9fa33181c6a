"""The command palette's entries (ctrl+p): built from the screen's live bindings, so a
key and its command cannot drift apart, plus commands that go to the app's places."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand

from evaltui.textsafe import one_line
from evaltui.tui.screens.runs import RunsScreen

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen


def screen_commands(app: App[Any], screen: Screen[Any]) -> Iterator[SystemCommand]:
    """One command per binding in force on `screen` (its own, its focused widget's and
    the app's), titled with what it does and its key; a disabled one says why not."""
    seen: set[tuple[str, int]] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system or not binding.description or binding.action == "command_palette":
            continue
        if (binding.action, id(active.node)) in seen:  # one binding on several keys
            continue
        seen.add((binding.action, id(active.node)))
        shown = binding.key_display or app.get_key_display(binding) or key
        title = one_line(f"{binding.description} ({shown})", 80)  # class names are data
        help_text = one_line(binding.tooltip or binding.description, 160)
        if not active.enabled:
            help_text += " (cannot act right now)"
        yield SystemCommand(
            title, help_text, partial(app.call_later, app.run_action, binding.action, active.node)
        )
    yield from place_commands(app)


def place_commands(app: App[Any]) -> Iterator[SystemCommand]:
    """Going places: the runs, the comparison of the marked runs, its gate, its trend."""
    from evaltui.tui.screens.compare import CompareScreen  # load time: not at the app's start

    stack = app.screen_stack
    runs = next((s for s in stack if isinstance(s, RunsScreen)), None)
    compare = next((s for s in reversed(stack) if isinstance(s, CompareScreen)), None)

    def back_to(target: Screen[Any], then: str | None = None) -> None:
        while app.screen is not target and len(app.screen_stack) > 1:
            app.pop_screen()
        if then:
            app.call_later(app.run_action, then, target)

    if runs is not None:
        yield SystemCommand(
            "Go to the runs", "The runs in the store, to mark and compare", partial(back_to, runs)
        )
        yield SystemCommand(
            "Open the comparison of the marked runs",
            "Baseline vs candidate (and fallback), as marked on the runs screen",
            partial(back_to, runs, "compare"),
        )
    yield SystemCommand(
        "Open the codebook",
        "Classes proposed from reviewers' notes, to ratify",
        partial(app.call_later, app.run_action, "codebook"),
    )
    if compare is not None:
        yield SystemCommand(
            "Open the gate",
            "The release gate of this comparison: rules, decision, export",
            partial(back_to, compare, "gate"),
        )
        yield SystemCommand(
            "Open the trend",
            "Pass rate per segment over the suite's last runs, and each case's history",
            partial(back_to, compare, "trend"),
        )
