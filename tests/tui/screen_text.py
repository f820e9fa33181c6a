"""What the terminal shows, as text: the app's screen (and any dialog over it) rendered
as Textual's own screenshot is (App.export_screenshot), exported as plain text."""

from __future__ import annotations

import io

from rich.console import Console


def screen_text(app) -> str:
    """The screen as it is drawn: one line per terminal row."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system="truecolor", legacy_windows=False,
                      safe_box=False)  # fmt: skip
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def squeezed(text: str) -> str:
    """The screen's words in order, line ends and runs of spaces as one space."""
    return " ".join(text.split())
