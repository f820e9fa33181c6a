"""A case's triage in the case pane: the line of its state now, and its findings (who
said what, when), as a table where it fits the pane, else one finding per few lines.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evaltui.compare import CaseRow
from evaltui.textsafe import one_line, visible

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
    natural = sum(max(len(name), *(r[i].cell_len for r in cells)) + 2 for i, name in
                  enumerate(COLUMNS[:-1])) + 12  # (the note: at least 12 cells)  # fmt: skip
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
