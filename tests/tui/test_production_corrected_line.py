"""The corrected production estimate in the app (#28): when the store's policy in force
(the gate screen's, `gate.policy_path`) says `[production] calibrated = true`, the
compare screen's header has a line under the estimate's, labelled corrected, with its
interval and the assumption in short, and the trend has a `production (corrected)` row;
asked for and refused, one line says why. Real keys, real demo runs, judged blind."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from evaltui import gate
from evaltui.compare import Comparison
from evaltui.gate.production import prepare
from evaltui.store import traffic as traffic_store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.trend import CORRECTED, TrendScreen
from tests.test_production_calibrated_gate import RULES, judge
from tests.test_production_gate import production_policy

from .conftest import open_compare, settle, wait_until
from .screen_text import screen_text

LONG = "corrected for grader errors (assumes errors alike in every cell): "


def _range(f: dict[str, float], points: bool = False) -> str:
    if points:
        return f"{f['point'] * 100:+.1f} pts ({f['lower'] * 100:+.1f} to {f['upper'] * 100:+.1f})"
    return f"{f['point']:.1%} ({f['lower']:.1%}-{f['upper']:.1%})"


@pytest.fixture
def asked(demo_store, tmp_path):
    """The demo with its traffic in force and a policy in force asking for the corrected
    estimate (500 draws); not judged yet."""
    traffic_store.keep_demo(demo_store)
    path = production_policy(tmp_path, RULES, "calibrated = true\n")
    gate.set_policy_path(demo_store, str(path))
    return demo_store, path


@pytest.fixture
def judged(asked):
    store, path = asked
    judge(store, 1)
    judge(store, 2)
    return store, path


def expected(store, path) -> dict:
    """`production_estimate.calibrated` as the gate computes it with that policy."""
    production = prepare(store, gate.load_policy(path))
    assert production is not None and production.calibrated
    with Comparison(store.path, 1, 2, 3, dimensions=["task", "risk"]) as cmp:
        return production.as_json(cmp)["calibrated"]


def counts_of(screen) -> str:
    return str(screen.query_one("#counts", Static).content)


async def test_the_header_has_the_corrected_line_under_the_estimate(judged, db_path):
    store, path = judged
    c = expected(store, path)
    cand, delta = _range(c["candidate"]["covered"]), _range(c["delta"]["covered"], True)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        lines = counts_of(screen).splitlines()
    head = next(i for i, x in enumerate(lines) if x.startswith("production estimate ("))
    corrected = lines[head + 1]
    assert corrected.startswith(f"{LONG}candidate {cand}; baseline ")
    assert corrected.endswith(f"; delta {delta}")
    assert "fallback none (no judged result is a pass" in corrected  # the fallback: unjudged
    assert lines[head + 2].startswith("uncovered traffic 0.5% (task=policy, risk=high)")
    assert not any(x.startswith("assumption:") for x in lines)  # the long one: CLI, record
    assert cand != _range(c["baseline"]["covered"])


async def test_at_80x24_the_line_is_whole_and_the_scoreboard_stays(judged, db_path):
    store, path = judged
    cand = _range(expected(store, path)["candidate"]["covered"])
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        shown = screen_text(app).splitlines()
        assert screen.query_one("#counts").size.height == 6
    line = next(x.strip() for x in shown if x.strip().startswith("corrected"))
    # whole, and the header's last row: its "…" says the uncovered-traffic line is below it,
    # cut with the rows the header does not have
    assert line == f"corrected (grader errs alike in every cell): candidate {cand}…"
    board = next(i for i, x in enumerate(shown) if x.lstrip().startswith("segment "))
    assert shown[board + 1].split()[:2] == ["all", "360"]  # the scoreboard's first row
    assert sum(1 for x in shown if x.split()[:1] == ["REGRESSED"]) >= 5  # the list's rows


async def test_asked_and_refused_one_line_says_why(asked, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        text = counts_of(screen)
        shown = screen_text(app)
    assert "corrected for grader errors: none: no judged result is a pass" in text
    assert "corrected for grader errors: none: no judged result is a pass" in shown


async def test_asked_without_weights_says_there_are_none(demo_store, db_path, tmp_path):
    path = production_policy(tmp_path, RULES, "calibrated = true\n")
    gate.set_policy_path(demo_store, str(path))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        text = counts_of(screen)
    assert "production estimate" not in text
    assert "corrected for grader errors: none: no traffic weights are in force" in text


async def test_not_asked_no_corrected_line(demo_store, db_path, tmp_path):
    """A policy in force without `calibrated`, judged runs: the header is as before."""
    traffic_store.keep_demo(demo_store)
    judge(demo_store, 1)
    judge(demo_store, 2)
    gate.set_policy_path(demo_store, str(production_policy(tmp_path, RULES)))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        text = counts_of(screen)
    assert "production estimate (traffic demo-traffic #1" in text and "corrected" not in text


async def test_the_trend_has_a_corrected_row(judged, db_path):
    store, path = judged
    c = expected(store, path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        assert isinstance(app.screen, TrendScreen)
        table = app.screen.query_one("#trend-segments")
        rows = [[x.plain for x in table.get_row_at(i)] for i in range(table.row_count)]
        said = str(app.screen.query_one("#trend-runs", Static).content)
    assert [r[0] for r in rows[:3]] == ["all", "production (demo-traffic #1)", CORRECTED]
    _, bars, first, last, lowest = rows[2]
    assert last == f"{c['candidate']['covered']['point']:.1%}"
    assert first == f"{c['baseline']['covered']['point']:.1%}"
    assert len(bars) == len(rows[0][1]) == 2 and "·" not in bars
    assert lowest == min(first, last, key=lambda x: float(x.rstrip("%")))
    assert last != rows[1][3]  # corrected: not the raw estimate
    assert "none for" not in said


async def test_the_trend_says_why_a_corrected_row_is_empty(asked, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        table = app.screen.query_one("#trend-segments")
        rows = [[x.plain for x in table.get_row_at(i)] for i in range(table.row_count)]
        said = " ".join(str(app.screen.query_one("#trend-runs", Static).content).split())
    assert rows[2] == [CORRECTED, "··", "-", "-", "-"]
    assert "production (corrected): none for cand-2026-11-20: no judged result is a pass" in said


async def test_choosing_the_policy_on_the_gate_screen_shows_the_line_back_on_compare(
    traffic_demo_judged, db_path, tmp_path
):
    """Real keys: no policy yet, so no corrected line; `g`, the policy typed in the
    prompt, `escape` back: the compare header follows the policy now in force, with no
    rebuild."""
    from evaltui.tui.screens.gate import GateScreen
    from evaltui.tui.screens.prompts import TextPrompt

    path = production_policy(tmp_path, RULES, "calibrated = true\n")
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot, rounds=6)
        assert "corrected" not in counts_of(screen)
        await pilot.press("g")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)  # no policy remembered yet
        app.screen.query_one("Input").value = str(path)
        await pilot.press("enter")
        await settle(app, pilot, rounds=6)
        assert isinstance(app.screen, GateScreen)
        await pilot.press("escape")
        corrected = lambda: LONG in counts_of(screen)  # noqa: E731
        await wait_until(app, pilot, corrected, "the corrected line", lambda: counts_of(screen))
        assert app.screen is screen
        text = counts_of(screen)
    assert LONG + "candidate " in text


@pytest.fixture
def traffic_demo_judged(demo_store):
    traffic_store.keep_demo(demo_store)
    judge(demo_store, 1)
    judge(demo_store, 2)
    return demo_store
