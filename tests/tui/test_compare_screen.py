"""The compare screen through Pilot: real keys, assertions on the shown case and the panes."""

from __future__ import annotations

import threading

from textual.widgets import DataTable, Static

from evaltui import service
from evaltui.compare import CHANGES, FILTER_CYCLE, Comparison, Filter
from evaltui.tui import case_cursor
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.case import CaseScreen
from evaltui.tui.screens.compare import CompareScreen
from evaltui.tui.screens.runs import RunsScreen
from evaltui.tui.widgets import CaseList

# (other test modules import the shared helpers from here too)
from .conftest import expected_order, open_compare, pane_text, settle, wait_until

__all__ = ["expected_order", "open_compare", "pane_text", "settle"]


async def test_enter_opens_the_comparison_on_the_worst_case(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.current.case_key == order[0]
        assert screen.current.change == "regressed" and screen.current.segments["risk"] == "high"
        text = pane_text(screen)
        case = demo_store.conn.execute(
            "SELECT input, expected FROM cases WHERE case_key = ?", (order[0],)
        ).fetchone()
        assert case[0][:60] in text.replace("\n", " ") or case[0][:30] in text
        assert "REGRESSED" in text and "baseline pass" in text and "candidate fail" in text
        assert "criteria (worst over samples)" in text and "samples (3)" in text
        counts = screen.query_one("#counts", Static).content
        assert "REGRESSED 37" in str(counts)
        board = screen.query_one("#scoreboard", DataTable)
        labels = [board.get_row_at(i)[0].plain for i in range(board.row_count)]
        assert labels[0] == "all" and "risk=high" in labels


async def test_stepping_and_jumping(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        for i in range(1, 4):
            await pilot.press("j")
            await settle(app, pilot)
            assert screen.current.case_key == order[i]
            assert screen.position == i + 1
        await pilot.press("k")
        await settle(app, pilot)
        assert screen.current.case_key == order[2]
        assert f"case 3 of {len(order)}" in str(screen.query_one("#filter-line", Static).content)
        # next regression from the last regression lands nowhere: a notice, the case stays
        await pilot.press("n")
        await settle(app, pilot)
        assert screen.current.case_key == order[3]


def small_pages(monkeypatch, page: int = 5) -> None:
    monkeypatch.setattr(case_cursor, "PAGE", page)  # the cursor's page (and preview) size


async def test_paging_past_the_window_keeps_the_widget_small(demo_store, db_path, monkeypatch):
    small_pages(monkeypatch)
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        for _ in range(12):
            await pilot.press("j")
            await settle(app, pilot)
        assert screen.current.case_key == order[12]
        listing = screen.query_one("#cases", CaseList)
        # bounded: three pages, or two screens of rows when that is more
        assert (
            len(listing.rows) <= max(15, 2 * listing.size.height)
            and listing.rows is screen.browser.cursor.rows
        )
        assert order[12] in listing.render_line(listing.cursor - int(listing.scroll_offset.y)).text
        for _ in range(3):
            await pilot.press("k")
            await settle(app, pilot)
        assert screen.current.case_key == order[9]
        assert screen.position == 10


async def test_keys_typed_ahead_all_land_across_pages(demo_store, db_path, monkeypatch):
    """40 presses sent without waiting move exactly 40 cases, through 8 pages of 5."""
    small_pages(monkeypatch)
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press(*["j"] * 40)
        await settle(app, pilot)
        assert screen.position == 41 and screen.current.case_key == order[40]
        assert order[40] in pane_text(screen)
        await pilot.press(*["k"] * 23)
        await settle(app, pilot)
        assert screen.position == 18 and screen.current.case_key == order[17]


async def test_home_and_end_jump_to_the_first_and_last_case(demo_store, db_path, monkeypatch):
    small_pages(monkeypatch)
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("end")
        await settle(app, pilot)
        assert screen.position == len(order) and screen.current.case_key == order[-1]
        assert f"case {len(order)} of {len(order)}" in str(
            screen.query_one("#filter-line", Static).content
        )
        await pilot.press("k", "k")
        await settle(app, pilot)
        assert screen.current.case_key == order[-3]
        await pilot.press("home")
        await settle(app, pilot)
        assert screen.position == 1 and screen.current.case_key == order[0]
        await pilot.press("pagedown")
        await settle(app, pilot)
        assert screen.position > 10 and screen.current.case_key == order[screen.position - 1]


async def test_filters_search_and_full_case(demo_store, db_path):
    regressed, _ = expected_order(db_path, demo_store, Filter(frozenset({"regressed"})))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("f")  # changed -> regressed
        await settle(app, pilot)
        assert screen.flt.changes == frozenset({"regressed"}) and screen.total == len(regressed)
        await pilot.press("F")
        await settle(app, pilot)
        assert screen.total == 302
        # a segment from the scoreboard
        await pilot.press("tab")  # cases -> case pane
        await pilot.press("tab")  # -> scoreboard
        board = screen.query_one("#scoreboard", DataTable)
        assert board.has_focus
        target = next(
            i for i in range(board.row_count) if board.get_row_at(i)[0].plain == "task=policy"
        )
        board.move_cursor(row=target)
        await pilot.press("s")
        await settle(app, pilot)
        assert screen.flt.segment == ("task", "policy")
        assert all(r.segments["task"] == "policy" for r in screen.browser.cursor.rows)
        await pilot.press("F")
        await settle(app, pilot)
        # search: typed keys go to the box, not to the screen's bindings
        await pilot.press("slash")
        await pilot.press(*"refunds-004")
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.flt.text == "refunds-004" and screen.total == 1
        assert screen.current.case_key == "refunds-004"
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)


async def test_all_changes_listed_with_filter_cycle(demo_store, db_path):
    everything, _cmp = expected_order(db_path, demo_store, Filter(frozenset(CHANGES)))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        kinds_seen = []
        for _ in range(len(FILTER_CYCLE)):
            await pilot.press("f")
            await settle(app, pilot)
            kinds_seen.append(screen.flt.changes)
            assert screen.total > 0  # `f` skips kinds with no cases
            if screen.flt.changes == frozenset(CHANGES):
                break
        assert screen.flt.changes == frozenset(CHANGES) and screen.total == len(everything) == 360
        assert frozenset({"dropped"}) not in kinds_seen  # the demo has none: skipped


async def test_compare_needs_two_marked_runs(store, db_path, tmp_path):
    from tests.helpers import line, write_jsonl

    service.import_path(
        store, write_jsonl(tmp_path / "a.jsonl", [line("a")], header={"name": "only"})
    )
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)


