"""The judging screen: a calibration sample's results, one at a time, judged blind.

The input, the expected answer, the output and the criterion are shown; the grader's
verdict, score and explanation are not, until the reviewer has answered (then the line
below says what the grader said of the item just judged). Every key saves at once (a
worker, one transaction, in key order); `u` undoes the last judgment and goes back to it.
Gold items are mixed in unmarked; how the reviewer did on them is told when the session
ends (or never: the store's `calibration.gold_feedback`). docs/calibration.md.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer
from textual.worker import Worker

from evaltui.review.calibration import judgments, queue, samples
from evaltui.review.calibration.judgments import HumanVerdict, criterion_word
from evaltui.review.calibration.queue import QueueItem
from evaltui.review.calibration.samples import SampleRecord
from evaltui.store import Store
from evaltui.store.runs import grader
from evaltui.store.runs.grader import ResultView
from evaltui.textsafe import one_line, safe_text
from evaltui.tui.messages import (
    JudgeQueueLoaded,
    JudgeViewsLoaded,
    JudgmentSaved,
    JudgmentUndone,
    SessionEnded,
)
from evaltui.tui.screens.base import AppScreen
from evaltui.tui.screens.prompts import TextPrompt
from evaltui.tui.widgets.safe import Static

VIEWS_AHEAD = 40  # results read ahead of the cursor (each holds an output)
FIELD_LIMIT = 20_000  # characters of an input, expected answer or output shown


class _InOrder:
    """Writes run one at a time, in the order the keys came (a ticket each): an undo never
    overtakes the judgment it undoes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = self._turn = 0

    def ticket(self) -> int:
        with self._cond:
            self._next += 1
            return self._next - 1

    def run(self, ticket: int, write: Callable[[], None]) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._turn == ticket)
        try:
            write()
        finally:
            with self._cond:
                self._turn += 1
                self._cond.notify_all()


