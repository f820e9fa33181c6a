"""Function-local imports only where load time needs them (#25): each one says why, in a
comment on its line or the line above, naming `load time` (what it keeps from loading)
or a `cycle` (the import that would go round). Imports under `if TYPE_CHECKING:` never
run and need no reason. A pragma (noqa, type: ignore, fmt:) is not a reason."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import evaltui

PACKAGE = Path(evaltui.__file__).resolve().parent
REASON = re.compile(r"\b(load time|cycle)\b")
PRAGMA = re.compile(r"^\s*(noqa\b|type:|fmt:|pragma\b)")


def _comments(source: str) -> dict[int, tuple[str, bool]]:
    """line -> (the comment's reason text, pragmas left out; whether the line is only it)."""
    out: dict[int, tuple[str, bool]] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            parts = [p for p in tok.string.split("#") if p.strip() and not PRAGMA.match(p)]
            alone = not tok.line[: tok.start[1]].strip()
            out[tok.start[0]] = ("#".join(parts), alone)
    return out


def unexplained(source: str) -> list[int]:
    """The lines of function-local imports (outside `if TYPE_CHECKING:`) without a reason."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    comments = _comments(source)

    def explained(line: int) -> bool:
        here = comments.get(line, ("", False))[0]
        above, alone = comments.get(line - 1, ("", False))
        return bool(REASON.search(here) or (alone and REASON.search(above)))

    return sorted(
        {
            node.lineno
            for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(func)
            if isinstance(node, ast.Import | ast.ImportFrom)
            and id(node) not in skip
            and not explained(node.lineno)
        }
    )


def test_every_function_local_import_says_why() -> None:
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in unexplained(path.read_text(encoding="utf-8"))
    ]
    assert bad == []


def test_the_check_reads_comments_not_pragmas() -> None:
    source = "\n".join(
        [
            "from typing import TYPE_CHECKING",
            "import json  # a module-level import needs no reason",
            "def f():",
            "    import csv",  # 4: no reason
            "    import zlib  # load time: only f needs it",
            "    # cycle: x imports this module",
            "    import x",
            "    import y  # noqa: F401",  # 8: a pragma is not a reason
            "    import z  # load time: as above  # noqa: F401",
            "    s = '# load time'; import q",  # 10: a string is not a comment
            "    if TYPE_CHECKING:",
            "        import typing_only",
            "    x = 1  # load time",
            "    import w",  # 14: a comment after code above is not about this import
            "    class C:",
            "        def g(self):",
            "            from a import (  # cycle: a imports this module",
            "                b,",
            "            )",
            "            from c import d",  # 20
        ]
    )
    assert unexplained(source) == [4, 8, 10, 14, 20]
