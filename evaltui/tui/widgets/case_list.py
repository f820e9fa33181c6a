"""The case list: one page of a comparison's cases (never a whole run); posts `CaseChosen`."""

from __future__ import annotations

from rich.text import Text
from textual import on

from evaltui.compare import CaseRow
from evaltui.textsafe import one_line
from evaltui.tui.messages import CaseChosen
from evaltui.tui.render import change_text, verdict_text
from evaltui.tui.widgets.safe import DataTable


def class_cell(row: CaseRow) -> Text:
    if row.triage_state == "disagreement":
        return Text("disagree!", style="bold yellow")
    return Text(
        one_line(row.triage_class or "", 18),
        style="cyan" if row.triage_state == "adjudicated" else "",
    )


class CaseList(DataTable[Text]):
    """Draws the rows it is given; moving the cursor or Enter posts `CaseChosen`."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]

    def show(
        self, rows: list[CaseRow], *, dimensions: list[str], risk: str | None, fallback: bool
    ) -> None:
        self.clear(columns=True)
        cells = []
        for row in rows:
            cells.append(
                [
                    change_text(row.change),
                    Text(one_line(row.case_key, 24)),
                    verdict_text(row.baseline, row.baseline_samples),
                    verdict_text(row.candidate, row.candidate_samples),
                    *([verdict_text(row.fallback)] if fallback else []),
                    Text(
                        one_line(row.segments.get(risk) or "", 10)
                        if risk and risk in dimensions
                        else ""
                    ),
                    class_cell(row),
                    Text(one_line(row.triage_owner or "", 14)),
                ]
            )
        names = [
            "change", "case", "base", "cand", *(["fb"] if fallback else []), risk or "", "class", "owner",
        ]  # fmt: skip
        for i, name in enumerate(names):
            width = max([len(name), 4, *(c[i].cell_len for c in cells)])
            self.add_column(name, width=width)
        for row, c in zip(rows, cells, strict=True):
            self.add_row(*c, key=str(row.case_id))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self.post_message(CaseChosen(int(event.row_key.value), open=False))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self.post_message(CaseChosen(int(event.row_key.value), open=True))
