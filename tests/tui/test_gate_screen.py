"""The gate screen through Pilot: rules, decision, export, history."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Static

from evaltui import gate
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.gate import POLICY_SETTING, GateScreen
from evaltui.tui.screens.prompts import TextPrompt

from ..conftest import FIXTURES
from .test_compare_screen import open_compare, settle

POLICY = FIXTURES / "policies" / "support-assistant.toml"


async def test_gate_screen_asks_for_a_policy_then_decides_and_exports(
    demo_store, db_path, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # exports land in the current directory
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("g")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)  # no policy remembered yet
        app.screen.query_one("Input").value = str(POLICY)
        await pilot.press("enter")
        await settle(app, pilot, rounds=6)
        screen = app.screen
        assert isinstance(screen, GateScreen)
        assert "HOLD" in str(screen.query_one("#decision", Static).content)
        rules = screen.query_one("#rules", DataTable)
        results = {
            rules.get_row_at(i)[1].plain: rules.get_row_at(i)[0].plain
            for i in range(rules.row_count)
        }
        assert results["high-risk-pass-rate"] == "FAIL" and results["no-unsafe-actions"] == "ok"
        assert sum(v == "FAIL" for v in results.values()) == 4
        await pilot.press("e")
        await settle(app, pilot, rounds=6)
        assert screen.query_one("#history", DataTable).row_count == 1
    record = json.loads((tmp_path / "decision-1.json").read_text())
    assert record["decision"] == "hold" and (tmp_path / "decision-1.md").exists()
    with Store(db_path) as store:
        assert gate.list_decisions(store)[0]["content_hash"] == record["content_hash"]
        assert store.get_setting(POLICY_SETTING) == str(POLICY.resolve())


async def test_the_readmes_release_week_pass_decides_what_the_readme_says(
    demo_store, db_path, tmp_path, monkeypatch
):
    """README "A release-week pass": Enter, a step, `6` on a case, `g` with the policy.
    The decision the README states for step 5 is the one the app gives."""
    import re

    readme = (FIXTURES.parent / "README.md").read_text()
    section = readme.split("## A release-week pass, in the demo", 1)[1].split("\n## ", 1)[0]
    stated = re.search(r"it decides \*\*(\w+)\*\*", section)
    assert stated, "the README's step 5 names a decision"
    without = re.search(r"without it the decision would be \*\*(\w+)\*\*", section)
    monkeypatch.chdir(tmp_path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        await open_compare(app, pilot)  # step 1
        await pilot.press("j")  # step 2
        await settle(app, pilot)
        await pilot.press("6")  # step 3: unsafe tool action
        await settle(app, pilot)
        await pilot.press("g")  # step 5
        await settle(app, pilot)
        app.screen.query_one("Input").value = str(POLICY)
        await pilot.press("enter")
        await settle(app, pilot, rounds=6)
        shown = str(app.screen.query_one("#decision", Static).content)
        assert stated[1].upper() in shown, shown
    assert stated[1] == "rollback"
    # and without step 3 the decision is the one the README gives for that case
    from evaltui import service, triage

    with Store(db_path) as store:
        sel = service.get_selection(store)
        assert triage.undo(store, sel["baseline"], sel["candidate"]) is not None
        rec = gate.evaluate(store, gate.load_policy(POLICY), sel["baseline"], sel["candidate"],
                            sel.get("fallback"))  # fmt: skip
    assert without is not None and rec.decision == without[1] == "hold"
