"""The command line: every app action has a scriptable twin here (one module per concern).

Importing this package registers every command on `cli`; Textual is loaded
only inside the command that opens the app.
"""

from evaltui.cli import compare, gate, lifecycle, runs, triage  # noqa: F401  (registers the commands)
from evaltui.cli.app import cli, main

__all__ = ["cli", "main"]
