"""The command line: every app action has a scriptable twin here (one module per concern).

Each command's module is imported when the command is asked for
(`app.COMMAND_MODULES`); Textual is loaded only inside the command that opens the app.
"""

from evaltui.cli.app import cli, main

__all__ = ["cli", "main"]
