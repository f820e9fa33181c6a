"""Terminal output for the CLI: borderless tables that never wrap and never parse data as markup."""

from __future__ import annotations

import codecs
import io
import sys
from typing import Any, cast

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from evaltui.textsafe import inert, visible


def _rich_own() -> tuple[type, ...]:
    """What Rich itself prints through a console (a live progress bar's cursor moves and
    its own render): made by Rich, holding no data of ours beyond what we gave it inert."""
    from rich.control import Control
    from rich.live_render import LiveRender

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


def print_rows(table: Table, rows: list[list[Any]], optional: set[str]) -> None:
    """Print `rows`, leaving out the `optional` columns when the terminal is narrow."""
    console = make_console()
    keep = list(range(len(table.columns)))
    if console.width < 150:
        keep = [i for i, c in enumerate(table.columns) if c.header not in optional]
        narrow = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
        for i in keep:
            col = table.columns[i]
            narrow.add_column(
                str(col.header),
                justify=col.justify,
                no_wrap=True,
                overflow="ellipsis",
                min_width=col.min_width,
            )
        table = narrow
    for row in rows:
        # Text, never str: a str cell would be parsed as Rich markup ("[bold]" in a run name).
        # and through the untrusted-text door: a cell a caller forgot is still inert
        table.add_row(
            *[
                Text(visible(row[i], limit=None)) if isinstance(row[i], str) else row[i]
                for i in keep
            ]
        )
    console.print(table)
