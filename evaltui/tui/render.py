"""Rich renderables for a case: pure functions of the data, shared by the panes and screens.

Every string from data goes through `textsafe` (literal, control characters
made visible) and into `rich.text.Text`, never into markup.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evaltui.compare import CHANGES, CaseDetail, CaseRow, Comparison, Reducer, Sample
from evaltui.compare.rows import reducer_note
from evaltui.textsafe import one_line, safe_text, visible
from evaltui.trajectory import ToolStats
from evaltui.tui.findings_view import Rubric, history_renderable, rubric_renderable, triage_line
from evaltui.tui.path_view import path_renderables

VERDICT_STYLE = {"pass": "green", "fail": "red", "error": "yellow", "limit": "yellow",
                 "unscored": "blue"}  # fmt: skip
CHANGE_STYLE = {
    "regressed": "bold red",
    "errored": "yellow",
    "limit_hit": "yellow",
    "improved": "green",
    "output_changed": "cyan",
    "tools_changed": "cyan",
    "dropped": "magenta",
    "added": "magenta",
    "unscored": "blue",
    "still_failing": "red",
    "still_passing": "dim",
}
CHANGE_LABEL = {
    "regressed": "REGRESSED",
    "errored": "ERRORED",
    "limit_hit": "LIMIT HIT",
    "improved": "improved",
    "output_changed": "output changed",
    "tools_changed": "tools changed",
    "dropped": "dropped",
    "added": "added",
    "unscored": "no verdict",
    "still_failing": "still failing",
    "still_passing": "still passing",
}
DIFF_TOKEN_LIMIT = 4000  # beyond this many words per side, outputs are shown without marks
_TOKEN = re.compile(r"\s+|[^\s]+")


def verdict_text(verdict: str | None, samples: tuple[int, int] | None = None) -> Text:
    if verdict is None:
        return Text("-", style="dim")
    label = verdict
    if samples and samples[1] > 1:
        label += f" {samples[0]}/{samples[1]}"
    return Text(label, style=VERDICT_STYLE.get(verdict, ""))


def change_text(change: str) -> Text:
    return Text(CHANGE_LABEL.get(change, change), style=CHANGE_STYLE.get(change, ""))


def with_production(text: Text, production: Sequence[str], corrected: str | None = None) -> Text:
    """The header's counts and, with the traffic weights in force, the production
    estimate's first two lines (#28: what users will see), the corrected estimate's line
    between them when asked for, shown literally."""
    lines = [*production[:1], *([corrected] if corrected else []), *production[1:2]]
    for line in lines:
        text.append("\n" + visible(line, limit=400), style="bold" if "estimate" in line else "")
    return text


def title_text(cmp: Comparison) -> Text:
    """The compare screen's title: the runs and the reducer."""
    t = Text("evaltui · compare  ", style="bold")
    t.append(one_line(cmp.baseline.name, 30))
    t.append(" → ", style="bold")
    t.append(one_line(cmp.candidate.name, 30))
    if cmp.fallback:
        t.append("  fallback ", style="dim")
        t.append(one_line(cmp.fallback.name, 24))
    t.append(f"   reducer {cmp.reducer.label}", style="dim")
    note = reducer_note(cmp.reducer, cmp.baseline, cmp.candidate, cmp.fallback)
    if note:
        t.append(f"  ({note})", style="yellow")
    return t


def counts_text(
    counts: dict[str, int],
    statuses: dict[str, int],
    progress: dict[str, tuple[int, int]],
    *,
    included: bool,
    tools: dict[str, ToolStats | None] | None = None,
) -> Text:
    """Cases by change, the statuses left out (or included), triage progress, and for
    agent runs a line of tool statistics per run (the scoreboard's legend is
    `legend_text`'s)."""
    t = Text()
    for change in CHANGES:
        n = counts.get(change, 0)
        if n or change in ("regressed", "improved"):
            t.append_text(change_text(change))
            t.append(f" {n:,}   ")
    hidden = [f"{n} {s}" for s, n in statuses.items() if s != "active" and n]
    if hidden:
        label = "included: " if included else "excluded: "
        t.append(label + ", ".join(hidden) + "   ", style="yellow")
    done, total = progress.get("regressed", (0, 0))
    t.append(f"{done} of {total} regressions triaged", style="bold" if done < total else "green")
    for name, st in (tools or {}).items():
        if not st:
            continue
        t.append(
            f"\n{name} tools: {st.tool_calls:,} calls ({st.calls_per_case or 0:.1f}/case)",
            style="dim",
        )
        if st.tool_errors:
            t.append(f", {st.tool_errors} errors", style="red")
        if st.cases_with_loops:
            t.append(f", {st.cases_with_loops} case(s) looping", style="bold yellow")
    return t


