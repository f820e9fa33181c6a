"""Widgets that draw themselves from the data they are given and post messages; no I/O.

Each is imported from its module when first asked for (PEP 562), so a screen that
needs only `safe` does not load the compare widgets (start-up, docs/performance.md).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "CaseList": "case_list",
    "CasePane": "case_pane",
    "FilterBar": "filter_bar",
    "Scoreboard": "scoreboard",
    "effect_table": "scoreboard",
    "TeamLine": "team_line",
}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(name)
