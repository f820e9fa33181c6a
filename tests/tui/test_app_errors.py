"""No silent errors in the app: a write that does not commit says NOT SAVED, and every
worker failure reaches a dialog naming what failed."""

from __future__ import annotations

import sqlite3

from textual.widgets import Static
from textual.worker import WorkerFailed

from evaltui import gate, service
from evaltui.review import triage
from evaltui.store import Store
from evaltui.store import store as store_module
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.error import ErrorScreen

from ..conftest import FIXTURES
from .conftest import open_compare
from .conftest import settle as _settle


async def settle(app, pilot, rounds: int = 4):
    """Like the others' settle, but a failed worker is what these tests expect."""
    for _ in range(rounds):
        try:
            await _settle(app, pilot, rounds=1)
        except WorkerFailed:
            await pilot.pause()


def notifications(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def error_title(app) -> str:
    assert isinstance(app.screen, ErrorScreen), app.screen
    return app.screen.error_title


def n_findings(db_path) -> int:
    with Store(db_path) as store:
        return len(triage.list_findings(store))


async def test_a_label_made_while_the_store_is_busy_says_not_saved(
    demo_store, db_path, monkeypatch
):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        case = screen.current.case_key
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the store
        try:
            await pilot.press("6")
            await settle(app, pilot, rounds=6)
            assert error_title(app).startswith("Saving a triage action failed")
            assert any(
                n.startswith(f"NOT SAVED: {case}: Unsafe tool action") for n in notifications(app)
            )
        finally:
            other.execute("ROLLBACK")
            other.close()
        await pilot.press("escape")  # close the dialog
        await settle(app, pilot)
        assert screen.current.case_key == case  # it did not move on as if saved
        alert = screen.query_one("#case-alert", Static)
        assert alert.display and "NOT SAVED" in str(alert.content)
        assert n_findings(db_path) == 0
        assert "0 of 37 regressions triaged" in str(screen.query_one("#counts").content)
        await pilot.press("6")  # the store is free again: it saves, and the mark goes
        await settle(app, pilot)
        assert n_findings(db_path) == 1 and not screen.not_saved.texts


async def test_a_read_only_store_says_not_saved(demo_store, db_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        monkeypatch.setattr(triage, "label", refuse)
        await pilot.press("a")  # verdict accepted
        await settle(app, pilot, rounds=6)
        assert error_title(app) == "Saving a triage action failed: the store could not be used"
        assert "readonly" in app.screen.message
        assert any("NOT SAVED" in n and "readonly" in n for n in notifications(app))
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.current.case_id in screen.not_saved.texts
    assert n_findings(db_path) == 0


async def test_the_gate_screen_shows_an_evaluation_error(demo_store, db_path, monkeypatch):
    gate.set_policy_path(demo_store, str(FIXTURES / "policies" / "support-assistant.toml"))

    def broken(*args, **kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(gate, "evaluate", broken)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("g")
        await settle(app, pilot, rounds=6)
        assert error_title(app) == "Measuring the gate failed: unexpected error (a bug)"
        await pilot.press("escape")
        await settle(app, pilot)
        text = str(app.screen.query_one("#decision", Static).content)
        assert "Evaluation failed" in text and "the disk went away" in text
        assert "Measuring" not in text
    assert screen is not None


async def test_a_policy_that_would_measure_nothing_is_refused_in_the_app(
    demo_store, db_path, tmp_path
):
    typo = tmp_path / "typo.toml"
    typo.write_text((FIXTURES / "policies" / "support-assistant.toml").read_text()
                    .replace('risk = "high"', 'rsik = "high"'))  # fmt: skip
    gate.set_policy_path(demo_store, str(typo))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("g")
        await settle(app, pilot, rounds=6)
        title = str(app.screen.title_text)
        assert "not usable" in title and "did you mean 'risk'" in title
    with Store(db_path) as store:
        assert gate.list_decisions(store) == []
    assert service.get_selection(demo_store)["baseline"] is not None
