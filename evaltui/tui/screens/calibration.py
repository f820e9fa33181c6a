"""The calibration panel: the grader's calibration on a run (against the baseline mark),
as `evaltui calibrate report` gives it: judged n, TPR and TNR with intervals, kappa and
AC1, the corrected pass rate, the corrected paired delta, reviewers on gold."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer

from evaltui.review.calibration.export import report_json
from evaltui.review.calibration.report import report
from evaltui.review.calibration.text import report_lines
from evaltui.store import Store
from evaltui.tui.messages import CalibrationLoaded
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.widgets.safe import Static


class CalibrationScreen(AppScreen):
    """`calibrate report` for one run, in the app."""

    BINDINGS = [
        Binding(
            "r", "reload", "Refresh", tooltip="Read the judgments again", id="calibration.refresh"
        ),
        Binding("escape", "app.pop_screen", "Back", tooltip="Back", id="calibration.back"),
    ]

    def __init__(self, run_id: int, baseline: int | None = None) -> None:
        super().__init__()
        self.run_id, self.baseline = run_id, baseline

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · calibration", style="bold"), id="title")
        with VerticalScroll(id="calibration-scroll"):
            yield Static(Text("Reading the judgments…"), id="calibration-report")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.load_report()

    @work(thread=True, exclusive=True, group="calibration-load", exit_on_error=False)
    def load_report(self) -> None:
        with Store(self.app.db_path) as store:
            data = report_json(report(store.conn, self.run_id, baseline=self.baseline))
        self.post_message(CalibrationLoaded(report_lines(data)))

    @on(CalibrationLoaded)
    def show_report(self, message: CalibrationLoaded) -> None:
        self.query_one("#calibration-report", Static).update(Text("\n".join(message.lines)))
