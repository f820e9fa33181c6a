"""Formatting of figures shared by the CLI, the app and the exports: values, thresholds, deltas, segments."""

from __future__ import annotations

from evaltui.compare.measures import fmt_threshold, fmt_value
from evaltui.stats import pct, wilson

__all__ = ["fmt_ci", "fmt_delta", "fmt_p", "fmt_threshold", "fmt_value", "pct", "segment_label"]


def fmt_delta(delta: float | None) -> str:
    """A pass-rate delta in points, signed ("-" when there is none)."""
    return "-" if delta is None else f"{delta * 100:+.1f}"


def fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def fmt_ci(k: int | None, n: int) -> str:
    """A 95% Wilson interval as whole percentages ("" when there is none)."""
    if k is None:
        return ""
    ci = wilson(k, n)
    return "" if ci is None else f"{ci[0]:.0%}-{ci[1]:.0%}"


def segment_label(dimension: str, value: str) -> str:
    return "all" if dimension == "all" else f"{dimension}={value}"
