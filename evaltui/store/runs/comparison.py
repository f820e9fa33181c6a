"""The comparison's reads of the run tables (compare/engine, rows, measures, paths):
named statements and fragments the engine composes with its temp tables."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded where used: opening a store for the app needs neither
    pass


def _json(value: Any) -> str:
    """JSON as the store writes it (the event log's form): sorted keys, compact."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- the comparison's reads (compare/engine, rows, measures, paths) ------------------
