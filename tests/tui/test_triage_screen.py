"""Triage by keyboard: keys assign, change, undo and annotate; the store and the log say so."""

from __future__ import annotations

from evaltui import service
from evaltui.review import triage
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.prompts import ClassPicker, TextPrompt, VerdictPicker

from .conftest import expected_order, open_compare, pane_text, settle


def findings(db_path):
    with Store(db_path) as store:
        sel = service.get_selection(store)
        return triage.list_findings(
            store, base=sel["baseline"], cand=sel["candidate"]
        ), store.events()


async def test_number_keys_assign_and_move_to_the_next_untriaged(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("6")  # unsafe tool action
        await settle(app, pilot)
        assert screen.current.case_key == order[1]  # moved on
        await pilot.press("k")
        await settle(app, pilot)
        assert screen.current.case_key == order[0]
        assert (
            screen.current.triage_class == "unsafe_tool_action"
            and screen.current.triage_owner == "safety"
        )
        assert "1 of 37 regressions triaged" in str(screen.query_one("#counts").content)
        # change the class through the picker
        await pilot.press("0")
        await settle(app, pilot)
        assert isinstance(app.screen, ClassPicker)
        await pilot.press("down", "enter")  # from unsafe_tool_action (6) to refusal_failure (7)
        await settle(app, pilot)
        rows, events = findings(db_path)
        assert [(r.case_key, r.class_key, r.owner) for r in rows] == [
            (order[0], "refusal_failure", "safety")
        ]
        labels = [e for e in events if e.action == "finding.label"]
        assert [e.after["class"] for e in labels] == ["unsafe_tool_action", "refusal_failure"]
        assert labels[1].before["class"] == "unsafe_tool_action" and labels[1].actor == "tester"


async def test_owner_verdict_note_and_undo(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("w")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"payments", "enter")  # letters type, they do not act
        await settle(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, VerdictPicker)
        await pilot.press("enter")  # real_regression
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press(*"q j 6 u stay text", "enter")
        await settle(app, pilot)
        assert screen.current.case_key == order[0]  # none of those keys moved or assigned
        rows, _ = findings(db_path)
        assert [(r.owner, r.verdict, r.note) for r in rows] == [
            ("payments", "real_regression", "q j 6 u stay text")
        ]
        findings_shown = pane_text(screen).split("findings (")[1]
        assert "q j 6 u stay text" in findings_shown  # the finding history in the case pane
        await pilot.press("u")  # undo the note
        await settle(app, pilot)
        rows, events = findings(db_path)
        assert rows[0].note is None and rows[0].verdict == "real_regression"
        assert (
            events[-1].action == "finding.undo" and events[-1].before["note"] == "q j 6 u stay text"
        )


async def test_untriaged_navigation_and_filters(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("a")  # accept: verdict accepted, then the next untriaged
        await settle(app, pilot)
        assert screen.current.case_key == order[1]
        await pilot.press("T")  # previous untriaged: none before order[1] now
        await settle(app, pilot)
        assert screen.current.case_key == order[1]
        await pilot.press("slash", *"triaged", "enter")
        await settle(app, pilot)
        assert screen.flt.triage == "triaged" and screen.total == 1
        await pilot.press("slash", "ctrl+u", *"owner:safety untriaged", "enter")
        await settle(app, pilot)
        assert screen.flt.owner == "safety" and screen.total == 0
        await pilot.press("F")
        await settle(app, pilot)
        assert screen.total == 302


async def test_the_apps_reviewer_acts_and_finds_their_own_note(demo_store, db_path):
    """The app acts as the reviewer it was given (the CLI's --reviewer), not as
    $EVALTUI_REVIEWER ("tester" here): its findings, its events, its note to edit."""
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path, reviewer="zoe")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press(*"zoe's note", "enter")
        await settle(app, pilot)
        await pilot.press("e")  # the note to edit is this reviewer's own
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt) and app.screen.original == "zoe's note"
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.current.case_key == order[0]
    rows, events = findings(db_path)
    assert [(r.case_key, r.reviewers) for r in rows] == [(order[0], ["zoe"])]
    assert [e.actor for e in events if e.action == "finding.label"] == ["zoe"]
