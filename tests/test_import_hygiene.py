"""The package's shape: layers, front ends without SQL, module sizes (Harlequin's checks, walked)."""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys

import pytest

import evaltui

from .conftest import ROOT

PACKAGE = ROOT / "evaltui"
FRONT_ENDS = ("evaltui.cli", "evaltui.tui")


def all_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(evaltui.__path__, prefix="evaltui.")
        if not m.name.endswith("__main__")  # importing it runs the CLI
    )


HEADLESS = [m for m in all_modules() if not m.startswith(FRONT_ENDS)]


def test_the_walk_finds_the_domain():
    """The list below is discovered, not hand-written: it holds every layer's modules."""
    for expected in ("evaltui.compare.engine", "evaltui.compare.measures", "evaltui.gate.decide",
                     "evaltui.triage", "evaltui.lifecycle", "evaltui.taxonomy", "evaltui.stats",
                     "evaltui.files", "evaltui.import_process", "evaltui.exporters.markdown",
                     "evaltui.store.events", "evaltui.importers.inspect_ai"):  # fmt: skip
        assert expected in HEADLESS
    assert not any(m.startswith(FRONT_ENDS) for m in HEADLESS)


def test_no_module_below_the_front_ends_loads_textual():
    code = (
        "import importlib, json, sys\n"
        f"for m in {HEADLESS!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps('textual' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False


@pytest.mark.parametrize("module", HEADLESS)
def test_each_headless_module_alone_does_not_load_textual(module):
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_module_below_the_front_ends_imports_textual_or_click():
    """Static: click is loaded at run time by sqlite-utils (its own CLI), so the check that
    our layers never use it reads the imports themselves."""
    front = re.compile(r"^\s*(?:from|import)\s+(textual|click)\b", re.M)
    bad = [
        f"{m}: {hit}"
        for m in HEADLESS
        for path in [PACKAGE.joinpath(*m.split(".")[1:]).with_suffix(".py")]
        if path.exists()
        for hit in front.findall(path.read_text())
    ] + [
        f"{m}: {hit}"
        for m in HEADLESS
        for path in [PACKAGE.joinpath(*m.split(".")[1:], "__init__.py")]
        if path.exists()
        for hit in front.findall(path.read_text())
    ]
    assert bad == []


def test_the_cli_does_not_load_textual():
    code = "import sys, evaltui.cli; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


SQL = re.compile(r"execute\(|SELECT |INSERT |UPDATE ")


def test_front_ends_hold_no_sql():
    """The CLI and the app call the domain; queries live below them."""
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for front in ("cli", "tui")
        for path in sorted((PACKAGE / front).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if SQL.search(line)
    ]
    assert hits == []


def test_no_module_is_too_long():
    """A module holds one concept; the comparison engine (one query object) may be longer."""
    limits = {"compare/engine.py": 750}
    too_long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > limits.get(str(p.relative_to(PACKAGE)), 500)
    }
    assert too_long == {}


def test_nothing_imports_upward():
    """Layers import only those below them: the domain never imports a front end or an exporter."""
    order = {"cli": 6, "tui": 6, "exporters": 5}
    bad = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        layer = order.get(rel.parts[0], 4) if len(rel.parts) > 1 else 4
        if rel.name == "__main__.py":  # `python -m evaltui`: an entry point, like the CLI
            layer = 6
        for m in re.finditer(r"^\s*(?:from|import) evaltui\.(\w+)", path.read_text(), re.M):
            if order.get(m[1], 0) > layer:
                bad.append(f"{rel} imports evaltui.{m[1]}")
    assert bad == []


def test_the_decision_schema_is_generated_from_the_model():
    from evaltui.gate.record import json_schema

    assert json.loads((ROOT / "docs" / "decision.schema.json").read_text()) == json_schema()
