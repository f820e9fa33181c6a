"""Stale-case suggestions with evidence: multi-select, then retire in bulk with one reason,
after the effect on the figures has been shown and confirmed."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from evaltui.compare import Comparison
from evaltui.review import lifecycle
from evaltui.review.lifecycle import RetirePlan, Suggestion
from evaltui.textsafe import one_line, visible
from evaltui.tui.footer import fit_footer
from evaltui.tui.messages import (
    RetirePlanned,
    StaleCaseRead,
    SuggestionsLoaded,
    Written,
)
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.case import CaseScreen
from evaltui.tui.screens.help import keys_by_id
from evaltui.tui.screens.prompts import ConfirmEffect, ReasonPicker, note_prompt
from evaltui.tui.widgets.safe import DataTable, Static
from evaltui.tui.widgets.scoreboard import effect_table


class StaleScreen(AppScreen):
    """Suggestions with evidence; multi-select and bulk retire with a reason per kind, after a preview."""

    BINDINGS = [
        Binding(
            "enter",
            "open_case",
            "Open",
            tooltip="Open the highlighted case: why it is suggested, its input and outputs",
            id="stale.open",
            priority=True,  # over the table's own Enter, so help and the footer show it
        ),
        Binding(
            "space",
            "toggle_case",
            "Select",
            tooltip="Select or unselect the highlighted case, and move to the next",
            id="stale.toggle",
        ),
        Binding(
            "A",
            "select_suggested",
            "Suggested",
            tooltip="Select every case proposed for retirement (not the report-only ones)",
            id="stale.select-suggested",
        ),
        Binding("C", "clear", "Clear", tooltip="Unselect everything", id="stale.clear"),
        Binding(
            "X",
            "retire",
            "Retire",
            tooltip="Retire the selected cases, a reason per kind or one for all (preview first)",
            id="stale.retire",
        ),
        Binding("escape", "app.pop_screen", "Back", tooltip="Back", id="stale.back"),
    ]
    FOOTER = ["stale.open", "stale.toggle", "stale.select-suggested", "stale.retire",
              "stale.back", "stale.clear"]  # fmt: skip

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

    def on_resize(self, event: events.Resize) -> None:
        fit_footer(self, event.size.width, self.FOOTER)
        if self.suggestions:
            self.redraw()

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
        t.append(
            f"   cases: {message.counts['active']:,} active, {message.counts['quarantined']:,} quarantined, "
            f"{message.counts['retired']:,} retired",
            style="dim",
        )
        self.query_one("#counts", Static).update(t)
        self.redraw()

    def case_label(self, s: Suggestion) -> str:
        """The case key; with its suite only when the suggestions span several."""
        several = len({x.suite for x in self.suggestions}) > 1
        return f"{s.suite}/{s.case_key}" if several else s.case_key

    def redraw(self) -> None:
        """The table, its columns fitted to the width: the case key and what is suggested
        whole (up to a bound), the evidence in what is left (whole below the table)."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        cases = [one_line(self.case_label(s), 40) for s in self.suggestions]
        kinds = [suggestion_label(s) for s in self.suggestions]
        case_w = max([4, *(len(c) for c in cases)])
        kind_w = max([8, *(len(k) for k in kinds)])
        evidence_w = max(12, self.size.width - (3 + case_w + kind_w) - 2 * 4 - 2)
        table.clear(columns=True)
        for name, width in (
            ("", 3),
            ("case", case_w),
            ("suggests", kind_w),
            ("evidence", evidence_w),
        ):
            table.add_column(name, width=width)
        for i, s in enumerate(self.suggestions):
            table.add_row(
                Text(
                    "[x]" if i in self.selected else "[ ]",
                    style="bold" if i in self.selected else "dim",
                ),
                Text(cases[i]),
                Text(kinds[i], style="" if s.preselect else "yellow"),
                Text(one_line(s.evidence, evidence_w)),
                key=str(i),
            )
        if self.suggestions:
            table.move_cursor(row=max(0, min(cursor, len(self.suggestions) - 1)))
        self.show_detail()

    @on(DataTable.RowHighlighted)
    def highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        """Under the table: the highlighted suggestion whole (its evidence is cut in the
        table at a narrow width), then the selection and the keys."""
        row = self.query_one(DataTable).cursor_row
        t = Text()
        if 0 <= row < len(self.suggestions):
            s = self.suggestions[row]
            t.append(one_line(f"{s.suite}/{s.case_key}", 200), style="bold")
            t.append(f"  {suggestion_label(s)}: ", style="" if s.preselect else "yellow")
            t.append(visible(s.evidence, limit=1000))
            t.append("\n")
        cases = len({self.suggestions[i].case_id for i in self.selected})
        t.append(f"{len(self.selected):,} selected", style="bold")
        if cases != len(self.selected):
            t.append(f" ({cases:,} cases)", style="bold")
        keys = keys_by_id(self)
        k = {
            i: keys.get(f"stale.{i}", "?")
            for i in ("open", "toggle", "select-suggested", "clear", "retire", "back")
        }
        t.append(
            f"   {k['toggle']} selects and moves down · {k['select-suggested']} selects "
            f"the suggested · {k['clear']} clears · {k['retire']} retires the selection · "
            f"{k['open']} opens the case · {k['back']} back",
            style="dim",
        )
        self.query_one("#stale-detail", Static).update(t)

    def action_open_case(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if not 0 <= row < len(self.suggestions):
            return
        s = self.suggestions[row]
        if self.comparison is None:  # (the comparison is still being built)
            self.notify(f"{s.suite}/{s.case_key}: {s.evidence}", timeout=20)
            return
        self.read_case(s)

    @work(thread=True, exclusive=True, group="stale-case", exit_on_error=False)
    def read_case(self, s: Suggestion) -> None:
        cmp = self.comparison
        if cmp is not None:
            row, detail = cmp.row(s.case_id), cmp.detail(s.case_id)
            self.post_message(StaleCaseRead(row, detail, cmp.reducer, s))

    @on(StaleCaseRead)
    def case_read(self, message: StaleCaseRead) -> None:
        s = message.suggestion
        why = Text(f"Suggested: {suggestion_label(s)}: ", style="bold")
        why.append(visible(s.evidence, limit=2000), style="" if s.preselect else "yellow")
        self.app.push_screen(CaseScreen(message.row, message.detail, message.reducer, why))

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
        proposed = lifecycle.plan_retirement(picked)
        kinds = ", ".join(f"{len(ids):,} {r}" for r, ids in proposed.by_reason.items())

        def reason_chosen(choice: str | None) -> None:
            if not choice:
                return
            reason = None if choice == "per-kind" else choice.split(":", 1)[1]
            plan = lifecycle.plan_retirement(picked, reason)

            def note_given(note: str | None) -> None:
                if note is not None:
                    self.preview(plan, reason, note.strip() or None)

            how = reason or "a reason per kind"
            self.app.push_screen(
                note_prompt(f"Note for retiring {plan.cases:,} case(s) ({how})"), note_given
            )

        title = f"Retire {proposed.cases:,} case(s): the reason each kind proposes, or one for all"
        extra = [("per-kind", f"as proposed, a reason per kind: {kinds}")]
        self.app.push_screen(ReasonPicker(title, None, extra), reason_chosen)

    @work(thread=True, exclusive=True, group="stale-preview", exit_on_error=False)
    def preview(self, plan: RetirePlan, reason: str | None, note: str | None) -> None:
        cmp = self.comparison
        ids = [cid for group in plan.by_reason.values() for cid in group]
        title = f"Retire {plan.cases:,} case(s)?"
        if cmp is not None:
            effect: RenderableType = effect_table(cmp.segments(), cmp.segments(without=ids))
            title += (
                f" Effect on {one_line(cmp.baseline.name, 24)} → "
                f"{one_line(cmp.candidate.name, 24)}:"
            )
        else:
            effect = Text(
                "Mark a baseline and a candidate to see the effect on the figures.", style="dim"
            )
        body = Group(plan_text(plan, reason), Text(""), effect)
        self.post_message(RetirePlanned(plan, note, body, title))

    @on(RetirePlanned)
    def previewed(self, message: RetirePlanned) -> None:
        def confirmed(ok: bool | None) -> None:
            if ok:
                self.write(message.plan, message.note)

        self.app.push_screen(ConfirmEffect(message.title, message.body), confirmed)

    @work(thread=True, group="stale-write", exit_on_error=False)
    def write(self, plan: RetirePlan, note: str | None) -> None:
        with self.app.open_store() as store:
            n = lifecycle.retire_by_reason(store, plan.by_reason, note)
        if self.comparison is not None:
            self.comparison.refresh_status([c for ids in plan.by_reason.values() for c in ids])
        kinds = ", ".join(f"{len(ids):,} {r}" for r, ids in plan.by_reason.items())
        self.post_message(Written(f"Retired {n:,} case(s): {kinds} (saved)"))

    @on(Written)
    def written(self, message: Written) -> None:
        self.notify(message.text, markup=False)
        self.selected = set()
        self.load()


def suggestion_label(s: Suggestion) -> str:
    """What a suggestion is, in one cell: its rule, and the reason it proposes when that
    is not the rule's own name; a standing failure is report only."""
    if not s.preselect:
        return f"{s.rule} (report only)"
    return s.rule if s.reason == s.rule else f"{s.rule} → {s.reason}"


def plan_text(plan: RetirePlan, reason: str | None) -> Text:
    """What a bulk retirement writes, and why any selected row is not a case retired on
    its own or not with the reason its kind proposes: said before it is confirmed."""
    t = Text()
    if plan.rows != plan.cases:
        t.append(f"{plan.rows:,} rows selected, {plan.cases:,} cases.", style="bold")
    else:
        t.append(f"{plan.cases:,} cases selected.", style="bold")
    for r, ids in plan.by_reason.items():
        t.append(f"\n  {len(ids):>5,}  retired as {r}")
        t.append("" if reason else "  (the reason their kind proposes)", style="dim")
    if plan.twice:
        keys = ", ".join(one_line(k, 40) for k, _, _ in plan.twice[:5])
        more = f" and {len(plan.twice) - 5:,} more" if len(plan.twice) > 5 else ""
        kept = sorted({r for _, _, r in plan.twice})
        t.append(
            f"\n{len(plan.twice):,} case(s) are listed under two rules and are retired "
            f"once, as {' or '.join(kept)}: {keys}{more}."
        )
    if plan.report_only:
        keys = ", ".join(one_line(k, 40) for k in plan.report_only[:5])
        more = f" and {len(plan.report_only) - 5:,} more" if len(plan.report_only) > 5 else ""
        said = (
            "; retired as bad_case, which says the case itself is wrong"
            if reason in (None, "bad_case")
            else ""
        )
        t.append(
            f"\n{len(plan.report_only):,} standing failure(s) selected (report only: "
            f"they fail in each run){said}; unselect them to keep reporting them: "
            f"{keys}{more}.",
            style="yellow",
        )
    for rule, n in plan.overridden.items():
        t.append(
            f"\n{n:,} case(s) found by {rule} are retired as {reason}, not the reason "
            f"{rule} proposes.",
            style="yellow",
        )
    return t
