"""Where two agent paths part, and three paths aligned (#31): built on `trajectory.align`.

`first_divergence(baseline, other)`: the first row of the two runs' aligned tool calls
where they differ, with its kind in words: a tool added or removed, the same tool with
other arguments, the same calls in another order, or the same calls ending in another
final state. `align3`: the candidate's and the fallback's calls aligned to the
baseline's, row by row. A base module beside `trajectory` (kept apart for its size): no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from evaltui.trajectory import MAX_ALIGN, Aligned, Step, _args_text, _lcs, align, calls

DivergenceKind = Literal[
    "tool-added", "tool-removed", "other-arguments", "other-order", "other-final-state"
]
DIVERGENCE_KINDS: tuple[DivergenceKind, ...] = get_args(DivergenceKind)
WORDS: dict[DivergenceKind, str] = {
    "tool-added": "tool added",
    "tool-removed": "tool removed",
    "other-arguments": "same tool, other arguments",
    "other-order": "the same calls in another order",
    "other-final-state": "the same calls, another final state",
}
Op = Literal["same", "changed", "removed", "inserted"]
_BY_OP: dict[str, DivergenceKind] = {
    "changed": "other-arguments", "removed": "tool-removed", "inserted": "tool-added"
}  # fmt: skip


class Divergence(BaseModel):
    """Where two paths part: `index` is the row of their aligned calls (`align`); for
    `other-final-state` it is the number of rows (after the last call)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int
    kind: DivergenceKind
    description: str


def final_state(steps: Sequence[Step]) -> tuple[str | None, str | None]:
    """What a path ends in: its last assistant message's text, and the limit that
    stopped it (None: none)."""
    answer = next(
        (s.text for s in reversed(steps) if s.kind == "message" and s.role == "assistant"), None
    )
    limit = next((s.text or "limit" for s in reversed(steps) if s.kind == "limit"), None)
    return answer, limit


def _key(call: Step) -> tuple[str, str]:
    return call.name or "", _args_text(call.arguments)


def _said(index: int, kind: DivergenceKind, rows: int) -> Divergence:
    if kind != "other-final-state":
        where = f"at call {index + 1}"
    else:
        where = "after the last call" if rows else "at the end (no tool calls)"
    return Divergence(index=index, kind=kind, description=f"{where}: {WORDS[kind]}")


def first_divergence(
    baseline: Sequence[Step], other: Sequence[Step], rows: Sequence[Aligned] | None = None
) -> Divergence | None:
    """The first aligned row where `other`'s path parts from the baseline's, or None when
    the paths agree (the same calls, names and arguments in order, and the same final
    state). `rows`: `align(baseline, other)`, when the caller has it already."""
    rows = align(baseline, other) if rows is None else rows
    a, b = calls(baseline), calls(other)
    for i, row in enumerate(rows):
        if row.op == "same":
            continue
        if sorted(map(_key, a)) == sorted(map(_key, b)):  # the same calls, another order
            return _said(i, "other-order", len(rows))
        return _said(i, _BY_OP[row.op], len(rows))
    if len(a) > MAX_ALIGN or len(b) > MAX_ALIGN:  # the rows stop at the cut: past it
        rest_a, rest_b = a[MAX_ALIGN:], b[MAX_ALIGN:]
        for x, y in zip(rest_a, rest_b, strict=False):
            if _key(x) != _key(y):
                op = "changed" if x.name == y.name else "removed"
                return _said(len(rows), _BY_OP[op], len(rows))
        if len(rest_a) != len(rest_b):
            op = "removed" if len(rest_a) > len(rest_b) else "inserted"
            return _said(len(rows), _BY_OP[op], len(rows))
    if final_state(baseline) != final_state(other):
        return _said(len(rows), "other-final-state", len(rows))
    return None


@dataclass(frozen=True)
class Aligned3:
    """One row of three aligned paths: each side's call (or None), the candidate's and
    the fallback's op against the baseline (None: neither it nor the baseline has a call
    on this row), and `pair`, the row of `align(baseline, candidate)` this row shows
    (None: a row of the fallback's alone)."""

    baseline: Step | None
    candidate: Step | None
    fallback: Step | None
    candidate_op: Op | None
    fallback_op: Op | None
    pair: int | None


def _split(rows: Sequence[Aligned], n: int) -> tuple[list[list[tuple[int, Step]]], list[int]]:
    """(the other side's calls inserted before each baseline call and after the last, by
    gap; the row of each baseline call)."""
    gaps: list[list[tuple[int, Step]]] = [[] for _ in range(n + 1)]
    at: list[int] = []
    for i, row in enumerate(rows):
        if row.baseline is None:
            assert row.candidate is not None
            gaps[len(at)].append((i, row.candidate))
        else:
            at.append(i)
    return gaps, at


def _gap(cand: list[tuple[int, Step]], fall: list[tuple[int, Step]]) -> list[Aligned3]:
    """The calls the candidate and the fallback made between two baseline calls, aligned
    with each other on the tool name (a call both added shares a row)."""
    pairs = _lcs([c.name or "" for _, c in cand], [f.name or "" for _, f in fall])
    out: list[Aligned3] = []
    i = j = 0
    for pi, pj in [*pairs, (len(cand), len(fall))]:
        for row, c in cand[i:pi]:
            out.append(Aligned3(None, c, None, "inserted", None, row))
        out += [Aligned3(None, None, f, None, "inserted", None) for _, f in fall[j:pj]]
        if pi < len(cand) and pj < len(fall):
            out.append(
                Aligned3(None, cand[pi][1], fall[pj][1], "inserted", "inserted", cand[pi][0])
            )
        i, j = pi + 1, pj + 1
    return out


def align3(
    baseline: Sequence[Step], candidate: Sequence[Step], fallback: Sequence[Step]
) -> list[Aligned3]:
    """The candidate's and the fallback's tool calls each aligned to the baseline's
    (`align`), merged on the baseline's calls: a baseline call is one row with what each
    other run made of it; the calls a run added between two baseline calls come between
    them, the candidate's and the fallback's of one tool on a shared row. The candidate's
    rows keep `align(baseline, candidate)`'s order (`pair` counts them)."""
    two, bf = align(baseline, candidate), align(baseline, fallback)
    n = sum(r.baseline is not None for r in two)
    cgaps, cat = _split(two, n)
    fgaps, fat = _split(bf, n)
    out: list[Aligned3] = []
    for k in range(n + 1):
        out += _gap(cgaps[k], fgaps[k])
        if k < n:
            c, f = two[cat[k]], bf[fat[k]]
            out.append(Aligned3(c.baseline, c.candidate, f.candidate, c.op, f.op, cat[k]))
    return out


def describe(divergence: Divergence | None, who: str = "") -> str:
    """A line naming the divergence: "first divergence at call 3: same tool, other
    arguments" (`who`: a run's name before it)."""
    head = f"{who}: " if who else ""
    if divergence is None:
        return f"{head}no divergence: the same calls and the same final state"
    return f"{head}first divergence {divergence.description}"