class JudgeScreen(AppScreen):
    """Walks a reviewer's judging queue: p pass, f fail, s unsure, e note, u undo."""

    BINDINGS = [
        Binding(
            "p", "judge('pass')", "Pass", tooltip="The result meets the criterion", id="judge.pass"
        ),
        Binding(
            "f",
            "judge('fail')",
            "Fail",
            tooltip="The result does not meet the criterion",
            id="judge.fail",
        ),
        Binding(
            "s",
            "judge('unsure')",
            "Unsure",
            tooltip="Cannot tell: recorded as unsure (left out of the figures); next",
            id="judge.unsure",
        ),
        Binding(
            "e",
            "note",
            "Note",
            tooltip="A note saved with your next answer on this result",
            id="judge.note",
        ),
        Binding(
            "u",
            "undo",
            "Undo",
            tooltip="Undo your last judgment and go back to it",
            id="judge.undo",
        ),
        Binding("escape", "leave", "Back", tooltip="Leave (everything is saved)", id="judge.back"),
    ]

    @property
    def reviewer(self) -> str:
        """Who judges: the app's reviewer (the CLI's --reviewer)."""
        return self.app.reviewer

    def __init__(self, sample_id: int | None = None, *, run_id: int | None = None) -> None:
        """On calibration sample `sample_id`, or on the newest sample of run `run_id`."""
        super().__init__()
        self.sample_id, self.run_id = sample_id, run_id
        self.sample: SampleRecord | None = None
        self.items: list[QueueItem] = []
        self.views: dict[int, ResultView | None] = {}
        self.reading_from = -1  # the start of the views being read
        self.index = 0  # the item on screen
        self.shown_at = 0.0  # when it was shown (for the time spent on it)
        self.times: list[float] = []
        self.note: str | None = None  # for the item on screen
        self.done: list[tuple[int, str]] = []  # (index, verdict) judged this session, in order
        self.saved = 0
        self.feedback = "end"
        self.ended = False
        self.leaving = False
        self.writes = _InOrder()

    def compose(self) -> ComposeResult:
        yield Static(Text("evaltui · judging", style="bold"), id="title")
        yield Static(Text("Reading the queue…"), id="judge-progress")
        with VerticalScroll(id="judge-scroll"):
            yield Static(Text(""), id="judge-item")
        yield Static(Text("The grader's verdict is hidden until you answer."), id="judge-last")
        yield Footer()

    def on_mount(self) -> None:
        self.load_queue()
        self.set_interval(1.0, self.show_progress)

    # -- reading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="judge-load", exit_on_error=False)
    def load_queue(self) -> None:
        with Store(self.app.db_path) as store:
            if self.sample_id is None:
                kept = samples.samples(store.conn, self.run_id)
                if not kept:
                    self.post_message(JudgeQueueLoaded(None, [], self.reviewer, "end"))
                    return
                self.sample_id = kept[-1].id
            sample = samples.get_sample(store.conn, str(self.sample_id))
            items = queue.build(store.conn, sample, self.reviewer)
            feedback = store.get_setting(queue.FEEDBACK_SETTING, "end")
        feedback = feedback if feedback in queue.FEEDBACK else "end"
        self.post_message(JudgeQueueLoaded(sample, items, self.reviewer, feedback))

    @on(JudgeQueueLoaded)
    def queue_loaded(self, message: JudgeQueueLoaded) -> None:
        if message.sample is None:
            self.query_one("#judge-item", Static).update(
                Text(
                    "No calibration sample of this run yet: `evaltui calibrate sample RUN` "
                    "draws one (docs/calibration.md)."
                )
            )
            self.query_one("#judge-progress", Static).update(Text(""))
            return
        self.sample, self.items, self.feedback = message.sample, message.queue, message.feedback
        self.query_one("#title", Static).update(
            Text(
                f"evaltui · judging sample {message.sample.id} · "
                f"{one_line(criterion_word(message.sample.criterion), 40)} · "
                f"{one_line(message.reviewer, 30)}",
                style="bold",
            )
        )
        self.read_ahead()
        self.show()

    def read_ahead(self) -> None:
        """Read the views from the cursor on when the ones held run out."""
        start = self.index
        while start in self.views and start < len(self.items):
            start += 1
        wanted = start < len(self.items) and start < self.index + VIEWS_AHEAD // 2
        if wanted and self.reading_from != start:
            self.reading_from = start
            self.load_views(start)

    @work(thread=True, exclusive=True, group="judge-views", exit_on_error=False)
    def load_views(self, start: int) -> None:
        chunk = self.items[start : start + VIEWS_AHEAD]
        with Store(self.app.db_path) as store:
            views = [grader.view(store.conn, it.ref, it.criterion) for it in chunk]
        self.post_message(JudgeViewsLoaded(start, views))

    @on(JudgeViewsLoaded)
    def views_loaded(self, message: JudgeViewsLoaded) -> None:
        for i, v in enumerate(message.views):
            self.views[message.start + i] = v
        self.reading_from = -1
        was_blank = self.shown_at == 0.0
        self.read_ahead()
        if was_blank:
            self.show()

    # -- showing ------------------------------------------------------------------------------

    def current(self) -> ResultView | None:
        return self.views.get(self.index) if self.index < len(self.items) else None

    def show(self) -> None:
        """The item at the cursor, blind (or the end of the queue)."""
        item = self.query_one("#judge-item", Static)
        if self.sample is None:
            return
        if self.index >= len(self.items):
            self.shown_at = 0.0
            item.update(Text("Queue done: every result of this sample is judged.", style="bold"))
            self.end_session()
        else:
            view = self.current()
            self.shown_at = time.monotonic() if view is not None else 0.0
            item.update(self.render_view(view) if view else Text("Reading the result…"))
            self.query_one("#judge-scroll", VerticalScroll).scroll_home(animate=False)
        self.show_progress()

    def render_view(self, v: ResultView) -> Group:
        """The result without the grader's part: what the reviewer judges from."""
        assert self.sample is not None
        crit = criterion_word(self.sample.criterion)
        head = Text(f"{one_line(v.suite, 40)}/{one_line(v.case_key, 80)}", style="bold")
        head.append(f"   run {one_line(v.run_name, 40)}", style="dim")
        if v.ref.epoch:
            head.append(f"   sample {v.ref.epoch}", style="dim")
        parts = [head, Text(f"Judge: does this result meet `{one_line(crit, 60)}`?", style="bold")]
        for title, body in (("Input", v.input), ("Expected", v.expected), ("Output", v.output)):
            parts.append(Text(f"\n{title}", style="bold underline"))
            parts.append(
                safe_text(body if body is not None else "(none)", multiline=True, limit=FIELD_LIMIT)
            )
        if self.note:
            parts.append(Text("\nYour note: ", style="bold") + safe_text(self.note, limit=400))
        return Group(*parts)

    def show_progress(self) -> None:
        total = len(self.items)
        line = Text(f"{min(self.index + 1, total)}/{total}" if total else "0/0", style="bold")
        line.append(f" in this session · {self.saved} saved")
        if self.shown_at:
            line.append(f" · on this result {time.monotonic() - self.shown_at:.0f} s")
        if self.times:
            line.append(f" · median {statistics.median(self.times):.0f} s per result", style="dim")
        self.query_one("#judge-progress", Static).update(line)

    # -- keys ---------------------------------------------------------------------------------

    def action_judge(self, verdict: HumanVerdict) -> None:
        view = self.current()
        if view is None or not self.shown_at:  # nothing on screen yet: nothing is judged blind
            self.app.bell()  # and said, so a key pressed too early is never taken as saved
            self.notify(
                f"Not saved: no result is on screen to answer {verdict!r} on",
                severity="warning",
                timeout=4,
            )
            return
        item, index = self.items[self.index], self.index
        seconds = time.monotonic() - self.shown_at
        self.times.append(seconds)
        note, self.note = self.note, None
        self.done.append((index, verdict))
        self.save_judgment(self.writes.ticket(), item, index, verdict, note, seconds)
        self.index += 1
        self.read_ahead()
        self.show()

    @work(thread=True, group="judge-write", exit_on_error=False)
    def save_judgment(
        self,
        ticket: int,
        item: QueueItem,
        index: int,
        verdict: HumanVerdict,
        note: str | None,
        seconds: float,
    ) -> None:
        def write() -> None:
            with Store(self.app.db_path) as store:
                judgments.record(
                    store,
                    item.ref,
                    item.criterion,
                    verdict,
                    note=note,
                    reviewer=self.reviewer,
                    sample=item.sample,
                    purpose=item.purpose,
                    seconds=seconds,
                )

        self.writes.run(ticket, write)
        self.post_message(JudgmentSaved(index, verdict, self.views.get(index)))

    @on(JudgmentSaved)
    def judgment_saved(self, message: JudgmentSaved) -> None:
        self.saved += 1
        v = message.view
        line = Text(f"Saved: you said {message.verdict}", style="bold")
        if v is not None:
            line.append(f" on {one_line(v.case_key, 60)}; the grader said ")
            line.append(v.grader_verdict or "no verdict", style="bold")
            if v.grader_score is not None:
                line.append(f" (score {v.grader_score:g})")
            if v.grader_explanation:
                line.append(": ")
                line.append_text(safe_text(one_line(v.grader_explanation, 120)))
        self.query_one("#judge-last", Static).update(line)
        self.show_progress()

    def action_note(self) -> None:
        if self.current() is None:
            self.app.bell()
            return

        def keep(value: str | None) -> None:
            if value is not None:
                self.note = value or None
                self.show()

        self.app.push_screen(
            TextPrompt("Note on this result (saved with your answer)", self.note or ""), keep
        )

    def action_undo(self) -> None:
        if not self.done:
            self.app.bell()
            return
        index, _verdict = self.done.pop()
        self.undo_judgment(self.writes.ticket(), self.items[index], index)
        self.index = index
        self.note = None
        self.show()

    @work(thread=True, group="judge-write", exit_on_error=False)
    def undo_judgment(self, ticket: int, item: QueueItem, index: int) -> None:
        found: list[bool] = []

        def write() -> None:
            with Store(self.app.db_path) as store:
                found.append(
                    judgments.undo(
                        store,
                        item.ref,
                        item.criterion,
                        reviewer=self.reviewer,
                        purpose=item.purpose,
                    )
                    is not None
                )

        self.writes.run(ticket, write)
        self.post_message(JudgmentUndone(index, bool(found and found[0])))

    @on(JudgmentUndone)
    def judgment_undone(self, message: JudgmentUndone) -> None:
        self.saved -= 1 if message.found else 0
        self.query_one("#judge-last", Static).update(
            Text("Undone: judge this result again.", style="bold")
        )
        self.show_progress()

    def action_leave(self) -> None:
        """Leave; when the session's gold answers are to be told, after telling them."""
        self.leaving = True
        if not self.end_session():
            self.app.pop_screen()

    def worker_failed(self, worker: Worker[object], error: BaseException) -> None:
        """A judgment or an undo the store did not take: said where the answers are shown
        (the dialog follows), and the result is to be judged again."""
        if worker.name in ("save_judgment", "undo_judgment"):
            self.query_one("#judge-last", Static).update(
                Text(
                    "NOT SAVED: the store did not take your last answer; undo (u) and answer "
                    "again, or leave and judge the rest later",
                    style="bold red",
                )
            )

    # -- the end of a session: how the reviewer did on gold --------------------------------------

    def end_session(self) -> bool:
        """Tell how the session went on gold (once); whether that is under way."""
        if self.ended or self.feedback == "never" or not self.done:
            return False
        self.ended = True
        self.tell_gold([self.items[i] for i, _ in self.done])
        return True

    @work(thread=True, group="judge-end", exit_on_error=False)
    def tell_gold(self, judged: list[QueueItem]) -> None:
        writes_done = self.writes.ticket()
        self.writes.run(writes_done, lambda: None)  # after every write of the session
        with Store(self.app.db_path) as store:
            fb = queue.feedback(store.conn, self.reviewer, judged)
            keys = grader.case_keys(store.conn, (r.case_id for r in fb.wrong))
        self.post_message(SessionEnded(fb, {k: v[1] for k, v in keys.items()}))

    @on(SessionEnded)
    def session_ended(self, message: SessionEnded) -> None:
        fb = message.feedback
        if fb.answered:
            self.tell(fb, message.keys)
        if self.leaving:
            self.app.pop_screen()

    def tell(self, fb: queue.GoldFeedback, keys: dict[int, str]) -> None:
        wrong = ", ".join(one_line(keys.get(r.case_id, "?"), 40) for r in fb.wrong[:5])
        self.notify(
            f"Gold check: {fb.right} of {fb.answered} hidden gold items right"
            + (f"; missed {wrong}" if wrong else ""),
            title="Session ended",
            timeout=15,
        )
