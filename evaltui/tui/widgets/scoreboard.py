"""The scoreboard: pass rates by segment (baseline, candidate, fallback, delta, flips, significance)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual import on

from evaltui.compare import SegmentRecord
from evaltui.exporters.text import fmt_delta, fmt_p, pct, segment_label
from evaltui.stats import wilson
from evaltui.textsafe import one_line
from evaltui.tui.messages import SegmentChosen
from evaltui.tui.widgets.safe import DataTable

if TYPE_CHECKING:
    from evaltui.compare.verified import VerifiedRow

BAR_WIDTH = 21  # cells for 0%..100%: one per 5%


def rate_bar(seg: SegmentRecord, fallback: bool) -> Text:
    """The segment's rates on one 0..100% line: the candidate ● with its 95% interval
    ─, the baseline │, the fallback f; read by their symbols, not their colours."""
    interval = (wilson(seg.candidate_passed, seg.n) or (0.0, 0.0)) if seg.n else None
    marks = [(seg.fallback_rate, "f", "magenta")] if fallback else []
    return _bar(seg.baseline_rate, seg.candidate_rate, interval, seg.delta, marks)


def _bar(
    baseline: float | None,
    candidate: float | None,
    interval: Sequence[float] | None,
    delta: float | None,
    marks: list[tuple[float | None, str, str]],
) -> Text:
    cells = ["·"] * BAR_WIDTH
    styles = ["dim"] * BAR_WIDTH

    def at(rate: float) -> int:
        return min(BAR_WIDTH - 1, max(0, round(rate * (BAR_WIDTH - 1))))

    if interval is not None:
        for i in range(at(interval[0]), at(interval[1]) + 1):
            cells[i], styles[i] = "─", _delta_style(delta)
    marks = [
        *marks,
        (baseline, "│", "bold cyan"),
        (candidate, "●", "bold " + _delta_style(delta)),
    ]
    for rate, mark, style in marks:
        if rate is not None:
            cells[at(rate)], styles[at(rate)] = mark, style
    bar = Text()
    for cell, style in zip(cells, styles, strict=True):
        bar.append(cell, style=style)
    return bar


def _delta_style(delta: float | None) -> str:
    return "red" if (delta or 0) < 0 else "green" if (delta or 0) > 0 else ""


def _verified_cells(v: VerifiedRow, fallback: bool) -> list[Text]:
    delta = fmt_delta(v.delta)
    if v.delta_interval is not None:  # its 95% interval on a line of its own, under it: the
        lo, hi = v.delta_interval  # column stays as narrow as the segments' deltas allow
        delta += f"\n{lo * 100:+.0f} to {hi * 100:+.0f}"
    flips = [v.regressed, v.improved]
    return [
        Text(one_line(v.label, 32), style="italic"),
        Text(f"{v.n:,}", justify="right"),
        Text(pct(v.baseline), justify="right"),
        Text(pct(v.candidate), justify="right"),
        Text(delta, justify="right", style=_delta_style(v.delta)),
        *([Text("")] if fallback else []),
        *(Text("" if f is None else str(f), justify="right") for f in flips),
        Text(""),
        Text(""),
        Text(""),
        _bar(v.baseline, v.candidate, v.candidate_interval, v.delta, [])
        if v.candidate is not None
        else Text(""),
    ]


class Scoreboard(DataTable[Text]):
    """One row per segment; Enter on a row posts `SegmentChosen`."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.segments: list[SegmentRecord] = []
        self.fallback = False
        self.verified: list[VerifiedRow] = []

    def show_verified(self, verified: Sequence[VerifiedRow]) -> None:
        """(#27) The verified figures' rows under the segments', labelled as such: the
        grader's own rates on a judged criterion, those corrected for its errors (the
        delta with its interval), the audited delta. Enter on one of those does nothing."""
        if verified or self.verified:
            self.verified = list(verified)
            self.show(self.segments, self.fallback)

    def show(self, segments: list[SegmentRecord], fallback: bool) -> None:
        """The segments' rows, then the verified figures' (`show_verified`)."""
        self.segments, self.fallback = segments, fallback
        verified = self.verified
        self.clear(columns=True)
        cols = [
            "segment",
            "n",
            "baseline",
            "candidate",
            "delta",
            *(["fallback"] if fallback else []),
            "p>f",
            "f>p",
            "p",
            "p adj",
            "",
            "0%   candidate ● ─ 95%   100%",
        ]
        rows = []
        for seg in segments:
            delta = seg.delta
            cells = [
                Text(
                    one_line(segment_label(seg.dimension, seg.value), 32),
                    style="bold" if seg.dimension == "all" else "",
                ),
                Text(f"{seg.n:,}", justify="right"),
                Text(pct(seg.baseline_rate), justify="right"),
                Text(pct(seg.candidate_rate), justify="right"),
                Text(fmt_delta(delta), justify="right", style=_delta_style(delta)),
                *([Text(pct(seg.fallback_rate), justify="right")] if fallback else []),
                Text(str(seg.regressed), justify="right", style="red" if seg.regressed else ""),
                Text(str(seg.improved), justify="right", style="green" if seg.improved else ""),
                Text(fmt_p(seg.p_value), justify="right"),
                Text(fmt_p(seg.p_adjusted), justify="right"),
                Text("*", style="bold red" if (delta or 0) < 0 else "bold green")
                if seg.significant
                else Text(""),
                rate_bar(seg, fallback),
            ]
            rows.append(cells)
        rows += [_verified_cells(v, fallback) for v in verified]
        for i, name in enumerate(cols):
            width = max([len(name), *(cell_len(x) for r in rows for x in r[i].plain.split("\n"))])
            self.add_column(name, width=width)
        for i, r in enumerate(rows):
            self.add_row(*r, key=str(i), height=1 + max(x.plain.count("\n") for x in r))

    @property
    def highlighted_segment(self) -> tuple[str, str] | bool | None:
        """The highlighted row as a segment filter (None for "all"); False when there is no row."""
        if not self.segments or not 0 <= self.cursor_row < len(self.segments):
            return False
        seg = self.segments[self.cursor_row]
        return None if seg.dimension == "all" else (seg.dimension, seg.value)

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        segment = self.highlighted_segment
        if segment is not False:
            self.post_message(SegmentChosen(segment))  # type: ignore[arg-type]


def effect_table(
    before: list[SegmentRecord],
    after: list[SegmentRecord],
    only: set[tuple[str, str]] | None = None,
) -> Table:
    """Segment pass rates before and after leaving some cases out (a retirement's preview)."""
    table = Table(box=None, show_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for name in (
        "segment",
        "n",
        "baseline",
        "candidate",
        "delta",
        "",
        "n after",
        "baseline",
        "candidate",
        "delta",
    ):
        table.add_column(name, justify="left" if name in ("segment", "") else "right")
    after_by = {(s.dimension, s.value): s for s in after}
    for s in before:
        key = (s.dimension, s.value)
        if only is not None and key not in only and s.dimension != "all":
            continue
        a = after_by.get(key)
        changed = a is None or a.n != s.n
        table.add_row(
            Text(
                one_line(segment_label(s.dimension, s.value), 30),
                style="bold" if changed else "dim",
            ),
            f"{s.n:,}",
            pct(s.baseline_rate),
            pct(s.candidate_rate),
            fmt_delta(s.delta),
            "→",
            f"{a.n:,}" if a else "0",
            pct(a.baseline_rate if a else None),
            pct(a.candidate_rate if a else None),
            fmt_delta(a.delta if a else None),
        )
    return table
