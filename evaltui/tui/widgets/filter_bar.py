"""The filter line: what the case list shows, how many, where the cursor is."""

from __future__ import annotations

from rich.text import Text

from evaltui.compare import CHANGES, Filter
from evaltui.compare.kinds import CHANGED
from evaltui.tui.render import CHANGE_LABEL
from evaltui.tui.widgets.safe import Static

# The filter keys named in the line, by binding id (the compare screen's), and the words.
HINTS = [
    ("compare.filter", "filter"),
    ("compare.segment", "segment"),
    ("compare.search", "search"),
    ("compare.clear-filters", "clear"),
]


def describe(flt: Filter) -> str:
    """What the list shows, in the words the app uses elsewhere: a change kind as the
    list and the counts name it ("output changed", never "output_changed")."""
    if flt.changes == CHANGED:
        kinds = "changed"
    elif flt.changes == frozenset(CHANGES):
        kinds = "all cases"
    else:  # (the labels' case is the list's: REGRESSED and ERRORED stand out there)
        kinds = ", ".join(CHANGE_LABEL.get(c, c).lower() for c in CHANGES if c in flt.changes)
    rest = flt.with_(changes=CHANGED).describe().removeprefix("changed")
    return kinds + rest


class FilterBar(Static):
    hints = "f filter · s segment · / search · F clear"
    zoom_key = "z"
    # What the zoom key shows, when the list and the case pane are shown one at a time
    # ("case", "list"), else None (side by side: nothing to say).
    zoom_hint: str | None = None

    def name_keys(self, keys: dict[str, str]) -> None:
        """The filter keys as the app shows them (`keys`: binding id -> key), keymap included."""
        self.hints = " · ".join(f"{keys[i]} {word}" for i, word in HINTS if i in keys)
        self.zoom_key = keys.get("compare.zoom", "")

    def show(self, flt: Filter, *, total: int | None, position: int | None) -> None:
        """`total` None: still counting; `position` None: no case on screen."""
        t = Text("showing ", style="dim")
        t.append(describe(flt), style="bold")
        if total is None:  # the first page is up; the counts are on their way
            t.append("  (counting…)", style="dim")
            if position is not None:
                t.append(f"   case {position:,}", style="dim")
        else:
            t.append(f"  ({total:,} cases)", style="dim")
            if position is not None and total:
                t.append(f"   case {position:,} of {total:,}", style="dim")
        if self.zoom_hint and self.zoom_key:  # first: on a narrow screen, the one way to the case
            t.append(f"   {self.zoom_key} {self.zoom_hint}", style="bold")
        t.append(f"   {self.hints}", style="dim")
        self.update(t, layout=False)  # one line, fixed height: no layout pass per step
