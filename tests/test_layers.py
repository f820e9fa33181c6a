"""The layers, as data (#25): each folder of the package is one layer, and a module
imports only its own layer's group or the layers below. Groups on one layer are
independent of each other. Function-local imports count (they are arrows too);
imports under `if TYPE_CHECKING:` do not (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import evaltui

PACKAGE = Path(evaltui.__file__).resolve().parent

# Lowest first. A group is a folder of evaltui/, or "" for the root's base modules.
LAYERS: list[tuple[str, ...]] = [
    ("",),  # base: errors, files, textsafe, units, stats, models, trajectory, signing, paths
    ("estimate",),  # the estimators: pure statistics over counts
    ("store", "importers"),  # the SQLite store; the readers of the tools' files
    ("review",),  # triage, taxonomy, lifecycle, findings files, the codebook
    ("compare",),  # the comparison of two or three runs
    ("gate", "views"),  # the gate decision; history and saved views
    ("exporters",),  # Markdown, JUnit, JSON, text, OTLP
    ("service", "team"),  # the use cases both front ends call; the team store
    ("tui",),  # the app
    ("cli",),  # the command line, which opens the app
    ("__main__",),  # python -m evaltui
]
LEVEL = {group: n for n, groups in enumerate(LAYERS) for group in groups}


def group_of(rel: Path) -> str:
    if len(rel.parts) == 1:
        return "__main__" if rel.stem == "__main__" else ""
    return rel.parts[0]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    return skip


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every evaltui import that can run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    rel = path.relative_to(PACKAGE)
    package = ["evaltui", *rel.parts[:-1]]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("evaltui")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: within the module's own package
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "evaltui":  # from evaltui import x: each name is a module or the root's
                out += [(node.lineno, f"evaltui.{a.name}") for a in node.names]
            elif mod.startswith("evaltui"):
                out.append((node.lineno, mod))
    return out


def target_group(dotted: str) -> str:
    parts = dotted.split(".")
    if len(parts) < 2:
        return ""
    head = parts[1]
    return head if (PACKAGE / head).is_dir() else ""


def test_every_folder_is_on_a_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - LEVEL.keys() == set()
    assert {g for g in LEVEL if g not in ("", "__main__")} - folders == set()


def test_nothing_imports_upward_or_sideways() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        here = group_of(rel)
        for line, dotted in imports_of(path):
            there = target_group(dotted)
            if there == here:
                continue
            if LEVEL[there] >= LEVEL[here]:
                bad.append(f"{rel}:{line} ({here or 'base'}) imports {dotted} ({there or 'base'})")
    assert bad == []


def test_the_check_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    tree = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from evaltui.tui import app\n"
    tree += "def f():\n    from evaltui.cli import main\n"
    path = PACKAGE / "compare" / "_probe_.py"
    try:
        path.write_text(tree + "from ..gate import decide\n")
        found = [d for _, d in imports_of(path)]
    finally:
        path.unlink()
    assert sorted(found) == ["evaltui.cli", "evaltui.gate"]
