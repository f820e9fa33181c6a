"""Nothing below the front end imports Textual (Harlequin's check)."""

import subprocess
import sys

import pytest

HEADLESS = [
    "evaltui.models",
    "evaltui.errors",
    "evaltui.paths",
    "evaltui.textsafe",
    "evaltui.store",
    "evaltui.importers",
    "evaltui.service",
    "evaltui.cli",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_does_not_load_textual(module):
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
