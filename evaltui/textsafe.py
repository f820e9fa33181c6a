"""Untrusted text made safe to show: control and escape characters become visible.

Model outputs, inputs, case keys and run names are data. They may hold Rich
markup, ANSI/OSC/DCS escapes, C0/C1 controls, bidi overrides, zero-width
characters and megabyte lines. Every surface (TUI, CLI tables, exports) shows
them through `visible()` and, in Rich/Textual, as `rich.text.Text` (never as
markup). Nothing here imports Textual.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text

# C0 controls map to the Unicode "control pictures" block (U+2400 + code), so
# ESC shows as ␛ and NUL as ␀. DEL is ␡. C1 controls (0x80-0x9f, which some
# terminals honour as 8-bit CSI/OSC/ST) have no pictures: they show as \x9b.
_C0 = {i: chr(0x2400 + i) for i in range(0x20)}
_C0[0x7F] = "\u2421"
_C1 = {i: f"\\x{i:02x}" for i in range(0x80, 0xA0)}
# Bidi overrides/isolates and invisible characters: shown as <U+XXXX>.
_INVISIBLE = [
    0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029,
    0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2062,
    0x2063, 0x2064, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF, 0xFFF9,
    0xFFFA, 0xFFFB,
]  # fmt: skip
_TABLE: dict[int, str] = {**_C0, **_C1, **{cp: f"<U+{cp:04X}>" for cp in _INVISIBLE}}
_TABLE_KEEP_LINES = {k: v for k, v in _TABLE.items() if k not in (0x0A, 0x09)}
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
# Surrogates (from invalid UTF-8 decoded with surrogateescape) cannot be encoded.
_SURROGATE = re.compile("[\ud800-\udfff]")

DEFAULT_LIMIT = 20_000


def visible(
    value: object,
    *,
    multiline: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    length: int | None = None,
) -> str:
    """Return `value` as a string whose every character is safe to print.

    Args:
        value: any value; None becomes "".
        multiline: keep newlines and tabs (for panes); otherwise they show as ␊ and ␉.
        limit: cut to this many characters with a marker saying how much was cut.
        length: the whole value's length when `value` is only its beginning (an output
            read from the store in part), so that the marker counts what was never read.

    Returns:
        A string with no control, escape, bidi or zero-width characters left.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    cut = max(0, (length or 0) - len(text))
    if limit is not None and len(text) > limit:
        cut += len(text) - limit
        text = text[:limit]
    if _UNSAFE.search(text):
        text = text.translate(_TABLE_KEEP_LINES if multiline else _TABLE)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) & 0xFF:02x}", text)
    if cut:
        text += f"… [{cut:,} more characters]"
    return text


def safe_text(
    value: object,
    *,
    multiline: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    style: str = "",
    length: int | None = None,
) -> Text:
    """A Rich `Text` of `value`, literal (no markup parsed) and visible."""
    return Text(visible(value, multiline=multiline, limit=limit, length=length), style=style)


def one_line(value: object, width: int = 60) -> str:
    """A single visible line cut to `width` characters, for table cells."""
    text = visible(value, multiline=False, limit=width * 4)
    return text if len(text) <= width else text[: width - 1] + "…"


# In JSON: C1 controls, bidi and invisible characters (and lone surrogates) escaped
# as \uXXXX. json.dumps already escapes C0; these it would print raw to a terminal.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def safe_json(value: object, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict RFC 8259 JSON (no NaN or Infinity: a ValueError instead) whose text can be
    printed to a terminal: the data is exact once parsed, and inert as bytes."""
    text = json.dumps(
        value, indent=indent, ensure_ascii=False, allow_nan=False, sort_keys=sort_keys
    )
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# -- the last door: whatever reaches a widget or the console ------------------------------

# One character for one: a Text's styles are spans by offset, so the guard must keep its
# length. C0 become control pictures (as in visible), everything else unsafe U+FFFD.
_GUARD = {
    **{k: v for k, v in _C0.items() if k not in (0x0A, 0x09)},
    0x7F: "\u2421",
    **{i: "\ufffd" for i in range(0x80, 0xA0)},
    **{cp: "\ufffd" for cp in _INVISIBLE},
}


class Inert(Text):
    """A Rich Text that has passed the door: literal (never markup) and visible."""


def inert(value: object) -> Any:
    """Make anything bound for a widget or the console safe, whatever built it.

    - a `str` is data: it becomes an `Inert` Text through `visible()` (no markup parsed);
    - a Rich `Text` (built by hand from data, say) has any control, escape, bidi or
      zero-width character replaced in place, one for one, so its styles still fit;
    - tables, groups, panels and padding are walked, their parts made safe the same way;
    - anything else is refused with a TypeError: a new kind of renderable must be taught
      here before it can be shown, so it cannot skip the door.
    """
    # load time: rich.console and .table where something is drawn (not the import process)
    from rich.console import Group
    from rich.padding import Padding  # load time: as above
    from rich.panel import Panel  # load time: as above
    from rich.table import Table  # load time: as above

    if value is None:
        return Inert("")
    if isinstance(value, Inert):
        return value
    if isinstance(value, str):
        return Inert(visible(value, multiline=True, limit=None))
    if isinstance(value, Text):
        _guard_text(value)
        return value
    if isinstance(value, Table):
        for column in value.columns:
            column.header = inert(column.header)
            column.footer = inert(column.footer)
            column._cells[:] = [inert(cell) for cell in column._cells]
        value.title = inert(value.title) if value.title is not None else None
        value.caption = inert(value.caption) if value.caption is not None else None
        return value
    if isinstance(value, Group):
        value.renderables[:] = [inert(r) for r in value.renderables]
        return value
    if isinstance(value, Panel):
        value.renderable = inert(value.renderable)
        value.title = inert(value.title) if value.title is not None else None
        return value
    if isinstance(value, Padding):
        value.renderable = inert(value.renderable)
        return value
    if isinstance(value, int | float):
        return Inert(str(value))
    raise TypeError(f"{type(value).__name__} cannot be shown: pass it through evaltui.textsafe")


def _guard_text(text: Text) -> None:
    plain = text.plain
    if _UNSAFE.search(plain) or _SURROGATE.search(plain):
        text.plain = _SURROGATE.sub("\ufffd", plain.translate(_GUARD))
