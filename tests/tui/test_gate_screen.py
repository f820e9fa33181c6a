"""The gate screen through Pilot: rules, decision, export, history."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, Static

from evaltui import gate
from evaltui.store import Store, team_decisions
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
        assert gate.list_decisions(store)[0].content_hash == record["content_hash"]
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
    from evaltui import service
    from evaltui.review import triage

    with Store(db_path) as store:
        sel = service.get_selection(store)
        assert triage.undo(store, sel["baseline"], sel["candidate"]) is not None
        rec = gate.evaluate(store, gate.load_policy(POLICY), sel["baseline"], sel["candidate"],
                            sel.get("fallback"))  # fmt: skip
    assert without is not None and rec.decision == without[1] == "hold"


async def until(app, pilot, condition, rounds: int = 40) -> None:
    """Wait on state: workers done and the screen drawn, until `condition()` holds."""
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if condition():
            return
    raise AssertionError("the screen never reached the state waited for")


async def type_path(pilot, text: str) -> None:
    """Select what the prompt holds and type `text` over it, key by key."""
    await pilot.press("ctrl+a", "ctrl+k")  # to the start, then delete to the end
    await pilot.press(*[{" ": "space", "/": "slash", ".": "full_stop", "-": "minus",
                         "_": "underscore"}.get(c, c) for c in text])  # fmt: skip
    await pilot.press("enter")


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _decided(app, pilot, tmp_path):
    """The gate screen, decided on the shipped policy through the prompt."""
    await open_compare(app, pilot)
    await pilot.press("g")
    await until(app, pilot, lambda: isinstance(app.screen, TextPrompt))
    await type_path(pilot, str(POLICY))
    await until(app, pilot, lambda: isinstance(app.screen, GateScreen) and app.screen.record)
    screen = app.screen
    assert "HOLD" in str(screen.query_one("#decision", Static).content)
    return screen


@pytest.mark.parametrize("bad", ["missing", "broken"])
async def test_a_missing_or_bad_policy_clears_the_decision_and_refuses_export(
    demo_store, db_path, tmp_path, monkeypatch, bad
):
    """#24: the error is shown, the old decision leaves the screen, `e` exports nothing."""
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "p.toml"
    if bad == "broken":
        policy.write_text(POLICY.read_text().replace('action = "hold"', 'action = "panic"', 1))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        screen = await _decided(app, pilot, tmp_path)
        await pilot.press("p")
        await until(app, pilot, lambda: isinstance(app.screen, TextPrompt))
        await type_path(pilot, str(policy))
        await until(app, pilot, lambda: isinstance(app.screen, TextPrompt))  # asks again
        await pilot.press("escape")  # no other file: the gate screen stays, with the error
        await until(app, pilot, lambda: app.screen is screen)
        shown = str(screen.query_one("#decision", Static).content)
        assert shown.startswith("No decision: ") and "HOLD" not in shown
        assert (
            ("does not exist" in shown) if bad == "missing" else ("unknown action 'panic'" in shown)
        )
        assert str(policy) in shown or bad == "broken"
        assert screen.record is None and screen.query_one("#rules", DataTable).row_count == 0
        await pilot.press("e")
        await until(app, pilot, lambda: any("Nothing exported" in n for n in notes(app)))
        # the remembered policy is gone: `r` says so rather than asking quietly
        await pilot.press("r")
        await until(app, pilot, lambda: isinstance(app.screen, TextPrompt))
        await pilot.press("escape")
        await until(app, pilot, lambda: app.screen is screen)
        assert str(screen.query_one("#decision", Static).content).startswith("No decision: ")
    assert list(tmp_path.glob("decision-*")) == []
    with Store(db_path) as store:
        assert gate.list_decisions(store) == []


