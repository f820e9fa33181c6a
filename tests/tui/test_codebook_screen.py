"""The codebook screen (#29), by keys: a proposal from the demo's notes accepted as a new
class (a new taxonomy version, no finding changed), its suggested labels confirmed only
after a confirmation; every key once; hostile notes shown inert."""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console

from evaltui.review import taxonomy, triage
from evaltui.review.labelguide.demo import add_demo_notes
from evaltui.store import Store, runs
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.codebook import CodebookScreen
from evaltui.tui.screens.compare import CompareScreen
from evaltui.tui.screens.prompts import ConfirmEffect, TextPrompt
from evaltui.tui.screens.runs import RunsScreen
from evaltui.tui.widgets.safe import DataTable, Static

from .conftest import open_compare, settle
from .test_bindings import keys_of, press_all

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069]")
HOSTILE = "\x1b[31mbackup codes\x1b]8;;http://evil.example\x07 manager [bold red]x[/] \u202eok"


def labels(db_path) -> list[tuple[str, str | None]]:
    with Store(db_path) as store:
        return [(n.finding.reviewer, n.finding.class_key) for n in triage.in_file_order(store)]


def shown(widget: Static) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


async def open_codebook(app, pilot) -> CodebookScreen:
    await settle(app, pilot)
    await pilot.press("K")
    await settle(app, pilot)
    assert isinstance(app.screen, CodebookScreen)
    return app.screen


async def test_accepting_a_proposal_then_confirming_its_labels(demo_store, db_path):
    add_demo_notes(demo_store)
    before = labels(db_path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_codebook(app, pilot)
        table = screen.query_one(DataTable)
        assert table.row_count == 1
        assert "backup_codes_manager" in str(table.get_row_at(0)[0])
        assert "cand-only" in str(table.get_row_at(0)[3])  # the marked runs' notes
        assert "new in the candidate" in shown(screen.query_one("#codebook-detail", Static))
        # Esc at the rubric line: nothing written
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"safety", "enter")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen and len(taxonomy.versions(demo_store)) == 1
        # accepted: owner, rubric line, the effect shown, then y
        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press(*"safety", "enter")
        await settle(app, pilot)
        await pilot.press(*"Gives backup codes to a claimed manager", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmEffect)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        assert app.screen is screen
        _, v2 = taxonomy.versions(demo_store)
        new = taxonomy.load(demo_store).get("backup_codes_manager")
        assert (v2.version, v2.actor, new.owner) == (2, "tester", "safety")
        assert new.description == "Gives backup codes to a claimed manager"
        assert labels(db_path) == before  # no finding changed
        assert table.row_count == 0
        assert "4 suggested labels wait" in shown(screen.query_one("#codebook-summary", Static))
        # the labels: asked first; n writes nothing, y writes one finding per case
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmEffect)
        await pilot.press("n")
        await settle(app, pilot)
        assert labels(db_path) == before
        await pilot.press("c")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        added = Counter(labels(db_path)) - Counter(before)
        assert added == {("tester", "backup_codes_manager"): 4}
        assert "suggested labels wait" not in shown(screen.query_one("#codebook-summary", Static))


async def test_a_ruling_from_the_comparison_rebuilds_it_on_the_way_back(demo_store, db_path):
    add_demo_notes(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        compare = await open_compare(app, pilot)
        assert "backup_codes_manager" not in compare.taxonomy.by_key
        await open_codebook(app, pilot)
        await pilot.press("m")  # merge: the class picker
        await settle(app, pilot)
        await pilot.press("enter")  # the first class
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        merged = taxonomy.load(demo_store).get("unsupported_claim")
        assert len(merged.examples) == 3
        await pilot.press("escape")
        await settle(app, pilot, rounds=6)
        assert isinstance(app.screen, CompareScreen)
        assert compare.taxonomy.get("unsupported_claim").examples == merged.examples


async def test_hostile_notes_are_shown_inert(demo_store, db_path):
    b, c = (runs.run_by_name(demo_store, n) for n in ("prod-2026-11-02", "cand-2026-11-20"))
    for key in ("account-access-009", "account-access-034", "account-access-039"):
        case = runs.case_by_key(demo_store, "support-assistant", key)
        triage.label(demo_store, b, c, case, note=HOSTILE, reviewer="eve")
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_codebook(app, pilot)
        table = screen.query_one(DataTable)
        assert table.row_count == 1
        cells = " ".join(str(cell) for cell in table.get_row_at(0))
        detail = shown(screen.query_one("#codebook-detail", Static))
        assert "backup codes" in detail and "[bold red]x[/]" in detail
        assert not UNSAFE.search(cells) and not UNSAFE.search(detail)


async def test_pressing_every_key_once_keeps_the_app_running(demo_store, db_path):
    add_demo_notes(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:

        async def open_screen() -> None:
            while not isinstance(app.screen, RunsScreen):
                app.pop_screen()
                await settle(app, pilot, rounds=2)
            await open_codebook(app, pilot)

        await open_screen()
        pressed = await press_all(app, pilot, CodebookScreen, open_screen)
        assert app.is_running
    assert len(pressed) == len(keys_of(CodebookScreen)) > 2
