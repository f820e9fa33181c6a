"""The gate screen says whether triage can still change the decision (#28): labelling the
last deciding case, with the number keys, turns "open" into "locked"."""

from __future__ import annotations

from textual.widgets import Static

from evaltui import gate, service
from evaltui.store import traffic as traffic_store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.gate import GateScreen

from ..conftest import FIXTURES
from ..test_gate_lock import lock_rule, make_runs
from .conftest import open_compare, settle


async def gate_lock_line(app, pilot) -> str:
    await pilot.press("g")
    await settle(app, pilot, rounds=6)
    assert isinstance(app.screen, GateScreen)
    line = str(app.screen.query_one("#lock", Static).content)
    await pilot.press("escape")
    await settle(app, pilot)
    return line


async def test_labelling_the_last_untriaged_regression_locks_the_decision(store, db_path, tmp_path):
    base, cand = make_runs(store, tmp_path)
    service.mark_run(store, "baseline", base)
    service.mark_run(store, "candidate", cand)
    policy = tmp_path / "policy.toml"
    policy.write_text('promise = "p"\n' + lock_rule("triaged", "untriaged_regressions",
                                                    "max = 0", "hold"))  # fmt: skip
    gate.set_policy_path(store, str(policy))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.current.change == "regressed"  # the list starts at one
        assert await gate_lock_line(app, pilot) == (
            "triage: open: 2 decisions still possible (ship, hold) over the 3 untriaged "
            "regressions; at most 3 labels settle it  label first: r1, r2, r3"
        )
        await pilot.press("1", "1")  # a class on two of them (each moves to the next)
        await settle(app, pilot)
        line = await gate_lock_line(app, pilot)
        assert line.startswith("triage: open: 2 decisions still possible (ship, hold) over "
                               "the 1 untriaged regression; at most 1 label settles it")  # fmt: skip
        await pilot.press("1")  # the last one
        await settle(app, pilot)
        line = await gate_lock_line(app, pilot)
        assert line == "triage: locked: ship (no untriaged regression is left)"


async def test_the_gate_screen_shows_each_weighted_rules_margin(demo_store, db_path):
    """The margin lines are the record's own (`production.margins[].text`), one per
    weighted rule, under the decision; the lock line sits above them."""
    traffic_store.keep_demo(demo_store)
    gate.set_policy_path(demo_store, str(FIXTURES / "policies" / "production.toml"))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("g")
        await settle(app, pilot, rounds=6)
        screen = app.screen
        assert isinstance(screen, GateScreen) and screen.record is not None
        margins = screen.record.production.margins
        shown = str(screen.query_one("#margins", Static).content).splitlines()
        assert shown == [f"margin: {m.text}" for m in margins] and len(shown) == 2
        assert shown[0].startswith("margin: users-no-worse: weighted_pass_rate_delta lower ")
        assert str(screen.query_one("#lock", Static).content).startswith("triage: ")
