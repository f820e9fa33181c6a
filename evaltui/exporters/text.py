"""Formatting of figures shared by the CLI, the app and the exports.

Units are written by `evaltui/units.py` (below every layer that prints a figure); a
rule's value and threshold are written in the unit the metric registry gives it.
"""

from __future__ import annotations

from evaltui.compare.measures import fmt_threshold, fmt_value
from evaltui.units import fmt_ci, fmt_delta, fmt_p, pct, segment_label

__all__ = ["fmt_ci", "fmt_delta", "fmt_p", "fmt_threshold", "fmt_value", "pct", "segment_label"]
