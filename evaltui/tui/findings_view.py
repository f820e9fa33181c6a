"""A case's triage in the case pane: the line of its state now, the label guide's rubric
lines of the classes reviewers dispute on it, and its findings (who said what, when), as
a table where it fits the pane, else one finding per few lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evaltui.compare import CaseRow
from evaltui.review.triage_state import current_by_reviewer
from evaltui.textsafe import one_line, visible

if TYPE_CHECKING:
    from evaltui.review.taxonomy import Taxonomy

COLUMNS = ("when", "who", "what", "class", "owner", "verdict", "note")
KINDS = {"label": "label", "undo": "undo", "adjudication": "adjudicate"}


def triage_line(row: CaseRow) -> Text:
    t = Text()
    if row.triage_state is None:
        t.append("untriaged", style="dim")
        return t
    style = {"disagreement": "bold yellow", "adjudicated": "bold cyan"}.get(
        row.triage_state, "bold"
    )
    t.append(row.triage_state, style=style)
    t.append(f"  class {row.triage_class or '-'}  owner ")
    t.append(visible(row.triage_owner or "-", limit=60))
    t.append(f"  verdict {row.triage_verdict or '-'}")
    return t


@dataclass(frozen=True)
class Rubric:
    """The label guide as the case pane reads it: each class's name, owner and rubric line
    (its description), and which taxonomy they are from."""

    source: str = ""
    sha256: str = ""
    lines: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # key: name, owner, line

    @classmethod
    def of(cls, taxonomy: Taxonomy) -> Rubric:
        lines = {c.key: (c.name, c.owner, c.description) for c in taxonomy.classes}
        return cls(taxonomy.source, taxonomy.sha256, lines)


def disputed_classes(row: CaseRow, history: list[Any]) -> list[str]:
    """The classes reviewers disagree on for a case in disagreement: those the verified
    current opinions name, in the order first named (fewer than two: not a dispute on a
    class, e.g. on a verdict)."""
    if row.triage_state != "disagreement":
        return []
    current = current_by_reviewer([f for f in history if f.verified]).values()
    named = sorted(current, key=lambda f: f.key)
    keys = list(dict.fromkeys(k for f in named if (k := f.class_key) is not None))
    return keys if len(keys) > 1 else []


def rubric_renderable(row: CaseRow, history: list[Any], rubric: Rubric | None) -> Text | None:
    """For a dispute on a class, each disputed class's rubric line from the label guide
    (the taxonomy in force), where the dispute is settled: its key, name and owner, then
    the line itself, all data shown literally."""
    keys = disputed_classes(row, history)
    if not keys or rubric is None:
        return None
    t = Text()
    t.append("disputed classes: the label guide's rubric lines", style="bold yellow")
    t.append(f"  ({visible(rubric.source, limit=200)}, sha256 {rubric.sha256[:12]})", style="dim")
    for key in keys:
        t.append("\n")
        found = rubric.lines.get(key)
        t.append(one_line(key, 40), style="bold")
        if found is None:
            t.append("  not in the taxonomy in force (no rubric line)", style="yellow")
            continue
        name, owner, line = found
        t.append(f"  {one_line(name, 80)}, owner {one_line(owner, 80)}\n  ")
        t.append(visible(line, limit=1000) if line else "(no rubric line)")
    return t


def _cells(f: Any) -> list[Text]:
    return [
        Text(one_line(f.at[:16].replace("T", " "), 16)),
        # who it speaks for: a finding from an unsigned file shows "(unverified)"
        Text(one_line(f.identity, 32), style="" if f.verified else "yellow"),
        Text(KINDS.get(f.kind, f.kind), style="yellow" if f.kind != "label" else ""),
        Text(one_line(f.class_name or f.class_key or "-", 28)),
        Text(one_line(f.owner or "-", 20)),
        Text(f.verdict or "-"),
        Text(visible(f.note or "", limit=300)),
    ]


def history_renderable(rows: list[Any], width: int | None = None) -> RenderableType | None:
    """The findings on a case, oldest first: who said what, when. A table when every
    cell but the note fits `width` on one line (None: the width is not known); else each
    finding on its own lines, the stamp first, so no stamp or name is ever broken."""
    if not rows:
        return None
    cells = [_cells(f) for f in rows]
    natural = (
        sum(
            max(len(name), *(r[i].cell_len for r in cells)) + 2
            for i, name in enumerate(COLUMNS[:-1])
        )
        + 12
    )  # (the note: at least 12 cells)
    if width is None or natural <= width:
        table = Table(box=None, show_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        for name in COLUMNS[:-1]:
            table.add_column(name, no_wrap=True)
        table.add_column("note", overflow="fold")
        for r in cells:
            table.add_row(*r)
        return table
    blocks: list[RenderableType] = []
    for when, who, what, cls, owner, verdict, note in cells:
        head = Text.assemble(when, "  ", who, "  ", what)
        body = Text.assemble("  class ", cls, "  owner ", owner, "  verdict ", verdict)
        blocks += [head, body] + ([Text.assemble("  note ", note)] if note.plain else [])
    return Group(*blocks)
