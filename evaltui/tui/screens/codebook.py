"""The codebook screen: classes proposed from reviewers' notes, ratified by a person (#29).

Lists the proposals over the notes of the comparison in view (else of the marked runs,
else of every comparison), each with its size, whether it is new (and new in the
candidate), the nearest class and its terms; the highlighted one's representative notes
and cases below. `a` accepts it as a new class (asks the owner and the rubric line, then
shows what it writes), `m` merges it into a class, `x` rejects it: each a new taxonomy
version or a ruling, and no finding. `c` labels the suggested cases, after a
confirmation; each label is an ordinary finding by the app's reviewer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from evaltui import service
from evaltui.review import taxonomy as taxonomies
from evaltui.review.codebook import CodebookUnavailable
from evaltui.review.labelguide import ratify
from evaltui.review.labelguide.proposals import Offered
from evaltui.service.codebook import propose_in_store
from evaltui.textsafe import one_line, visible
from evaltui.tui.messages import ProposalsLoaded, Ruled
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.prompts import ClassPicker, ConfirmEffect, TextPrompt
from evaltui.tui.widgets.safe import DataTable, Static

if TYPE_CHECKING:
    from evaltui.review.labelguide.proposals import Proposed
    from evaltui.review.labelguide.ratify import Suggestion
    from evaltui.review.taxonomy import Taxonomy

COLUMNS = (
    ("key", 30),
    ("notes", 5),
    ("cases", 5),
    ("new", 14),
    ("nearest class", 26),
    ("terms", 60),
)


class CodebookScreen(AppScreen):
    """Proposed classes, ratified here into the taxonomy; suggested labels confirmed."""

    BINDINGS = [
        Binding(
            "a",
            "accept",
            "Accept",
            id="codebook.accept",
            tooltip="Accept the highlighted proposal as a new failure class (asks its owner "
            "and rubric line; no finding changes)",
        ),
        Binding(
            "m",
            "merge",
            "Merge",
            id="codebook.merge",
            tooltip="Merge the highlighted proposal into an existing class (its examples)",
        ),
        Binding(
            "x",
            "reject",
            "Reject",
            id="codebook.reject",
            tooltip="Reject the highlighted proposal: its notes are set aside",
        ),
        Binding(
            "c",
            "confirm_labels",
            "Confirm labels",
            id="codebook.confirm",
            tooltip="Label every suggested case with its ratified class (asks first)",
        ),
        Binding(
            "r",
            "reload",
            "Refresh",
            id="codebook.refresh",
            tooltip="Propose again from the store's notes",
        ),
        Binding("escape", "back", "Back", tooltip="Back", id="codebook.back"),
    ]

    def __init__(
        self,
        baseline: int | None = None,
        candidate: int | None = None,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        super().__init__()
        self.runs = (baseline, candidate)
        self.on_change = on_change  # called on leaving when a ruling or a label was written
        self.proposed: Proposed | None = None
        self.suggestions: list[Suggestion] = []
        self.taxonomy: Taxonomy | None = None
        self.changed = False

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · codebook", style="bold"), id="title")
        yield Static(Text("Grouping the reviewers' notes…"), id="codebook-summary")
        yield DataTable(id="codebook-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="codebook-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.propose_notes()

    # -- reading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="codebook-load", exit_on_error=False)
    def propose_notes(self) -> None:
        with self.app.open_store() as store:
            base, cand = self.runs
            if base is None or cand is None:
                marked = service.get_selection(store)
                base, cand = marked["baseline"], marked["candidate"]
            if base is None or cand is None or base == cand:
                base = cand = None
            tax = taxonomies.latest(store).taxonomy()
            waiting = ratify.suggestions(store)
            try:
                found, problem = propose_in_store(store, base=base, cand=cand), None
            except CodebookUnavailable as exc:
                found, problem = None, exc.message
        self.post_message(ProposalsLoaded(found, waiting, tax, problem))

    @on(ProposalsLoaded)
    def loaded(self, message: ProposalsLoaded) -> None:
        self.proposed, self.suggestions = message.proposed, message.suggestions
        self.taxonomy = message.taxonomy
        self.query_one("#codebook-summary", Static).update(self.summary(message.problem))
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        for name, width in COLUMNS:
            table.add_column(name, width=width)
        for o in self.offered:
            table.add_row(*self.cells(o), key=o.id)
        if self.offered:
            table.move_cursor(row=max(0, min(cursor, len(self.offered) - 1)))
        self.show_detail()

    @property
    def offered(self) -> tuple[Offered, ...]:
        return self.proposed.offered if self.proposed is not None else ()

    def summary(self, problem: str | None) -> Text:
        if problem is not None:
            return Text(visible(problem, limit=300), style="yellow")
        found = self.proposed
        if found is None:
            return Text("")
        r = found.result
        t = Text(
            f"{len(found.offered)} proposal(s) from {r.notes:,} unclassified notes", style="bold"
        )
        t.append(
            f"  ({r.classified:,} classified, {found.set_aside:,} set aside; taxonomy "
            f"version {found.taxonomy_version})",
            style="dim",
        )
        if found.baseline is not None and found.candidate is not None:
            t.append(
                f"  notes of {one_line(found.baseline, 24)} → {one_line(found.candidate, 24)}",
                style="dim",
            )
        if self.suggestions:
            t.append(
                f"\n{len(self.suggestions)} suggested labels wait: c confirms them (asks first)"
            )
        return t

    @staticmethod
    def cells(o: Offered) -> list[Text]:
        p = o.proposal
        near = p.nearest
        new = "NEW" if p.new else "near"
        if o.candidate_only:
            new += " cand-only"
        return [
            Text(one_line(p.key, 30), style="bold"),
            Text(str(p.size), justify="right"),
            Text(str(len(p.cases)), justify="right"),
            Text(new, style="bold yellow" if p.new else ""),
            Text(
                one_line(f"{near.key} {near.similarity:.2f}", 26)
                if near and near.similarity > 0
                else "-"
            ),
            Text(one_line(", ".join(p.terms), 60), style="dim"),
        ]

    def highlighted(self) -> Offered | None:
        row = self.query_one(DataTable).cursor_row
        return self.offered[row] if 0 <= row < len(self.offered) else None

    @on(DataTable.RowHighlighted)
    def moved(self, _: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        o = self.highlighted()
        if o is None:
            hint = "No proposals: no group of notes shares enough words, or there are no notes."
            self.query_one("#codebook-detail", Static).update(Text(hint, style="dim"))
            return
        p = o.proposal
        t = Text(f"{one_line(p.name, 60)}", style="bold")
        t.append(f"  {o.id} · {p.size} notes on {len(p.cases)} cases", style="dim")
        if o.candidate_only:
            t.append("  · new in the candidate (no baseline-failing case has it)", style="yellow")
        for rep in p.representatives:
            t.append(f"\n  “{visible(rep.text, limit=200)}”")
            t.append(f"  {one_line(rep.case_key, 60)}", style="dim")
        shown = ", ".join(one_line(c, 50) for c in p.cases[:8])
        t.append(f"\ncases: {shown}{' …' if len(p.cases) > 8 else ''}", style="dim")
        t.append("\na accept as a new class · m merge into a class · x reject", style="dim")
        self.query_one("#codebook-detail", Static).update(t)

    # -- ratifying ---------------------------------------------------------------------------

    def action_accept(self) -> None:
        o = self.highlighted()
        if o is None:
            return
        p = o.proposal
        owner = p.nearest.key if p.nearest and p.nearest.similarity > 0 else ""
        default = self.taxonomy.by_key[owner].owner if self.taxonomy and owner else ""

        def described(owner: str, rubric: str | None) -> None:
            if not rubric or not rubric.strip():
                self.notify("Not accepted: a class needs its rubric line", severity="warning")
                return
            rows = [
                ("key", p.key),
                ("name", p.name),
                ("owner", owner),
                ("rubric line", rubric),
                ("examples", ", ".join(ratify.examples(o))),
                ("labels", f"none now: {len(p.cases)} suggested, each confirmed later"),
            ]
            self.ask_then(
                f"Accept {one_line(p.key, 40)} as a new failure class?",
                rows,
                lambda: self.write_ruling(o, "accept", owner=owner, description=rubric),
            )

        def owned(owner: str | None) -> None:
            if owner is None or not owner.strip():
                if owner is not None:
                    self.notify("Not accepted: a class needs an owner", severity="warning")
                return
            self.app.push_screen(
                TextPrompt(
                    f"Rubric line of {p.key}: what the failure is, and its repair",
                    placeholder="one line (Enter to continue)",
                ),
                lambda rubric: described(owner.strip(), rubric),
            )

        self.app.push_screen(
            TextPrompt(
                f"Owner of the repair for {p.key}",
                value=default,
                placeholder="a team or a person (Enter to continue)",
            ),
            owned,
        )

    def action_merge(self) -> None:
        o = self.highlighted()
        if o is None or self.taxonomy is None:
            return

        def picked(key: str | None) -> None:
            if key:
                rows = [
                    ("proposal", o.proposal.key),
                    ("into", key),
                    ("labels", f"none now: {len(o.proposal.cases)} suggested"),
                ]
                self.ask_then(
                    f"Merge {one_line(o.proposal.key, 40)} into {key}?",
                    rows,
                    lambda: self.write_ruling(o, "merge", into=key),
                )

        self.app.push_screen(ClassPicker(self.taxonomy), picked)

    def action_reject(self) -> None:
        o = self.highlighted()
        if o is not None:
            rows = [("proposal", o.proposal.key), ("notes", f"{o.proposal.size} set aside")]
            self.ask_then(
                f"Reject {one_line(o.proposal.key, 40)}?",
                rows,
                lambda: self.write_ruling(o, "reject"),
            )

    def action_confirm_labels(self) -> None:
        waiting = list(self.suggestions)
        if not waiting:
            self.notify("No suggested labels wait (accept or merge a proposal first)")
            return
        rows = [
            (
                s.class_key,
                f"{one_line(s.suite + '/' + s.case_key, 50)}  {one_line(s.note_text, 60)}",
            )
            for s in waiting
        ]
        self.ask_then(
            f"Label these {len(waiting)} cases with their class? Each is a finding by you.",
            rows,
            lambda: self.confirm_labels(waiting),
        )

    def ask_then(self, title: str, rows: list[tuple[str, str]], then: Callable[[], Any]) -> None:
        table = Table(box=None, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for k, v in rows:
            table.add_row(Text(one_line(k, 40)), Text(visible(v, limit=600)))

        def answered(ok: bool | None) -> None:
            if ok:
                then()

        self.app.push_screen(ConfirmEffect(visible(title, limit=200), table), answered)

    @work(thread=True, group="codebook-write", exit_on_error=False)
    def write_ruling(self, o: Offered, kind: str, **kw: str) -> None:
        found = self.proposed
        if found is None:
            return
        with self.app.open_store() as store:
            if kind == "accept":
                done = ratify.accept(store, found, o.id, **kw)
            elif kind == "merge":
                done = ratify.merge(store, found, o.id, kw["into"])
            else:
                done = ratify.reject(store, found, o.id)
        made = f": taxonomy version {done.version.version}" if done.version else ""
        what = {"accept": "Accepted", "merge": "Merged", "reject": "Rejected"}[kind]
        self.post_message(Ruled(f"{what} {o.proposal.key}{made} (saved; no finding changed)"))

    @work(thread=True, group="codebook-write", exit_on_error=False)
    def confirm_labels(self, chosen: list[Suggestion]) -> None:
        with self.app.open_store() as store:
            done = ratify.confirm(store, chosen, taxonomies.latest(store).taxonomy())
        self.post_message(Ruled(f"Labelled {len(done)} cases (saved, each a finding by you)"))

    @on(Ruled)
    def ruled(self, message: Ruled) -> None:
        self.changed = True
        self.notify(message.text)
        self.propose_notes()

    def action_reload(self) -> None:
        self.propose_notes()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.changed and self.on_change is not None:
            self.app.call_later(self.on_change)
