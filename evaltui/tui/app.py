"""The Textual app: wires screens, workers' errors and help. It decides nothing."""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import Monochrome, NoColor
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from evaltui.errors import EvaltuiError
from evaltui.store import Store
from evaltui.store.events import current_user
from evaltui.tui.commands import screen_commands
from evaltui.tui.config import Config
from evaltui.tui.messages import PolicyChosen, Saved, TeamChanged
from evaltui.tui.screens.error import ErrorScreen
from evaltui.tui.screens.help import HelpScreen, keys_of
from evaltui.tui.screens.runs import RunsScreen
from evaltui.tui.widgets.team_line import TeamLine


class EvaltuiApp(App[None]):
    """evaltui's app over one store."""

    CSS_PATH = "app.tcss"
    TITLE = "evaltui"
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        Binding(
            "question_mark", "help", "Help", tooltip="Show every key of this screen", id="app.help"
        ),
        Binding(
            "q", "quit", "Quit", tooltip="Quit evaltui (everything is already saved)", id="app.quit"
        ),
        Binding(
            "K",
            "codebook",
            "Codebook",
            show=False,
            tooltip="Classes proposed from reviewers' notes: accept, merge or reject them",
            id="app.codebook",
        ),
        Binding(
            "ctrl+t",
            "toggle_theme",
            "Theme",
            show=False,
            tooltip="Switch between the dark and the light theme",
            id="app.theme",
        ),
    ]

    def __init__(
        self,
        db_path: str | Path,
        taxonomy_path: Path | None = None,
        config: Config | None = None,
        *,
        reviewer: str | None = None,
        judge: int | None = None,  # open on the judging screen of this calibration sample
    ) -> None:
        super().__init__()
        self.judge_sample = judge
        self.db_path = Path(db_path)
        # who acts in this app: its events, findings and saved views (the CLI's --reviewer)
        self.reviewer = reviewer or current_user()
        self.taxonomy_path = taxonomy_path
        self.config = config or Config()
        if self.config.keymap:
            self.set_keymap(self.config.keymap)  # checked against every binding (tui/config.py)
        if self.config.theme:
            self.theme = self.config.theme
        if self.no_color:
            # NO_COLOR: no colour at all (Textual's greyscale turns red into dark grey on
            # dark); what colour said, bold, reverse, underline and words say (render.py).
            self._filters = [NoColor() if isinstance(f, Monochrome) else f for f in self._filters]

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette (ctrl+p): every key of the screen, built from its bindings so it
        cannot drift from them, then going places, then Textual's own (theme, quit...)."""
        yield from screen_commands(self, screen)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        """Quit, keeping where each open comparison was (view_choices.py)."""
        from evaltui.tui.screens.compare import CompareScreen  # load time: not at the app's start

        for screen in self.screen_stack:
            if isinstance(screen, CompareScreen):
                screen.save_view()
        self.exit()

    def action_codebook(self) -> None:
        """The codebook over the notes of the comparison in view (else the marked runs'); the
        comparison is rebuilt on the way back when a ruling or a label was written."""
        from evaltui.tui.screens.codebook import CodebookScreen  # load time: when opened
        from evaltui.tui.screens.compare import CompareScreen  # load time: as above

        if isinstance(self.screen, CodebookScreen):
            return
        compare = next(
            (s for s in reversed(self.screen_stack) if isinstance(s, CompareScreen)), None
        )
        if compare is None:
            self.push_screen(CodebookScreen())
            return
        base, cand, _ = compare.run_ids
        self.push_screen(CodebookScreen(base, cand, on_change=compare.action_rebuild))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"
        self.notify(f"Theme: {self.theme}", markup=False, timeout=2)

    def open_store(self) -> Store:
        """The store, opened for this app's reviewer (one per thread: a worker opens its own)."""
        return Store(self.db_path, actor=self.reviewer)

    def on_mount(self) -> None:
        # One connection held for the app's life, even while no screen reads: with it
        # open, an import run elsewhere cannot take the store alone (Store.alone), so
        # this app's reads never wait for one.
        self._presence: Store | None = None
        failed: EvaltuiError | None = None
        try:
            self._presence = Store(self.db_path)
        except EvaltuiError as exc:
            failed = exc
        self.push_screen(RunsScreen())
        if self.judge_sample is not None and failed is None:
            # load time: calibration only when asked
            from evaltui.tui.screens.judge import JudgeScreen

            self.push_screen(JudgeScreen(self.judge_sample))
        if failed is not None:
            self.push_screen(ErrorScreen(failed.title, failed.message))
        self.start_team()
        # A full collection takes tens of ms once a comparison is open: done when no key
        # has come for a second, not in the middle of a step (docs/performance.md).
        gc.freeze()  # the app's own objects: never garbage, never scanned again
        gc.set_threshold(700, 10, 1_000_000)
        self._last_key = time.monotonic()
        self.set_interval(2.0, self._collect_when_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key = time.monotonic()
            if self._live is not None:  # a long sync in the link waits for the keys
                self._live.key()
        await super().on_event(event)

    def _collect_when_idle(self) -> None:
        if time.monotonic() - self._last_key > 1.0:
            gc.collect()

    def on_unmount(self) -> None:
        if self._live is not None:
            self._live.stop()
        if self._presence is not None:
            self._presence.close()

    # -- the team store (docs/team.md): a background link, its state in the team line ------

    team_state: Any = None  # team.live.LinkState, once the link said something
    _live: Any = None

    def start_team(self) -> None:
        """On a store that joined a team: keep it in step in a background thread."""
        try:
            joined = self._presence is not None and self._presence.get_setting("team.link")
        except EvaltuiError:  # unreadable: `evaltui team status` says why
            joined = False
        if not joined:
            return
        from evaltui.team.live import Live  # load time: psycopg, joined stores only

        self._live = Live(self.db_path, lambda state: self.post_message(TeamChanged(state)))
        self._live.start()

    @on(TeamChanged)
    def team_changed(self, message: TeamChanged) -> None:
        from evaltui.tui.screens.compare import CompareScreen  # load time: its widgets

        self.team_state = message.state
        for screen in self.screen_stack:
            for line in screen.query(TeamLine):
                line.show(message.state)
        if message.state.changed:  # other members' words folded here: read the cases again
            for screen in self.screen_stack:
                if isinstance(screen, CompareScreen):  # figures, list, the case shown
                    screen.browser.forget()
                    screen.refresh_figures()
                    if screen.current is not None:
                        screen.browser.load_detail(screen.current)

    @on(PolicyChosen)
    def policy_chosen(self, _: PolicyChosen) -> None:
        from evaltui.tui.screens.compare import CompareScreen  # load time: its widgets

        for screen in self.screen_stack:
            if isinstance(screen, CompareScreen):
                screen.policy_changed()

    @on(Saved)
    def saved_here(self, _: Saved) -> None:
        """A triage action committed (bubbled up from its screen): share it now."""
        if self._live is not None:
            self._live.poke()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        title = type(self.screen).__name__.removesuffix("Screen").lower()
        self.push_screen(HelpScreen(title, keys_of(self.screen)))

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (screens handle theirs: screens/base.py)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.show_error(event.worker.name or "A background task", event.worker.error)

    def show_error(self, what: str, error: BaseException) -> None:
        """The one dialog for a failure: what was being done, and what went wrong."""
        if isinstance(error, EvaltuiError):
            title, message = f"{what} failed: {error.title}", error.message
        elif isinstance(error, sqlite3.Error):
            title, message = f"{what} failed: the store could not be used", str(error)
        else:
            title = f"{what} failed: unexpected error (a bug)"
            message = f"{type(error).__name__}: {error}"
        self.push_screen(ErrorScreen(title, message))
