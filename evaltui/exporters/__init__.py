"""Exports of a decision record: JSON for machines, Markdown for people, JUnit for CI."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from evaltui.errors import InputError
from evaltui.exporters.json import to_json
from evaltui.exporters.junit import to_junit
from evaltui.exporters.markdown import to_markdown
from evaltui.files import create_new, write_atomic
from evaltui.gate.record import DecisionRecord

# format name -> (file suffix, renderer)
FORMATS: dict[str, tuple[str, Callable[[DecisionRecord], str]]] = {
    "json": (".json", to_json),
    "markdown": (".md", to_markdown),
    "junit": (".junit.xml", to_junit),
}

__all__ = ["FORMATS", "to_json", "to_junit", "to_markdown", "write_all", "write_new", "write_to"]


def write_all(
    record: DecisionRecord, stem: Path, formats: Iterable[str] = tuple(FORMATS)
) -> list[Path]:
    """Write the record as `stem` + each format's suffix; returns the paths written."""
    written = []
    for name in formats:
        suffix, render = FORMATS[name]
        path = stem.with_name(stem.name + suffix)
        write_atomic(path, render(record))
        written.append(path)
    return written


def write_to(record: DecisionRecord, paths: dict[str, Path | None]) -> list[Path]:
    """Write the record in each format that has a path (format name -> path or None)."""
    written = []
    for name, path in paths.items():
        if path is not None:
            write_atomic(path, FORMATS[name][1](record))
            written.append(path)
    return written


def write_new(
    record: DecisionRecord, stem: Path, formats: Iterable[str] = tuple(FORMATS), tries: int = 10_000
) -> list[Path]:
    """Write the record as new files, never over an existing one: `stem` + each format's
    suffix or, when any of those names is taken, `stem-2`, `stem-3`... (the first stem
    none of whose files exists). Each file is written whole to a temp file, then linked
    to its name, which fails if the name exists (exclusive and atomic); a name taken in
    the meantime moves on to the next stem. Returns the paths written."""
    names = list(formats)
    texts = {name: FORMATS[name][1](record) for name in names}
    for n in range(1, tries + 1):
        base = stem if n == 1 else stem.with_name(f"{stem.name}-{n}")
        paths = [base.with_name(base.name + FORMATS[name][0]) for name in names]
        if any(os.path.lexists(p) for p in paths):
            continue
        written: list[Path] = []
        try:
            for name, path in zip(names, paths, strict=True):
                create_new(path, texts[name])
                written.append(path)
        except FileExistsError:  # taken meanwhile: drop what this try made, take the next stem
            for path in written:
                path.unlink(missing_ok=True)
            continue
        return written
    raise InputError(str(stem), f"cannot write: {tries} names from {stem.name} on are taken")
