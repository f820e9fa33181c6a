"""Messages workers post back to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from evaltui.models import RunSummary


@dataclass
class RunsLoaded(Message):
    """The runs list and the current baseline/candidate/fallback marks."""

    runs: list[RunSummary]
    selection: dict[str, int | None]
