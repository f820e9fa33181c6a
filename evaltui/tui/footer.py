"""The footer of the runs, gate and stale screens: their most useful keys that fit the
terminal's width, in the order given, so that `?` (help) and `q` keep their place at 80
columns (Textual's footer draws a screen's keys first and cuts the rest)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.screen import Screen

APP_KEYS_WIDTH = 30  # "? Help", "q Quit" and the palette's "^p palette", drawn by the app


def fit_footer(screen: Screen[Any], width: int, order: list[str]) -> None:
    """Show, of the screen's own bindings, those in `order` that fit in `width` cells, in
    that order of importance; every other binding of the screen only in help (`?`)."""
    own = screen._bindings.key_to_bindings
    found = {b.id: b for bindings in own.values() for b in bindings if b.id}
    budget, shown = width - APP_KEYS_WIDTH, set()
    for bid in order:
        binding = found.get(bid)
        if binding is not None and bid not in shown:
            cells = len(screen.app.get_key_display(binding)) + len(binding.description) + 3
            if cells <= budget:
                shown.add(bid)
                budget -= cells
    changed = False
    for key, bindings in own.items():
        new = [replace(b, show=b.id in shown) if b.id else b for b in bindings]
        if new != bindings:
            own[key] = new
            changed = True
    if changed:
        screen.refresh_bindings()
