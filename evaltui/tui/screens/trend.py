"""The trend view: pass rate per segment over the suite's last runs (sparklines), and each
case's history across them, standing failures first (evaltui.views.trend)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from evaltui.compare import Reducer
from evaltui.compare.production import weights_name
from evaltui.exporters.text import pct, segment_label
from evaltui.gate.in_force import production_in_force
from evaltui.textsafe import one_line
from evaltui.tui.messages import TrendLoaded
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.widgets.safe import DataTable, Static
from evaltui.views.trend import history, spark, with_production

LAST_RUNS = 12
CORRECTED = "production (corrected)"  # the row of the estimate corrected for grader errors


class TrendScreen(AppScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the comparison", id="trend.back"),
        Binding("tab", "app.focus_next", "Pane", tooltip="Segments / cases", id="trend.pane"),
    ]

    def __init__(self, run_id: int, reducer: Reducer, dimensions: list[str]) -> None:
        super().__init__()
        self.run_id, self.reducer, self.dimensions = run_id, reducer, dimensions
        self.production_label = "production"
        self.refused: str | None = None  # the corrected estimate asked for, and impossible

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · trend", style="bold"), id="title")
        yield Static(Text("Reading the suite's last runs…"), id="trend-runs")
        yield DataTable(id="trend-segments", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="trend-cases-title")
        yield DataTable(id="trend-cases", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="trend", exit_on_error=False)
    def load(self) -> None:
        with self.app.open_store() as store:  # the traffic weights in force, if any (#28)
            found = production_in_force(store)
        prod = found.production
        if prod is not None:
            self.production_label = f"production ({weights_name(prod.provenance)})"
        self.refused = found.refused
        found_trend = with_production(
            self.app.db_path,
            self.run_id,
            prod,
            last=LAST_RUNS,
            reducer=self.reducer,
            dimensions=self.dimensions,
        )
        self.post_message(TrendLoaded(found_trend))

    @on(TrendLoaded)
    def loaded(self, message: TrendLoaded) -> None:
        t = message.trend
        names = Text(
            f"{len(t.runs)} runs of this suite, oldest first (reducer {self.reducer.label}): ",
            style="dim",
        )
        names.append(one_line("  ·  ".join(r.name for r in t.runs), 200))
        names.append(
            "\nbars: one character per run, ▁ 0% to █ 100%, · no case of it in that run;"
            "  history: ✓ pass  ✗ fail  · absent",
            style="dim",
        )
        if self.refused is not None:  # asked for, and not given: never a silent gap
            names.append(f"\n{CORRECTED}: none: ", style="italic")
            names.append(one_line(self.refused, 160))
        elif t.refused and t.refused[-1] is not None:  # not for the run compared
            names.append(f"\n{CORRECTED}: none for ", style="italic")
            names.append(one_line(t.runs[-1].name, 40))
            names.append(f": {one_line(t.refused[-1], 160)}")
        self.query_one("#trend-runs", Static).update(names)
        table = self.query_one("#trend-segments", DataTable)
        table.clear(columns=True)
        for name in ("segment", "trend", "first", "last", "lowest"):
            table.add_column(name)
        rows = [(d, v, r) for d, v, r in t.segments]
        if t.production is not None:  # under "all": what users see, weighted by traffic
            rows.insert(1, ("production", "", t.production))
        if t.corrected is not None:  # and corrected for the grader's errors, when asked
            rows.insert(2, (CORRECTED, "", t.corrected))
        for dim, value, rates in rows:
            seen = [r for r in rates if r is not None]
            label = {"all": "all", "production": self.production_label}.get(dim)
            label = CORRECTED if dim == CORRECTED else label
            table.add_row(
                Text(
                    one_line(label or segment_label(dim, value), 32),
                    style="bold" if dim == "all" else "italic" if label else "",
                ),
                Text(spark(rates)),
                Text(pct(seen[0] if seen else None), justify="right"),
                Text(pct(seen[-1] if seen else None), justify="right"),
                Text(pct(min(seen) if seen else None), justify="right"),
            )
        self.query_one("#trend-cases-title", Static).update(
            Text(
                f"{t.failing:,} cases failed in at least one run; {t.standing:,} failed in every "
                f"run they were in (standing failures, first below; at most {len(t.cases)} shown)",
                style="bold",
            )
        )
        cases = self.query_one("#trend-cases", DataTable)
        cases.clear(columns=True)
        for name in ("case", "history", "failed"):
            cases.add_column(name)
        for suite, key, marks in t.cases:
            fails = sum(m == "fail" for m in marks)
            runs = sum(m is not None for m in marks)
            cases.add_row(
                Text(one_line(f"{suite}/{key}", 60)),
                Text(history(marks)),
                Text(f"{fails}/{runs}", style="bold" if fails == runs and runs > 1 else ""),
            )
        table.focus()

    def action_back(self) -> None:
        self.app.pop_screen()
