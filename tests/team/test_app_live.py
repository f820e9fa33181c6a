"""The app on a store that joined a team (Pilot, real keys, a real PostgreSQL): the team
line says connected, offline and what is pending; another member's label shows in the
case list and the case pane without a key pressed (LISTEN/NOTIFY); a key pressed here is
pushed at once."""

from __future__ import annotations

import time

from rich.console import Console

from evaltui.tui.app import EvaltuiApp

from ..tui.conftest import open_compare, pane_text
from .conftest import Team
from .stores import CLASSES, make_locals

BOUND_S = 30.0  # turns a hang into a failure; every wait below is on state


async def until(pilot, done, what: str) -> float:
    """Look at the state between short pauses until `done()`; the seconds it took."""
    start = time.perf_counter()
    while not done():
        assert time.perf_counter() - start < BOUND_S, f"never happened: {what}"
        await pilot.pause(0.02)  # between looks at the state, not a wait for time to pass
    return time.perf_counter() - start


def team_line(app) -> str:
    line = app.screen.query_one("#team")
    if not line.display:
        return ""
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(line.content)
    return console.export_text().strip()


def row_of(screen, key: str):
    return next((r for r in screen.browser.cursor.rows if r.case_key == key), None)


async def test_the_app_shows_another_members_label_live_and_pushes_its_own(
    team: Team, tmp_path, monkeypatch
):
    monkeypatch.setenv("EVALTUI_REVIEWER", "ana")  # who the app's keys write as
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")], n=12)
    app = EvaltuiApp(ana.db)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: "connected" in team_line(app), "the team line: connected")
        assert team_line(app) == "team p · connected · pending 0"
        screen = await open_compare(app, pilot)
        assert team_line(app) == "team p · connected · pending 0"
        first = screen.current.case_key
        # bo labels the case ana is looking at, in his own store, and syncs
        bo.label(int(first[1:]), 4, note="bo's reading")
        bo.sync()
        seen = await until(
            pilot,
            lambda: (
                f"bo labelled {first}" in team_line(app)
                and (row_of(screen, first) is not None)
                and row_of(screen, first).triage_class == CLASSES[4].key
                and "bo's reading" in pane_text(screen)
            ),
            "bo's label in ana's app",
        )
        print(f"\nbo's label shown in ana's app {seen:.2f} s after his sync returned")
        # ana presses a class key: pushed at once, bo's store gets it
        await pilot.press("1")
        await until(pilot, lambda: team.count("author = 'ana'") == 1, "ana's label pushed")
        await until(pilot, lambda: "pending 0" in team_line(app), "nothing pending")
        assert bo.sync().outcome.added == 1
        # the server stops: the line says offline, and what waits
        team.server.pause()
        try:
            await until(pilot, lambda: "offline" in team_line(app), "offline")
            await pilot.press("2")
            await until(pilot, lambda: "pending 1" in team_line(app), "pending 1")
            assert app.screen is screen  # no dialog: a lost connection is a state
        finally:
            team.server.resume()
            team.reconnect()
        await pilot.press("3")  # a key after the server is back: pushed with the other
        await until(
            pilot,
            lambda: "connected · pending 0" in team_line(app),
            "connected again with nothing pending",
        )
        assert team.count("author = 'ana'") == 3
    assert app._live is not None
    assert app._live.join(BOUND_S) == 0  # the link process ends with the app


async def test_a_store_that_joined_no_team_shows_no_team_line(tmp_path, demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        assert not app.screen.query_one("#team").display and app._live is None
