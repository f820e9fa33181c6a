"""Terminal output for the CLI: borderless tables that never wrap and never parse data as markup."""

from __future__ import annotations

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
    click.echo(visible(message, multiline=True, limit=None), err=err, nl=nl)


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
