"""Shared helpers of the app's tests (Pilot): wait for the app to settle, open the
comparison of the marked runs, read the case pane, the list's expected order."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from evaltui import service
from evaltui.compare import Comparison, Filter
from evaltui.tui.screens.compare import CompareScreen
from evaltui.tui.screens.runs import RunsScreen


async def settle(app, pilot, rounds: int = 4):
    """Until the app is quiet: every worker started is done and its answer handled, and
    the answers started no new one (at least `rounds` rounds). A state, never a time: on
    a loaded machine a chain of workers (a page, then its case, then the cases read
    ahead) takes more rounds, not more seconds."""
    for done in range(200):  # (the bound turns a worker that never ends into a failure)
        await app.workers.wait_for_complete()
        await pilot.pause()
        if done + 1 >= rounds and not app.workers:
            return
    raise AssertionError(f"the app never settled: {list(app.workers)}")


async def wait_until(
    app, pilot, done: Callable[[], bool], what: str, shown: Callable[[], str] | None = None
):
    """Until `done()` holds, without waiting for workers (one may be held on purpose):
    each round lets the app handle what is pending. The bound only turns a hang into a
    failure that says what never came (and, given `shown`, what was there instead)."""
    for _ in range(5000):
        if done():
            return
        await pilot.pause()
    instead = f" on {app.screen!r}:\n{shown()}" if shown is not None else ""
    raise AssertionError(f"never happened: {what}{instead}")


def pane_text(screen) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(screen.query_one("#case-view").content)
    return console.export_text()


def expected_order(db_path, store, flt=None):
    sel = service.get_selection(store)
    with Comparison(db_path, sel["baseline"], sel["candidate"], sel["fallback"]) as cmp:
        return [r.case_key for r in cmp.page(flt or Filter(), limit=1000)], cmp


async def open_compare(app, pilot):
    await settle(app, pilot)
    assert isinstance(app.screen, RunsScreen)
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, CompareScreen)
    return app.screen