# What the scoreboard's columns mean, part by part: (long, short); `legend_text` takes
# the longest wording that fits the lines it has.
LEGEND = [
    ("rates: cases passing, samples reduced by the reducer (the runs screen's rate is per "
     "result)", "rates: cases passing (reducer)"),
    ("p>f / f>p: cases pass→fail / fail→pass", "p>f/f>p: pass→fail/fail→pass"),
    ("p: exact McNemar   p adj: Holm   *: p adj < 0.05", "p: McNemar, adj: Holm, *: adj < 0.05"),
    ("bars: ● candidate, ─ its 95% interval, │ baseline", "bars: ● cand ─ 95% │ base"),
]  # fmt: skip


def legend_text(width: int, lines: int, *, fallback: bool) -> Text:
    """The scoreboard's legend in at most `lines` lines of `width` cells (a part never
    broken across lines): every part in its long wording if that fits, else the first
    parts shortened, else the first parts that fit (the bars are read by their header)."""
    parts = [
        (
            long + (", f fallback" if fallback and long.startswith("bars") else ""),
            short + (" f fb" if fallback and short.startswith("bars") else ""),
        )
        for long, short in LEGEND
    ]
    longs, shorts = [long for long, _ in parts], [short for _, short in parts]
    choices = [shorts[:i] + longs[i:] for i in range(len(parts) + 1)]
    choices += [shorts[:n] for n in range(len(parts) - 1, 0, -1)]
    for choice in choices:
        packed = _pack(choice, width)
        if len(packed) <= lines and all(len(line) <= width for line in packed):
            return Text("\n".join(packed), style="dim")
    return Text("")


