"""The case list's columns, sized from the rows: what each column needs (its widest cell
seen, its header included) and how a width is shared when not everything fits.

Pure functions of the rows and a width (no Textual), so a layout is decided before the
list is drawn, never from an empty first page, and is unit-tested without a screen.

Rules, in order (docs/compare.md, "The compare screen"):
- a number (a verdict and its samples: `pass 3/3`) is never cut: its column is as wide
  as its widest cell, or not shown at all;
- a case key is shown whole up to `KEY_FULL` cells (a longer one gets the rest of its
  width only when everything else fits);
- when the width is short, text columns are shortened first (owner, class, risk, then
  the case key down to `KEY_MIN`), then whole columns are left out (owner, class, risk,
  fallback, baseline); the change and the candidate always stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len

from evaltui.compare import CaseRow
from evaltui.textsafe import one_line
from evaltui.tui.render import CHANGE_LABEL, verdict_text

KEY_FULL = 24  # a case key up to this many cells is never cut
KEY_MIN = 10  # the case key is cut to no less than this before a column is left out
CELL_MAX = 60  # the widest a text cell is drawn (one_line's bound in the list)
RISK_MAX = 12  # the widest a risk value (a segment of the risk dimension) is drawn
# the narrowest a text column is cut to before it is left out
SHRINK = {"owner": 5, "class": 8}
DROP_ORDER = ["owner", "class", "risk", "fb", "base"]  # first left out first
CHANGE_WIDTH = max(len(label) for label in CHANGE_LABEL.values())  # any page may bring any


def layout(risk: bool, fallback: bool) -> list[str]:
    """The columns of a comparison, in display order (`risk`: the risk column, headed
    by the name of its dimension)."""
    return [
        "change",
        "case",
        "base",
        "cand",
        *(["fb"] if fallback else []),
        *(["risk"] if risk else []),
        "class",
        "owner",
    ]


@dataclass
class Needs:
    """The widest cell seen per column (headers included): only ever grows, so a page
    read later never narrows a column already drawn."""

    change: int = CHANGE_WIDTH
    case: int = 4
    base: int = 4
    cand: int = 4
    fb: int = 2
    risk: int = 4
    cls: int = 5
    owner: int = 5

    def of(self, name: str) -> int:
        return self.cls if name == "class" else int(getattr(self, name))

    def take(self, rows: Iterable[CaseRow], risk: str | None) -> bool:
        """Widen for `rows` (`risk`: the risk dimension); True when a need grew."""
        before = self.__dict__.copy()
        if risk:
            self.risk = max(self.risk, min(cell_len(one_line(risk, RISK_MAX)), RISK_MAX))
        for r in rows:
            self.case = max(self.case, cell_len(one_line(r.case_key, CELL_MAX)))
            self.base = max(self.base, verdict_text(r.baseline, r.baseline_samples).cell_len)
            self.cand = max(self.cand, verdict_text(r.candidate, r.candidate_samples).cell_len)
            self.fb = max(self.fb, verdict_text(r.fallback).cell_len)
            if risk:
                self.risk = max(self.risk, cell_len(one_line(r.segments.get(risk) or "", RISK_MAX)))
            if r.triage_state == "disagreement":
                self.cls = max(self.cls, len("disagree!"))
            self.cls = max(self.cls, cell_len(one_line(r.triage_class or "", CELL_MAX)))
            self.owner = max(self.owner, cell_len(one_line(r.triage_owner or "", CELL_MAX)))
        return self.__dict__ != before


def core_width(needs: Needs) -> int:
    """The cells the list needs for what it must show whole: the change, the case key
    (up to `KEY_FULL`), the baseline and the candidate (each column and its space)."""
    return CHANGE_WIDTH + min(needs.case, KEY_FULL) + needs.base + needs.cand + 4


def fit(names: list[str], needs: Needs, width: int) -> list[tuple[str, int]]:
    """The columns shown in `width` cells and their widths (each is followed by a space)."""
    widths = {n: needs.of(n) for n in names}
    widths["case"] = min(widths["case"], KEY_FULL)
    shown = list(names)

    def over() -> int:
        return sum(widths[n] + 1 for n in shown) - width

    for name in ("owner", "class"):  # text first: shortened...
        if name in shown and over() > 0:
            widths[name] = max(SHRINK[name], widths[name] - over())
    for name in DROP_ORDER:  # ...then left out
        if name in shown and over() > 0:
            shown.remove(name)
    for floor in (KEY_MIN, 4):  # still too wide: the case key is cut, KEY_MIN first
        if over() > 0:
            widths["case"] = max(min(floor, widths["case"]), widths["case"] - over())
    # What is left: the case key whole, then the class and owner (to their need, then more)
    for name in ("case", "class", "owner"):
        if name in shown and over() < 0:
            widths[name] += max(0, min(-over(), needs.of(name) - widths[name]))
    for name, share in (("class", 0.6), ("owner", 1.0)):
        if name in shown and over() < 0:
            widths[name] += int(-over() * share)
    return [(n, widths[n]) for n in shown]
