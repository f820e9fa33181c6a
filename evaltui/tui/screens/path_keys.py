"""The compare screen's path cursor (agent runs): `]` / `[` move a highlight over the
tool calls of the case's two paths, aligned; `=` shows the highlighted call's results
whole. The case itself stays where it is; another case starts with no highlight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import work
from textual.message import Message

from evaltui.tui.path_view import aligned_calls
from evaltui.tui.widgets.case_pane import CasePane


@dataclass
class ToolsLoaded(Message):
    """Per-run tool statistics of the comparison (None for a run without trajectories)."""

    stats: dict[str, Any]


class PathKeys:
    """Mixed into the compare screen (it has `current`, `current_detail`, `history`,
    `reducer` and `notify`)."""

    path_cursor: int | None = None
    path_unfolded: bool = False
    _path_case: int | None = None

    def _path_reset(self) -> None:
        self.path_cursor, self.path_unfolded = None, False

    def _path_show(self) -> None:
        screen: Any = self
        if screen.current is None or screen.current_detail is None:
            return
        screen.query_one("#case-pane", CasePane).show(
            screen.current, screen.current_detail, screen.reducer, screen.history,
            path_cursor=self.path_cursor, path_unfolded=self.path_unfolded,
        )  # fmt: skip

    tool_stats: dict[str, Any] | None = None

    @work(thread=True, exclusive=True, group="compare-tools", exit_on_error=False)
    def load_tools(self, cmp: Any) -> None:
        """Read after the figures (trajectories are read one at a time): the scoreboard's
        tool line for agent runs."""
        from evaltui.compare.paths import tools_by_run

        stats = tools_by_run(cmp)
        if any(v is not None for v in stats.values()):
            screen: Any = self
            screen.post_message(ToolsLoaded(stats))

    def on_tools_loaded(self, message: ToolsLoaded) -> None:  # by name: @on needs a Widget class
        self.tool_stats = message.stats
        screen: Any = self
        screen.show_counts()

    def action_step_call(self, step: int) -> None:
        screen: Any = self
        detail = screen.current_detail
        if detail is None:
            return
        if self._path_case != detail.case_id:
            self._path_case = detail.case_id
            self._path_reset()
        rows = aligned_calls(detail)
        if not rows:
            screen.notify("This case has no tool calls", timeout=2)
            return
        here = -1 if self.path_cursor is None and step > 0 else (
            len(rows) if self.path_cursor is None else self.path_cursor)  # fmt: skip
        self.path_cursor = max(0, min(len(rows) - 1, here + step))
        self.path_unfolded = False
        self._path_show()

    def action_fold_call(self) -> None:
        if self.path_cursor is None:
            self.action_step_call(1)
        self.path_unfolded = not self.path_unfolded
        self._path_show()
