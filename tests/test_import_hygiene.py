"""The package's shape: front ends without SQL or Textual below them, module sizes
(Harlequin's checks, walked). The layers themselves: tests/test_layers.py."""

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
                     "evaltui.review.triage", "evaltui.review.lifecycle", "evaltui.review.taxonomy", "evaltui.stats",
                     "evaltui.files", "evaltui.service.import_process", "evaltui.exporters.markdown",
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


def test_the_decision_schema_is_generated_from_the_model():
    from evaltui.gate.record import json_schema

    assert json.loads((ROOT / "docs" / "decision.schema.json").read_text()) == json_schema()


# -- the one door for untrusted text: the only easy way to show data -------------------------

_DATA_WIDGETS = {"Static", "Label", "DataTable", "Input", "OptionList", "Option", "Log",
                 "RichLog", "Markdown", "Pretty", "TextArea", "Tree", "ListView", "Select"}  # fmt: skip


def _imports(path):
    import ast

    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "", node.lineno


def test_screens_draw_data_only_in_the_guarded_widgets():
    """Textual's data widgets are imported only by tui/widgets/safe.py, whose versions
    pass everything through textsafe.inert; a new screen cannot forget the door."""
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {module} {name}"
        for path in sorted((PACKAGE / "tui").rglob("*.py"))
        if path.name != "safe.py"
        for module, name, line in _imports(path)
        if module.startswith("textual.widgets")
        and (name in _DATA_WIDGETS or module != "textual.widgets")
    ]
    assert hits == []


def test_the_cli_prints_only_through_its_guarded_console_and_echo():
    import ast

    hits = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        if path.name == "output.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                owner = getattr(getattr(f, "value", None), "id", "")
                method_print = isinstance(f, ast.Attribute) and owner != "click" and name == "print"
                if (owner == "click" and name in ("echo", "secho")) or (
                    name in ("Console", "print") and not method_print
                ):
                    hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {owner}.{name}")
    assert hits == []


ESC_PAYLOAD = "a\x1b]52;c;cHduZWQ=\x07b\x9b31m\u202ec[bold]d[/]"


def _assert_inert_text(text: str) -> None:
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(
        text
    )


def test_inert_guards_text_built_from_data_and_keeps_styles():
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from evaltui.textsafe import Inert, inert

    t = Text("label: ")
    t.append(ESC_PAYLOAD, style="bold")
    table = Table(ESC_PAYLOAD)
    table.add_row(Text(ESC_PAYLOAD), ESC_PAYLOAD)
    out = inert(Group(t, table, ESC_PAYLOAD))
    _assert_inert_text(t.plain)
    assert t.spans and t.spans[0].style == "bold" and t.plain.startswith("label: a␛]52")
    for cell in [table.columns[0].header, *table.columns[0]._cells, *table.columns[1]._cells]:
        assert isinstance(cell, Text)
        _assert_inert_text(cell.plain)
    last = out.renderables[-1]
    assert isinstance(last, Inert) and "[bold]d[/]" in last.plain  # literal, not markup
    with pytest.raises(TypeError, match="cannot be shown"):
        inert(object())


def test_the_cli_console_and_echo_print_nothing_raw(capsys):
    from rich.text import Text

    from evaltui.cli.output import echo, make_console

    console = make_console()
    console.print(ESC_PAYLOAD)
    console.print(Text(ESC_PAYLOAD))
    echo(ESC_PAYLOAD)
    out = capsys.readouterr().out
    _assert_inert_text(out)
    assert out.count("[bold]d[/]") == 3


async def test_the_guarded_widgets_show_data_literally():
    from rich.text import Text
    from textual.app import App

    from evaltui.tui.widgets.safe import DataTable, Input, Option, OptionList, Static

    class Probe(App[None]):
        def compose(self):
            yield Static(ESC_PAYLOAD, id="s")
            yield DataTable(id="t")
            yield Input(ESC_PAYLOAD, id="i")
            yield OptionList(ESC_PAYLOAD, Option(Text(ESC_PAYLOAD)), id="o")

    app = Probe()
    async with app.run_test() as pilot:
        static = app.query_one("#s", Static)
        static.update(Text(ESC_PAYLOAD))
        table = app.query_one("#t", DataTable)
        table.add_column(ESC_PAYLOAD)
        table.add_row(ESC_PAYLOAD)
        await pilot.pause()
        _assert_inert_text(str(static.render()))
        _assert_inert_text(str(table.get_cell_at((0, 0))))
        _assert_inert_text(app.query_one("#i", Input).value)
        options = app.query_one("#o", OptionList)
        for i in range(options.option_count):
            _assert_inert_text(str(options.get_option_at_index(i).prompt))
        _assert_inert_text(app.export_screenshot())  # what the terminal would get
