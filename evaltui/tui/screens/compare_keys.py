"""The compare screen's keys, in footer order: every binding has an id (for remapping) and a tooltip."""

from __future__ import annotations

from textual.binding import Binding

COMPARE_KEYS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("j", "step(1)", "Next", tooltip="Next case in the list", id="compare.next"),
    Binding("k", "step(-1)", "Prev", tooltip="Previous case in the list", id="compare.prev"),
    Binding("n", "jump(1)", "Next regr.", tooltip="Next regression", id="compare.next-regression"),
    Binding(
        "N",
        "jump(-1)",
        "Prev regr.",
        tooltip="Previous regression",
        id="compare.prev-regression",
    ),
    Binding(
        "tab",
        "cycle_pane",
        "Pane",
        tooltip="Cycle focus: scoreboard, cases, case pane",
        id="compare.cycle-pane",
    ),
    Binding(
        "slash",
        "search",
        "Search",
        tooltip="Search case keys, inputs and outputs",
        id="compare.search",
    ),
    Binding(
        "f",
        "cycle_filter",
        "Filter",
        tooltip="Cycle the change kinds shown",
        id="compare.filter",
    ),
    Binding(
        "s",
        "segment_filter",
        "Segment",
        tooltip="Show only the scoreboard's highlighted segment",
        id="compare.segment",
    ),
    Binding(
        "F", "clear_filters", "Clear", tooltip="Clear every filter", id="compare.clear-filters"
    ),
    Binding(
        "o",
        "open_case",
        "Open",
        tooltip="Open the full case (every sample, scrollable)",
        id="compare.open",
    ),
    Binding(
        "r",
        "rebuild",
        "Refresh",
        tooltip="Recompute the comparison from the store",
        id="compare.refresh",
    ),
    Binding("escape", "back", "Back", tooltip="Back to the runs", id="compare.back"),
    *[
        Binding(
            str(i),
            f"assign({i})",
            f"Class {i}",
            show=False,
            tooltip=f"Failure class {i} of the taxonomy, then the next untriaged case",
            id=f"compare.class-{i}",
        )
        for i in range(1, 10)
    ],
    Binding(
        "0",
        "pick_class",
        "Class…",
        tooltip="Pick any failure class from the list",
        id="compare.class-picker",
    ),
    Binding("w", "owner", "Owner", tooltip="Set the owner of the repair", id="compare.owner"),
    Binding(
        "v",
        "verdict",
        "Verdict",
        tooltip="Set the verdict: real regression, accepted, ...",
        id="compare.verdict",
    ),
    Binding(
        "a",
        "accept",
        "Accept",
        show=False,
        tooltip="Verdict 'accepted' (a known, accepted change)",
        id="compare.accept",
    ),
    Binding("e", "note", "Note", tooltip="Write a one-line note on the case", id="compare.note"),
    Binding(
        "u",
        "undo",
        "Undo",
        tooltip="Undo your last triage action (recorded)",
        id="compare.undo",
    ),
    Binding(
        "z",
        "zoom",
        "Zoom",
        show=False,
        tooltip="Give the case pane the whole width (toggle); for narrow terminals",
        id="compare.zoom",
    ),
    Binding(
        "g",
        "gate",
        "Gate",
        tooltip="The release gate: rules, decision, export",
        id="compare.gate",
    ),
    Binding(
        "X",
        "case_status",
        "Retire…",
        tooltip="Retire, quarantine or restore this case (shows the effect first)",
        id="compare.case-status",
    ),
    Binding(
        "S",
        "stale",
        "Stale",
        show=False,
        tooltip="Stale-case suggestions with evidence; bulk retire",
        id="compare.stale",
    ),
    Binding(
        "H",
        "toggle_hidden",
        "Show retired",
        show=False,
        tooltip="Count retired and quarantined cases in the figures (toggle)",
        id="compare.toggle-hidden",
    ),
    Binding(
        "t",
        "untriaged(1)",
        "Untriaged",
        show=False,
        tooltip="Next untriaged case",
        id="compare.next-untriaged",
    ),
    Binding(
        "T",
        "untriaged(-1)",
        "Prev untriaged",
        show=False,
        tooltip="Previous untriaged case",
        id="compare.prev-untriaged",
    ),
]
