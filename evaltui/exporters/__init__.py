"""Exports of a decision record: JSON for machines, Markdown for people, JUnit for CI."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from evaltui.exporters.json import to_json
from evaltui.exporters.junit import to_junit
from evaltui.exporters.markdown import to_markdown
from evaltui.files import write_atomic
from evaltui.gate.record import DecisionRecord

# format name -> (file suffix, renderer)
FORMATS: dict[str, tuple[str, Callable[[DecisionRecord], str]]] = {
    "json": (".json", to_json),
    "markdown": (".md", to_markdown),
    "junit": (".junit.xml", to_junit),
}

__all__ = ["FORMATS", "to_json", "to_junit", "to_markdown", "write_all", "write_to"]


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
