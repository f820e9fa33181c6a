"""The decision record as JSON: what `gate --out` writes."""

from __future__ import annotations

import json

from evaltui.gate.record import DecisionRecord


def to_json(record: DecisionRecord) -> str:
    """Indented JSON, UTF-8, one trailing newline."""
    return json.dumps(record.as_dict(), indent=2, ensure_ascii=False) + "\n"
