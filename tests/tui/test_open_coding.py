"""Open coding in the compare screen (#29): `E` writes a short note and moves to the next
case; the `noted` filter shows the cases with a note and no class. A note is not triage:
the untriaged counts do not move."""

from __future__ import annotations

from evaltui import service
from evaltui.compare import Comparison, Filter
from evaltui.review import taxonomy, triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.prompts import TextPrompt

from .conftest import expected_order, open_compare, pane_text, settle


def counts(db_path):
    with Store(db_path) as store:
        sel = service.get_selection(store)
        with Comparison(db_path, sel["baseline"], sel["candidate"], sel["fallback"]) as cmp:
            return (
                cmp.triage_progress(),
                cmp.count(Filter(triage="untriaged")),
                cmp.untriaged_regressions(),
                cmp.count(Filter(triage="noted")),
            )


async def test_note_and_next_writes_a_note_moves_on_and_triages_nothing(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    before = counts(db_path)
    assert before[3] == 0
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        shown = str(screen.query_one("#counts").content)
        assert "0 of 37 regressions triaged" in shown
        await pilot.press("E")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)
        assert "then the next case" in app.screen.title_text
        await pilot.press(*"quotes the 2024 refund window", "enter")
        await settle(app, pilot)
        assert screen.current.case_key == order[1]  # moved on
        assert str(screen.query_one("#counts").content) == shown  # no case counted as triaged
        await pilot.press("E", *"[red]asks for a backup code[/]", "enter")
        await settle(app, pilot)
        assert screen.current.case_key == order[2]
        assert str(screen.query_one("#counts").content) == shown
        # the noted filter: the two cases with a note and no class, in list order
        await pilot.press("slash", *"noted", "enter")
        await settle(app, pilot)
        assert screen.flt.triage == "noted" and screen.total == 2
        assert screen.current.case_key == order[0]
        assert "noted" in screen.flt.describe()
    with Store(db_path) as store:
        sel = service.get_selection(store)
        rows = triage.list_findings(store, base=sel["baseline"], cand=sel["candidate"])
    assert [(r.case_key, r.note, r.class_key, r.verdict) for r in rows] == [
        (order[0], "quotes the 2024 refund window", None, None),
        (order[1], "[red]asks for a backup code[/]", None, None),
    ]
    after = counts(db_path)
    assert after[:3] == before[:3]  # progress, untriaged cases, untriaged regressions
    assert after[3] == 2


def test_a_class_takes_a_case_out_of_noted_and_an_empty_note_too(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    sel = service.get_selection(demo_store)
    base, cand = sel["baseline"], sel["candidate"]
    ids = [
        demo_store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (k,)).fetchone()[0]
        for k in order[:3]
    ]
    for case_id in ids:
        triage.label(demo_store, base, cand, case_id, note="odd", reviewer="ann")
    assert counts(db_path)[3] == 3
    cls = default_taxonomy().get("wrong_source")
    triage.label(demo_store, base, cand, ids[0], failure_class=cls, reviewer="bob")  # coded
    triage.label(demo_store, base, cand, ids[1], note="", reviewer="ann")  # the note cleared
    triage.label(demo_store, base, cand, ids[2], verdict="flaky", reviewer="cy")  # not a class
    with Comparison(db_path, base, cand, sel["fallback"]) as cmp:
        assert [r.case_key for r in cmp.page(Filter(triage="noted"))] == [order[2]]


# -- a dispute on a class shows the label guide's rubric lines (#29) ---------------------------

HOSTILE = "[bold red]BOOM[/] answers from another section \x1b[31m"


async def test_a_dispute_on_a_class_shows_each_classs_rubric_line_literally(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    sel = service.get_selection(demo_store)
    base, cand = sel["baseline"], sel["candidate"]
    tax = default_taxonomy()
    tax.by_key["wrong_source"].description = HOSTILE
    taxonomy.record(demo_store, taxonomy.Taxonomy(tax.classes), reason="a hostile rubric line")
    version = taxonomy.latest(demo_store)
    ids = [
        demo_store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (k,)).fetchone()[0]
        for k in order[:2]
    ]
    wrong, missing = tax.get("wrong_source"), tax.get("missing_source")
    triage.label(demo_store, base, cand, ids[0], failure_class=wrong, reviewer="ann")
    triage.label(demo_store, base, cand, ids[0], failure_class=missing, reviewer="bob")
    triage.label(demo_store, base, cand, ids[1], failure_class=wrong, reviewer="ann")  # agreed
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.current.case_key == order[0]
        text = pane_text(screen)
        assert "disputed classes: the label guide's rubric lines" in text
        assert f"store, version {version.version}, sha256 {version.sha256[:12]}" in text
        assert "wrong_source  Wrong source, owner retrieval" in text
        assert "[bold red]BOOM[/] answers from another section ␛[31m" in text  # inert
        assert "missing_source  Missing source, owner knowledge-base" in text
        assert tax.get("missing_source").description in text
        await pilot.press("j")
        await settle(app, pilot)
        assert screen.current.case_key == order[1]
        assert "disputed classes" not in pane_text(screen)  # one class: no dispute
