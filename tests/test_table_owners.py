"""One owner per table (#25): each table of the store is named in SQL by one module.

Other code calls the owner's public functions. The schema's own modules (the
migrations, the recognition of a store) name every table and are exempt. A table
added to the schema without an owner here fails the test, as does SQL naming a
table outside its owner."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import evaltui
from evaltui.store import Store

PACKAGE = Path(evaltui.__file__).resolve().parent

OWNERS: dict[str, str] = {
    # store mechanics
    "settings": "store/store.py",
    "_sqlite_migrations": "store/store.py",
    # runs, cases, results (written at import, read by comparisons, history, lifecycle)
    "runs": "store/runs/",
    "cases": "store/runs/",
    "results": "store/runs/",
    "run_cases": "store/runs/",
    "attr_sets": "store/runs/",
    "run_criteria": "store/runs/",
    "trajectories": "store/runs/",
    # triage
    "findings": "review/triage/",
    "case_triage": "review/triage/",
    # the event log and the decisions it heads
    "events": "store/events.py",
    "decisions": "store/decisions.py",
    # measuring the judges
    "judgments": "review/calibration/judgments.py",
    "calibration_samples": "review/calibration/samples.py",
    "gold": "review/calibration/gold.py",
    # the team store's local ledger
    "team_events": "team/ledger.py",
    # release decisions kept as another's (pulled from the team store)
    "team_decisions": "store/team_decisions.py",
    # the production estimate's traffic weights
    "traffic_weights": "store/traffic.py",
    # the label guide: the taxonomy's versions and the codebook's rulings
    "taxonomy_versions": "review/taxonomy.py",
    "codebook_rulings": "review/labelguide/rulings.py",
}
SCHEMA = ("store/migrations/", "store/schema.py")
_SQL = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE(?: IF NOT EXISTS)?)\s+\"?([a-z_][a-z0-9_]*)\b")


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant but docstrings (an f-string's literal parts joined)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = " ".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            out.append((node.lineno, text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            out.append((node.lineno, node.value))
    return out


def named_tables() -> dict[str, set[tuple[str, int]]]:
    """table -> {(module, line)} of every string naming it after an SQL keyword."""
    found: dict[str, set[tuple[str, int]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            for name in _SQL.findall(text):
                if name in OWNERS:
                    found.setdefault(name, set()).add((rel, line))
    return found


def _owns(owner: str, module: str) -> bool:
    """An owner is a module, or a package (ending in /) whose modules share the tables."""
    return module.startswith(owner) if owner.endswith("/") else module == owner


def test_every_table_of_the_store_has_an_owner(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        tables = {
            r[0]
            for r in store.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    assert tables - OWNERS.keys() == set(), "a table with no owner in OWNERS"
    assert OWNERS.keys() - tables == set(), "an owner for a table the schema does not make"


def test_only_the_owner_names_a_table_in_sql() -> None:
    strays = sorted(
        f"{module}:{line} names {table} (owner: {OWNERS[table]})"
        for table, sites in named_tables().items()
        for module, line in sites
        if not _owns(OWNERS[table], module) and not module.startswith(SCHEMA)
    )
    assert strays == []


def test_the_scan_sees_sql_in_strings_and_f_strings() -> None:
    tree = ast.parse(
        '"""FROM runs in prose"""\nx = "SELECT id FROM runs"\ny = f"SELECT 1 FROM {t} JOIN cases c"\n'
    )
    names = [n for _, s in _strings(tree) for n in _SQL.findall(s)]
    assert "runs" in names and "cases" in names
    assert len([n for n in names if n == "runs"]) == 1  # the docstring is not SQL
