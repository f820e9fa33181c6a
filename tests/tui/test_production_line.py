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
