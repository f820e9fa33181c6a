"""The compare screen's keys, in footer order: every binding has an id (for remapping) and a tooltip."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.widgets import Footer

from evaltui.textsafe import one_line

if TYPE_CHECKING:
    from textual.binding import ActiveBinding
    from textual.screen import Screen

# One binding per line, in footer order: keys, action, footer label, what it does, its id.
# fmt: off
COMPARE_KEYS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("j", "step(1)", "Next", tooltip="Next case in the list", id="compare.next"),
    Binding("k", "step(-1)", "Prev", tooltip="Previous case in the list", id="compare.prev"),
    Binding("home,ctrl+home", "first", "First", show=False, tooltip="First case", id="compare.first"),
    Binding("end,ctrl+end", "last", "Last", show=False, tooltip="Last case", id="compare.last"),
    Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False, tooltip="A page of cases down", id="compare.page-down"),
    Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False, tooltip="A page of cases up", id="compare.page-up"),
    Binding("n", "jump(1)", "Next regr.", tooltip="Next regression", id="compare.next-regression"),
    Binding("N", "jump(-1)", "Prev regr.", tooltip="Previous regression", id="compare.prev-regression"),
    Binding("tab", "cycle_pane", "Pane", tooltip="Cycle focus: scoreboard, cases, case pane", id="compare.cycle-pane"),
    Binding("slash", "search", "Search", tooltip="Search case keys, inputs and outputs", id="compare.search"),
    Binding("f", "cycle_filter", "Filter", tooltip="Cycle the change kinds shown", id="compare.filter"),
    Binding("s", "segment_filter", "Segment", tooltip="Show only the scoreboard's highlighted segment", id="compare.segment"),
    Binding("F", "clear_filters", "Clear", tooltip="Clear every filter", id="compare.clear-filters"),
    Binding("o", "open_case", "Open", tooltip="Open the full case (every sample, scrollable)", id="compare.open"),
    Binding("r", "rebuild", "Refresh", tooltip="Recompute the comparison from the store", id="compare.refresh"),
    Binding("escape", "back", "Back", tooltip="Back to the runs", id="compare.back"),
    *[Binding(str(i), f"assign({i})", f"Class {i}", show=False, tooltip=f"Failure class {i} of the taxonomy, then the next untriaged case", id=f"compare.class-{i}") for i in range(1, 10)],
    Binding("0", "pick_class", "Class…", tooltip="Pick any failure class from the list", id="compare.class-picker"),
    Binding("w", "owner", "Owner", tooltip="Set the owner of the repair", id="compare.owner"),
    Binding("v", "verdict", "Verdict", tooltip="Set the verdict: real regression, accepted, ...", id="compare.verdict"),
    Binding("a", "accept", "Accept", show=False, tooltip="Verdict 'accepted' (a known, accepted change)", id="compare.accept"),
    Binding("e", "note", "Note", tooltip="Write a one-line note on the case", id="compare.note"),
    Binding("E", "note(True)", "Note+next", show=False, tooltip="Write a short note, then the next case in the list (open coding; a note is not triage)", id="compare.note-next"),
    Binding("u", "undo", "Undo", tooltip="Undo your last triage action (recorded)", id="compare.undo"),
    Binding("z", "zoom", "Zoom", show=False, tooltip="Give the case pane the whole width (toggle); for narrow terminals", id="compare.zoom"),
    Binding("g", "gate", "Gate", tooltip="The release gate: rules, decision, export", id="compare.gate"),
    Binding("X", "case_status", "Retire…", tooltip="Retire, quarantine or restore this case (shows the effect first)", id="compare.case-status"),
    Binding("S", "stale", "Stale", show=False, tooltip="Stale-case suggestions with evidence; bulk retire", id="compare.stale"),
    Binding("H", "toggle_hidden", "Show retired", show=False, tooltip="Count retired and quarantined cases in the figures (toggle)", id="compare.toggle-hidden"),
    Binding("right_square_bracket", "step_call(1)", "Next call", show=False, tooltip="Agent runs: highlight the next tool call of the path", id="compare.next-call"),
    Binding("left_square_bracket", "step_call(-1)", "Prev call", show=False, tooltip="Agent runs: highlight the previous tool call of the path", id="compare.prev-call"),
    Binding("equals_sign", "path('fold')", "Unfold call", show=False, tooltip="Agent runs: show the highlighted call's results whole (toggle)", id="compare.fold-call"),
    Binding("d", "path('divergence')", "Divergence", show=False, tooltip="Agent runs: highlight the first call where the candidate's path parts from the baseline's, and say how", id="compare.first-divergence"),
    Binding("y", "copy", "Copy…", show=False, tooltip="Copy the case key, an output or a Markdown summary of the case", id="compare.copy"),
    Binding("h", "trend", "Trend", show=False, tooltip="Trend: the suite's last runs, pass rate per segment and each case's history", id="compare.trend"),
    Binding("R", "choose_reducer", "Reducer…", show=False, tooltip="How a case's samples become one pass/fail (worst, majority, ...)", id="compare.reducer"),
    Binding("D", "choose_segments", "Segments…", show=False, tooltip="The attributes the scoreboard is segmented by", id="compare.segments"),
    Binding("t", "untriaged(1)", "Untriaged", show=False, tooltip="Next untriaged case", id="compare.next-untriaged"),
    Binding("T", "untriaged(-1)", "Prev untriaged", show=False, tooltip="Previous untriaged case", id="compare.prev-untriaged"),
]
# fmt: on

# What an action needs before it can act (`CompareScreen.check_action` asks the named
# predicate of the screen): until then its key shows dim in the footer, help and palette.
# An action not named here can always act.
ENABLED_WHEN: dict[str, str] = {
    action: "is_open"  # the comparison is there (its preview, at least)
    for action in (
        "step",
        "jump",
        "untriaged",
        "open_case",
        "cycle_filter",
        "segment_filter",
        "search",
        "clear_filters",
        "cycle_pane",
        "assign",
        "pick_class",
        "owner",
        "verdict",
        "accept",
        "note",
        "undo",
        "case_status",
        "stale",
        "toggle_hidden",
    )
}


# The footer's keys, in the order it shows them: the triage keys (`FOOTER_FIRST`) are
# taken first, as many as the width holds, then the others in this order (`?` lists every key).
FOOTER_ORDER = [
    "compare.next", "compare.prev", "compare.class-1", "compare.class-2", "compare.class-3",
    "compare.class-picker", "compare.owner", "compare.verdict", "compare.note", "compare.undo",
    "compare.gate", "compare.note-next", "compare.next-regression", "compare.filter", "compare.search",
    "compare.case-status", "compare.open", "compare.back", "compare.class-4", "compare.class-5",
    "compare.class-6", "compare.segment", "compare.clear-filters", "compare.stale",
    "compare.trend", "compare.copy", "compare.reducer", "compare.segments",
    "compare.next-untriaged", "compare.refresh", "compare.cycle-pane",
]  # fmt: skip
FOOTER_FIRST = ["compare.next", "compare.prev", "compare.class-picker", "compare.owner",
                "compare.verdict", "compare.note", "compare.undo"]  # fmt: skip
COMPACT_BELOW = 100  # columns under which the footer is compact (one space less per key)
PALETTE_FROM = 120  # columns from which the footer shows "^p palette" (ctrl+p works anyway)
PALETTE_WIDTH = 14


_RANK = {bid: i for i, bid in enumerate(FOOTER_ORDER)}


def in_footer_order(active: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """The screen's active bindings in the footer's order: a keymap would otherwise put the
    keys it remaps last (`k Prev` before `j Next`)."""
    return dict(sorted(active.items(), key=lambda kv: _RANK.get(kv[1].binding.id or "", 999)))


def _replace(screen: Screen[Any], changes: dict[str, dict[str, Any]]) -> bool:
    """Replace fields of the screen's own bindings, by id; True when one changed."""
    changed = False
    for key, bindings in screen._bindings.key_to_bindings.items():
        new = [replace(b, **changes[b.id]) if b.id in changes else b for b in bindings]
        if new != bindings:
            screen._bindings.key_to_bindings[key] = new
            changed = True
    return changed


