"""The widgets evaltui draws data in: Textual's, with the untrusted-text door built in.

Every screen and widget imports `Static`, `DataTable`, `Input`, `OptionList` and
`Option` from here, never from `textual.widgets` (tests/test_import_hygiene.py checks
it). Whatever content they are given (a str, a Rich Text built from data, a table)
passes `textsafe.inert` first: a str is shown literally, never parsed as markup, and
no control, escape or bidi character reaches the terminal, whoever built the content.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from textual import widgets
from textual.widgets import option_list

from evaltui.textsafe import inert, visible


class Static(widgets.Static):
    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().__init__(inert(content), **kwargs)

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        super().update(inert(content), layout=layout)


CellType = TypeVar("CellType")


class DataTable(widgets.DataTable[CellType], Generic[CellType]):
    def add_column(self, label: Any, **kwargs: Any) -> Any:
        return super().add_column(inert(label), **kwargs)

    def add_row(self, *cells: Any, label: Any = None, **kwargs: Any) -> Any:
        return super().add_row(
            *(inert(c) for c in cells), label=None if label is None else inert(label), **kwargs
        )

    def add_rows(self, rows: Iterable[Iterable[Any]]) -> Any:
        return super().add_rows([inert(c) for c in row] for row in rows)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell(row_key, column_key, inert(value), **kwargs)

    def update_cell_at(self, coordinate: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell_at(coordinate, inert(value), **kwargs)


class Input(widgets.Input):
    """A prompt's initial value comes from data (an owner, a note): one visible line."""

    def __init__(self, value: str | None = None, placeholder: str = "", **kwargs: Any) -> None:
        super().__init__(
            None if value is None else visible(value, limit=None),
            visible(placeholder, limit=400),
            **kwargs,
        )


class Option(option_list.Option):
    def __init__(self, prompt: Any, id: str | None = None, disabled: bool = False) -> None:
        super().__init__(inert(prompt), id=id, disabled=disabled)


def _option(content: Any) -> Any:
    if content is None or isinstance(content, option_list.Option):
        return (
            content
            if not isinstance(content, option_list.Option) or isinstance(content, Option)
            else Option(content.prompt, id=content.id, disabled=content.disabled)
        )
    return Option(content)


class OptionList(widgets.OptionList):
    def __init__(self, *content: Any, **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().__init__(*(_option(c) for c in content), **kwargs)

    def add_options(self, items: Iterable[Any]) -> Any:
        return super().add_options([_option(c) for c in items])

    def add_option(self, option: Any = None) -> Any:
        return super().add_option(_option(option))
