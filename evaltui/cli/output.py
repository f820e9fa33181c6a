"""Terminal output for the CLI: borderless tables that never wrap and never parse data as markup."""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Iterable
from typing import Any, cast

import click
from rich.cells import cell_len
from rich.console import Console
from rich.control import Control
from rich.live_render import LiveRender
from rich.table import Table
from rich.text import Text

from evaltui.columns import TEXT_MIN, cut_end, cut_middle, fit_columns
from evaltui.textsafe import inert, visible


def _rich_own() -> tuple[type, ...]:
    """What Rich itself prints through a console (a live progress bar's cursor moves and
    its own render): made by Rich, holding no data of ours beyond what we gave it inert."""
    return (Control, LiveRender)


_RICH_OWN = _rich_own()
ESCAPE = "evaltui-escape"


def _escape(exc: UnicodeError) -> tuple[str, int]:
    """A character the output's encoding cannot write, as a \\uXXXX escape (a surrogate
    pair past U+FFFF): readable as text, and a valid escape inside a JSON string, so
    `--json` output stays exact JSON on an ASCII stream."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), exc.end


codecs.register_error(ESCAPE, _escape)


def _narrow(encoding: str | None) -> bool:
    """An encoding that cannot write every character (ascii, latin-1: PYTHONIOENCODING,
    a C locale)."""
    return not (encoding or "utf-8").lower().replace("-", "").replace("_", "").startswith("utf")


def fit_streams() -> None:
    """Called first by `main`: on stdout/stderr whose encoding cannot write every
    character, what it cannot write is escaped (`_escape`) instead of crashing the
    command (Rich and the app write through these streams)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and _narrow(stream.encoding):
            stream.reconfigure(errors=ESCAPE)


class SafeConsole(Console):
    """The CLI's only console: whatever it prints passes `textsafe.inert` (a str is data,
    never markup; no control, escape or bidi character reaches the terminal)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().print(*(o if isinstance(o, _RICH_OWN) else inert(o) for o in objects), **kwargs)


def make_console(err: bool = False) -> Console:
    return SafeConsole(stderr=err, highlight=False, soft_wrap=False)


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """The CLI's only plain-line writer (click.echo is not called elsewhere): the line
    passes `visible` (newlines kept), so data in it cannot reach the terminal raw."""
    text = visible(message, multiline=True, limit=None)
    encoding = getattr(sys.stderr if err else sys.stdout, "encoding", None)
    if _narrow(encoding):  # click would write UTF-8 bytes there: escape instead
        text = text.encode(str(encoding), ESCAPE).decode(str(encoding))
    click.echo(text, err=err, nl=nl)


def make_table(*columns: tuple[str, str]) -> Table:
    """A borderless table whose cells never wrap (data is cut with an ellipsis)."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for name, justify in columns:
        table.add_column(
            name,
            justify=cast(Any, justify),
            no_wrap=True,
            overflow="ellipsis",
            min_width=len(name),
        )
    return table


class Shorten(str):
    """A step of `print_rows`' `optional` list: shorten this column (to its minimum) here,
    rather than leave it out."""


def print_rows(
    table: Table,
    rows: list[list[Any]],
    optional: Iterable[str] = (),
    *,
    whole: Iterable[str] = (),
    middle: Iterable[str] = (),
    min_widths: dict[str, int] | None = None,
) -> list[str]:
    """Print `rows` in the terminal's width: never a number cut. Returns the headers of
    the columns left out.

    A right-aligned column (a figure), and each column named in `whole` (a time, an
    id), is never cut: it is printed whole or, when the terminal is narrow, left out.
    `optional` says what gives way, in order: a header leaves the table, a
    `Shorten(header)` is shortened to its minimum (`min_widths`, else `TEXT_MIN` or its
    header's width), cut at the end, or in the middle for the columns in `middle` (names
    that differ at the end). A set of headers: every text column is shortened first,
    then the set's columns leave, the rightmost first."""
    console = make_console()
    headers = [str(c.header) for c in table.columns]
    keep_whole = set(whole) | {
        h for h, c in zip(headers, table.columns, strict=True) if c.justify == "right"
    }
    cells = [
        # Text, never str: a str cell would be parsed as Rich markup ("[bold]" in a run name),
        # and through the untrusted-text door: a cell a caller forgot is still inert
        [Text(visible(c, limit=None)) if isinstance(c, str) else c for c in row]
        for row in rows
    ]
    natural = [max([cell_len(h), *(_width(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    floors = min_widths or {}
    minimum = [
        n if h in keep_whole else min(n, max(cell_len(h), floors.get(h, TEXT_MIN)))
        for h, n in zip(headers, natural, strict=True)
    ]
    if isinstance(optional, set | frozenset):
        steps = [(True, i) for i in range(len(headers))]
        steps += [(False, i) for i in reversed(range(len(headers))) if headers[i] in optional]
    else:
        steps = [  # a header twice (`95% CI` of each run): both give way at its step
            (isinstance(h, Shorten), i) for h in optional for i, x in enumerate(headers) if x == h
        ]
    keep, widths = fit_columns(natural, minimum, steps, console.width)
    out = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    cutters = {h: cut_middle if h in set(middle) else cut_end for h in headers}
    for i in keep:
        out.add_column(
            headers[i],
            justify=table.columns[i].justify,
            no_wrap=True,
            overflow="ellipsis",  # never used: every cell is cut to its width here
            width=widths[i],
        )
    for row in cells:
        out.add_row(*[_cut(row[i], widths[i], cutters[headers[i]]) for i in keep])
    total = sum(widths.values()) + max(0, len(keep) - 1)
    if total > console.width:  # even the columns that stay do not fit: whole, not cropped
        console.width = total
    console.print(out)
    return [h for i, h in enumerate(headers) if i not in keep]


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def _cut(cell: Any, width: int, cutter: Any) -> Any:
    if not isinstance(cell, Text) or cell.cell_len <= width:
        return cell
    return Text(cutter(cell.plain, width), style=cell.style)
