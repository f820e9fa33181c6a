"""Figures for people: a value in its unit, a threshold, a delta, an interval, a segment label.

The base of every surface that prints a figure (the CLI, the app, the exports) and
of the gate's metric registry (`compare/measures.py`), which names each metric's
unit here: no layer above has to know how a unit is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from evaltui.stats import pct, wilson

# What a metric's value is, and so how it is written:
#   rate      a fraction of cases, written as a percentage      (0.324 -> 32.4%)
#   points    a difference of two rates, in percentage points   (-0.02 -> -2.0 pts)
#   relative  a relative change                                 (0.25 -> +25.0%)
#   ms        milliseconds                                       (1234.5 -> 1,234 ms)
#   count     a number of cases                                  (3.0 -> 3)
#   flag      1 or 0                                             (1.0 -> 1)
Unit = Literal["rate", "points", "relative", "ms", "count", "flag"]
UNITS: tuple[Unit, ...] = get_args(Unit)

# How each unit is read in docs/gate.md's metric table
UNIT_WORDS: dict[Unit, str] = {
    "rate": "fraction (shown as %)",
    "points": "fraction (shown as pts)",
    "relative": "fraction (shown as ±%)",
    "ms": "ms",
    "count": "cases",
    "flag": "0 or 1",
}

__all__ = [
    "UNITS",
    "UNIT_WORDS",
    "Unit",
    "fmt_ci",
    "fmt_delta",
    "fmt_p",
    "format_threshold",
    "format_value",
    "pct",
    "segment_label",
]


def format_value(value: float | None, unit: str) -> str:
    """A value in its unit ("no data" when there is none; an unknown unit as a plain number)."""
    if value is None:
        return "no data"
    if unit == "rate":
        return f"{value:.1%}"
    if unit == "points":
        return f"{value * 100:+.1f} pts"
    if unit == "relative":
        return f"{value:+.1%}"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:g}"


def format_threshold(threshold: Mapping[str, float], unit: str) -> str:
    """`>= x` or `<= x` in the unit."""
    ((kind, v),) = threshold.items()
    return f"{'>=' if kind == 'min' else '<='} {format_value(v, unit)}"


def fmt_delta(delta: float | None) -> str:
    """A pass-rate delta in points, signed ("-" when there is none)."""
    return "-" if delta is None else f"{delta * 100:+.1f}"


P_FLOOR = 0.001  # below it a p-value is written "<0.001"


def fmt_p(p: float | None) -> str:
    """A p-value as every surface writes it (the CLI, the app, Markdown): three
    significant figures, or `<0.001` below that. The JSON and the decision record keep
    it to six decimals, so a figure is first taken to that precision: what the app
    computes and what a record kept print the same (never `0`, never `4e-05` beside
    `4.23e-05`)."""
    if p is None:
        return "-"
    kept = round(p, 6)
    return f"<{P_FLOOR:g}" if kept < P_FLOOR else f"{kept:.3g}"


def fmt_ci(k: int | None, n: int) -> str:
    """A 95% Wilson interval as whole percentages ("" when there is none)."""
    if k is None:
        return ""
    ci = wilson(k, n)
    return "" if ci is None else f"{ci[0]:.0%}-{ci[1]:.0%}"


def segment_label(dimension: str, value: str) -> str:
    return "all" if dimension == "all" else f"{dimension}={value}"
