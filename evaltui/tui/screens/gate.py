"""Gate screen: every rule with its measured value, the decision and why, export, history."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.css.scalar import Scalar
from textual.widgets import Footer
from textual.worker import Worker

from evaltui import exporters, gate
from evaltui.errors import InputError
from evaltui.exporters.text import fmt_threshold, fmt_value
from evaltui.gate import POLICY_SETTING, DecisionRecord, DecisionRow, TeamDecisionRow, lock
from evaltui.gate.lock import Lock
from evaltui.gate.record import RuleResult
from evaltui.review import taxonomy
from evaltui.store import Store
from evaltui.textsafe import one_line, visible
from evaltui.tui.footer import fit_footer
from evaltui.tui.messages import Evaluated, Exported, NeedPolicy, PolicyChosen
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.prompts import TextPrompt
from evaltui.tui.widgets.safe import DataTable, Static

__all__ = ["POLICY_SETTING", "GateScreen"]
DECISION_STYLE = {"ship": "bold green", "narrow_rollout": "bold yellow"}
RULE_COLUMNS = ["result", "rule", "scope", "measured", "threshold", "action", "owner"]
# which columns a narrow terminal keeps first (the why is last, and whole under the table)
FIT_ORDER = ["result", "rule", "measured", "threshold", "action", "scope", "owner"]


class GateScreen(AppScreen):
    BINDINGS = [
        Binding(
            "e",
            "export",
            "Export",
            tooltip="Keep the decision and write JSON, Markdown and JUnit here",
            id="gate.export",
        ),
        Binding("p", "policy", "Policy", tooltip="Choose the policy file", id="gate.policy"),
        Binding(
            "r",
            "recompute",
            "Recompute",
            tooltip="Measure again from the store",
            id="gate.recompute",
        ),
        Binding(
            "escape", "app.pop_screen", "Back", tooltip="Back to the comparison", id="gate.back"
        ),
    ]

    def __init__(self, baseline: int, candidate: int, fallback: int | None) -> None:
        super().__init__()
        self.runs = (baseline, candidate, fallback)
        self.record: DecisionRecord | None = None
        self.policy_path: Path | None = None

    FOOTER = ["gate.export", "gate.policy", "gate.recompute", "gate.back"]

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · gate", style="bold"), id="title")
        yield Static(Text("Measuring…"), id="decision")
        # the decision's standing, its margins, its why and the promise: one region that
        # scrolls (tab to it), so the rules keep their room at 80x24
        with VerticalScroll(id="gate-why"):
            yield Static(Text(""), id="lock")  # locked or open (gate/lock.py)
            yield Static(Text(""), id="margins")  # the record's margin lines (#28)
            yield Static(Text(""), id="why")
        yield DataTable(id="rules", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="rule-detail")  # the highlighted rule, its why whole
        yield Static(Text("decisions for these runs", style="bold"), id="history-title")
        yield DataTable(id="history", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rules", DataTable).focus()
        self.query_one("#history", DataTable).display = False
        self.evaluate()

    def on_resize(self, event: events.Resize) -> None:
        fit_footer(self, event.size.width, self.FOOTER)
        if self.record is not None:
            self.show_rules(self.record)

    @work(thread=True, exclusive=True, group="gate-eval", exit_on_error=False)
    def evaluate(self, path: str | None = None) -> None:
        b, c, f = self.runs
        with self.app.open_store() as store:
            if path:
                gate.set_policy_path(store, path)
            chosen = path or gate.policy_path(store)
            if not chosen:
                default = Path("fixtures/policies/support-assistant.toml")
                self.post_message(
                    NeedPolicy(str(default.resolve()) if default.exists() else "", None)
                )
                return
            if not Path(chosen).is_file():  # gone, or never there: say so, never a quiet prompt
                what = "is not a file" if Path(chosen).exists() else "does not exist"
                self.post_message(NeedPolicy(str(chosen), f"the policy file {chosen} {what}"))
                return
            try:  # a bad policy, or one that would measure nothing: say so and ask again
                loaded = gate.load_policy(Path(chosen))
                self.policy_path = Path(chosen)
                tax = taxonomy.load(store, self.app.taxonomy_path)
                record = gate.evaluate(store, loaded, b, c, f, taxonomy=tax)
                held = lock.status(store, loaded, record, (b, c, f), tax)
            except InputError as exc:
                self.post_message(NeedPolicy(str(chosen), str(exc)))
                return
            history = self._history(store)
        if path:  # the store's policy now: the compare screens below read it again
            self.app.post_message(PolicyChosen())
        self.post_message(Evaluated(record, history, held))

    def worker_failed(self, worker: Worker[object], error: BaseException) -> None:
        if worker.name == "evaluate":  # never "Measuring…" for ever, never the old decision
            message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            self._no_decision(f"Evaluation failed: {visible(message, limit=300)}  (r tries again)")
        elif worker.name == "export":
            self.notify(
                "NOT SAVED: the decision was not kept or exported",
                severity="error",
                markup=False,
                timeout=15,
            )

    def _history(self, store: Store) -> list[DecisionRow | TeamDecisionRow]:
        """This store's decisions for these runs, then those kept as another's (team)."""
        b, c, _ = self.runs
        own: list[DecisionRow | TeamDecisionRow] = []
        own += gate.list_decisions(store, 50, baseline=b, candidate=c)
        return own + gate.list_team_decisions(store, 50, baseline=b, candidate=c)

    def _no_decision(self, why: str, style: str = "bold red") -> None:
        """No decision on screen: the reason instead, no rules, nothing to export."""
        self.record = None
        self.query_one("#decision", Static).update(Text(why, style=style))
        self.query_one("#why", Static).update(Text(""))
        self.query_one("#lock", Static).update(Text(""))
        self.query_one("#margins", Static).update(Text(""))
        self.query_one("#rules", DataTable).clear(columns=True)
        self.query_one("#rule-detail", Static).update(Text(""))

    def _measure(self, path: str | None = None) -> None:
        self.record = None  # what is on screen is being replaced: not exported meanwhile
        self.query_one("#decision", Static).update(Text("Measuring…"))
        self.evaluate(path)

    @on(NeedPolicy)
    def need_policy(self, message: NeedPolicy) -> None:
        title = "Gate policy file (TOML; Enter to use, Esc to go back)"
        if message.error:
            title = f"That policy is not usable: {one_line(message.error, 400)}. Another file?"
            self._no_decision(
                f"No decision: {one_line(message.error, 600)}  (p picks a policy file, r tries again)"
            )
        else:
            self._no_decision("No policy yet.", style="yellow")

        def chosen(value: str | None) -> None:
            if value:
                self._measure(str(Path(value.strip()).expanduser().resolve()))
            elif not message.error:  # nothing chosen, nothing wrong: back to the comparison
                self.app.pop_screen()

        self.app.push_screen(TextPrompt(title, message.suggestion), chosen)

    @on(Evaluated)
    def evaluated(self, message: Evaluated) -> None:
        self.record = message.record
        rec = message.record
        prov = rec.provenance
        title = Text("evaltui · gate  ", style="bold")
        title.append(one_line(prov.candidate.name, 30))
        title.append(" vs ", style="dim")
        title.append(one_line(prov.baseline.name, 30))
        title.append(f"   policy {one_line(Path(prov.policy.path).name, 40)}", style="dim")
        self.query_one("#title", Static).update(title)
        d = Text("decision: ", style="bold")
        d.append(
            f" {rec.decision.upper().replace('_', ' ')} ",
            style=DECISION_STYLE.get(rec.decision, "bold red") + " reverse",
        )
        d.append(
            f"   exit code {rec.exit_code}   {len(rec.violated)} of "
            f"{len(rec.rules)} rules violated",
            style="dim",
        )
        self.query_one("#decision", Static).update(d)
        held = _lock_line(message.lock)
        self.query_one("#lock", Static).update(held)
        self.query_one("#lock", Static).display = bool(held.plain)
        margins = Text()
        for m in rec.production.margins if rec.production else []:  # as the record says them
            margins.append("\n" if margins.plain else "")
            margins.append("margin: ", style="bold")
            margins.append(visible(m.text, limit=1000))
        self.query_one("#margins", Static).update(margins)
        self.query_one("#margins", Static).display = bool(margins.plain)  # no empty line
        why = Text("why: ", style="bold")
        why.append(visible(rec.why, limit=2000))
        why.append("\npromise: ", style="bold")
        why.append(visible(rec.promise, limit=600), style="italic")
        self.query_one("#why", Static).update(why)
        self.show_rules(rec)
        self.show_history(message.history)

    def show_rules(self, rec: DecisionRecord) -> None:
        """Every rule, one row each; the columns that fit the width (result, rule, measured
        and threshold always; then action, scope, owner; the why in what is left, whole
        under the table for the highlighted rule)."""
        table = self.query_one("#rules", DataTable)
        at = table.cursor_row
        rows = [
            {
                "result": _result_cell(r),
                "rule": Text(one_line(r.id, 40)),
                "scope": Text(one_line(r.scope_text, 24)),
                "measured": Text(fmt_value(r.value, r.metric), justify="right"),
                "threshold": Text(fmt_threshold(r.threshold, r.metric)),
                "action": Text(
                    r.triggers, style="" if r.passed else DECISION_STYLE.get(r.triggers, "red")
                ),
                "owner": Text(one_line(r.owner, 20)),
            }
            for r in rec.rules
        ]
        widths = {c: max([len(c), *(row[c].cell_len for row in rows)]) for c in RULE_COLUMNS}
        room = self.size.width - 2  # the table's scrollbar
        shown: set[str] = set()
        for c in FIT_ORDER:  # each column costs its width and a cell's padding either side
            if widths[c] + 2 <= room:
                shown.add(c)
                room -= widths[c] + 2
        why_width = room - 2
        table.clear(columns=True)
        for c in RULE_COLUMNS:
            if c in shown:
                table.add_column(c, width=widths[c])
        if why_width >= 12:
            table.add_column("why", width=why_width)
        for r, row in zip(rec.rules, rows, strict=True):
            cells = [row[c] for c in RULE_COLUMNS if c in shown]
            if why_width >= 12:
                cells.append(Text(one_line(r.why, why_width), style="dim"))
            table.add_row(*cells)
        if rec.rules:
            table.move_cursor(row=max(0, min(at, len(rec.rules) - 1)))
        self.show_rule()

    @on(DataTable.RowHighlighted, "#rules")
    def rule_highlighted(self) -> None:
        self.show_rule()

    def show_rule(self) -> None:
        """Under the table, the highlighted rule whole: what it measured against what, what
        it triggers and who owns it, and its why (the table cuts it at any width)."""
        rec, at = self.record, self.query_one("#rules", DataTable).cursor_row
        t = Text()
        if rec is not None and 0 <= at < len(rec.rules):
            r = rec.rules[at]
            t.append_text(_result_cell(r))
            t.append(f" {r.id}", style="bold")
            t.append(
                f"  {visible(r.metric, limit=80)} over {visible(r.scope_text, limit=200)} "
                f"is {fmt_value(r.value, r.metric)}, must be "
                f"{fmt_threshold(r.threshold, r.metric)} (n {r.n:,}); "
                f"{'triggers' if not r.passed else 'would trigger'} {r.triggers}, "
                f"owner {visible(r.owner, limit=80)}"
            )
            t.append("\nwhy: ", style="bold")
            t.append(visible(r.why, limit=2000))
        self.query_one("#rule-detail", Static).update(t)
        self.call_after_refresh(self.fit_rules)

    def fit_rules(self) -> None:
        """The rules' table as tall as its rows, at most what the rest leaves: the
        highlighted rule's detail right under it, the table scrolling when rows are more."""
        others = (
            "#title",
            "#decision",
            "#gate-why",
            "#rule-detail",
            "#history-title",
            "#history",
            "Footer",
        )
        used = sum(w.outer_size.height for w in self.query(",".join(others)) if w.display)
        table = self.query_one("#rules", DataTable)
        room = max(4, self.size.height - used)
        if table.styles.max_height != Scalar.from_number(room):
            table.styles.max_height = room
            # the highlighted row stays in view in the table's new height
            self.call_after_refresh(lambda: table.move_cursor(row=table.cursor_row))

    def show_history(self, history: list[DecisionRow | TeamDecisionRow]) -> None:
        table = self.query_one("#history", DataTable)
        table.clear(columns=True)
        team = any(isinstance(h, TeamDecisionRow) for h in history)
        for name, width in (
            ("id", 4),
            ("decided", 16),
            ("by", 14),
            ("decision", 15),
            ("policy", 12),
            ("record", 12),
            *([("kept", 36)] if team else []),  # another's, from the team store (#30)
        ):
            table.add_column(name, width=width)
        for h in history:
            table.add_row(
                Text(f"t{h.team_id}" if isinstance(h, TeamDecisionRow) else str(h.id)),
                Text(one_line(h.decided_at[:16].replace("T", " "), 16)),
                Text(one_line(h.author if isinstance(h, TeamDecisionRow) else h.decided_by, 14)),
                Text(one_line(h.decision, 15), style=DECISION_STYLE.get(h.decision, "red")),
                Text(h.policy_sha256[:12]),
                Text(h.content_hash[:12]),
                *([Text(_kept(h), style="dim")] if team else []),
            )
        table.display = bool(history)
        self.call_after_refresh(self.fit_rules)
        if not history:
            self.query_one("#history-title", Static).update(
                Text(
                    "decisions for these runs: none kept yet (e exports and keeps this one)",
                    style="dim",
                )
            )
        else:
            self.query_one("#history-title", Static).update(
                Text(f"decisions for these runs ({_counted(history)})", style="bold")
            )

    def action_export(self) -> None:
        if self.record is None:  # an error, or a decision being measured: nothing to keep
            self.notify(
                "Nothing exported: there is no decision on screen",
                severity="error",
                markup=False,
                timeout=8,
            )
            return
        self.export(self.record)

    @work(thread=True, group="gate-export", exit_on_error=False)
    def export(self, record: DecisionRecord) -> None:
        with self.app.open_store() as store:
            did = gate.record_decision(store, record)
            history = self._history(store)
        try:  # new files only: an earlier export (another store's decision-1) is never replaced
            written = exporters.write_new(record, Path.cwd() / f"decision-{did}")
        except InputError as exc:
            self.post_message(
                Exported(f"NOT EXPORTED: decision {did} kept (saved), but {exc}", history)
            )
            return
        paths = ", ".join(str(p) for p in written)
        self.post_message(Exported(f"Decision {did} kept (saved); wrote {paths}", history))

    @on(Exported)
    def exported(self, message: Exported) -> None:
        failed = message.text.startswith("NOT EXPORTED")
        self.notify(
            message.text,
            markup=False,
            timeout=15 if failed else 8,
            severity="error" if failed else "information",
        )
        self.show_history(message.history)

    def action_policy(self) -> None:
        def chosen(value: str | None) -> None:
            if value:
                self._measure(str(Path(value.strip()).expanduser().resolve()))

        self.app.push_screen(
            TextPrompt("Gate policy file (TOML)", str(self.policy_path or "")), chosen
        )

    def action_recompute(self) -> None:
        self._measure()


