"""What the compare screen's triage and lifecycle keys write, without Textual: each triage
action as a `Label` (which case, which fields, whether to move on, what the status line
says), the reads and writes its worker runs off the UI thread, and which cases a write
did not reach (NOT SAVED) until one does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evaltui.review import lifecycle, triage
from evaltui.store import Store
from evaltui.textsafe import one_line
from evaltui.tui.messages import NotSaved, Previewed, Saved, StatusRequest
from evaltui.tui.widgets.scoreboard import effect_table

if TYPE_CHECKING:
    from evaltui.compare import CaseRow, Comparison, Filter
    from evaltui.models import StepRef
    from evaltui.review.taxonomy import FailureClass, Taxonomy
    from evaltui.review.triage import Finding

# the lifecycle picker's choices beside the retire reasons
QUARANTINE = ("quarantine", "quarantine: keep visible, leave out of the gate, decide later")


@dataclass(frozen=True)
class Label:
    """One triage action: on which case, which fields, whether the cursor then moves on
    to the next untriaged case, and what the status line says."""

    case_id: int
    fields: dict[str, Any]
    advance: bool
    text: str
    in_list: bool = False  # advance to the next case in the list, untriaged or not


def class_label(row: CaseRow, cls: FailureClass, call: tuple[int, StepRef] | None) -> Label:
    """A failure class (and the highlighted tool call it points at, if any)."""
    fields: dict[str, Any] = {"failure_class": cls}
    at = ""
    if call is not None:
        fields["step"] = call[1]  # the path's call (a StepRef)
        at = f" (at call {call[0] + 1}: {call[1].tool})"
    return Label(row.case_id, fields, True, f"{row.case_key}: {cls.name} → {cls.owner}{at}")


def numbered_label(
    row: CaseRow, taxonomy: Taxonomy, number: int, call: tuple[int, StepRef] | None
) -> Label | str:
    """Keys 1-9: the taxonomy's active class of that number (or why there is none)."""
    active = taxonomy.active
    if number > len(active):
        return f"No class {number}: the taxonomy has {len(active)}"
    return class_label(row, active[number - 1], call)


def tidy(value: str) -> str | None:
    """A prompt's answer as stored: spaces typed at either end dropped (never a control
    or newline kept from the original), None when nothing is left."""
    return value.strip(" ") or None


def owner_label(row: CaseRow, value: str) -> Label:
    owner = tidy(value)  # the original owner unless the reviewer changed it
    return Label(row.case_id, {"owner": owner}, False, f"{row.case_key}: owner {owner or '(none)'}")


def verdict_label(row: CaseRow, verdict: str) -> Label:
    return Label(row.case_id, {"verdict": verdict}, False, f"{row.case_key}: verdict {verdict}")


def accept_label(row: CaseRow) -> Label:
    """The verdict "accepted" (a known, accepted change), then the next untriaged case."""
    return Label(row.case_id, {"verdict": "accepted"}, True, f"{row.case_key}: accepted")


def note_label(row: CaseRow, value: str, and_next: bool = False) -> Label:
    """A note; `and_next`: then the next case in the list (open coding, #29). A note
    is not triage: the case stays untriaged, so it is the list's next case, not the
    next untriaged one (that would be this case's neighbour all the same)."""
    return Label(row.case_id, {"note": tidy(value)}, and_next, f"{row.case_key}: note", and_next)


def my_note(history: list[Finding], reviewer: str) -> str:
    """The reviewer's own note on the case, to edit (verified findings only: an imported
    unverified line in their name never fills it; an adjudication is not their note)."""
    mine = [
        f for f in history if f.reviewer == reviewer and f.verified and f.kind != "adjudication"
    ]
    return (mine[-1].note if mine else "") or ""


def status_choices(row: CaseRow) -> list[tuple[str, str]]:
    """The lifecycle picker's choices beside the retire reasons."""
    extra = [QUARANTINE]
    if row.status != "active":
        extra.insert(0, ("restore", f"restore: make it active again (now {row.status})"))
    return extra


def status_of(choice: str) -> tuple[str, str | None]:
    """A picked choice (not "restore") as (status, retire reason)."""
    return ("quarantined", None) if choice == "quarantine" else ("retired", choice.split(":", 1)[1])