def _pack(parts: list[str], width: int) -> list[str]:
    """`parts` on lines of `width` cells, three spaces apart, each part whole."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += "   " + part
        else:
            lines.append(part)
    return lines


def diff_texts(
    old: str,
    new: str,
    limit: int | None = 20_000,
    lengths: tuple[int | None, int | None] = (None, None),
) -> tuple[Text, Text]:
    """Both texts, literal, with the words only in `old` / only in `new` marked.
    `lengths` are the whole texts' lengths when only their beginnings were read."""
    a_src = visible(old, multiline=True, limit=limit, length=lengths[0])
    b_src = visible(new, multiline=True, limit=limit, length=lengths[1])
    a_tok, b_tok = _TOKEN.findall(a_src), _TOKEN.findall(b_src)
    if len(a_tok) > DIFF_TOKEN_LIMIT or len(b_tok) > DIFF_TOKEN_LIMIT or a_src == b_src:
        return Text(a_src), Text(b_src)
    a_out, b_out = Text(), Text()
    matcher = difflib.SequenceMatcher(None, a_tok, b_tok, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        a_part, b_part = "".join(a_tok[i1:i2]), "".join(b_tok[j1:j2])
        if op == "equal":
            a_out.append(a_part)
            b_out.append(b_part)
        else:
            if a_part:
                a_out.append(a_part, style="bold red strike")
            if b_part:
                b_out.append(b_part, style="bold green underline")
    return a_out, b_out


def _section(title: str) -> Text:
    return Text(title, style="bold underline")


def _first(samples: list[Sample]) -> Sample | None:
    return samples[0] if samples else None


def _fmt_num(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def case_header(row: CaseRow | None, detail: CaseDetail) -> Text:
    text = Text()
    text.append(visible(f"{detail.suite} / {detail.case_key}", limit=300), style="bold")
    if row is not None:
        text.append("   ")
        text.append_text(change_text(row.change))
    if detail.status != "active":
        text.append(f"   [{detail.status}]", style="yellow")
        text.append("\n")
        text.append_text(status_text(detail))
    if detail.attributes:
        text.append("\n")
        text.append(
            "  ".join(
                f"{visible(k, limit=40)}={visible(v, limit=60)}"
                for k, v in sorted(detail.attributes.items())
            ),
            style="dim",
        )
    return text


def status_text(detail: CaseDetail) -> Text:
    """A retired or quarantined case: the reason, who and when, and their note."""
    t = Text(detail.status, style="bold yellow")
    if detail.status_reason:
        t.append(visible(f" as {detail.status_reason}", limit=80), style="yellow")
    if detail.status_by:
        t.append(visible(f" by {detail.status_by}", limit=80), style="yellow")
    if detail.status_at:
        t.append(f" on {detail.status_at[:16].replace('T', ' ')}", style="yellow")
    t.append(": ", style="yellow")
    if detail.status_note:
        t.append(visible(detail.status_note, limit=600))
    else:
        t.append("no note", style="dim")
    return t


def outputs_table(detail: CaseDetail, sample: int = 0, limit: int | None = 20_000) -> Table:
    """Baseline | candidate (| fallback) outputs of one sample, differences marked."""
    runs: list[tuple[str, list[Sample] | None]] = [
        ("baseline", detail.baseline),
        ("candidate", detail.candidate),
    ]
    if detail.fallback is not None:
        runs.append(("fallback", detail.fallback))
    table = Table(box=None, expand=True, show_edge=False, padding=(0, 1), header_style="bold")
    picked = [s[sample] if s and len(s) > sample else None for _, s in runs]
    for (name, _), s in zip(runs, picked, strict=True):
        head = Text(name)
        if s is not None:
            head.append(" ")
            head.append_text(verdict_text(s.verdict))
            if s.limit:  # a flag beside the tool's verdict (docs/formats.md)
                head.append(f" [{visible(s.limit, limit=80)} hit]", style="yellow")
        table.add_column(head, ratio=1, overflow="fold")
    base = picked[0].output if picked[0] else ""
    cand = picked[1].output if picked[1] else ""
    lengths = (
        picked[0].output_length if picked[0] else None,
        picked[1].output_length if picked[1] else None,
    )
    base_t, cand_t = diff_texts(base, cand, limit, lengths)
    cells: list[RenderableType] = [
        base_t if picked[0] else Text("(not in this run)", style="dim"),
        cand_t if picked[1] else Text("(not in this run)", style="dim"),
    ]
    if len(picked) == 3:
        fb = picked[2]
        cells.append(
            safe_text(fb.output, multiline=True, limit=limit, length=fb.output_length)
            if fb
            else Text("(not in this run)", style="dim")
        )
    for i, (s, cell) in enumerate(zip(picked, cells, strict=True)):
        if s is not None and s.error:
            cell_text = Text()
            cell_text.append("error: ", style="yellow")
            cell_text.append(visible(s.error, multiline=True, limit=2000), style="yellow")
            if isinstance(cell, Text) and cell.plain:
                cell_text.append("\n")
                cell_text.append_text(cell)
            cells[i] = cell_text
    table.add_row(*cells)
    return table


def criteria_table(detail: CaseDetail, reducer: Reducer) -> Table | None:
    changes = detail.criteria_changes(reducer)
    names = set(changes)
    scores: dict[str, list[str]] = {}
    cols: list[tuple[str, list[Sample] | None]] = [
        ("baseline", detail.baseline),
        ("candidate", detail.candidate),
    ]
    if detail.fallback is not None:
        cols.append(("fallback", detail.fallback))
    for i, (_, samples) in enumerate(cols):
        for s in samples or []:
            for name in s.criteria:
                names.add(name)
        for name in names:
            scores.setdefault(name, [""] * len(cols))
        for name in names:
            vals = [s.criteria.get(name, {}) for s in samples or [] if name in s.criteria]
            verdicts: list[str] = [str(v["verdict"]) for v in vals if v.get("verdict")]
            nums: list[float] = [
                float(v["score"]) for v in vals if isinstance(v.get("score"), int | float)
            ]
            parts: list[str] = []
            if verdicts:
                passed = sum(v == "pass" for v in verdicts)
                parts.append(f"{passed}/{len(verdicts)} pass" if len(verdicts) > 1 else verdicts[0])
            if nums:
                parts.append(f"{sum(nums) / len(nums):.2f}")
            scores[name][i] = " ".join(parts)
    if not names:
        return None
    table = Table(box=None, show_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    table.add_column("criterion")
    for name, _ in cols:
        table.add_column(name)
    table.add_column("")
    for name in sorted(names):
        b, c = changes.get(name, (None, None))
        mark = Text("")
        if b == "pass" and c == "fail":
            mark = Text("regressed", style="bold red")
        elif b == "fail" and c == "pass":
            mark = Text("improved", style="green")
        row: list[Any] = [Text(one_line(name, 30))]
        for i in range(len(cols)):
            cell = scores[name][i]
            style = "red" if "fail" in cell else ("green" if "pass" in cell else "")
            row.append(Text(cell or "-", style=style))
        row.append(mark)
        table.add_row(*row)
    return table


def timing_text(detail: CaseDetail) -> Text:
    text = Text()
    runs: list[tuple[str, list[Sample] | None]] = [
        ("baseline", detail.baseline),
        ("candidate", detail.candidate),
    ]
    if detail.fallback is not None:
        runs.append(("fallback", detail.fallback))
    for name, samples in runs:
        if not samples:
            continue
        lat = [s.latency_ms for s in samples if s.latency_ms is not None]
        cost = [s.cost for s in samples if s.cost is not None]
        text.append(f"{name}: ", style="bold")
        text.append(f"latency {_fmt_num(max(lat) if lat else None, ',.0f')} ms")
        if len(lat) > 1:
            text.append(" (max of samples)", style="dim")
        text.append(f"  cost {_fmt_num(sum(cost) if cost else None, '.5f')}   ")
    return text


def samples_table(detail: CaseDetail) -> Table | None:
    """Every sample of every run, one line each: shown when a case has several."""
    n = max(len(detail.baseline), len(detail.candidate), len(detail.fallback or []))
    if n <= 1:
        return None
    table = Table(box=None, show_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    table.add_column("sample")
    cols: list[tuple[str, list[Sample] | None]] = [
        ("baseline", detail.baseline),
        ("candidate", detail.candidate),
    ]
    if detail.fallback is not None:
        cols.append(("fallback", detail.fallback))
    for name, _ in cols:
        table.add_column(name, ratio=1, overflow="ellipsis", no_wrap=True)
    for i in range(n):
        row: list[Any] = [Text(str(i))]
        for _, samples in cols:
            s = samples[i] if samples and i < len(samples) else None
            if s is None:
                row.append(Text("-", style="dim"))
            else:
                t = verdict_text(s.verdict)
                if s.limit:
                    t.append(f" [{visible(s.limit, limit=80)} hit]", style="yellow")
                t.append(" ")
                t.append(one_line(s.output or s.error or "", 200))
                row.append(t)
        table.add_row(*row)
    return table


def case_renderable(
    row: CaseRow | None,
    detail: CaseDetail,
    reducer: Reducer,
    *,
    full: bool = False,
    history: list[Any] | None = None,
    path_cursor: int | None = None,
    path_unfolded: bool = False,
    width: int | None = None,
    rubric: Rubric | None = None,
) -> Group:
    """The case pane (or, with full=True, the whole case with every sample's output);
    `width`: the cells it is drawn in, where known (the findings are laid out for it);
    `rubric`: the label guide, whose lines a dispute on a class shows."""
    limit = (
        200_000 if full else 4000
    )  # the full case too is bounded: a 1 MB line is cut with a marker
    parts: list[RenderableType] = [case_header(row, detail)]
    if row is not None and (row.triage_state or history):
        parts.append(triage_line(row))
        disputed = rubric_renderable(row, history or [], rubric)
        if disputed is not None:  # the guide is where the dispute is settled (#29)
            parts.append(disputed)
    parts.append(Text(""))

    path = path_renderables(
        detail, full=full, cursor=path_cursor, unfolded=path_unfolded, width=width
    )
    if path and path_cursor is not None:  # stepping through calls: the path comes first
        parts += [*path, Text("")]
        path = []
    parts += [_section("input"), safe_text(detail.input, multiline=True, limit=limit), Text("")]
    if detail.expected is not None:
        parts += [
            _section("expected"),
            safe_text(detail.expected, multiline=True, limit=limit),
            Text(""),
        ]
    n = max(len(detail.baseline), len(detail.candidate), len(detail.fallback or []))
    shown = range(n) if full else range(min(n, 1))
    for i in shown:
        title = "outputs" if n <= 1 else f"outputs, sample {i}"
        parts += [_section(title), outputs_table(detail, i, limit), Text("")]
    crit = criteria_table(detail, reducer)
    if crit is not None:
        legend = Text("k/n pass: samples passing the criterion, then its mean score", style="dim")
        parts += [_section(f"criteria ({reducer.label} over samples)"), crit, legend, Text("")]
    samples = samples_table(detail)
    if samples is not None and not full:
        parts += [_section(f"samples ({n})"), samples, Text("")]
    if path:
        parts += [*path, Text("")]
    parts += [timing_text(detail)]
    explanations = []  # per run, each explanation once, with the samples that gave it
    for name, ss in (
        ("baseline", detail.baseline),
        ("candidate", detail.candidate),
        ("fallback", detail.fallback),
    ):
        said: dict[str, list[int]] = {}
        for i, s in enumerate((ss or [])[: (None if full else 1)]):
            if s.explanation:  # (i: as the outputs' "sample i" headings count)
                said.setdefault(s.explanation, []).append(i)
        explanations += [(name, expl, at, len(ss or [])) for expl, at in said.items()]
    if explanations:
        parts += [Text(""), _section("grader")]
        for name, expl, at, n in explanations:
            t = Text(f"{name}: ", style="bold")
            t.append(visible(expl, multiline=True, limit=limit))
            if full and n > 1:  # which samples said it: all of them, or which
                listed = ", ".join(map(str, at[:10])) + (", …" if len(at) > 10 else "")
                which = "" if len(at) == n else f" ({listed})"
                t.append(
                    f"  × {len(at)} samples{which}" if len(at) > 1 else f"  sample {at[0]}",
                    style="dim",
                )
            parts.append(t)
    hist = history_renderable(history or [], width)
    if hist is not None:
        parts += [Text(""), _section(f"findings ({len(history or [])})"), hist]
    return Group(*parts)
