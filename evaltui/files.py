"""Reading the TOML files people write (policy, taxonomy, markers) and writing exports."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from evaltui.errors import InputError


def read_toml(path: Path, what: str) -> tuple[dict[str, Any], str, bytes]:
    """The file's data, text and bytes; unreadable, non-UTF-8 or invalid TOML is an
    InputError naming the file (and, for TOML syntax, the line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the {what} ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"
        m = re.search(r"\(at line (\d+)", str(exc))
        raise InputError(
            str(path), f"not valid TOML: {exc}", location=f"line {m[1]}" if m else None
        ) from None
    return data, text, raw


def table_lines(text: str, name: str) -> list[int]:
    """Line numbers (1-based) where each `[[name]]` table starts, in order."""
    return [
        n
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip().startswith(f"[[{name}]]")
    ]


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader never sees half a file (write aside, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def check_writable(path: Path) -> None:
    """Refuse, before anything is done, an output path that cannot be written:
    a missing or read-only directory, or a directory in the file's place."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(str(path), "is a directory; give a file name")
    if not parent.is_dir():
        raise InputError(str(path), f"cannot write here: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(str(path), f"cannot write here: the directory {parent} is not writable")
