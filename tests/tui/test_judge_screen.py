"""The judging screen (#27), pressing real keys: the grader's verdict stays hidden until the
reviewer answers, every key saves at once, undo goes back, gold items come at the sample's
rate and are never shown as gold, a note goes with the answer; the runs screen opens the
judging screen and the calibration panel."""

from __future__ import annotations

from rich.console import Console

from evaltui.errors import StoreError
from evaltui.review.calibration import demo, gold, judgments, samples
from evaltui.store import Store
from evaltui.store.runs import grader
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.calibration import CalibrationScreen
from evaltui.tui.screens.error import ErrorScreen
from evaltui.tui.screens.judge import JudgeScreen
from evaltui.tui.screens.runs import RunsScreen

from .conftest import settle
from .test_bindings import keys_of, press_all

CAND, FALLBACK = 2, 3


def shown(screen) -> str:
    """Every line the screen's text widgets show."""
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for wid in ("#title", "#judge-progress", "#judge-item", "#judge-last"):
        console.print(screen.query_one(wid).content)
    return console.export_text()


def rows(db_path) -> list[tuple]:
    """(kind, verdict, purpose, note, seconds) of every judgment row, in the order written."""
    with Store(db_path) as store:
        return store.conn.execute(
            "SELECT kind, verdict, purpose, note, seconds FROM judgments ORDER BY id"
        ).fetchall()


async def test_the_graders_verdict_is_hidden_until_the_reviewer_answers(demo_store, db_path):
    kept = samples.draw(demo_store, CAND, "grounded", n=4, seed=11)
    views = [grader.view(demo_store.conn, ref, "grounded") for ref in kept.items]
    app = EvaltuiApp(db_path=db_path, judge=kept.id)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, JudgeScreen)
        first = views[0]
        text = shown(screen)
        assert first.case_key in text and first.output[:40] in text  # what is judged
        assert "the grader said" not in text and "score" not in text
        assert first.grader_explanation is None or first.grader_explanation not in text
        await pilot.press("f")
        await settle(app, pilot)
        text = shown(screen)
        said = f"Saved: you said fail on {first.case_key}; the grader said {first.grader_verdict}"
        assert said in text  # revealed once answered
        assert views[1].case_key in text and "2/4" in text
        second = views[1]
        assert f"on {second.case_key}; the grader said" not in text  # the next one: hidden


async def test_every_key_saves_at_once_and_undo_goes_back(demo_store, db_path):
    kept = samples.draw(demo_store, CAND, "grounded", n=5, seed=12)
    app = EvaltuiApp(db_path=db_path, judge=kept.id)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        for key in "pfs":
            await pilot.press(key)
        await settle(app, pilot)
        stored = rows(db_path)
        assert [r[:3] for r in stored] == [
            ("judgment", "pass", "calibration"),
            ("judgment", "fail", "calibration"),
            ("judgment", "unsure", "calibration"),
        ]
        assert all(r[4] is not None and r[4] >= 0 for r in stored)  # time on each item
        await pilot.press("u")
        await settle(app, pilot)
        assert screen.index == 2 and "3/5" in shown(screen)  # back on the one undone
        await pilot.press("p")
        await settle(app, pilot)
    with Store(db_path) as store:
        state = judgments.in_force(store.conn, [CAND], "grounded")
        got = {ref: j.verdict for (ref, _), j in state.items()}
    assert [got.get(ref) for ref in kept.items] == ["pass", "fail", "pass", None, None]


async def test_a_note_goes_with_the_answer(demo_store, db_path):
    kept = samples.draw(demo_store, CAND, "grounded", n=2, seed=13)
    app = EvaltuiApp(db_path=db_path, judge=kept.id)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        for ch in "no source":
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Your note: no source" in shown(app.screen)
        await pilot.press("f")
        await settle(app, pilot)
    stored = rows(db_path)
    assert stored[0][:4] == ("judgment", "fail", "calibration", "no source")


async def test_gold_comes_at_its_rate_unmarked_and_is_told_at_the_end(demo_store, db_path):
    pool = [r.ref for r in grader.frame(demo_store.conn, FALLBACK, "grounded")][:20]
    for ref in pool:
        gold.set_answer(demo_store, ref, "grounded", "fail", by="lead")  # answers never shown
    kept = samples.draw(demo_store, CAND, "grounded", n=9, seed=14, gold_rate=0.25)
    app = EvaltuiApp(db_path=db_path, judge=kept.id)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert len(screen.items) == 12  # 9 + 3: a quarter of the queue
        for _ in range(12):
            text = shown(screen).lower()
            assert "gold" not in text  # never marked
            await pilot.press("p")
            await settle(app, pilot)
        assert "queue done" in shown(screen).lower()
        told = [n.message for n in app._notifications]
        assert any(m.startswith("Gold check: 0 of 3 hidden gold items right") for m in told), told
    stored = rows(db_path)
    assert sorted(r[2] for r in stored) == ["calibration"] * 9 + ["gold"] * 3


async def test_the_runs_screen_opens_judging_and_the_calibration_panel(demo_store, db_path):
    demo.load(demo_store)
    app = EvaltuiApp(db_path=db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("down")  # the candidate (run 2)
        await pilot.press("J")
        await settle(app, pilot)
        assert isinstance(app.screen, JudgeScreen)
        assert "judging sample 2 · grounded · tester" in shown(app.screen)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("C")
        await settle(app, pilot)
        assert isinstance(app.screen, CalibrationScreen)
        console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(app.screen.query_one("#calibration-report").content)
        text = console.export_text()
        assert "calibration of cand-2026-11-20 vs prod-2026-11-02" in text
        assert "corrected delta -11.6 pts" in text


async def test_pressing_every_key_on_the_judging_screens_keeps_the_app_running(demo_store, db_path):
    demo.load(demo_store)
    app = EvaltuiApp(db_path=db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        for screen_type, key in ((JudgeScreen, "J"), (CalibrationScreen, "C")):

            async def open_screen(screen_type=screen_type, key=key) -> None:
                while not isinstance(app.screen, RunsScreen):
                    app.pop_screen()
                    await settle(app, pilot, rounds=2)
                await pilot.press(key)
                await settle(app, pilot)
                assert isinstance(app.screen, screen_type)

            await open_screen()
            pressed = await press_all(app, pilot, screen_type, open_screen)
            assert app.is_running and len(pressed) == len(keys_of(screen_type)) >= 2


async def test_an_answer_the_store_did_not_take_says_not_saved(demo_store, db_path, monkeypatch):
    kept = samples.draw(demo_store, CAND, "grounded", n=2, seed=15)

    def refuse(*args, **kwargs):
        raise StoreError("the disk is full")

    monkeypatch.setattr(judgments, "record", refuse)
    app = EvaltuiApp(db_path=db_path, judge=kept.id)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        judge = app.screen
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorScreen)  # the dialog names it
        assert "NOT SAVED" in shown(judge) and judge.saved == 0
    assert rows(db_path) == []


async def test_a_key_with_no_result_on_screen_saves_nothing_and_says_so(demo_store, db_path):
    kept = samples.draw(demo_store, CAND, "grounded", n=1, seed=13)
    app = EvaltuiApp(db_path=db_path, judge=kept.id)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")  # the one result: saved
        await settle(app, pilot)
        await pilot.press("f")  # nothing left on screen to answer
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
    assert [r[:2] for r in rows(db_path)] == [("judgment", "pass")]
    assert "Not saved: no result is on screen to answer 'fail' on" in said