async def test_zoom_gives_the_case_pane_the_width_and_stepping_still_works(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("z")
        await settle(app, pilot)
        assert not screen.query_one("#cases", CaseList).display
        await pilot.press("j")
        await settle(app, pilot)
        assert screen.current.case_key == order[1]
        assert order[1] in pane_text(screen)
        await pilot.press("z")
        assert screen.query_one("#cases", CaseList).display


async def test_keys_pressed_while_only_the_first_page_is_there_all_land(
    demo_store, db_path, monkeypatch
):
    """The first page shows from a preview while the whole comparison is built; 70 keys
    pressed before it is ready (past the preview's 60 rows) move exactly 70 cases, and
    the case there shows once the whole comparison is in. The whole comparison is held
    until every key has landed: the order of events is fixed, whatever the machine's load."""
    from evaltui.compare import engine

    order, _ = expected_order(db_path, demo_store)
    real, release = engine.Comparison._build, threading.Event()

    def held_build(self):
        real(self)
        if self.first is None:
            release.wait(timeout=120)  # (the timeout only keeps a failed test from hanging)

    monkeypatch.setattr(engine.Comparison, "_build", held_build)
    app = EvaltuiApp(db_path)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(app, pilot)
            await pilot.press("enter")

            def preview_shown() -> bool:
                return isinstance(app.screen, CompareScreen) and app.screen.current is not None

            await wait_until(app, pilot, preview_shown, "the preview's first case on screen")
            screen = app.screen
            assert screen.comparison.first is not None and screen.position == 1
            await pilot.press(*["j"] * 70)
            await wait_until(app, pilot, lambda: screen.position == 71, "70 keys handled")
            assert screen.comparison.first is not None  # every key landed on the preview
            assert screen.current is None  # past the preview's page: no case to show yet
            release.set()

            def whole_shown() -> bool:
                cursor = screen.browser.cursor
                return (screen.comparison.first is None and screen.browser.counted
                        and not cursor.fetching and cursor.detail is not None)  # fmt: skip

            await wait_until(app, pilot, whole_shown, "the whole comparison, a case shown")
            await settle(app, pilot)
            assert screen.total == len(order)
            assert screen.position == 71 and screen.current.case_key == order[70]
            assert screen.current_detail.case_key == order[70]
    finally:
        release.set()


def test_a_preview_holds_the_first_page_of_the_whole_comparison(demo_store, db_path):
    with Comparison(db_path, 1, 2, 3, first=60) as preview, Comparison(db_path, 1, 2, 3) as whole:
        first = preview.page(Filter(), limit=60)
        assert [(r.case_id, r.ord, r.change) for r in first] == [
            (r.case_id, r.ord, r.change) for r in whole.page(Filter(), limit=60)
        ]
        assert preview.read_case(first[0])[1] == whole.read_case(first[0])[1]


async def test_scrolling_the_list_fills_the_rows_it_shows_and_the_cursor_stays(
    demo_store, db_path, monkeypatch
):
    small_pages(monkeypatch)
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        listing = screen.query_one("#cases", CaseList)
        listing.scroll_to(y=200, animate=False, immediate=True)  # as the mouse wheel does
        await settle(app, pilot, rounds=8)
        assert listing.missing_on_screen() is None
        top = int(listing.scroll_offset.y)
        assert order[top] in listing.render_line(1).text  # the first line under the header
        assert screen.position == 1 and screen.current.case_key == order[0]
        await pilot.press("j")
        await settle(app, pilot)
        assert screen.position == 2 and screen.current.case_key == order[1]
