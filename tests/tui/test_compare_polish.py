"""The compare screen's small frictions (#26), by real keys: the cursor kept on its case
through `H` and the reducer, undo saying what it undid, search matches marked in the
case pane and a hint for an unknown class, one wording of each change kind, identical
grader lines collapsed, the findings table unwrapped."""

from __future__ import annotations

from evaltui import lifecycle, service
from evaltui.compare import Comparison, Filter, Reducer
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.prompts import OptionPicker

from .conftest import open_compare, settle


def keys_of(db_path, flt=None, **kwargs) -> list[str]:
    with Store(db_path) as store:
        sel = service.get_selection(store)
    with Comparison(db_path, sel["baseline"], sel["candidate"], sel["fallback"], **kwargs) as cmp:
        return [r.case_key for r in cmp.page(flt or Filter(), limit=1000)]


# -- 4. the cursor stays on its case -----------------------------------------------------------


async def test_counting_retired_cases_keeps_the_cursor_on_its_case(demo_store, db_path):
    order = keys_of(db_path)
    # two cases above the sixth retired: counted again, they come back above it
    lifecycle.retire(demo_store, lifecycle.resolve_cases(demo_store, order[1:3]), "obsolete_policy")
    shown = keys_of(db_path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("j", "j", "j", "j", "j")
        await settle(app, pilot)
        assert screen.position == 6 and screen.current.case_key == shown[5]
        await pilot.press("H")  # retired cases counted: two more rows above it
        await settle(app, pilot, rounds=6)
        assert screen.current.case_key == shown[5] and screen.position == 8
        assert screen.browser.listing.cursor == 8
        await pilot.press("H")  # and left out again
        await settle(app, pilot, rounds=6)
        assert screen.current.case_key == shown[5] and screen.position == 6


async def test_choosing_a_reducer_keeps_the_case_and_the_filter(demo_store, db_path):
    regressed = Filter(frozenset({"regressed"}))
    order = keys_of(db_path, regressed)
    majority = keys_of(db_path, regressed, reducer=Reducer.parse("majority"))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("f")  # regressions only
        await settle(app, pilot)
        kept = next(i for i, key in enumerate(order) if key in majority and i >= 3)
        for _ in range(kept):
            await pilot.press("j")
        await settle(app, pilot)
        assert screen.current.case_key == order[kept]
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, OptionPicker)
        await pilot.press("down", "enter")  # worst, majority
        await settle(app, pilot, rounds=8)
        assert screen.comparison.reducer.label == "majority"
        assert screen.flt.changes == frozenset({"regressed"})  # the filter stays
        assert screen.current.case_key == order[kept]
        assert screen.position == majority.index(order[kept]) + 1
        gone = next(i for i, key in enumerate(majority) if key not in keys_of(
            db_path, regressed, reducer=Reducer.parse("best")))  # fmt: skip
        await pilot.press("home", *["j"] * gone)
        await settle(app, pilot)
        # best (the picker starts on majority): the case leaves the list
        await pilot.press("R", "down", "down", "enter")
        await settle(app, pilot, rounds=8)
        assert screen.comparison.reducer.label == "best"
        best = keys_of(db_path, regressed, reducer=Reducer.parse("best"))
        # the case now at its position (or the last, when the list got shorter)
        assert screen.current.case_key == best[min(gone, len(best) - 1)]


# -- 5. undo says what it undid ------------------------------------------------------------------


async def test_undo_says_what_it_undid_and_where(demo_store, db_path):
    from textual.widgets import Static

    order = keys_of(db_path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)

        def status() -> str:
            return str(screen.query_one("#status", Static).content)

        await pilot.press("1")  # unsupported_claim, then the next untriaged case
        await settle(app, pilot)
        await pilot.press("v", "enter")  # a verdict on the second case (real_regression)
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == f"Undid: verdict real_regression on support-assistant/{order[1]} (saved)"
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == f"Undid: class unsupported_claim on support-assistant/{order[0]} (saved)"
        assert screen.current.case_key == order[0]  # the cursor goes to the case undone
        assert screen.current.triage_class is None
        await pilot.press("e", *"see [red]x[/]", "enter")
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == f"Undid: note “see [red]x[/]” on support-assistant/{order[0]} (saved)"
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == "Nothing of yours to undo in this comparison"
