"""Retire from the compare screen and bulk-retire from the stale screen, by keys."""

from __future__ import annotations

from evaltui.review import lifecycle
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.compare import CompareScreen
from evaltui.tui.screens.prompts import ConfirmEffect
from evaltui.tui.screens.stale import StaleScreen
from evaltui.tui.widgets.header import Counts

from .conftest import expected_order, open_compare, settle


async def test_retire_a_case_with_reason_note_and_preview(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("X")
        await settle(app, pilot)
        await pilot.press("down", "enter")  # quarantine is first; then retire: obsolete_policy
        await settle(app, pilot)
        await pilot.press(*"policy v2 replaced", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmEffect)
        await pilot.press("n")  # cancel: nothing written
        await settle(app, pilot)
        with Store(db_path) as store:
            assert lifecycle.status_counts(store)["retired"] == 0
        await pilot.press("X")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        await pilot.press(*"policy v2 replaced", "enter")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        assert isinstance(app.screen, CompareScreen)
        with Store(db_path) as store:
            (row,) = lifecycle.list_cases(store, status="retired")
            assert (row.case_key, row.reason, row.note) == (
                order[0],
                "obsolete_policy",
                "policy v2 replaced",
            )
            assert store.events()[-1].action == "case.retire"
        assert screen.query_one(Counts).counts["regressed"] == 36  # left out of the figures
        assert "excluded: 1 retired" in str(screen.query_one("#counts").content)
        assert order[0] not in [r.case_key for r in screen.browser.cursor.rows]
        await pilot.press("H")  # count them again
        await settle(app, pilot, rounds=6)
        assert screen.query_one(Counts).counts["regressed"] == 37


async def test_stale_screen_bulk_retires_in_one_go(demo_store, db_path):
    with Store(db_path) as store:
        suggested = [s for s in lifecycle.stale(store) if s.preselect]
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, StaleScreen)
        stale = app.screen
        assert len(stale.suggestions) == len(lifecycle.stale(demo_store))
        await pilot.press("A")
        assert len(stale.selected) == len(suggested)
        await pilot.press("X")
        await settle(app, pilot)
        await pilot.press("enter")  # the first suggestion's reason is highlighted
        await settle(app, pilot)
        await pilot.press(*"cleanup", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmEffect)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
    with Store(db_path) as store:
        distinct = len({s.case_id for s in suggested})  # a case may match two rules
        assert lifecycle.status_counts(store)["retired"] == distinct
        retire_events = [e for e in store.events() if e.action == "case.retire"]
        assert len(retire_events) == distinct
        assert {e.context["cases"] for e in retire_events} == {distinct}  # one bulk action


async def test_retiring_keeps_the_place_in_the_list(demo_store, db_path):
    """Retire case 5: the cursor stays at position 5, now on the case after it."""
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("j", "j", "j", "j")
        await settle(app, pilot)
        assert screen.position == 5 and screen.current.case_key == order[4]
        await pilot.press("X")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        await pilot.press(*"gone", "enter")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=8)
        assert screen.total == len(order) - 1
        assert screen.position == 5 and screen.current.case_key == order[5]
        assert f"case 5 of {len(order) - 1}" in str(screen.query_one("#filter-line").content)