def _lock_line(held: Lock | None) -> Text:
    """ "locked: rollback, whatever the 12 untriaged regressions are", or open and how far."""
    if held is None:
        return Text("")
    t = Text("triage: ", style="bold")
    t.append(visible(held.text, limit=600), style="green" if held.locked else "yellow")
    if held.deciding:
        t.append(
            "  label first: "
            + ", ".join(one_line(k, 60) for k in held.deciding[:5])
            + (" …" if len(held.deciding) > 5 else ""),
            style="dim",
        )
    return t


def _result_cell(rule: RuleResult) -> Text:
    """ok, FAIL, or n<min (too few cases in scope: never a pass)."""
    if rule.passed:
        return Text("ok", style="green")
    if rule.insufficient:
        return Text("n<min", style="bold yellow reverse")
    return Text("FAIL", style="bold red")


def _kept(h: DecisionRow | TeamDecisionRow) -> str:
    """Whose a listed decision is: a team one's project, author and signature."""
    if not isinstance(h, TeamDecisionRow):
        return "this store"
    sig = {"verified": "verified", "unchecked": "signed, unchecked"}.get(h.signature, "unsigned")
    return one_line(f"team:{h.project} by {h.author}, {sig}", 36)


def _counted(history: list[DecisionRow | TeamDecisionRow]) -> str:
    theirs = sum(isinstance(h, TeamDecisionRow) for h in history)
    return (
        f"{len(history) - theirs}; {theirs} another's, from the team"
        if theirs
        else str(len(history))
    )