@dataclass
class NotSavedCases:
    """Cases whose last write did not commit, with what it was, until one commits."""

    texts: dict[int, str] = field(default_factory=dict)

    def failed(self, case_ids: list[int], text: str) -> None:
        for case_id in case_ids:
            self.texts[case_id] = text

    def committed(self, case_id: int) -> None:
        self.texts.pop(case_id, None)

    def alert(self, row: CaseRow | None) -> str | None:
        text = self.texts.get(row.case_id) if row else None
        return None if text is None else f"NOT SAVED: {text} (the store did not take it; try again)"


# -- off the UI thread (the screen's workers) ------------------------------------------------


@contextmanager
def committing(
    post: Callable[[NotSaved], object], case_ids: list[int], text: str
) -> Iterator[None]:
    """Around a write in a worker: if it does not commit, say NOT SAVED (`post`), then
    the error goes on to the dialog (screens/base.py)."""
    try:
        yield
    except Exception as exc:
        post(NotSaved(case_ids, text, getattr(exc, "message", None) or str(exc)))
        raise


def commit_label(open_store: Callable[[], Store], cmp: Comparison, label: Label) -> None:
    with open_store() as store:  # as the app's reviewer
        triage.label(store, cmp.baseline.id, cmp.candidate.id, label.case_id, **label.fields)


def saved_label(cmp: Comparison, flt: Filter, label: Label) -> Saved:
    """After the commit: the row as it is now, the next untriaged case (to move on to)
    and the progress, in one message: one frame on screen."""
    here = cmp.row(label.case_id)
    within = flt if label.in_list else flt.with_(triage="untriaged")
    next_row = cmp.neighbour(here, within, step=1) if label.advance else None
    progress = cmp.triage_progress()
    said = {"no_next": "No case after this one in the list"} if label.in_list else {}
    return Saved(
        label.case_id, label.text + " (saved)", label.advance, next_row, here, progress, **said
    )


def undo_last(open_store: Callable[[], Store], cmp: Comparison) -> Saved:
    """Undo the reviewer's last action here; the status line says what it was, on which
    case ("Undid: class unsupported_claim on qa/x (saved)")."""
    base, cand = cmp.baseline.id, cmp.candidate.id
    with open_store() as store:  # the app's reviewer's last action
        f = triage.undo(store, base, cand)
        undone = None
        if f is not None:
            undone = next(
                (h for h in triage.history(store, base, cand, f.case_id) if h.uid == f.undoes), None
            )
    if f is None:
        return Saved(-1, "Nothing of yours to undo in this comparison", False, None)
    here = cmp.row(f.case_id)
    progress = cmp.triage_progress()
    where = f"{here.suite}/{here.case_key}" if here is not None else f.case_key or "?"
    what = undone_action(undone, f) if undone is not None else "your last action"
    text = f"Undid: {what} on {one_line(where, 80)} (saved)"
    return Saved(f.case_id, text, False, here, here, progress)


def undone_action(undone: Finding, now: Finding) -> str:
    """What an undone action had set, in words: the fields where it differs from the
    state the undo put back (`now`). A class names the class only (its owner came with
    it); an adjudication says so."""
    was, back = undone.opinion, now.opinion
    parts = []
    if was.class_key != back.class_key:
        parts.append(f"class {one_line(was.class_key or '(none)', 40)}")
    elif was.step != back.step:
        parts.append("the call it points at")
    if was.owner != back.owner and was.class_key == back.class_key:
        parts.append(f"owner {one_line(was.owner or '(none)', 40)}")
    if was.verdict != back.verdict:
        parts.append(f"verdict {one_line(was.verdict or '(none)', 40)}")
    if was.note != back.note:
        parts.append(f"note “{one_line(was.note or '', 40)}”" if was.note else "note removed")
    said = ", ".join(parts) or "an action that changed nothing"
    return f"adjudication ({said})" if undone.kind == "adjudication" else said


def status_effect(cmp: Comparison, ids: list[int], request: StatusRequest, key: str) -> Previewed:
    """The figures with and without the cases, for the confirmation."""
    row = cmp.row(ids[0])
    only = {(d, v) for d, v in (row.segments.items() if row else []) if v is not None}
    table = effect_table(cmp.segments(), cmp.segments(without=ids), only)
    verb = {"retired": "Retire", "quarantined": "Quarantine"}.get(request.status, "Restore")
    title = (
        f"{verb} {one_line(key, 40)} ({request.reason or request.status})? Effect on the figures:"
    )
    return Previewed(ids, request, table, title)


def commit_status(open_store: Callable[[], Store], ids: list[int], request: StatusRequest) -> None:
    with open_store() as store:
        lifecycle.set_status(store, ids, request.status, request.reason, request.note)
