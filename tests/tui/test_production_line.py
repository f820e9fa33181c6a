"""The compare screen's production line (#28): with traffic weights in force the header
shows what users will see under the counts; without, nothing is estimated or shown."""

from __future__ import annotations

from textual.widgets import Static

from evaltui import service
from evaltui.compare import Comparison
from evaltui.compare.production import from_store, headline
from evaltui.review import lifecycle
from evaltui.store import Store
from evaltui.store import traffic as traffic_store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.trend import TrendScreen

from .conftest import open_compare, settle


async def test_the_header_shows_the_production_estimate_with_traffic_in_force(demo_store, db_path):
    traffic_store.keep_demo(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        counts = str(screen.query_one("#counts", Static).content)
        assert "production estimate (traffic demo-traffic #1, 2026-11-01/2026-11-30): " in counts
        assert "candidate 89.0%" in counts and "delta +6.9 pts" in counts
        assert "uncovered traffic 0.5% (task=policy, risk=high)" in counts
        assert "REGRESSED 37" in counts  # the counts stay as they were


async def test_no_traffic_no_production_line(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        counts = str(screen.query_one("#counts", Static).content)
        assert "REGRESSED 37" in counts and "production estimate" not in counts


async def test_the_production_line_is_recomputed_after_a_retire(demo_store, db_path):
    """X on a regression retires it (real keys): the line under the counts is then the
    estimate over the cases left, as `compare --json --traffic` computes it, not the old one."""
    traffic_store.keep_demo(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        before = production_line(screen)
        assert "delta +6.9 pts" in before
        await pilot.press("X")
        await settle(app, pilot)
        await pilot.press("down", "enter")  # retire: obsolete_policy
        await settle(app, pilot)
        await pilot.press(*"gone", "enter")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        assert "excluded: 1 retired" in str(screen.query_one("#counts", Static).content)
        after = production_line(screen)
    with Store(db_path) as store:
        (retired,) = lifecycle.list_cases(store, status="retired")
        sel = service.get_selection(store)
        expected = expected_line(store, sel)
    assert after == expected and after != before, (retired.case_key, before, after)


def production_line(screen) -> str:
    counts = str(screen.query_one("#counts", Static).content)
    return next(line for line in counts.splitlines() if "production estimate" in line)


def expected_line(store, sel) -> str:
    """The estimate's first line as the CLI's compare computes it from the store now."""
    production = from_store(store)
    with Comparison(store.path, sel["baseline"], sel["candidate"], sel["fallback"],
                    dimensions=["task", "risk", "source_quality", "intent"]) as cmp:  # fmt: skip
        return headline(production.as_json(cmp))[0]


async def test_the_trend_view_has_a_production_row_under_all(demo_store, db_path):
    """`h`: under "all", the production estimate run by run; its last point is the
    candidate's estimate (covered traffic), as compare computes it; none without weights."""
    traffic_store.keep_demo(demo_store)
    with Comparison(db_path, 1, 2, 3, dimensions=["task", "risk"]) as cmp:
        est = from_store(demo_store).as_json(cmp)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        assert isinstance(app.screen, TrendScreen)
        table = app.screen.query_one("#trend-segments")
        rows = [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]
    label, bars, first, last, _ = rows[1]
    assert rows[0][0] == "all" and label == "production (demo-traffic #1)"
    assert last == f"{est['candidate']['covered']['point']:.1%}" == "89.0%"
    assert first == f"{est['baseline']['covered']['point']:.1%}" == "82.1%"
    assert len(bars) == len(rows[0][1])  # one character per run, as every row


async def test_no_traffic_no_production_row_in_the_trend(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        table = app.screen.query_one("#trend-segments")
        labels = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
    assert not any(x.startswith("production") for x in labels)


async def test_a_header_longer_than_its_rows_is_cut_with_an_ellipsis_and_refit_on_resize(
    demo_store, db_path
):
    """At 80x24 the counts and the production lines wrap to more than the header's six
    rows: the sixth ends with "…" where the screen cuts it (it used to stop mid-clause,
    "uncovered at", as if whole); wider, the lines are fitted again, whole."""
    traffic_store.keep_demo(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        lines = str(screen.query_one("#counts", Static).content).split("\n")
        assert len(lines) == 6 and lines[-1].endswith("…") and len(lines[-1]) <= 78
        assert lines[-1].startswith("uncovered traffic 0.5% (task=policy, risk=high)")
        await pilot.resize_terminal(200, 50)
        await settle(app, pilot)
        whole = str(screen.query_one("#counts", Static).content)
        assert "…" not in whole and "uncovered at worst-best: 88.6%-89.1%" in whole
