"""The compare screen's choices about the view: reducer and segment dimensions (chosen
in the app), copying a case out, and the view kept per comparison and reviewer
(`evaltui.view_state`): saved when the screen is left or the app quits, restored when
the same comparison is opened again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from evaltui.compare import FILTER_CYCLE, CaseDetail, CaseRow, Comparison, Filter, Reducer
from evaltui.compare.kinds import CHANGED
from evaltui.textsafe import one_line, visible
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.prompts import OptionPicker, TextPrompt

if TYPE_CHECKING:
    from evaltui.triage import Finding
    from evaltui.view_state import ViewState

REDUCERS = [
    ("worst", "worst: a case passes when every sample passes (worst-of-N)"),
    ("majority", "majority: when most samples pass"),
    ("mean", "mean: when the mean score passes"),
    ("best", "best: when any sample passes"),
    ("at-least-2", "at-least-2: when at least 2 samples pass"),
    ("declared", "declared: the reducer the eval tool's logs declared"),
]


class CompareView(AppScreen):
    """State is the screen's."""

    comparison: Comparison | None
    run_ids: tuple[int, int, int | None]
    reducer: Reducer
    flt: Filter
    filter_index: int
    include_hidden: bool
    position: int
    current: CaseRow | None
    current_detail: CaseDetail | None
    history: list[Finding]
    dimensions: list[str] | None
    reducer_choice: str | None
    saved_view: ViewState | None
    place_to_restore: tuple[int | None, int]

    if TYPE_CHECKING:

        def action_rebuild(self) -> None: ...

    # -- reducer and segments -----------------------------------------------------------

    def action_choose_reducer(self) -> None:
        current = self.reducer_choice or self.reducer.label
        options = [(key, Text(label)) for key, label in REDUCERS]

        def chosen(key: str | None) -> None:
            if key and key != current:
                self.reducer_choice = key
                self.reducer = Reducer() if key == "declared" else Reducer.parse(key)
                self.notify(f"Reducer: {key}", markup=False, timeout=2)
                self.action_rebuild()

        self.app.push_screen(
            OptionPicker("Reducer: how a case's samples become one pass/fail", options, current),
            chosen,
        )

    def action_choose_segments(self) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        runs = [r for r in (cmp.baseline, cmp.candidate, cmp.fallback) if r is not None]
        names = sorted({k for r in runs for k in r.attribute_values})
        title = (
            "Segment by (attribute names, comma-separated; empty: the default). Known: "
            + ", ".join(one_line(n, 30) for n in names[:30])
        )

        def given(text: str | None) -> None:
            if text is None:
                return
            wanted = [w.strip() for w in text.split(",") if w.strip()]
            unknown = [w for w in wanted if w not in names]
            if unknown:
                self.notify(f"No attribute {one_line(unknown[0], 40)} in these runs; segments unchanged",
                            severity="error", markup=False)  # fmt: skip
                return
            self.dimensions = wanted or None
            self.action_rebuild()

        self.app.push_screen(TextPrompt(title, ", ".join(cmp.dimensions)), given)

    def action_trend(self) -> None:
        cmp = self.comparison
        if cmp is None:
            return
        from evaltui.tui.screens.trend import TrendScreen

        self.app.push_screen(TrendScreen(cmp.candidate.id, cmp.reducer, cmp.dimensions))

    # -- copy ----------------------------------------------------------------------------

    def action_copy(self) -> None:
        row, detail = self.current, self.current_detail
        if row is None or detail is None:
            return
        options = [
            ("key", Text("the case key (suite/key)")),
            ("candidate", Text("the candidate's output (first sample)")),
            ("baseline", Text("the baseline's output (first sample)")),
            ("markdown", Text("a Markdown summary of the case, for a ticket")),
        ]

        def chosen(what: str | None) -> None:
            if what:
                text = self.copy_text(what, row, detail)
                self.app.copy_to_clipboard(text)
                self.notify(f"Copied {what} ({len(text):,} characters)", markup=False, timeout=2)

        self.app.push_screen(OptionPicker("Copy to the clipboard", options), chosen)

    def copy_text(self, what: str, row: CaseRow, detail: CaseDetail) -> str:
        """The case's own data, through the untrusted-text door (visible forms only)."""
        if what == "key":
            return visible(f"{detail.suite}/{detail.case_key}", limit=2000)
        if what in ("candidate", "baseline"):
            samples = getattr(detail, what)
            if not samples:
                return ""
            s = samples[0]
            return visible(s.output, multiline=True, limit=None, length=s.output_length)
        from evaltui.exporters.case_markdown import case_markdown

        return case_markdown(row, detail, self.reducer, self.history)

    # -- the view kept per comparison -----------------------------------------------------

    def view_state(self) -> ViewState:
        from evaltui.view_state import ViewState

        changes = sorted(self.flt.changes) if self.flt.changes != CHANGED else []
        return ViewState(
            changes=changes,
            segment=self.flt.segment,
            search=self.flt.search_text()[:2000],
            reducer=self.reducer_choice or self.reducer.label,
            segments=self.dimensions,
            include_hidden=self.include_hidden,
            position=max(1, self.position),
            case_id=self.current.case_id if self.current else None,
        )

    def save_view(self) -> None:
        """Called when the screen is left and when the app quits; a failure is said."""
        if self.comparison is None:
            return
        from evaltui import view_state
        from evaltui.store import Store

        b, c, f = self.run_ids
        try:
            with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
                view_state.save(store, b, c, f, self.view_state())
        except Exception as exc:
            self.app.notify(f"Where you were was not saved: {one_line(exc, 120)}",
                            severity="warning", markup=False)  # fmt: skip

    @work(thread=True, exclusive=True, group="compare-view", exit_on_error=False)
    def read_view(self) -> None:
        """Before the comparison is built: the view saved for it, if it checks."""
        from evaltui import view_state
        from evaltui.errors import InputError
        from evaltui.store import Store

        b, c, f = self.run_ids
        with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
            try:
                state = view_state.load(store, b, c, f)
            except InputError as exc:
                self.app.call_from_thread(
                    self.notify, f"The saved view was not applied: {one_line(exc.message, 160)}",
                    severity="warning", markup=False,
                )  # fmt: skip
                state = None
        self.app.call_from_thread(self.apply_view, state)

    def apply_view(self, state: ViewState | None) -> None:
        """Reducer, segments and hidden cases before building; filter and place after."""
        self.saved_view = state
        if state is not None:
            self.reducer_choice = state.reducer
            self.reducer = (
                Reducer() if state.reducer == "declared" else Reducer.parse(state.reducer)
            )
            self.dimensions = state.segments
            self.include_hidden = state.include_hidden
        self.build()  # type: ignore[attr-defined]

    def restore_place(self) -> Filter | None:
        """The saved filter (and the case to go to), once the comparison is open."""
        state: ViewState | None = getattr(self, "saved_view", None)
        self.saved_view = None
        if state is None:
            return None
        changes = frozenset(state.changes) if state.changes else CHANGED
        self.filter_index = next((i for i, (_, c) in enumerate(FILTER_CYCLE) if c == changes), 0)
        flt = Filter(changes=changes, segment=state.segment).parse(state.search)
        self.place_to_restore = (state.case_id, state.position)
        return flt

    def reducer_arg(self) -> Any:
        return "declared" if self.reducer_choice == "declared" else self.reducer
