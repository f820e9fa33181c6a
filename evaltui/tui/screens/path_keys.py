"""The compare screen's path cursor (agent runs): `]` / `[` move a highlight over the
tool calls of the case's two paths, aligned; `=` shows the highlighted call's results
whole. The case itself stays where it is; another case starts with no highlight."""

from __future__ import annotations

from typing import Any

from evaltui.tui.path_view import aligned_calls
from evaltui.tui.widgets.case_pane import CasePane


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
