"""Widgets that draw themselves from the data they are given and post messages; no I/O."""

from evaltui.tui.widgets.case_list import CaseList
from evaltui.tui.widgets.case_pane import CasePane
from evaltui.tui.widgets.filter_bar import FilterBar
from evaltui.tui.widgets.scoreboard import Scoreboard, effect_table

__all__ = ["CaseList", "CasePane", "FilterBar", "Scoreboard", "effect_table"]
