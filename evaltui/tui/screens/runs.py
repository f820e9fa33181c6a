"""Runs screen: the runs in the store, and which are baseline, candidate, fallback."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import Footer

from evaltui import service
from evaltui.columns import cut_end, cut_middle, fit_columns
from evaltui.textsafe import one_line
from evaltui.tui.footer import fit_footer
from evaltui.tui.messages import Marked, RunsLoaded
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.help import keys_by_id
from evaltui.tui.widgets.safe import DataTable, Static
from evaltui.tui.widgets.team_line import TeamLine

if TYPE_CHECKING:
    from evaltui.models import RunSummary

MARK_LABEL = {"baseline": "BASE", "candidate": "CAND", "fallback": "FALL"}
# The figures come before the long labels, so an 80-column terminal shows them.
COLUMNS = [
    ("mark", "mark"), ("id", "id"), ("name", "name"), ("rate", "pass/result"), ("cases", "cases"),
    ("results", "results"), ("pass", "pass"), ("fail", "fail"), ("error", "error"),
    ("other", "limit/none"), ("role", "role"),
    ("system", "system"), ("format", "format"), ("imported", "imported"),
]  # fmt: skip
# What gives way when the columns do not fit, in order: (shorten to TEXT_MIN, else leave)
GIVE_WAY = [
    (False, "imported"), (True, "system"), (False, "format"), (False, "system"),
    (True, "name"), (False, "other"), (False, "role"), (False, "cases"), (False, "results"),
    (False, "error"),
]  # fmt: skip
TEXT_MIN = {"name": 24, "system": 16}
FOOTER = ["runs.compare", "runs.mark-baseline", "runs.mark-candidate", "runs.mark-fallback",
          "runs.unmark", "runs.refresh"]  # fmt: skip


def other_outcomes(run: RunSummary) -> str:
    """Results stopped at a limit / with no verdict (docs/formats.md), `-` when none."""
    if not (run.limit or run.unscored):
        return "-"
    return f"{run.limit:,}/{run.unscored:,}"


class RunsScreen(AppScreen):
    """Lists runs (loaded by a worker) and marks baseline, candidate and fallback."""

    BINDINGS = [
        # j/k as on the compare screen (the table's own ↓/↑ keep working): `b`, `j`, `c`
        # marks two runs, not the same one twice
        Binding("j", "step(1)", "Next", show=False, tooltip="Next run", id="runs.next"),
        Binding("k", "step(-1)", "Prev", show=False, tooltip="Previous run", id="runs.prev"),
        Binding(
            "b",
            "mark('baseline')",
            "Baseline",
            tooltip="Mark the highlighted run as the baseline (production)",
            id="runs.mark-baseline",
        ),
        Binding(
            "c",
            "mark('candidate')",
            "Candidate",
            tooltip="Mark the highlighted run as the candidate",
            id="runs.mark-candidate",
        ),
        Binding(
            "f",
            "mark('fallback')",
            "Fallback",
            tooltip="Mark the highlighted run as the fallback",
            id="runs.mark-fallback",
        ),
        Binding(
            "x",
            "unmark",
            "Unmark",
            tooltip="Clear the mark on the highlighted run",
            id="runs.unmark",
        ),
        Binding(
            "r", "reload", "Refresh", tooltip="Reload the runs from the store", id="runs.refresh"
        ),
        Binding(
            "enter",
            "compare",
            "Compare",
            tooltip="Open the comparison of the marked baseline and candidate (and fallback)",
            id="runs.compare",
            priority=True,  # over the table's own Enter, so help and the footer show it
        ),
        Binding(
            "J",
            "judge",
            "Judge",
            tooltip="Judge the highlighted run's newest calibration sample, blind",
            id="runs.judge",
        ),
        Binding(
            "C",
            "calibration",
            "Calibration",
            tooltip="The grader's calibration on the highlighted run (vs the baseline mark)",
            id="runs.calibration",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunSummary] = []
        self.left_out: list[str] = []  # columns the width leaves out (said under the table)
        self.selection: dict[str, int | None] = {m: None for m in service.MARKS}
        self._pending_marks: deque[tuple[str, int | None, str | None]] = deque()
        self._mark_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · runs", style="bold"), id="title")
        yield TeamLine()
        yield Static(Text("Loading runs…"), id="selection")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="empty")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.action_reload()

    # -- loading ---------------------------------------------------------------

    def action_reload(self) -> None:
        self.load_runs()

    @work(thread=True, exclusive=True, group="runs-load", exit_on_error=False)
    def load_runs(self) -> None:
        with self.app.open_store() as store:
            runs = service.list_runs(store)
            selection = service.get_selection(store)
        self.post_message(RunsLoaded(runs, selection))
        # What Enter needs, loaded now while the runs are read: not after the key (load time).
        import evaltui.review.taxonomy
        import evaltui.tui.screens.compare  # load time: as above  # noqa: F401

    @on(RunsLoaded)
    def show_runs(self, message: RunsLoaded) -> None:
        self.runs = message.runs
        self.selection = message.selection
        self.layout_table()
        self.query_one("#empty", Static).update(self.hint_text())
        self.query_one("#selection", Static).update(self.selection_text())

    def on_resize(self, event: events.Resize) -> None:
        fit_footer(self, event.size.width, FOOTER)
        if self.runs:
            self.layout_table()
            self.query_one("#empty", Static).update(self.hint_text())

    def layout_table(self) -> None:
        """The runs in the screen's width: every figure whole; the text columns give way
        first (GIVE_WAY: the import time, the system, the format, then the name is cut in
        its middle), then, on a very narrow terminal, whole figure columns leave."""
        table = self.query_one(DataTable)
        current = self.highlighted_run()
        marks = {run_id: m for m, run_id in self.selection.items() if run_id is not None}
        rows = [self.row_cells(run, marks.get(run.id)) for run in self.runs]
        # the limit/no-verdict column only when a run has such results: it costs width
        limits = any(r.limit or r.unscored for r in self.runs)
        cols = [i for i, (key, _) in enumerate(COLUMNS) if key != "other" or limits]
        keys = [COLUMNS[i][0] for i in cols]
        natural = [max([len(COLUMNS[i][1]), *(row[i].cell_len for row in rows)]) for i in cols]
        minimum = [
            max(len(COLUMNS[i][1]), min(n, TEXT_MIN.get(COLUMNS[i][0], n)))
            for i, n in zip(cols, natural, strict=True)
        ]
        steps = [(shorten, keys.index(key)) for shorten, key in GIVE_WAY if key in keys]
        # a DataTable column costs its width and a cell's padding either side (fit_columns
        # counts one cell between columns): widths + 1; and the table's scrollbar, when
        # its rows are more than its height (at most 75% of the screen's: app.tcss)
        scrollbar = 2 if len(rows) + 1 > self.size.height * 3 // 4 else 0
        kept, fitted = fit_columns(
            [n + 1 for n in natural],
            [m + 1 for m in minimum],
            steps,
            self.size.width - scrollbar - 1,
        )
        keep = [cols[j] for j in kept]
        widths = {cols[j]: fitted[j] for j in kept}
        self.left_out = [COLUMNS[i][1] for i in cols if i not in keep]
        # Widths come from the cells (already cut to a bound), not from DataTable's
        # auto-sizing, so the layout is the same on every start.
        table.clear(columns=True)
        for i in keep:
            key, label = COLUMNS[i]
            table.add_column(label, key=key, width=widths[i] - 1)
        for run, row in zip(self.runs, rows, strict=True):
            cells = []
            for i in keep:
                cell, width = row[i], widths[i] - 1
                if cell.cell_len > width:  # a text column shortened: cut, never a figure
                    cut = cut_middle if COLUMNS[i][0] == "name" else cut_end
                    cell = Text(cut(cell.plain, width), style=cell.style)
                cells.append(cell)
            table.add_row(*cells, key=str(run.id))
        if current is not None and any(r.id == current.id for r in self.runs):
            table.move_cursor(row=table.get_row_index(str(current.id)))

    @staticmethod
    def row_cells(run: RunSummary, mark: str | None) -> list[Text]:
        return [
            Text(MARK_LABEL.get(mark or "", ""), style="bold reverse" if mark else ""),
            Text(str(run.id), justify="right"),
            Text(one_line(run.name, 64)),
            Text(
                "-" if run.pass_rate is None else f"{run.pass_rate:.1%}",
                justify="right",
                style="bold",
            ),
            Text(f"{run.cases:,}", justify="right"),
            Text(f"{run.results:,}", justify="right"),
            Text(f"{run.passed:,}", justify="right", style="green"),
            Text(f"{run.failed:,}", justify="right", style="red" if run.failed else ""),
            Text(f"{run.errored:,}", justify="right", style="yellow" if run.errored else ""),
            Text(other_outcomes(run), justify="right", style="yellow" if run.limit else ""),
            Text(run.role),
            Text(one_line(run.system, 40)),
            Text(run.format),
            Text(run.imported_at[5:16].replace("T", " ")),
        ]

    def hint_text(self) -> Text:
        """What to do next, in words: the first thing a new user reads under the table;
        then the columns this width leaves out, if any."""
        hint = self.next_step()
        if self.runs and self.left_out:
            hint.append(
                f"\nNot shown at this width: {', '.join(self.left_out)} "
                "(widen the terminal, or evaltui runs --json)",
                style="dim",
            )
        return hint

    def next_step(self) -> Text:
        """What to do next, in words."""
        if not self.runs:
            return Text(
                "No runs in this store yet. Import one with `evaltui import FILE`, or try `evaltui demo`."
            )
        names = {r.id: r.name for r in self.runs}
        base, cand = self.selection.get("baseline"), self.selection.get("candidate")
        keys = keys_by_id(self)  # as the app shows them, after the config's keymap
        b, c, f = (keys.get(f"runs.mark-{m}", "?") for m in ("baseline", "candidate", "fallback"))
        enter, help_key = keys.get("runs.compare", "Enter"), keys.get("app.help", "?")
        if base in names and cand in names and base != cand:
            t = Text(f"\n{enter} compares ")
            t.append(one_line(names[cand], 32), style="bold")
            t.append(" (candidate) with ")
            t.append(one_line(names[base], 32), style="bold")
            t.append(" (baseline): what changed, worst first, by segment.\n")
            t.append(
                f"{b} / {c} / {f} mark another run as baseline, candidate or fallback; "
                f"{help_key} lists every key."
            )
            return t
        j, k = keys.get("runs.next", "j"), keys.get("runs.prev", "k")
        return Text(
            f"\nMark a baseline ({b}) and a candidate ({c}), then press {enter} to compare "
            f"them ({j} / {k} move). {help_key} lists every key."
        )

    def selection_text(self) -> Text:
        names = {r.id: r.name for r in self.runs}
        text = Text()
        for mark in service.MARKS:
            run_id = self.selection.get(mark)
            text.append(f"{mark}: ", style="bold")
            text.append(
                one_line(names[run_id], 36) if run_id in names else "-",
                style="" if run_id else "dim",
            )
            text.append("   ")
        return text

    def highlighted_run(self) -> RunSummary | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((r for r in self.runs if str(r.id) == key), None)

    def action_step(self, delta: int) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            row = min(max(table.cursor_row + delta, 0), table.row_count - 1)
            table.move_cursor(row=row)

    # -- comparing -------------------------------------------------------------

    def action_compare(self) -> None:
        base, cand = self.selection.get("baseline"), self.selection.get("candidate")
        if base is None or cand is None:
            keys = keys_by_id(self)
            b, c = keys.get("runs.mark-baseline", "?"), keys.get("runs.mark-candidate", "?")
            self.notify(f"Mark a baseline ({b}) and a candidate ({c}) first", severity="warning")
            return
        if base == cand:
            self.notify(
                "The baseline and the candidate are the same run", severity="warning", markup=False
            )
            return
        from evaltui.tui.screens.compare import CompareScreen  # load time: preloaded, see load_runs

        self.app.push_screen(CompareScreen(base, cand, self.selection.get("fallback")))

    # -- measuring the judges (docs/calibration.md) -----------------------------

    def action_judge(self) -> None:
        run = self.highlighted_run()
        if run is not None:
            from evaltui.tui.screens.judge import JudgeScreen  # load time: only when asked

            self.app.push_screen(JudgeScreen(run_id=run.id))

    def action_calibration(self) -> None:
        run = self.highlighted_run()
        if run is not None:
            from evaltui.tui.screens.calibration import CalibrationScreen  # load time

            base = self.selection.get("baseline")
            self.app.push_screen(CalibrationScreen(run.id, base if base != run.id else None))

    # -- marking ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("mark", "unmark", "judge", "calibration") and not self.runs:
            return None  # shown dim: nothing to mark yet
        return True

    def action_mark(self, mark: str) -> None:
        run = self.highlighted_run()
        if run is not None:
            self.save_mark(mark, run.id, run.name)

    def action_unmark(self) -> None:
        run = self.highlighted_run()
        if run is None:
            return
        for mark, run_id in self.selection.items():
            if run_id == run.id:
                self.save_mark(mark, None, None)

    def save_mark(self, mark: str, run_id: int | None, run_name: str | None) -> None:
        """Marks typed ahead (`b`, `j`, `c`) are saved in the order pressed: each worker
        saves the oldest mark not yet saved, one at a time (two at once could each read
        the selection before the other wrote it, and one mark be lost)."""
        self._pending_marks.append((mark, run_id, run_name))
        self.save_next_mark()

    @work(thread=True, group="runs-mark", exit_on_error=False)
    def save_next_mark(self) -> None:
        with self._mark_lock:
            mark, run_id, run_name = self._pending_marks.popleft()
            with self.app.open_store() as store:
                selection = service.mark_run(store, mark, run_id)
        self.post_message(Marked(mark, run_name, selection))

    @on(Marked)
    def marked(self, message: Marked) -> None:
        if message.run_name is None:
            self.notify(f"Cleared the {message.mark} mark (saved)", markup=False)
        else:
            self.notify(
                f"{one_line(message.run_name, 40)} is now the {message.mark} (saved)", markup=False
            )
        self.action_reload()
