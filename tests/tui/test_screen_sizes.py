"""The runs, gate, stale and help screens at 80x24, 100x30 and 160x45, read back as the
terminal shows them (#26): every figure whole, every gate rule reachable with its why
whole, every key of help reachable, the main keys in the footer."""

from __future__ import annotations

import re

import pytest

from evaltui import gate, service
from evaltui.exporters.text import fmt_value
from evaltui.review import lifecycle
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.gate import GateScreen
from evaltui.tui.screens.help import HelpScreen
from evaltui.tui.screens.runs import RunsScreen
from evaltui.tui.screens.stale import StaleScreen

from ..conftest import FIXTURES
from .conftest import open_compare, settle
from .screen_text import screen_text, squeezed

SIZES = [(80, 24), (100, 30), (160, 45)]
POLICY = FIXTURES / "policies" / "support-assistant.toml"
RESULTS = ("ok", "FAIL", "n<min")


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


# -- runs: figures of a large eval, names alike but for their end ---------------------------

BIG = {"cases": 200_000, "results": 1_399_912, "passed": 1_200_004, "failed": 139_908,
       "errored": 60_000, "limit": 12_345, "unscored": 7}  # fmt: skip
FIGURES = {"cases": "200,000", "results": "1,399,912", "pass": "1,200,004", "fail": "139,908",
           "error": "60,000", "limit/none": "12,345/7"}  # fmt: skip


@pytest.fixture
def big_runs(demo_store, monkeypatch):
    real = service.list_runs

    def big(store):
        return [
            s.model_copy(update={**BIG, "name": f"support_agent mockllm/support-bot-v2 #{s.id}"})
            for s in real(store)
        ]

    monkeypatch.setattr(service, "list_runs", big)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_runs_screen_shows_every_figure_whole(big_runs, db_path, size):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)
        lines = screen_text(app).splitlines()
        at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["mark", "id"])
        header = re.split(r"\s{2,}", lines[at].strip())
        assert header[:4] == ["mark", "id", "name", "pass/result"]
        shown = [h for h in FIGURES if h in header]
        assert {"pass", "fail"} <= set(shown), header
        left_out = [h for h in FIGURES if h not in shown]  # said, never cut
        if left_out:
            said = squeezed(screen_text(app))
            assert f"Not shown at this width: {', '.join(left_out)}" in said
        rows = lines[at + 1 : at + 4]
        for run_id, row in zip((1, 2, 3), rows, strict=True):
            assert f" {run_id} " in row and f"#{run_id}" in row  # the names told apart
            for column in shown:
                assert f" {FIGURES[column]} " in f"{row} ", (column, row)
            assert not any("…" in cell and re.search(r"\d…|…\d", cell) for cell in row.split())
        if size[0] >= 160:
            assert (
                set(shown) == set(FIGURES) and "support_agent mockllm/support-bot-v2 #1" in rows[0]
            )
        for key in ("⏎ Compare", "b Baseline", "c Candidate", "f Fallback", "? Help", "q Quit"):
            assert key in footer(app), (key, footer(app))


# -- gate: every rule, and the highlighted rule's why whole ---------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_gate_screen_reaches_every_rule_and_its_why(demo_store, db_path, size):
    gate.set_policy_path(demo_store, str(POLICY))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        await pilot.press("g")
        await settle(app, pilot, rounds=6)
        screen = app.screen
        assert isinstance(screen, GateScreen)
        shown = screen_text(app)
        assert "decision:  HOLD" in shown and "4 of 10 rules violated" in shown
        for i, rule in enumerate(screen.record.rules):
            if i:
                await pilot.press("down")
                await settle(app, pilot)
            shown = screen_text(app)
            row, _ = [w for w in map(str.split, shown.splitlines())
                           if w[1:2] == [rule.id] and w[0] in RESULTS]  # fmt: skip
            assert fmt_value(rule.value, rule.metric) in " ".join(row)  # the figure whole
            assert f"why: {' '.join(rule.why.split())}" in squeezed(shown)
        for key in ("e Export", "p Policy", "r Recompute", "? Help", "q Quit"):
            assert key in footer(app), (key, footer(app))


# -- stale: keys whole, the evidence of the highlighted case whole --------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_stale_screen_shows_keys_and_evidence_whole(demo_store, db_path, size):
    found = lifecycle.stale(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, StaleScreen)
        lines = screen_text(app).splitlines()
        at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["case", "suggests"])
        visible_rows = [line for line in lines[at + 1 :] if line.lstrip().startswith("[")]
        assert len(visible_rows) >= 5
        for s, line in zip(found, visible_rows, strict=False):
            assert f" {s.case_key} " in line  # the key whole
        for step in range(3):
            if step:
                await pilot.press("down")
                await settle(app, pilot)
            assert found[step].evidence in squeezed(screen_text(app))
        for key in ("⏎ Open", "space Select", "A Suggested", "X Retire", "? Help", "q Quit"):
            assert key in footer(app), (key, footer(app))


# -- help: every key of the screen reachable by scrolling -----------------------------------


async def read_help(app, pilot) -> str:
    """Help's text from its top to its end, scrolled a page at a time."""
    assert isinstance(app.screen, HelpScreen)
    body = app.screen.query_one("#help-body")
    seen = [screen_text(app)]
    while body.scroll_y < body.max_scroll_y:
        await pilot.press("pagedown")
        await settle(app, pilot, rounds=1)
        seen.append(screen_text(app))
    return "\n".join(seen)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("where", ["runs", "compare"])
async def test_help_reaches_every_key_of_the_screen(demo_store, db_path, size, where):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        if where == "compare":
            await open_compare(app, pilot)
        else:
            await settle(app, pilot)
        screen = app.screen
        await pilot.press("question_mark")
        await settle(app, pilot)
        listed = app.screen.keys
        text = await read_help(app, pilot)
        assert f"Keys: {where}" in text
        ids = {k.binding_id for k in listed if k.binding_id}
        assert {"app.help", "app.quit"} <= ids
        if where == "runs":  # every binding of the screen is listed
            assert {b.id for b in screen.BINDINGS} <= ids
        for item in listed:  # and every key help lists is on screen at some point
            assert item.binding_id in text if item.binding_id else item.key in text, item
        assert "Esc closes." in text
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen


# -- the full case (o) and the trend (h): the case and its figures whole at every size ------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_case_screen_names_the_case_whole_and_keeps_its_keys(demo_store, db_path, size):
    from evaltui.tui.screens.case import CaseScreen

    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_compare(app, pilot)
        key = screen.current.case_key
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseScreen)
        text = screen_text(app)
        assert key in text  # the case's key whole, at the top
        assert "q" in footer(app) or "esc" in footer(app).lower()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_trend_screen_shows_its_rates_whole(demo_store, db_path, size):
    from evaltui.tui.screens.trend import TrendScreen

    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        assert isinstance(app.screen, TrendScreen)
        text = screen_text(app)
        rates = re.findall(r"\d+\.\d%", text)
        assert rates, text  # at least one pass rate is drawn
        for rate in rates:  # every rate whole: digits, a point, one digit, a percent sign
            assert re.fullmatch(r"\d{1,3}\.\d%", rate)
        assert not re.search(r"\d…", text), text  # no figure cut with an ellipsis
