"""The case pane's agent path: tool calls of the runs aligned call by call with the
differences marked, tool errors and loops, the sources each run retrieved and cited,
and (in the whole-case view) each run's transcript. Everything from data passes the
untrusted-text door."""

from __future__ import annotations

import json
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from evaltui import trajectory
from evaltui.compare import CaseDetail
from evaltui.divergence import Aligned3, Divergence, align3, describe, first_divergence
from evaltui.textsafe import one_line, visible

MARK = {
    "same": (" ", ""),
    "changed": ("~", "yellow"),
    "removed": ("-", "red"),
    "inserted": ("+", "green"),
}
ROWS_SHOWN = 200  # aligned calls drawn in the pane (a window around the cursor)
FULL_ROWS_SHOWN = 2000  # in the whole-case view
TRANSCRIPT_SHOWN = 400  # steps of each run's transcript in the whole-case view
ARGS_SHOWN = 4_000  # characters of one call's arguments drawn (the rest: size said)


def _steps(samples: list[Any] | None) -> list[trajectory.Step]:
    # the stored list itself: a `Paged` one says which page of how many steps it is
    return (samples[0].trajectory or []) if samples else []


def _results(steps: list[trajectory.Step]) -> dict[str, trajectory.Step]:
    return {s.call_id: s for s in steps if s.kind == "tool_result" and s.call_id}


def _call_text(
    call: trajectory.Step | None,
    results: dict[str, trajectory.Step],
    width: int,
    unfold: bool = False,
    result_width: int | None = None,  # (default: `width`)
) -> Text:
    if call is None:
        return Text("")
    # arguments of megabytes are cut with their size said before any text is built of them
    clipped, left = trajectory.clip(call.arguments, ARGS_SHOWN)
    args = (
        clipped
        if isinstance(clipped, str)
        else json.dumps(clipped, ensure_ascii=False, sort_keys=True, default=str)
    )
    t = Text(visible(call.name, limit=80), style="bold")
    t.append(f"({one_line(args, width)})")
    if left:  # said, so a cut argument never reads as the whole of it
        t.append(f" [arguments: {left + ARGS_SHOWN:,} characters]", style="dim")
    res = results.get(call.call_id or "")
    if res is not None and res.error:
        t.append("\n  error: ", style="red")
        t.append(one_line(res.error, result_width or width), style="red")
    elif res is not None and res.text and unfold:  # the whole result, bounded
        t.append("\n")
        t.append(visible(res.text, multiline=True, limit=20_000))
    elif res is not None and res.text:
        t.append("\n  ")
        t.append(one_line(res.text, result_width or width), style="dim")
    return t


def aligned_calls(detail: CaseDetail) -> list[trajectory.Aligned]:
    """The rows the path cursor moves over (`]` / `[` in the compare screen)."""
    return trajectory.align(_steps(detail.baseline), _steps(detail.candidate))


def divergence_at(detail: CaseDetail) -> tuple[int | None, Divergence | None]:
    """(the aligned call the path cursor jumps to for the candidate's first divergence,
    the divergence): its row, or the last call for another final state (None: no call)."""
    base, cand = _steps(detail.baseline), _steps(detail.candidate)
    rows = trajectory.align(base, cand)
    found = first_divergence(base, cand, rows)
    if found is None or not rows:
        return None, found
    return min(found.index, len(rows) - 1), found


def divergence_lines(detail: CaseDetail) -> Text:
    """Where the candidate's path (and the fallback's) first parts from the baseline's."""
    base = _steps(detail.baseline)
    out = Text(
        describe(first_divergence(base, _steps(detail.candidate)), "candidate"),
        style="bold magenta",
    )
    out.append("   (d: highlight it)", style="dim")
    if detail.fallback is not None:
        out.append("\n")
        out.append(
            describe(first_divergence(base, _steps(detail.fallback)), "fallback"), style="magenta"
        )
    return out


