"""Stale-case suggestions with evidence: multi-select, then retire in bulk with one reason,
after the effect on the figures has been shown and confirmed."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from evaltui.compare import Comparison
from evaltui.review import lifecycle
from evaltui.review.lifecycle import Suggestion
from evaltui.textsafe import one_line
from evaltui.tui.messages import Previewed, StatusRequest, SuggestionsLoaded, Written
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.prompts import ConfirmEffect, ReasonPicker, note_prompt
from evaltui.tui.widgets.safe import DataTable, Static
from evaltui.tui.widgets.scoreboard import effect_table


class StaleScreen(AppScreen):
    """Suggestions with evidence; multi-select and bulk retire with one reason, after a preview."""

    BINDINGS = [
        Binding(
            "space",
            "toggle_case",
            "Select",
            tooltip="Select or unselect the highlighted case",
            id="stale.toggle",
        ),
        Binding(
            "A",
            "select_suggested",
            "Select suggested",
            tooltip="Select every case proposed for retirement",
            id="stale.select-suggested",
        ),
        Binding("C", "clear", "Clear", tooltip="Unselect everything", id="stale.clear"),
        Binding(
            "X",
            "retire",
            "Retire selected",
            tooltip="Retire the selected cases with one reason (preview first)",
            id="stale.retire",
        ),
        Binding("escape", "app.pop_screen", "Back", tooltip="Back", id="stale.back"),
    ]

    def __init__(self, comparison: Comparison | None, runs: int = 3) -> None:
        super().__init__()
        self.comparison = comparison
        self.runs = runs
        self.suggestions: list[Suggestion] = []
        self.selected: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · stale cases", style="bold"), id="title")
        yield Static(Text("Looking for stale cases…"), id="counts")
        yield DataTable(id="stale-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="stale-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    @work(thread=True, exclusive=True, group="stale-load", exit_on_error=False)
    def load(self) -> None:
        with self.app.open_store() as store:
            found = lifecycle.stale(store, runs=self.runs, markers=lifecycle.load_markers(store))
            counts = lifecycle.status_counts(store)
        self.post_message(SuggestionsLoaded(found, counts))

    @on(SuggestionsLoaded)
    def loaded(self, message: SuggestionsLoaded) -> None:
        self.suggestions = message.suggestions
        by_rule: dict[str, int] = {}
        for s in self.suggestions:
            by_rule[s.rule] = by_rule.get(s.rule, 0) + 1
        t = Text(f"{len(self.suggestions)} suggestions  ")
        t.append(", ".join(f"{n} {r}" for r, n in sorted(by_rule.items())), style="dim")
        t.append(f"   cases: {message.counts['active']:,} active, {message.counts['quarantined']:,} quarantined, "
                 f"{message.counts['retired']:,} retired", style="dim")  # fmt: skip
        self.query_one("#counts", Static).update(t)
        self.redraw()

    def redraw(self) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        for name, width in (
            ("", 3),
            ("case", 30),
            ("rule", 24),
            ("proposes", 24),
            ("evidence", 80),
        ):
            table.add_column(name, width=width)
        for i, s in enumerate(self.suggestions):
            table.add_row(
                Text(
                    "[x]" if i in self.selected else "[ ]",
                    style="bold" if i in self.selected else "dim",
                ),
                Text(one_line(f"{s.suite}/{s.case_key}", 30)),
                Text(s.rule),
                Text(
                    s.reason if s.preselect else "report only",
                    style="" if s.preselect else "yellow",
                ),
                Text(one_line(s.evidence, 80)),
                key=str(i),
            )
        if self.suggestions:
            table.move_cursor(row=max(0, min(cursor, len(self.suggestions) - 1)))
        self.query_one("#stale-detail", Static).update(
            Text(
                f"{len(self.selected)} selected   space select · A select suggested · X retire selected",
                style="dim",
            )
        )

    def action_toggle_case(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.suggestions):
            self.selected ^= {row}
            self.redraw()
            self.query_one(DataTable).move_cursor(row=min(row + 1, len(self.suggestions) - 1))

    def action_select_suggested(self) -> None:
        self.selected = {i for i, s in enumerate(self.suggestions) if s.preselect}
        self.redraw()

    def action_clear(self) -> None:
        self.selected = set()
        self.redraw()

    def action_retire(self) -> None:
        if not self.selected:
            self.notify("Select cases first (space, or A for the suggested ones)", markup=False)
            return
        picked = [self.suggestions[i] for i in sorted(self.selected)]
        default = picked[0].reason

        def reason_chosen(choice: str | None) -> None:
            if not choice:
                return
            reason = choice.split(":", 1)[1]

            def note_given(note: str | None) -> None:
                if note is None:
                    return
                unique = list(
                    dict.fromkeys(s.case_id for s in picked)
                )  # a case may match two rules
                self.preview(unique, StatusRequest("retired", reason, note.strip() or None))

            self.app.push_screen(
                note_prompt(f"Note for retiring {len(picked)} case(s) ({reason})"), note_given
            )

        self.app.push_screen(
            ReasonPicker(f"Retire {len(picked)} case(s): one reason for all", default),
            reason_chosen,
        )

    @work(thread=True, exclusive=True, group="stale-preview", exit_on_error=False)
    def preview(self, ids: list[int], request: StatusRequest) -> None:
        cmp = self.comparison
        if cmp is not None:
            table = effect_table(cmp.segments(), cmp.segments(without=ids))
            title = (f"Retire {len(ids)} case(s) as {request.reason}? Effect on "
                     f"{one_line(cmp.baseline.name, 24)} → {one_line(cmp.candidate.name, 24)}:")  # fmt: skip
        else:
            table = Table(box=None)
            table.add_column("")
            table.add_row(
                Text(
                    "Mark a baseline and a candidate to see the effect on the figures.", style="dim"
                )
            )
            title = f"Retire {len(ids)} case(s) as {request.reason}?"
        self.post_message(Previewed(ids, request, table, title))

    @on(Previewed)
    def previewed(self, message: Previewed) -> None:
        def confirmed(ok: bool | None) -> None:
            if ok:
                self.write(message.ids, message.request)

        self.app.push_screen(ConfirmEffect(message.title, message.table), confirmed)

    @work(thread=True, group="stale-write", exit_on_error=False)
    def write(self, ids: list[int], request: StatusRequest) -> None:
        with self.app.open_store() as store:
            n = lifecycle.retire(store, ids, request.reason or "bad_case", request.note)
        if self.comparison is not None:
            self.comparison.refresh_status(ids)
        self.post_message(Written(f"Retired {n} case(s) as {request.reason} (saved)"))

    @on(Written)
    def written(self, message: Written) -> None:
        self.notify(message.text, markup=False)
        self.selected = set()
        self.load()
