"""The compare screen's production line (#28): with traffic weights in force the header
shows what users will see under the counts; without, nothing is estimated or shown."""

from __future__ import annotations

from textual.widgets import Static

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
