"""The first hour, polished (#26), in the app: the runs, gate, stale and help screens as a
new user meets them, real keys pressed (Pilot)."""

from __future__ import annotations

from textual.widgets import DataTable

from evaltui import service
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp

from .conftest import settle


def marks(table: DataTable) -> list[str]:
    return [table.get_cell(row_key, "mark").plain for row_key in table.rows]


# -- 1. the runs screen steps with j / k ----------------------------------------------------


async def test_j_and_k_move_on_the_runs_screen_so_marks_land_on_different_runs(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        # typed ahead, no wait between keys: each mark is saved in the order pressed
        await pilot.press("j", "j", "b", "k", "c", "k", "f")
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert marks(table) == ["FALL", "CAND", "BASE"]
        assert table.cursor_row == 0
        await pilot.press("k")  # at the top: stays
        assert table.cursor_row == 0
        await pilot.press("j", "j", "j")  # at the bottom: stays
        assert table.cursor_row == 2
    with Store(db_path) as store:
        assert service.get_selection(store) == {"baseline": 3, "candidate": 2, "fallback": 1}
