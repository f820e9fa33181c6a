"""What the compare screen's keys ask before they act (a picker, a prompt, the effect to
confirm), and what each answer becomes: a triage `Label` to commit, a status change to
preview, a reducer or segments to rebuild with, something to copy. A plain class: it is
given how to ask (push a modal screen with a callback) and what to do with the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from evaltui.errors import InputError
from evaltui.textsafe import one_line
from evaltui.tui import triage_desk as desk
from evaltui.tui.messages import StatusRequest
from evaltui.tui.screens.help import keys_by_id
from evaltui.tui.screens.prompts import (
    TRIAGED_HINT,
    ClassPicker,
    ConfirmEffect,
    CopyPicker,
    OptionPicker,
    ReasonPicker,
    TextPrompt,
    VerdictPicker,
    note_prompt,
)
from evaltui.tui.view_choices import COPIES, REDUCERS, ViewChoices, copy_file, copy_text

if TYPE_CHECKING:
    from textual.screen import Screen

    from evaltui.compare import CaseDetail, CaseRow, Comparison
    from evaltui.review.taxonomy import Taxonomy
    from evaltui.review.triage import Finding
    from evaltui.tui.messages import Previewed
    from evaltui.tui.screens.base import AppScreen

    Ask = Callable[[Screen[Any], Callable[[Any], None]], object]


@dataclass
class Questions:
    """`ask` shows a modal screen and calls back with its answer; the rest act on answers."""

    ask: Ask
    save: Callable[[desk.Label], object]  # commit a triage action
    preview: Callable[[list[int], StatusRequest, str], object]  # show a status change's effect
    write_status: Callable[[list[int], StatusRequest, str], object]  # commit a status change
    tell: Callable[[str], None]  # a short notice
    rebuild: Callable[[], None]  # the comparison again, with the view's new choices

    # -- triage -----------------------------------------------------------------------------

    def pick_class(self, row: CaseRow, taxonomy: Taxonomy, call: Any) -> None:
        def chosen(key: str | None) -> None:
            if key:
                self.save(desk.class_label(row, taxonomy.get(key), call))

        self.ask(ClassPicker(taxonomy, row.triage_class), chosen)

    def owner(self, row: CaseRow) -> None:
        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(desk.owner_label(row, value))

        title = f"Owner of {one_line(row.case_key, 40)} (Enter saves, Esc cancels)"
        self.ask(TextPrompt(title, row.triage_owner or "", hint=TRIAGED_HINT), chosen)

    def verdict(self, row: CaseRow) -> None:
        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(desk.verdict_label(row, value))

        self.ask(VerdictPicker(row.triage_verdict), chosen)

    def note(
        self, row: CaseRow, history: list[Finding], reviewer: str, and_next: bool = False
    ) -> None:
        """A one-line note; `and_next`: then the next case in the list (#29)."""

        def chosen(value: str | None) -> None:
            if value is not None:
                self.save(desk.note_label(row, value, and_next))

        then = ", then the next case" if and_next else ""
        title = f"Note on {one_line(row.case_key, 40)} (Enter saves{then}, Esc cancels)"
        self.ask(TextPrompt(title, desk.my_note(history, reviewer), hint=TRIAGED_HINT), chosen)

    # -- lifecycle --------------------------------------------------------------------------

    def case_status(self, row: CaseRow) -> None:
        """Retire (with a reason), quarantine or restore: a note, then the effect on the
        figures to confirm (restoring writes at once)."""

        def chosen(choice: str | None) -> None:
            if choice == "restore":
                request = StatusRequest("active", None, None)
                self.write_status([row.case_id], request, f"{row.case_key}: restored")
            elif choice:
                status, reason = desk.status_of(choice)

                def note_given(note: str | None) -> None:
                    if note is not None:
                        request = StatusRequest(status, reason, note.strip() or None)
                        self.preview([row.case_id], request, row.case_key)

                self.ask(
                    note_prompt(f"Note: why {status} {one_line(row.case_key, 40)}"), note_given
                )

        title = f"{one_line(row.case_key, 50)}: status"
        self.ask(ReasonPicker(title, None, desk.status_choices(row)), chosen)

    def confirm_status(self, message: Previewed, key: str) -> None:
        def confirmed(ok: bool | None) -> None:
            if ok:
                self.write_status(message.ids, message.request, f"{key}: {message.request.status}")

        self.ask(ConfirmEffect(message.title, message.table), confirmed)

    # -- the view ---------------------------------------------------------------------------

    def reducer(self, view: ViewChoices) -> None:
        current = view.reducer_choice or view.reducer.label

        def chosen(key: str | None) -> None:
            if key and key != current:
                view.choose_reducer(key)
                self.tell(f"Reducer: {key}")
                self.rebuild()

        options = [(key, Text(label)) for key, label in REDUCERS]
        title = "Reducer: how a case's samples become one pass/fail"
        self.ask(OptionPicker(title, options, current), chosen)

    def segments(self, view: ViewChoices, cmp: Comparison, refuse: Callable[[str], None]) -> None:
        runs = [r for r in (cmp.baseline, cmp.candidate, cmp.fallback) if r is not None]
        names = sorted({k for r in runs for k in r.attribute_values})
        title = "Segment by (attribute names, comma-separated; empty: the default). Known: "
        title += ", ".join(one_line(n, 30) for n in names[:30])

        def given(text: str | None) -> None:
            if text is None:
                return
            wanted = [w.strip() for w in text.split(",") if w.strip()]
            unknown = [w for w in wanted if w not in names]
            if unknown:
                refuse(f"No attribute {one_line(unknown[0], 40)} in these runs; segments unchanged")
                return
            view.dimensions = wanted or None
            self.rebuild()

        self.ask(TextPrompt(title, ", ".join(cmp.dimensions)), given)

    def copy(
        self,
        row: CaseRow,
        detail: CaseDetail,
        view: ViewChoices,
        history: list[Finding],
        copy: CopyTo,
    ) -> None:
        """`y`: the text chosen, sent to the terminal's clipboard (OSC 52, which nothing
        confirms: said so, with how to enable it), or written to a new file (`f`)."""

        def chosen(choice: str | None) -> None:
            if not choice:
                return
            what = choice.removeprefix("file:")
            text = copy_text(what, row, detail, view.reducer, history)
            if choice.startswith("file:"):
                try:
                    path = copy_file(what, detail, text, copy.folder)
                except InputError as exc:
                    copy.say(f"The {what} was not written: {exc.message}", severity="error")
                    return
                copy.say(f"Wrote the {what} ({len(text):,} characters) to {path}", timeout=30)
                return
            copy.clipboard(text)
            then = f"{copy.key} then {copy.file_key}"
            copy.say(
                f"Sent the {what} ({len(text):,} characters) to the terminal's clipboard "
                "(OSC 52). A terminal may ignore it, and tmux passes it on only with "
                f"`set -g set-clipboard on`: if nothing was copied, {then} writes it to a file.",
                timeout=20,
            )

        options = [(key, Text(label)) for key, label in COPIES]
        self.ask(CopyPicker(options, copy.file_key), chosen)


@dataclass
class CopyTo:
    """Where `y` sends the text: the terminal's clipboard (OSC 52), or a new file in
    `folder` (`y` then `f`: `key`, `file_key` as the app shows them); `say` tells what
    happened."""

    clipboard: Callable[[str], None]
    say: Callable[..., None]  # notify(message, severity=..., timeout=...)
    folder: Path
    key: str = "y"
    file_key: str = "f"


def copy_to(screen: AppScreen) -> CopyTo:
    """`y` on `screen`: the app's clipboard, the screen's notices, the folder evaltui was
    started in (as the gate's export), and the keys as the keymap left them."""
    copy_key = keys_by_id(screen).get("compare.copy", "y")
    file_key = screen.app.config.keymap.get("copy.to-file", "f").split(",")[0]
    return CopyTo(screen.app.copy_to_clipboard, screen.notify, Path.cwd(), copy_key, file_key)
