"""The decision record as JSON: what `gate --out` writes."""

from __future__ import annotations

from evaltui.gate.record import DecisionRecord
from evaltui.textsafe import safe_json


def to_json(record: DecisionRecord) -> str:
    """Indented JSON, UTF-8, one trailing newline."""
    return safe_json(record.as_dict()) + "\n"
