"""The case pane on paths too long to read whole and arguments too big to draw (#24): a
page of the path is read, the pane says which steps of how many, and an argument is cut
with its size said. The app's peak memory on 100,000 steps and 9 MiB of arguments is
`make bench`'s (BENCH_ONLY=mem_app), never asserted here."""

from __future__ import annotations

import json

from evaltui import service
from evaltui.review import triage
from evaltui.store import runs
from evaltui.tui.app import EvaltuiApp

from .conftest import open_compare, pane_text, settle


def _pair(store, tmp_path, steps: int, arg_chars: int) -> None:
    for name in ("base", "cand"):
        traj = [{"kind": "message", "role": "user", "text": "help"}]
        if arg_chars:
            traj.append({"kind": "tool_call", "turn": 1, "name": "search", "call_id": "c1",
                         "arguments": {"query": "q" * arg_chars}})  # fmt: skip
        traj += [{"kind": "tool_call", "turn": 2 + i, "name": f"t{i % 7}", "call_id": f"c{i}",
                  "arguments": {"i": i}} for i in range(steps)]  # fmt: skip
        src = tmp_path / f"{name}.jsonl"
        src.write_text(json.dumps({"suite": "s", "case_key": "k", "verdict": "pass",
                                   "output": name, "trajectory": traj}) + "\n")  # fmt: skip
        (out,) = service.import_path(store, src)
        service.mark_run(store, "baseline" if name == "base" else "candidate", out.run_id)


async def test_a_path_longer_than_a_page_says_which_steps_of_how_many(
    store, db_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("EVALTUI_MAX_CASE_STEPS", "50")
    _pair(store, tmp_path, 120, 0)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        screen = await open_compare(app, pilot)
        text = pane_text(screen)
    assert "baseline: steps 1-50 of 121 read" in text
    assert "candidate: steps 1-50 of 121 read" in text
    assert "--steps-from N" in text


async def test_huge_arguments_are_cut_with_their_size_said(store, db_path, tmp_path):
    _pair(store, tmp_path, 1, 200_000)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        screen = await open_compare(app, pilot)
        text = pane_text(screen)
    size = len(json.dumps({"query": "q" * 200_000}))
    # both runs' calls say it (the column may fold the words onto a second line)
    assert text.count("[arguments:") == 2 and text.count(f"{size:,}") == 2, text[-2000:]
    assert "q" * 5000 not in text


async def test_a_call_a_finding_cannot_point_at_is_said_and_the_class_kept(
    store, db_path, tmp_path
):
    """A tool name longer than a findings file carries (models.StepRef): the class key on
    that highlighted call labels the case without the call, and says so; the app runs on."""
    call = {"kind": "tool_call", "turn": 1, "name": "t" * 201, "call_id": "c1"}
    for name in ("base", "cand"):
        row = {"suite": "s", "case_key": "k", "verdict": "pass", "output": name}
        src = tmp_path / f"{name}.jsonl"
        src.write_text(json.dumps({**row, "trajectory": [call]}) + "\n")
        (out,) = service.import_path(store, src)
        service.mark_run(store, "baseline" if name == "base" else "candidate", out.run_id)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(170, 60)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("right_square_bracket", "6")
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
        assert any("cannot be pointed at: its tool" in m for m in said), said
        assert app.is_running
    (f,) = triage.history(store, 1, 2, runs.resolve_case(store, "k"))
    assert f.class_key == "unsafe_tool_action" and f.step is None
