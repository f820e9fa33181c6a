"""Hostile text (fixtures/hostile/) on every surface: shown literally, never acted on."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.review import triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store import Store

from .conftest import FIXTURES
from .test_tmux import EVALTUI, TMUX, Terminal

HOSTILE = FIXTURES / "hostile"
RAW = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\x90", "\x00", "\x08", "\r", "\u202e")


def load_hostile(store: Store) -> tuple[int, int]:
    ids = []
    for name in ("hostile-base.jsonl", "hostile-cand.jsonl"):
        (out,) = service.import_path(store, HOSTILE / name)
        ids.append(out.run_id)
    b, c = ids
    tax = default_taxonomy()
    for key, note in [
        ("osc52_bel", "note \x1b]52;c;UFdORUQtTk9URQ==\x07 [bold]x[/]"),
        ("rich_markup", "[/]"),
    ]:
        cid = store.conn.execute(
            "SELECT id FROM cases WHERE case_key LIKE ?", (key + "%",)
        ).fetchone()[0]
        triage.label(store, b, c, cid, failure_class=tax.get("format_violation"), note=note,
                     owner="team \x1b]0;PWNED-OWNER\x07", reviewer="rev \x1b[31m")  # fmt: skip
    return b, c


def assert_inert(text: str, where: str) -> None:
    for ch in RAW:
        assert ch not in text, f"{where}: raw {ch!r} reached the output"


def test_import_keeps_the_data_byte_for_byte(store):
    load_hostile(store)
    row = store.conn.execute("SELECT output FROM results WHERE length(output) > 900000").fetchone()
    assert row[0] == "A" * 1_000_000
    outputs = [r[0] for r in store.conn.execute("SELECT output FROM results")]
    assert any("\x1b]52;c;" in o for o in outputs)  # stored as data, shown as data


def test_bad_bytes_and_deep_json_are_refused_cleanly(store):
    from evaltui.errors import InputError

    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, HOSTILE / "invalid-utf8.jsonl")
    assert info.value.location == "line 2" and "not valid UTF-8" in info.value.message
    for fmt in (None, "native", "promptfoo", "openai-evals", "lm-eval", "inspect"):
        with pytest.raises(InputError):
            service.import_path(store, HOSTILE / "deep.jsonl", fmt=fmt)
    assert store.dump() == before


def test_cli_surfaces_show_data_literally(store, db_path, tmp_path):
    b, c = load_hostile(store)
    run = CliRunner()
    base = ["--db", str(db_path)]
    for args in (["runs"], ["compare", str(b), str(c), "--keys"], ["findings", "list"], ["cases"],
                 ["stale", "--runs", "2"], ["log"], ["taxonomy"], ["findings", "agreement"]):  # fmt: skip
        r = run.invoke(cli, [*base, *args])
        assert r.exit_code == 0, (args, r.output)
        assert_inert(r.output, " ".join(args))
    r = run.invoke(cli, [*base, "runs"], env={"COLUMNS": "200"})  # room for the whole name
    assert "␛]0;PWNED-RUN-TITLE␇[bold]run[/]" in r.output
    policy = tmp_path / "p.toml"
    policy.write_text('promise = "p"\n[[rule]]\nid = "r"\nmetric = "regressions"\nmax = 0\naction = "hold"\n'
                      'owner = "o"\nwhy = "w"\n')  # fmt: skip
    out = tmp_path
    r = run.invoke(cli, [*base, "gate", str(b), str(c), "--policy", str(policy), "--md", str(out / "d.md"),
                         "--junit", str(out / "j.xml"), "--out", str(out / "d.json")])  # fmt: skip
    assert r.exit_code == 12
    assert_inert(r.output, "gate")
    assert_inert((out / "d.md").read_text(), "markdown")
    assert_inert((out / "j.xml").read_text(), "junit")
    record = json.loads(
        (out / "d.json").read_text()
    )  # JSON keeps data exactly (escaped by JSON itself)
    assert (
        any("\x1b" in k for k in record["untriaged_regressions"]) or record["untriaged_regressions"]
    )
    exported = out / "f.jsonl"
    run.invoke(cli, [*base, "findings", "export", str(exported)])
    assert "\x1b" not in exported.read_text()  # json.dumps escapes control characters as \u001b


async def test_every_screen_renders_hostile_text_inert(store, db_path, tmp_path, monkeypatch):
    from evaltui.tui.app import EvaltuiApp

    load_hostile(store)
    app = EvaltuiApp(db_path)
    shots = []
    async with app.run_test(size=(160, 50)) as pilot:

        async def settle() -> None:
            for _ in range(4):
                await app.workers.wait_for_complete()
                await pilot.pause()

        await settle()
        shots.append(("runs", app.export_screenshot()))
        await pilot.press("enter")
        await settle()
        for i in range(21):
            shots.append((f"case {i}", app.export_screenshot()))
            await pilot.press("j")
            await settle()
        await pilot.press("o")
        await settle()
        shots.append(("full case", app.export_screenshot()))
        await pilot.press("escape")
        await pilot.press("1")  # a notification that names a hostile case
        await settle()
        shots.append(("notification", app.export_screenshot()))
        await pilot.press("question_mark")
        await settle()
        shots.append(("help", app.export_screenshot()))
        await pilot.press("escape")
        await pilot.press("S")
        await settle()
        shots.append(("stale", app.export_screenshot()))
    for where, svg in shots:
        assert_inert(svg, where)
    joined = "".join(svg for _, svg in shots)
    assert "␛" in joined and "PWNED-RUN-TITLE" in joined  # shown, as text
    assert "[bold&#160;red]markup[/]" in joined or "[bold red]markup[/]" in joined


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_real_terminal_keeps_title_and_clipboard(store, db_path):
    load_hostile(store)
    env = {"EVALTUI_DB": str(db_path), "EVALTUI_REVIEWER": "tmux", "TERM": "xterm-256color"}
    term = Terminal(f"sleep 1; {EVALTUI}", env, width=160, height=45)
    try:
        term.tmux("set-option", "-g", "set-clipboard", "on")
        term.tmux("set-option", "-g", "allow-rename", "on")
        title_before = term.tmux("display-message", "-p", "#{pane_title}")
        screen = term.wait_for("PWNED-RUN-TITLE")
        assert "␛]0;PWNED-RUN-TITLE␇" in screen
        term.keys("Enter")
        seen = [term.wait_for("case 1 of")]
        # Every step waits for the screen to show it (never a fixed sleep: a slow machine
        # would capture the screen before the repaint).
        for n in range(2, 21):  # the 20 changed cases
            term.keys("j")
            seen.append(term.wait_for(f"case {n} of"))
        term.keys("o")
        seen.append(term.wait_for("evaltui · case"))
        term.keys("Escape")
        term.wait_for("case 20 of")
        term.keys("?")
        seen.append(term.wait_for("Keys: compare"))
        term.keys("Escape")
        term.wait_for("case 20 of")
        term.keys("q")
        term.wait_for("EXITED=0")
        buffers = term.tmux("list-buffers")
        title_after = term.tmux("display-message", "-p", "#{pane_title}")
        window = term.tmux("display-message", "-p", "#{window_name}")
    finally:
        term.close()
    assert "PWNED" not in buffers, buffers  # no OSC 52 clipboard write got through
    assert title_after == title_before and "PWNED" not in title_after and "PWNED" not in window
    everything = "\n".join(seen)
    assert "␛]52;c;" in everything or "␛]0;PWNED-TITLE" in everything  # visible forms on screen
    assert "[bold red]markup[/]" in everything
