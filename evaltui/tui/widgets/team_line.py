"""The team line under a screen's title: the team store's state (connected, offline,
pending N, the last other member's word), shown only on a store that joined a team."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from evaltui.tui.widgets.safe import Static


class TeamLine(Static):
    """One line; the app keeps it current (EvaltuiApp.team_changed)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text(""), id="team", **kwargs)
        self.display = False

    def on_mount(self) -> None:
        state = getattr(self.app, "team_state", None)
        if state is not None:
            self.show(state)

    def show(self, state: Any) -> None:
        """`state`: a team.live.LinkState (not imported here: the app loads it only for a
        store that joined a team)."""
        style = {"connected": "", "offline": "bold", "connecting": "italic"}.get(state.state, "")
        self.update(Text(state.text(), style=style), layout=not self.display)
        self.display = True
