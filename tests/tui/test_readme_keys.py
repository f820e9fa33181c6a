"""README "The compare screen's keys": each key in the table is bound on the compare
screen (or the app, or the case list) to the action its row describes."""

from __future__ import annotations

import re

from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.compare import CompareScreen
from evaltui.tui.widgets.case_list import CaseList

from ..conftest import ROOT

NAMES = {"↓": "down", "↑": "up", "Home": "home", "End": "end", "PgDn": "pagedown",
         "PgUp": "pageup", "/": "slash"}  # fmt: skip
# Words of each row's description and the action they must name, key by key.
EXPECTED = {
    "j": "step(1)", "k": "step(-1)", "down": "screen.step(1)", "up": "screen.step(-1)",
    "home": "first", "end": "last", "pagedown": "page(1)", "pageup": "page(-1)",
    "n": "jump(1)", "N": "jump(-1)", "t": "untriaged(1)", "T": "untriaged(-1)",
    "1": "assign(1)", "9": "assign(9)", "0": "pick_class", "w": "owner", "v": "verdict",
    "e": "note", "E": "note(True)", "u": "undo", "f": "cycle_filter", "s": "segment_filter", "slash": "search",
    "F": "clear_filters", "y": "copy", "R": "choose_reducer", "D": "choose_segments",
    "h": "trend", "g": "gate", "X": "case_status", "S": "stale", "ctrl+p": "command_palette",
    "ctrl+t": "toggle_theme", "K": "codebook",
}  # fmt: skip


def bound() -> dict[str, str]:
    keys: dict[str, str] = {}
    for cls in (EvaltuiApp, CaseList, CompareScreen):  # the screen's own win
        for b in cls.BINDINGS:
            for key in b.key.split(","):
                keys[key] = b.action
    keys["ctrl+p"] = "command_palette"  # App.COMMAND_PALETTE_BINDING
    assert EvaltuiApp.COMMAND_PALETTE_BINDING == "ctrl+p"
    return keys


def test_the_readme_key_table_is_the_bindings():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The compare screen's keys", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for row in re.findall(r"^\| (.+?) \| .+ \|$", section, re.M)[1:]:
        for key in re.findall(r"`([^`]+)`", row):
            if "-" in key and key[0].isdigit():  # `1`-`9` reads as a range
                continue
            listed.add(NAMES.get(key, key))
    listed |= {"1", "9"}
    keys = bound()
    for key in listed:
        assert key in EXPECTED, f"README lists {key!r}: add what it should do to this test"
        assert keys.get(key) == EXPECTED[key], (key, keys.get(key))
