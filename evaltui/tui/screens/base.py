"""The base of evaltui's screens: no worker fails in silence.

Textual posts `Worker.StateChanged` to the node that started the worker (the
screen) and does not bubble it, so an app-level handler never sees a screen
worker's failure: every screen handles it here, lets the screen react (a save
that did not commit is marked NOT SAVED, the gate shows its error), then the
app shows one dialog naming what failed.
"""

from __future__ import annotations

from textual import on
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from evaltui.textsafe import one_line

# A worker's method name -> what the user was doing, for the error dialog's title.
WHAT = {
    "build": "Opening the comparison",
    "load_page": "Reading the case list",
    "load_detail": "Reading the case",
    "read_ahead": "Reading the next cases",
    "find_regression": "Finding the next regression",
    "find_untriaged": "Finding the next untriaged case",
    "save": "Saving a triage action",
    "run_undo": "Undoing a triage action",
    "preview_status": "Previewing a status change",
    "write_status": "Changing a case's status",
    "refresh_figures": "Refreshing the figures",
    "evaluate": "Measuring the gate",
    "export": "Keeping and exporting the decision",
    "load": "Reading the stale-case suggestions",
    "write": "Retiring cases",
    "load_runs": "Reading the runs",
    "save_mark": "Marking a run",
}


class AppScreen(Screen[None]):
    """A screen whose workers' failures always reach the user, and whose notifications
    are always inert text."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification passes the untrusted-text door (one line, controls made
        visible) and is never parsed as markup: a case key or run name cannot reach the
        terminal raw."""
        super().notify(
            one_line(str(message), 400), title=one_line(title, 80), severity=severity,
            timeout=timeout, markup=False,
        )  # fmt: skip

    def worker_failed(self, worker: Worker[object], error: BaseException) -> None:
        """React to a failed worker before the dialog (a screen overrides this)."""

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        self.worker_failed(event.worker, error)
        what = WHAT.get(event.worker.name, f"{event.worker.name or 'A background task'}")
        self.app.show_error(what, error)  # type: ignore[attr-defined]
