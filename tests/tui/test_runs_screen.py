"""The app through Textual's Pilot: real key presses, assertions on store and widgets."""

from textual.widgets import DataTable

from evaltui import service
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.help import HelpScreen
from evaltui.tui.screens.runs import RunsScreen


async def _settle(app, pilot):
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def _cells(table: DataTable, column: str) -> list[str]:
    return [table.get_cell(row_key, column).plain for row_key in table.rows]


async def test_runs_screen_lists_imported_runs(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(140, 30)) as pilot:
        await _settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)
        table = app.screen.query_one(DataTable)
        assert _cells(table, "name") == [
            "prod-2026-11-02",
            "cand-2026-11-20",
            "fallback-2026-11-20",
        ]
        assert _cells(table, "rate") == ["73.1%", "61.1%", "62.5%"]
        # roles proposed the marks before anything was chosen
        assert _cells(table, "mark") == ["BASE", "CAND", "FALL"]


async def test_marking_keys_save_the_selection_and_log_it(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(140, 30)) as pilot:
        await _settle(app, pilot)
        await pilot.press("down", "down", "c")  # fallback run becomes the candidate
        await _settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert _cells(table, "mark") == ["BASE", "", "CAND"]
        await pilot.press("up", "up", "x")  # clear the baseline mark
        await _settle(app, pilot)
        assert _cells(table, "mark") == ["", "", "CAND"]
    with Store(db_path) as store:
        assert service.get_selection(store) == {"baseline": None, "candidate": 3, "fallback": None}
        events = [e for e in store.events() if e.action == "set"]
        assert [e.after for e in events] == [
            {"baseline": 1, "candidate": 3, "fallback": None},
            {"baseline": None, "candidate": 3, "fallback": None},
        ]


async def test_help_lists_the_real_bindings(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        ids = {k.binding_id for k in app.screen.keys}
        expected = {b.id for b in screen.BINDINGS} | {"app.help", "app.quit"}
        assert expected <= ids
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_empty_store_says_how_to_start(db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(120, 20)) as pilot:
        await _settle(app, pilot)
        text = str(app.screen.query_one("#empty").render())
        assert "evaltui import FILE" in text and "evaltui demo" in text


async def test_hostile_run_name_is_shown_literally(db_path, tmp_path):
    from tests.helpers import line, write_jsonl

    name = "[bold red]pwn[/] \x1b]0;title\x07 \x1b[31m"
    path = write_jsonl(tmp_path / "h.jsonl", [line("a")], header={"name": name})
    with Store(db_path) as store:
        service.import_path(store, path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(140, 20)) as pilot:
        await _settle(app, pilot)
        cell = app.screen.query_one(DataTable).get_cell("1", "name")
        assert cell.plain.startswith("[bold red]pwn[/] ␛]0;title␇ ␛[3")
        assert cell.spans == []


async def test_the_limit_column_shows_only_when_a_run_has_such_results(store, db_path):
    """Results stopped at a limit or with no verdict get a column (limit/none); a store
    without any keeps the width for the rest."""
    from evaltui import service
    from evaltui.tui.app import EvaltuiApp
    from evaltui.tui.widgets.safe import DataTable

    from ..conftest import FIXTURES
    from .conftest import settle

    service.load_demo(store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(app, pilot)
        labels = [str(c.label) for c in app.screen.query_one(DataTable).columns.values()]
        assert "limit/none" not in labels
    limits = sorted((FIXTURES / "inspect_ai" / "round2" / "limits").glob("*.eval"))[0]
    (out,) = service.import_path(store, limits)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert "limit/none" in labels
        row = table.get_row(str(out.run_id))
        assert str(row[labels.index("limit/none")]) == "10/0"
