"""Columns in a terminal's width, for both front ends (the CLI's tables, the app's runs
table): which columns to keep and how wide, never a number cut; text cut at its end or in
its middle."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size

TEXT_MIN = 12  # a text column is shortened to no fewer characters than this (or its header)


def cut_middle(text: str, width: int) -> str:
    """`text` in `width` cells, cut from the middle: the start and the end stay (two runs
    named alike differ at the end: a date, a variant, `#2`)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    head = width - 1 - tail
    end = text[::-1]
    back = set_cell_size(end, tail)[::-1] if tail else ""
    return set_cell_size(text, head) + "…" + back


def cut_end(text: str, width: int) -> str:
    """`text` in `width` cells, cut at the end with an ellipsis."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)) + "…"[: max(0, width)]


def fit_columns(
    natural: list[int],
    minimum: list[int],
    steps: list[tuple[bool, int]],
    width: int,
) -> tuple[list[int], dict[int, int]]:
    """Which columns to keep and how wide each is, for a terminal `width` wide.

    `natural` is each column's widest cell (or header), `minimum` the narrowest it may be
    (a number column's minimum is its natural width: a number is never cut). `steps` are
    taken in order while the columns do not fit: (True, i) shortens column i to its
    minimum, (False, i) leaves it out; after them every column is shortened. The room
    left is then given back to the shortened columns, the first column first. When even
    so the columns do not fit, they are kept all the same (the line is longer than the
    terminal; nothing is cut to a wrong figure)."""
    keep = list(range(len(natural)))
    widths = dict(enumerate(natural))

    def need() -> int:
        return sum(widths[i] for i in keep) + max(0, len(keep) - 1)

    for shorten, i in [*steps, *((True, i) for i in range(len(natural)))]:
        if need() <= width:
            break
        if i not in keep:
            continue
        if shorten:
            widths[i] = minimum[i]
        else:
            keep.remove(i)
    room = width - need()
    for i in keep:  # left to right: the first text column is the one that matters most
        if room <= 0:
            break
        more = min(room, natural[i] - widths[i])
        widths[i] += more
        room -= more
    return keep, {i: widths[i] for i in keep}
