"""The base of evaltui's screens: no worker fails in silence.

Textual posts `Worker.StateChanged` to the node that started the worker (the
screen) and does not bubble it, so an app-level handler never sees a screen
worker's failure: every screen handles it here, lets the screen react (a save
that did not commit is marked NOT SAVED, the gate shows its error), then the
app shows one dialog naming what failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual import getters, on
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from evaltui.textsafe import one_line

if TYPE_CHECKING:
    from textual.app import App

    from evaltui.tui.app import EvaltuiApp

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
    "read_case": "Reading the case",
    "load_runs": "Reading the runs",
    "save_mark": "Marking a run",
    "propose_notes": "Proposing classes from the notes",
    "write_ruling": "Ratifying a proposal",
    "confirm_labels": "Labelling the suggested cases",
    "save_next_mark": "Marking a run",
    "save_judgment": "Saving a judgment",
    "undo_judgment": "Undoing a judgment",
    "load_queue": "Reading the judging queue",
    "load_views": "Reading the results to judge",
    "tell_gold": "Reading how the session did on gold",
    "load_report": "Reading the calibration",
}


def report_worker_failure(app: App[Any], event: Worker.StateChanged) -> BaseException | None:
    """A worker that failed: one dialog naming what was being done (for a widget that
    holds workers; a screen's go through `AppScreen`). Returns the error, if it failed."""
    if event.state != WorkerState.ERROR or event.worker.error is None:
        return None
    what = WHAT.get(event.worker.name, f"{event.worker.name or 'A background task'}")
    cast("EvaltuiApp", app).show_error(what, event.worker.error)
    return event.worker.error


class AppScreen(Screen[None]):
    """A screen of evaltui's app: its workers' failures always reach the user, its
    notifications are always inert text."""

    if TYPE_CHECKING:  # the app, typed: its store (`db_path`), taxonomy path, config,
        # error dialog; at run time Textual's own `app` (as Textual types it: MessagePump)
        app = getters.app(EvaltuiApp)

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
            one_line(str(message), 400),
            title=one_line(title, 80),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def worker_failed(self, worker: Worker[object], error: BaseException) -> None:
        """React to a failed worker before the dialog (a screen overrides this)."""

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.worker_failed(event.worker, event.worker.error)
            report_worker_failure(self.app, event)
