"""Compare screen: the scoreboard by segment, the changed cases (paged), the case pane.

A composition. The screen builds the comparison and shows its figures (title, counts,
`Scoreboard`), composes the `CaseBrowser` (filter line, search, `CaseList`, `CasePane`:
the cases, one window at a time, and the case at the cursor, tui/case_browser.py),
turns the keys into calls on it, asks the triage and lifecycle questions and commits the
answers in its workers (every SQLite call runs in a thread worker; results come back as
messages, tui/messages.py). What it decides is in plain classes: where the cursor is and
which page to read (tui/case_cursor.py), the view chosen and kept per comparison
(tui/view_choices.py), what a triage or lifecycle key writes (tui/triage_desk.py).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.worker import get_current_worker

from evaltui.compare import Comparison, Filter, Reducer, SegmentRecord
from evaltui.models import CASE_STATUSES
from evaltui.review.taxonomy import Taxonomy
from evaltui.textsafe import one_line
from evaltui.trajectory import ToolStats
from evaltui.tui import triage_desk as desk
from evaltui.tui.case_browser import CaseBrowser
from evaltui.tui.case_cursor import PAGE
from evaltui.tui.messages import (
    Built,
    NotSaved,
    Opened,
    Previewed,
    Saved,
    SegmentChosen,
    StatusRequest,
    ToolsLoaded,
    Written,
)
from evaltui.tui.opening import figures, open_comparison, production_lines, verified_rows
from evaltui.tui.questions import Questions, copy_to
from evaltui.tui.render import title_text
from evaltui.tui.screens import compare_keys as keys
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.gate import GateScreen
from evaltui.tui.screens.help import keys_by_id
from evaltui.tui.screens.stale import StaleScreen
from evaltui.tui.screens.trend import TrendScreen
from evaltui.tui.view_choices import ViewChoices, keep_view, read_view
from evaltui.tui.widgets import Scoreboard, TeamLine
from evaltui.tui.widgets.header import Counts, Legend
from evaltui.tui.widgets.safe import Static

if TYPE_CHECKING:
    from textual.binding import ActiveBinding
    from textual.screen import Screen

    from evaltui.views.view_state import ViewState

__all__ = ["PAGE", "CompareScreen"]


class CompareScreen(AppScreen):
    """Baseline vs candidate (and fallback), stepping through what changed."""

    BINDINGS = keys.COMPARE_KEYS

    def __init__(
        self,
        baseline: int,
        candidate: int,
        fallback: int | None = None,
        reducer: Reducer | None = None,
    ) -> None:
        super().__init__()
        self.run_ids = (baseline, candidate, fallback)
        self.view = ViewChoices(reducer)
        self.not_saved = desk.NotSavedCases()
        self.browser = CaseBrowser(self.not_saved, id="browser")
        self.comparison: Comparison | None = None
        self._previews: list[Comparison] = []  # first pages shown before the whole comparison
        self.taxonomy: Taxonomy | None = None
        self.segments: list[SegmentRecord] = []
        tell = partial(self.notify, timeout=2)
        writes = (self.save, self.preview_status, self.write_status)
        self.questions = Questions(self.ask, *writes, tell, self.action_rebuild)

    def ask(self, screen: Screen[Any], then: Callable[[Any], None]) -> None:
        """A modal question; `then` gets its answer."""
        self.app.push_screen(screen, then)

    # What the browser's cursor is on, for tests and `make bench`.
    current = property(lambda self: self.browser.cursor.current)
    current_detail = property(lambda self: self.browser.cursor.detail)
    position = property(lambda self: self.browser.cursor.position)
    total = property(lambda self: self.browser.cursor.total)
    flt = property(lambda self: self.browser.cursor.flt)
    shown_at = property(lambda self: self.browser.shown_at)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · compare", style="bold"), id="title")
        yield TeamLine()
        yield Counts(Text("Comparing…"), id="counts")
        yield Legend(Text(""), id="legend")
        yield Scoreboard(id="scoreboard")
        yield self.browser
        yield Static(Text(""), id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scoreboard").display = False
        self.browser.filter_bar.name_keys(keys_by_id(self))
        self.read_view()  # the view saved for this comparison, then build

    def on_resize(self, event: events.Resize) -> None:
        keys.fit_footer(self, event.size.width)
        self.query_one(Legend).refit()  # (a new height alone does not resize it)

    def on_unmount(self) -> None:
        for cmp in [self.comparison, *self._previews]:
            if cmp is not None:
                cmp.close()

    def is_open(self) -> bool:
        """The comparison is there (a preview or the whole): its keys can act."""
        return self.comparison is not None

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """In the footer's order (a keymap would put the keys it remaps last: `k` before `j`)."""
        return keys.in_footer_order(super().active_bindings)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key that needs something first (compare_keys.ENABLED_WHEN) shows dim until then."""
        predicate = keys.ENABLED_WHEN.get(action)
        return None if predicate is not None and not getattr(self, predicate)() else True

    # -- building ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-build", exit_on_error=False)
    def build(self) -> None:
        """The first page from a preview, then the whole comparison (tui/opening.py)."""
        hidden = self.view.include_hidden
        args = {
            "reducer": self.view.reducer_arg(),
            "dimensions": self.view.dimensions,
            "statuses": frozenset(CASE_STATUSES) if hidden else frozenset({"active"}),
        }
        worker = get_current_worker()
        built = open_comparison(
            self.app.db_path,
            self.run_ids,
            args,
            self.browser.cursor.page,
            self.app.taxonomy_path,
            self.post_message,
            lambda: worker.is_cancelled,
            open_store=self.app.open_store,
        )
        if built is not None:
            self.post_message(built)

    @on(Opened)
    def opened(self, message: Opened) -> None:
        if self.comparison is not None and self.comparison is not message.comparison:
            self.comparison.close()
        cmp = self.comparison = message.comparison
        self.taxonomy = self.browser.use_taxonomy(message.taxonomy)
        self.name_keys()
        self.view.reducer = cmp.reducer  # "declared" is resolved by the comparison
        self.show_title()
        # Where this reviewer left it is read from the whole comparison (`built`).
        saved = self.view.restore(cmp.dimensions)
        rows = message.rows if saved is None else None
        self.browser.open(cmp, message.first, rows, saved or Filter(), message.rows)
        # What is built now lives as long as the screen: out of the collector's way, so a
        # full collection (tens of ms, every few dozen keys) scans only what is new.
        gc.freeze()

    @on(Built)
    def built(self, message: Built) -> None:
        cmp, previous = message.comparison, self.comparison
        swapped = previous is not None and previous is not cmp
        if swapped and previous is not None and previous.first is not None:
            # The preview: the whole comparison takes over. Closed with the screen, as a
            # read started on it may still be running.
            self._previews.append(previous)
        refresh = previous is cmp and self.browser.counted
        self.comparison = cmp
        self.segments = message.segments
        self.taxonomy = self.browser.use_taxonomy(message.taxonomy)
        self.browser.take_whole(cmp)
        self.query_one("#scoreboard", Scoreboard).display = True
        self.query_one(Legend).show(fallback=cmp.fallback is not None)
        self.show_title()
        counts = self.query_one(Counts)
        counts.figures(message.counts, message.statuses, message.progress, self.view.include_hidden)
        if not refresh:
            self.load_tools(cmp)
        elif counts.production:  # a retirement moves the estimate: read it again (#28)
            self.load_tools(cmp, counts.tool_stats or {})
        self.query_one("#scoreboard", Scoreboard).show(self.segments, cmp.fallback is not None)
        if self.view.restoring:  # where this reviewer left it: read from the whole comparison
            self.view.restoring = False
            self.browser.restore(*self.view.place)
        elif refresh or swapped or self.flt != Filter():
            # Figures changed (a retirement) or a filter is on: read the place in the list
            # again; the cursor keeps its position (the next case, if this one left).
            self.browser.reload(count=True)
        else:
            self.browser.show_count(cmp.count(self.flt))  # from the tally just made: no scan

    @work(thread=True, exclusive=True, group="compare-tools", exit_on_error=False)
    def load_tools(self, cmp: Comparison, stats: dict[str, ToolStats | None] | None = None) -> None:
        """Read after the figures (trajectories one at a time): the tool line for agent runs,
        the production estimate with the traffic in force, corrected when the store's policy
        asks (given `stats`: the estimate alone), the verified figures when judged (#27)."""
        again, stats = stats is not None, cmp.tool_stats() if stats is None else stats
        production = production_lines(self.app.open_store, cmp)
        verified = verified_rows(cmp)
        if again or production or verified or any(v is not None for v in stats.values()):
            self.post_message(ToolsLoaded(stats, production, verified))

    def policy_changed(self) -> None:  # the gate screen chose a policy: its production lines
        if self.comparison is not None:
            self.load_tools(self.comparison, self.query_one(Counts).tool_stats or {})

    @on(ToolsLoaded)
    def tools_loaded(self, message: ToolsLoaded) -> None:
        self.query_one(Counts).tools(message.stats, message.production)
        self.query_one("#scoreboard", Scoreboard).show_verified(message.verified)

    @work(thread=True, exclusive=True, group="compare-figures", exit_on_error=False)
    def refresh_figures(self) -> None:
        cmp = self.comparison
        if cmp is not None and self.taxonomy is not None:
            cmp.refresh_status()
            self.post_message(figures(cmp, self.taxonomy))

    def action_rebuild(self) -> None:
        if self.comparison is not None:  # r, R, D, H: the filter and the place kept
            self.view.hold(self.flt, self.position, self.current)
        self.browser.show_loading(True)
        self.browser.counted = False
        self.build()

    # -- what the screen says ----------------------------------------------------------------

    def name_keys(self) -> None:
        """Keys 1-9 by the taxonomy's class names, then the footer fitted again."""
        if self.taxonomy is not None:
            keys.name_class_keys(self, [(c.name, c.owner) for c in self.taxonomy.active])
            keys.fit_footer(self, self.size.width)

    def show_title(self) -> None:
        if self.comparison is not None:
            self.query_one("#title", Static).update(title_text(self.comparison))

    def say(self, text: str) -> None:
        """The status line: what the last action did ("... (saved)"). One fixed line,
        updated without a layout pass, so confirming costs a triage key no time."""
        self.query_one("#status", Static).update(Text(one_line(text, 200)), layout=False)

    # -- moving and filtering: the browser's ------------------------------------------------

    def action_step(self, step: int) -> None:
        self.browser.step(step)

    def action_page(self, pages: int) -> None:
        self.browser.page(pages)

    def action_first(self) -> None:
        self.browser.first()

    def action_last(self) -> None:
        self.browser.last()

    def action_jump(self, step: int) -> None:
        self.browser.find_regression(step)

    def action_untriaged(self, step: int) -> None:
        self.browser.find_untriaged(step)

    def action_open_case(self) -> None:
        self.browser.open_case()

    def action_step_call(self, step: int) -> None:
        self.browser.step_call(step)

    def action_path(self, what: str) -> None:  # `=` fold, `d` the first divergence
        self.browser.path_key(what)

    def action_search(self) -> None:
        self.browser.search()

    def action_cycle_filter(self) -> None:
        self.browser.set_filter(
            self.flt.with_(changes=self.view.next_changes(self.query_one(Counts).counts))
        )

    def action_segment_filter(self) -> None:
        segment = self.query_one("#scoreboard", Scoreboard).highlighted_segment
        if segment is not False:
            self.browser.set_filter(self.flt.with_(segment=segment))

    @on(SegmentChosen)
    def segment_chosen(self, message: SegmentChosen) -> None:
        self.browser.set_filter(self.flt.with_(segment=message.segment))
        self.browser.listing.focus()

    def action_clear_filters(self) -> None:
        self.view.filter_index = 0
        self.browser.set_filter(Filter())

    def action_zoom(self) -> None:
        self.browser.zoom()

    def action_cycle_pane(self) -> None:
        order = [self.query_one(sel) for sel in ("#scoreboard", "#cases", "#case-view")]
        i = order.index(self.focused) if self.focused in order else -1
        order[(i + 1) % len(order)].focus()

    # -- other screens, the view ------------------------------------------------------------

    def action_gate(self) -> None:
        self.app.push_screen(GateScreen(*self.run_ids))

    def action_trend(self) -> None:
        cmp = self.comparison
        if cmp is not None:
            self.app.push_screen(TrendScreen(cmp.candidate.id, cmp.reducer, cmp.dimensions))

    def action_stale(self) -> None:
        def back(_: None) -> None:
            self.refresh_figures()

        self.app.push_screen(StaleScreen(self.comparison), back)

    def action_back(self) -> None:
        if not self.browser.cancel_search():  # Esc in the search box cancels the search
            self.save_view()
            self.app.pop_screen()

    def action_toggle_hidden(self) -> None:
        self.view.include_hidden = not self.view.include_hidden
        self.notify(
            "Retired and quarantined cases are counted"
            if self.view.include_hidden
            else "Retired and quarantined cases are left out"
        )
        self.action_rebuild()

    def action_choose_reducer(self) -> None:
        self.questions.reducer(self.view)

    def action_choose_segments(self) -> None:
        if self.comparison is not None:
            refuse = partial(self.notify, severity="error")
            self.questions.segments(self.view, self.comparison, refuse)

    def action_copy(self) -> None:
        row, detail, history = self.current, self.current_detail, self.browser.cursor.history
        if row is not None and detail is not None:
            self.questions.copy(row, detail, self.view, history, copy_to(self))

    def save_view(self) -> None:
        """Where the reviewer is, kept for this comparison: when the screen is left and
        when the app quits; a failure is said."""
        if self.comparison is not None:
            case_id = self.current.case_id if self.current else None
            state = self.view.state(self.flt, self.position, case_id)
            problem = keep_view(self.app.open_store, self.run_ids, state)
            if problem:
                self.notify(problem, severity="warning")

    @work(thread=True, exclusive=True, group="compare-view", exit_on_error=False)
    def read_view(self) -> None:
        """Before the comparison is built: the view saved for it, if it checks."""
        state, problem = read_view(self.app.open_store, self.run_ids)
        if problem:
            self.app.call_from_thread(self.notify, problem, severity="warning")
        self.app.call_from_thread(self.view_read, state)

    def view_read(self, state: ViewState | None) -> None:
        self.view.apply(state)  # reducer, segments and hidden cases now; the place once open
        self.build()

    # -- triage and lifecycle: asked here, written in workers (tui/triage_desk.py) -------------

    def action_assign(self, number: int) -> None:
        if self.taxonomy is not None and self.current is not None:
            call = self.browser.highlighted_call()
            label = desk.numbered_label(self.current, self.taxonomy, number, call)
            if isinstance(label, str):
                self.notify(label, severity="warning")
            else:
                self.save(label)

    def action_pick_class(self) -> None:
        if self.taxonomy is not None and self.current is not None:
            call = self.browser.highlighted_call()
            self.questions.pick_class(self.current, self.taxonomy, call)

    def action_owner(self) -> None:
        if self.current is not None:
            self.questions.owner(self.current)

    def action_verdict(self) -> None:
        if self.current is not None:
            self.questions.verdict(self.current)

    def action_accept(self) -> None:
        if self.current is not None:
            self.save(desk.accept_label(self.current))

    def action_note(self, and_next: bool = False) -> None:  # E: then the next case (#29)
        if self.current is not None:
            self.questions.note(
                self.current, self.browser.cursor.history, self.app.reviewer, and_next
            )

    def action_undo(self) -> None:
        self.run_undo()

    def action_case_status(self) -> None:
        if self.current is not None:
            self.questions.case_status(self.current)

    @work(thread=True, group="compare-save", exit_on_error=False)
    def save(self, label: desk.Label) -> None:
        """Commit one action, then (for class assignments) find the next untriaged case."""
        cmp = self.comparison
        if cmp is None:
            return
        with desk.committing(self.post_message, [label.case_id], label.text):
            desk.commit_label(self.app.open_store, cmp, label)
        self.post_message(desk.saved_label(cmp, self.flt, label))

    @work(thread=True, group="compare-save", exit_on_error=False)
    def run_undo(self) -> None:
        cmp = self.comparison
        if cmp is not None:
            with desk.committing(self.post_message, [], "undo"):
                saved = desk.undo_last(self.app.open_store, cmp)
            self.post_message(saved)

    @work(thread=True, exclusive=True, group="compare-preview", exit_on_error=False)
    def preview_status(self, ids: list[int], request: StatusRequest, key: str) -> None:
        if self.comparison is not None:
            self.post_message(desk.status_effect(self.comparison, ids, request, key))

    @on(Previewed)
    def status_previewed(self, message: Previewed) -> None:
        self.questions.confirm_status(message, self.current.case_key if self.current else "")

    @work(thread=True, group="compare-save", exit_on_error=False)
    def write_status(self, ids: list[int], request: StatusRequest, text: str) -> None:
        with desk.committing(self.post_message, ids, text):
            desk.commit_status(self.app.open_store, ids, request)
        if self.comparison is not None:
            self.comparison.refresh_status(ids)
        self.post_message(Written(text + " (saved)"))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.say(message.text)
        self.not_saved.committed(message.case_id)  # it committed now
        if message.progress is not None:
            self.query_one(Counts).triaged(message.progress)
        if message.case_id >= 0:
            self.browser.after_save(message)
        else:
            self.browser.show_alert()
        if message.advance and message.next_row is None:
            self.notify(message.no_next, timeout=3)

    @on(NotSaved)
    def not_saved_shown(self, message: NotSaved) -> None:
        self.not_saved.failed(message.case_ids, message.text)
        self.notify(
            f"NOT SAVED: {one_line(message.text, 80)}: {one_line(message.error, 160)}",
            severity="error",
            timeout=15,
        )
        self.browser.show_alert()

    @on(Written)
    def status_written(self, message: Written) -> None:
        self.browser.forget()
        self.notify(message.text)
        self.refresh_figures()