def sources_table(runs: dict[str, list[trajectory.Step]]) -> Table:
    """Each run's sources side by side: retrieved, cited, cited but never retrieved
    (judging wrong and missing sources)."""
    table = Table(box=None, expand=True, show_edge=False, padding=(0, 1), header_style="bold")
    table.add_column("sources", no_wrap=True)
    for name in runs:
        table.add_column(name, ratio=1, overflow="fold")
    found = {name: trajectory.sources(steps) for name, steps in runs.items()}

    def ids(values: list[str], style: str = "") -> Text:
        return Text(
            ", ".join(visible(v, limit=80) for v in values) or "-", style=style if values else "dim"
        )

    table.add_row("retrieved", *(ids(r) for r, _ in found.values()))
    table.add_row("cited", *(ids(c) for _, c in found.values()))
    table.add_row(
        "cited, never retrieved",
        *(ids([x for x in c if x not in r], "bold red") for r, c in found.values()),
    )
    return table


def _two_way(
    shown: list[trajectory.Aligned],
    start: int,
    runs: dict[str, list[trajectory.Step]],
    cursor: int | None,
    unfolded: bool,
    full: bool,
) -> Table:
    table = Table(box=None, expand=True, show_edge=False, padding=(0, 1), header_style="bold")
    table.add_column("", width=2, no_wrap=True)
    table.add_column("baseline", ratio=1, overflow="fold")
    table.add_column("candidate", ratio=1, overflow="fold")
    rb, rc = _results(runs["baseline"]), _results(runs["candidate"])
    width = 200 if full else 70
    for i, a in enumerate(shown, start):
        mark, style = MARK[a.op]
        here = i == cursor
        open_ = here and unfolded
        table.add_row(
            Text((">" if here else "") + mark, style=f"bold {style}".strip()),
            _call_text(a.baseline, rb, width, open_),
            _call_text(a.candidate, rc, width, open_),
            style=f"{style} reverse".strip() if here else (style or None),
        )
    if not shown:
        table.add_row(
            "", Text("(no tool calls)", style="dim"), Text("(no tool calls)", style="dim")
        )
    return table