def name_class_keys(screen: Screen[Any], classes: list[tuple[str, str]]) -> None:
    """Keys 1-9 named by the taxonomy's active classes (name, owner): footer, help, palette."""
    changes = {}
    for i in range(1, 10):
        if i <= len(classes):
            name, owner = (one_line(v, 40) for v in classes[i - 1])
            changes[f"compare.class-{i}"] = {
                "description": one_line(name, 18),
                "tooltip": f"Failure class {i}: {name} (owner {owner}), then the next untriaged case",
            }
        else:
            changes[f"compare.class-{i}"] = {
                "description": f"Class {i}",
                "tooltip": f"No class {i} in the taxonomy",
            }
    if _replace(screen, changes):
        screen.refresh_bindings()


def fit_footer(screen: Screen[Any], width: int) -> None:
    """Show in the footer the most useful keys that fit in `width` cells: the triage keys
    first (j, k, the class picker, owner, verdict, note, undo), then the others in order;
    compact under `COMPACT_BELOW` columns, the palette's hint from `PALETTE_FROM`."""

    compact, palette = width < COMPACT_BELOW, width >= PALETTE_FROM
    pad = 2 if compact else 3  # a key's cells beyond its key and its words
    found = {b.id: b for bs in screen._bindings.key_to_bindings.values() for b in bs}

    def cells(binding: Any) -> int:
        return len(screen.app.get_key_display(binding)) + len(binding.description) + pad

    app = [b for bs in screen.app._bindings.key_to_bindings.values() for b in bs if b.show]
    budget = width - sum(cells(b) for b in app) - (PALETTE_WIDTH if palette else 0)
    shown: set[str] = set()
    for bid in [*FOOTER_FIRST, *FOOTER_ORDER]:
        if bid in found and bid not in shown and cells(found[bid]) <= budget:
            shown.add(bid)
            budget -= cells(found[bid])
    changes = {bid: {"show": bid in shown} for bid in found if bid}
    changed = _replace(screen, changes)
    for footer in screen.query(Footer):
        changed = changed or (footer.compact, footer.show_command_palette) != (compact, palette)
        footer.compact, footer.show_command_palette = compact, palette
    if changed:
        screen.refresh_bindings()