async def test_export_never_overwrites_an_earlier_decision_file(
    demo_store, db_path, tmp_path, monkeypatch
):
    """#24: decision-1.* from another store's export stay as they were; the new files take the
    next free name, and the message gives their full paths."""
    monkeypatch.chdir(tmp_path)
    earlier = {tmp_path / f"decision-1{s}": f"earlier {s}\n" for s in (".json", ".md")}
    for path, text in earlier.items():
        path.write_text(text)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        await _decided(app, pilot, tmp_path)
        await pilot.press("e")
        await until(app, pilot, lambda: any("kept (saved)" in n for n in notes(app)))
        await pilot.press("e")  # the same decision again: kept again, written to new names
        await until(app, pilot, lambda: sum("kept (saved)" in n for n in notes(app)) == 2)
        said = [n for n in notes(app) if "kept (saved)" in n]
    assert all(path.read_text() == text for path, text in earlier.items())
    first = [tmp_path / f"decision-1-2{s}" for s in (".json", ".md", ".junit.xml")]
    second = [tmp_path / f"decision-2{s}" for s in (".json", ".md", ".junit.xml")]
    assert said[0] == "Decision 1 kept (saved); wrote " + ", ".join(map(str, first))
    assert said[1] == "Decision 2 kept (saved); wrote " + ", ".join(map(str, second))
    assert json.loads(first[0].read_text())["decision"] == "hold"
    assert not (tmp_path / "decision-1.junit.xml").exists()  # a stem is taken whole or not at all


def test_write_new_takes_the_next_stem_when_a_name_appears_meanwhile(tmp_path, monkeypatch):
    """A race: the name is free when looked at, taken when linked; nothing is overwritten and
    only what this export made is removed."""
    import os

    from evaltui import exporters

    record = gate.DecisionRecord.model_validate(
        json.loads((FIXTURES / "golden" / "decision.json").read_text())
        | {"provenance": json.loads((FIXTURES / "golden" / "decision.json").read_text())["provenance"]
           | {"event_log_head": None}}
    )  # fmt: skip
    real_link = os.link

    def racing_link(src, dst, *a, **k):
        if str(dst).endswith("decision-7.md"):  # another process writes it just before us
            with open(dst, "x") as fh:
                fh.write("theirs")
        return real_link(src, dst, *a, **k)

    monkeypatch.setattr(os, "link", racing_link)
    written = exporters.write_new(record, tmp_path / "decision-7")
    assert [p.name for p in written] == [
        "decision-7-2.json",
        "decision-7-2.md",
        "decision-7-2.junit.xml",
    ]
    assert (tmp_path / "decision-7.md").read_text() == "theirs"
    assert not (tmp_path / "decision-7.json").exists()  # ours, removed; theirs kept
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["decision-7.md", *(p.name for p in written)]
    )


async def test_a_team_decision_is_listed_as_anothers_with_its_text_inert(
    demo_store, db_path, tmp_path, monkeypatch
):
    """A release decision pulled from the team store (#30) shows under the decisions for
    these runs, marked team:PROJECT by its author, never as this store's; its author's
    and record's text is shown literally."""
    monkeypatch.chdir(tmp_path)
    demo_store.set_setting(POLICY_SETTING, str(POLICY.resolve()))
    with demo_store.transaction():
        team_decisions.insert(
            demo_store.conn,
            team_decisions.NewTeamDecision(
                event_hash="e" * 64, project="p", author="[bold]rel\x1b[2J", received_at="t",
                baseline_run=1, candidate_run=2, decided_at="2026-12-01T10:00:00+00:00",
                decided_by="[bold]rel\x1b[2J", decision="ship", policy_sha256="a" * 64,
                content_hash="c" * 64, record="{}", signature=None,
                signature_state="unsigned", signer=None,
            ),
        )  # fmt: skip
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("g")
        await settle(app, pilot, rounds=6)
        screen = app.screen
        assert isinstance(screen, GateScreen)
        history = screen.query_one("#history", DataTable)
        assert history.row_count == 1
        row = [cell.plain for cell in history.get_row_at(0)]
        assert row[0] == "t1" and row[3] == "ship"
        assert row[2] == "[bold]rel␛[2J"
        assert row[6] == "team:p by [bold]rel␛[2J, unsigned"
        title = screen.query_one("#history-title", Static).content
        assert "0; 1 another's, from the team" in str(title)
        await pilot.press("e")  # this store's own decision: listed first, as this store's
        await settle(app, pilot, rounds=6)
        rows = [[c.plain for c in history.get_row_at(i)] for i in range(history.row_count)]
        assert [(r[0], r[6]) for r in rows] == [("1", "this store"), ("t1", row[6])]
