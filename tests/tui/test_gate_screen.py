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
