"""What the compare screen writes: triage actions (class, owner, verdict, note, undo) and
lifecycle actions (retire, quarantine, restore), each committed in a worker and confirmed.

`CompareScreen` inherits these; its bindings (declared there, in footer order) name them.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from textual import on, work

from evaltui import lifecycle, triage
from evaltui.compare import CaseDetail, CaseRow, Comparison, Filter
from evaltui.store import Store
from evaltui.store.events import current_user
from evaltui.taxonomy import Taxonomy
from evaltui.textsafe import one_line
from evaltui.triage import Finding
from evaltui.tui.messages import Built, NotSaved, Previewed, Saved, StatusRequest, Written
from evaltui.tui.screens.case_paging import CasePaging
from evaltui.tui.screens.prompts import (
    TRIAGED_HINT,
    ClassPicker,
    ConfirmEffect,
    ReasonPicker,
    TextPrompt,
    VerdictPicker,
    note_prompt,
    tidy,
)
from evaltui.tui.widgets import CaseList, CasePane
from evaltui.tui.widgets.scoreboard import effect_table

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class CaseActions(CasePaging):
    """The writing half of the compare screen (state is the screen's)."""

    comparison: Comparison | None
    current: CaseRow | None
    flt: Filter
    taxonomy: Taxonomy | None
    history: list[Finding]
    not_saved: dict[int, str]  # case id -> the action that did not commit
    rows: list[CaseRow]
    window_start: int
    progress: dict[str, tuple[int, int]]
    _details: dict[int, tuple[CaseRow, CaseDetail, list[Finding]]]

    if TYPE_CHECKING:  # CompareScreen's, used here

        def show_counts(self) -> None: ...
        def say(self, text: str) -> None: ...

    @property
    def db_path(self) -> Path:
        return self.app.db_path  # type: ignore[attr-defined]

    @contextmanager
    def committing(self, case_ids: list[int], text: str) -> Iterator[None]:
        """Around a write in a worker: if it does not commit, say NOT SAVED (then the
        error goes on to the dialog, screens/base.py)."""
        try:
            yield
        except Exception as exc:
            self.post_message(NotSaved(case_ids, text, getattr(exc, "message", None) or str(exc)))
            raise

    @on(NotSaved)
    def not_saved_shown(self, message: NotSaved) -> None:
        for case_id in message.case_ids:
            self.not_saved[case_id] = message.text
        self.notify(
            f"NOT SAVED: {one_line(message.text, 80)}: {one_line(message.error, 160)}",
            severity="error",
            markup=False,
            timeout=15,
        )
        self.show_alert()

    def show_alert(self) -> None:
        """The current case's NOT SAVED line (or none)."""
        alert = self.not_saved.get(self.current.case_id) if self.current else None
        self.query_one("#case-pane", CasePane).alert(
            None if alert is None else f"NOT SAVED: {alert} (the store did not take it; try again)"
        )

    # -- triage ----------------------------------------------------------------------------

    def action_assign(self, number: int) -> None:
        if self.taxonomy is None or self.current is None:
            return
        active = self.taxonomy.active
        if number > len(active):
            self.notify(
                f"No class {number}: the taxonomy has {len(active)}",
                severity="warning",
                markup=False,
            )
            return
        cls = active[number - 1]
        fields, at = self._with_step({"failure_class": cls})
        self.save(self.current.case_id, fields, advance=True,
                  text=f"{self.current.case_key}: {cls.name} → {cls.owner}{at}")  # fmt: skip

    def _with_step(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Point a class at the highlighted tool call, when the path cursor is on one."""
        cursor = getattr(self, "path_cursor", None)
        detail = getattr(self, "current_detail", None)
        if cursor is None or detail is None:
            return fields, ""
        from evaltui.compare.paths import step_of

        step = step_of(detail, cursor)
        return {**fields, "step": step}, f" (at call {cursor + 1}: {step['tool']})"

    def action_pick_class(self) -> None:
        if self.taxonomy is None or self.current is None:
            return
        row = self.current

        def chosen(key: str | None) -> None:
            if key and self.taxonomy is not None:
                cls = self.taxonomy.get(key)
                fields, at = self._with_step({"failure_class": cls})
                self.save(row.case_id, fields, advance=True,
                          text=f"{row.case_key}: {cls.name} → {cls.owner}{at}")  # fmt: skip

        self.app.push_screen(ClassPicker(self.taxonomy, row.triage_class), chosen)

    def action_owner(self) -> None:
        if self.current is None:
            return
        row = self.current

        def chosen(value: str | None) -> None:
            if value is not None:  # the original owner unless the reviewer changed it
                self.save(row.case_id, {"owner": tidy(value)}, advance=False,
                          text=f"{row.case_key}: owner {tidy(value) or '(none)'}")  # fmt: skip

        self.app.push_screen(
            TextPrompt(f"Owner of {one_line(row.case_key, 40)} (Enter saves, Esc cancels)",
                       row.triage_owner or "", hint=TRIAGED_HINT), chosen,
        )  # fmt: skip

    def action_verdict(self) -> None:
        if self.current is None:
            return
        row = self.current

        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(row.case_id, {"verdict": value}, advance=False,
                          text=f"{row.case_key}: verdict {value}")  # fmt: skip

        self.app.push_screen(VerdictPicker(row.triage_verdict), chosen)

    def action_accept(self) -> None:
        if self.current is not None:
            self.save(self.current.case_id, {"verdict": "accepted"}, advance=True,
                      text=f"{self.current.case_key}: accepted")  # fmt: skip

    def action_note(self) -> None:
        if self.current is None:
            return
        row = self.current
        mine = [f for f in self.history if f.reviewer == current_user() and f.verified
                and f.kind != "adjudication"]  # fmt: skip
        current_note = mine[-1].note if mine else ""

        def chosen(value: str | None) -> None:
            if value is not None:  # the original note unless the reviewer changed it
                self.save(row.case_id, {"note": tidy(value)}, advance=False,
                          text=f"{row.case_key}: note")  # fmt: skip

        self.app.push_screen(
            TextPrompt(f"Note on {one_line(row.case_key, 40)} (Enter saves, Esc cancels)",
                       current_note or "", hint=TRIAGED_HINT), chosen,
        )  # fmt: skip

    def action_undo(self) -> None:
        self.run_undo()

    @work(thread=True, group="compare-save", exit_on_error=False)
    def save(self, case_id: int, fields: dict[str, object], *, advance: bool, text: str) -> None:
        """Commit one action, then (for class assignments) find the next untriaged case."""
        cmp = self.comparison
        if cmp is None:
            return
        with self.committing([case_id], text), Store(self.db_path) as store:
            triage.label(store, cmp.baseline.id, cmp.candidate.id, case_id, **fields)  # type: ignore[arg-type]
        here = cmp.row(case_id)
        next_row = (
            cmp.neighbour(here, self.flt.with_(triage="untriaged"), step=1) if advance else None
        )
        # One message, so the confirmation, the row, the progress and the next case are
        # on screen in one frame.
        self.post_message(Saved(case_id, text + " (saved)", advance, next_row, here,
                                cmp.triage_progress()))  # fmt: skip

    @work(thread=True, group="compare-save", exit_on_error=False)
    def run_undo(self) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        with self.committing([], "undo"), Store(self.db_path) as store:
            f = triage.undo(store, cmp.baseline.id, cmp.candidate.id)
        if f is None:
            self.post_message(Saved(-1, "Nothing of yours to undo in this comparison", False, None))
            return
        here = cmp.row(f.case_id)
        self.post_message(Saved(f.case_id, f"Undone on {f.case_key} (saved)", False, here, here,
                                cmp.triage_progress()))  # fmt: skip

    # -- lifecycle ------------------------------------------------------------------------

    def action_case_status(self) -> None:
        if self.current is None:
            return
        row = self.current

        def chosen(choice: str | None) -> None:
            if not choice:
                return
            if choice == "restore":
                self.write_status(
                    [row.case_id], StatusRequest("active", None, None), f"{row.case_key}: restored"
                )
                return
            status, reason = (
                ("quarantined", None)
                if choice == "quarantine"
                else ("retired", choice.split(":", 1)[1])
            )

            def note_given(note: str | None) -> None:
                if note is not None:
                    self.preview_status(
                        [row.case_id],
                        StatusRequest(status, reason, note.strip() or None),
                        row.case_key,
                    )

            self.app.push_screen(
                note_prompt(f"Note: why {status} {one_line(row.case_key, 40)}"), note_given
            )

        extra = [("quarantine", "quarantine: keep visible, leave out of the gate, decide later")]
        if row.status != "active":
            extra.insert(0, ("restore", f"restore: make it active again (now {row.status})"))
        self.app.push_screen(
            ReasonPicker(f"{one_line(row.case_key, 50)}: status", None, extra), chosen
        )

    @work(thread=True, exclusive=True, group="compare-preview", exit_on_error=False)
    def preview_status(self, ids: list[int], request: StatusRequest, key: str) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        row = cmp.row(ids[0])
        only = {(d, v) for d, v in (row.segments.items() if row else []) if v is not None}
        table = effect_table(cmp.segments(), cmp.segments(without=ids), only)
        verb = {"retired": "Retire", "quarantined": "Quarantine"}.get(request.status, "Restore")
        title = f"{verb} {one_line(key, 40)} ({request.reason or request.status})? Effect on the figures:"
        self.post_message(Previewed(ids, request, table, title))

    @on(Previewed)
    def status_previewed(self, message: Previewed) -> None:
        def confirmed(ok: bool | None) -> None:
            if ok:
                key = self.current.case_key if self.current else ""
                self.write_status(message.ids, message.request, f"{key}: {message.request.status}")

        self.app.push_screen(ConfirmEffect(message.title, message.table), confirmed)

    @work(thread=True, group="compare-save", exit_on_error=False)
    def write_status(self, ids: list[int], request: StatusRequest, text: str) -> None:
        with self.committing(ids, text), Store(self.db_path) as store:
            lifecycle.set_status(store, ids, request.status, request.reason, request.note)
        if self.comparison is not None:
            self.comparison.refresh_status(ids)
        self.post_message(Written(text + " (saved)"))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.say(message.text)
        self._details.pop(message.case_id, None)  # its triage columns and history changed
        self.not_saved.pop(message.case_id, None)  # it committed now
        self.show_alert()
        if message.progress is not None:
            self.progress = message.progress
            self.show_counts()
        if message.case_id < 0:
            return
        listing = self.query_one("#cases", CaseList)
        fresh = message.row
        if fresh is not None and any(r.case_id == fresh.case_id for r in self.rows):
            self.rows = [fresh if r.case_id == fresh.case_id else r for r in self.rows]
            listing.show(self.rows, self.window_start, self.total)  # the row's class and owner
        select = message.next_row.case_id if message.next_row is not None else message.case_id
        index = next((i for i, r in enumerate(self.rows) if r.case_id == select), None)
        if index is not None:
            self.go_to(self.window_start + index, reselect=select == message.case_id)
        elif message.next_row is not None:  # further on: its page, its position counted
            self.load_page(message.next_row.key - 1, None, select=select)
        if message.advance and message.next_row is None:
            self.notify("No untriaged case after this one in the list", markup=False, timeout=3)

    @on(Written)
    def status_written(self, message: Written) -> None:
        self._details.clear()
        self.notify(message.text, markup=False)
        self.refresh_figures()

    @work(thread=True, exclusive=True, group="compare-figures", exit_on_error=False)
    def refresh_figures(self) -> None:
        cmp = self.comparison
        if cmp is None or self.taxonomy is None:
            return
        cmp.refresh_status()
        self.post_message(self.figures(cmp, self.taxonomy))

    def action_stale(self) -> None:
        from evaltui.tui.screens.stale import StaleScreen

        def back(_: None) -> None:
            self.refresh_figures()

        self.app.push_screen(StaleScreen(self.comparison), back)

    def figures(self, cmp: Comparison, taxonomy: Taxonomy) -> Built:
        """The comparison's figures as a message (read in a worker)."""
        return Built(
            cmp, cmp.segments(), cmp.counts(), cmp.status_counts(), taxonomy, cmp.triage_progress()
        )