def _three_way(
    rows: list[Aligned3],
    runs: dict[str, list[trajectory.Step]],
    window: tuple[int, int],
    cursor: int | None,
    unfolded: bool,
    full: bool,
    width: int | None,
) -> Table:
    """The three paths side by side, a row per baseline call (what the candidate and the
    fallback made of it) or per call a run added; each call on one line cut to its
    column (never wrapped), its result on the next. `window`: the candidate's rows shown
    (`pair`), the fallback's own rows among them kept."""
    table = Table(box=None, expand=True, show_edge=False, padding=(0, 1), header_style="bold")
    table.add_column("", width=3, no_wrap=True)
    for name in ("baseline", "candidate", "fallback"):
        table.add_column(name, ratio=1, no_wrap=True, overflow="ellipsis")
    # the cells of a call: its column less the padding (at 160 columns, about 30)
    cells = 200 if full else max(12, ((width or 100) - 3) // 3 - 3)
    results = [_results(runs[name]) for name in ("baseline", "candidate", "fallback")]
    last = 0  # a fallback's own row goes with the candidate's row before it
    for r in rows:
        last = r.pair if r.pair is not None else last
        if not window[0] <= last < window[1]:
            continue
        here = r.pair is not None and r.pair == cursor
        c_mark, c_style = MARK[r.candidate_op] if r.candidate_op else (" ", "")
        f_mark, f_style = MARK[r.fallback_op] if r.fallback_op else (" ", "")
        style = c_style or f_style
        calls = (r.baseline, r.candidate, r.fallback)
        table.add_row(
            Text((">" if here else " ") + c_mark + f_mark, style=f"bold {style}".strip()),
            *(
                _call_text(
                    c,
                    res,
                    max(8, cells - len(c.name or "") - 2) if c else cells,
                    here and unfolded,
                    cells - 2,
                )
                for c, res in zip(calls, results, strict=True)
            ),
            style=f"{style} reverse".strip() if here else (style or None),
        )
    if not rows:
        table.add_row("", *(Text("(no tool calls)", style="dim") for _ in range(3)))
    return table


def path_renderables(
    detail: CaseDetail,
    full: bool = False,
    cursor: int | None = None,
    unfolded: bool = False,
    width: int | None = None,
) -> list[RenderableType]:
    """`cursor`: the highlighted aligned call (reverse video, `>` in the margin);
    `unfolded`: show its results whole; `width`: the cells the pane has (a fallback's
    third column cuts each call to fit it)."""
    runs = {"baseline": _steps(detail.baseline), "candidate": _steps(detail.candidate)}
    if detail.fallback is not None:
        runs["fallback"] = _steps(detail.fallback)
    if not any(runs.values()):
        return []
    base, cand = runs["baseline"], runs["candidate"]
    aligned = trajectory.align(base, cand)
    changed = sum(a.op != "same" for a in aligned)
    start = (
        0
        if full or cursor is None
        else max(0, min(cursor - ROWS_SHOWN // 2, len(aligned) - ROWS_SHOWN))
    )
    shown = aligned[:FULL_ROWS_SHOWN] if full else aligned[start : start + ROWS_SHOWN]
    if "fallback" in runs:
        fall = runs["fallback"]
        n = " | ".join(str(len(trajectory.calls(p))) for p in (base, cand, fall))
        parts: list[RenderableType] = [
            Text(f"path: tool calls, baseline | candidate | fallback ({n})", style="bold underline")
        ]
        table = _three_way(
            align3(base, cand, fall),
            runs,
            (start, start + len(shown)),
            cursor,
            unfolded,
            full,
            width,
        )
    else:
        n = f"{len(trajectory.calls(base))} | {len(trajectory.calls(cand))}"
        parts = [
            Text(
                f"path: tool calls, baseline | candidate ({n} calls, {changed} differ)",
                style="bold underline",
            )
        ]
        table = _two_way(shown, start, runs, cursor, unfolded, full)
    parts.append(divergence_lines(detail))
    parts.append(table)
    for name, steps in runs.items():  # a path too long to read whole: its first page only
        first, total = trajectory.page_of(steps)
        if total > len(steps):
            parts.append(
                Text(
                    f"{name}: steps {first + 1:,}-{first + len(steps):,} of {total:,} read (a page; "
                    "`evaltui case BASE CAND KEY --steps-from N` reads the others)",
                    style="yellow",
                )
            )
    if len(shown) < len(aligned):
        parts.append(
            Text(f"… {len(aligned) - len(shown):,} more calls (o: the whole case)", style="dim")
        )
    legend = Text(
        "  ~ changed arguments   - baseline only   + candidate only   "
        "] [ step between calls   = unfold the highlighted call   "
        "d the first divergence",
        style="dim",
    )
    if "fallback" in runs:
        legend = Text(
            "  marks candidate,fallback: ~ other arguments  - not made  + added", style="dim"
        )
    parts.append(legend)
    parts.append(sources_table(runs))
    notes = Text()
    for name, steps in runs.items():
        errors, loops = trajectory.tool_errors(steps), trajectory.loops(steps)
        if errors:
            notes.append(f"{name}: {errors} tool error(s)   ", style="red")
        for tool, times in loops:
            notes.append(f"{name}: loop {visible(tool, limit=60)} x{times}   ", style="bold yellow")
    if notes.plain:
        parts.append(notes)
    if full:
        for name, steps in runs.items():
            parts += [
                Text(""),
                Text(
                    f"transcript: {name} ({trajectory.page_of(steps)[1]:,} steps)",
                    style="bold underline",
                ),
            ]
            for s in steps[:TRANSCRIPT_SHOWN]:
                if s.kind == "message":
                    line = Text(f"[{s.turn}] {s.role or '?'}: ", style="bold")
                    line.append(visible(s.text or "", multiline=True, limit=4000))
                    parts.append(line)
                elif s.kind == "tool_call":
                    parts.append(Text(f"[{s.turn}]   -> ", style="cyan") + _call_text(s, {}, 400))
                elif s.kind == "tool_result":
                    body = visible(s.error or s.text or "", multiline=True, limit=2000)
                    parts.append(
                        Text(
                            f"[{s.turn}]   <- {visible(s.name or '', limit=60)}: ",
                            style="red" if s.error else "dim",
                        )
                        + Text(body)
                    )
                elif s.kind == "limit":
                    parts.append(
                        Text(f"[{s.turn}] {visible(s.text or 'limit')}", style="bold yellow")
                    )
            total = trajectory.page_of(steps)[1]
            if total > TRANSCRIPT_SHOWN:
                more = total - min(len(steps), TRANSCRIPT_SHOWN)
                parts.append(
                    Text(
                        f"… {more:,} more steps: `evaltui case BASE CAND KEY --json` "
                        "has the whole transcript",
                        style="dim",
                    )
                )
    return parts
