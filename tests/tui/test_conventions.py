"""The conventions Textual users expect: palette, keymap, themes, NO_COLOR, footer by
width, class names on 1-9, copy, reducer and segments chosen in the app, the view kept
per comparison, the trend view. Each presses real keys and reads the screen or store."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from textual.command import CommandPalette
from textual.filter import Monochrome, NoColor

from evaltui.cli import cli
from evaltui.store import Store
from evaltui.tui import config
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.commands import screen_commands
from evaltui.tui.screens.help import HelpScreen, keys_of
from evaltui.tui.screens.prompts import OptionPicker, TextPrompt
from evaltui.tui.screens.runs import RunsScreen
from evaltui.tui.screens.trend import TrendScreen
from evaltui.views import view_state

from .conftest import expected_order, open_compare, pane_text, settle


def footer_text(app) -> str:
    from textual.widgets import Footer

    return " ".join(
        f"{k.key_display} {k.description}" for k in app.screen.query_one(Footer).query("FooterKey")
    )


async def test_the_palette_lists_every_binding_of_the_screen_and_runs_it(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        titles = [c.title for c in screen_commands(app, screen)]
        for key, active in screen.active_bindings.items():
            b = active.binding
            if b.description and not b.system and b.action != "command_palette":
                assert any(t.startswith(b.description + " (") for t in titles), (key, b.description)
        assert "Open the gate" in titles and "Go to the runs" in titles
        await pilot.press("ctrl+p")
        await settle(app, pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Next (j)")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen and screen.position == 2  # the command ran the binding


async def test_keys_1_to_9_carry_the_class_names_in_footer_help_and_palette(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_compare(app, pilot)
        first = screen.taxonomy.active[0].name
        assert f"1 {first}" in footer_text(app)
        help_keys = {k.key: k.description for k in keys_of(screen)}
        assert help_keys["1"] == first
        assert any(
            t.startswith(f"{first} (1)") for t in (c.title for c in screen_commands(app, screen))
        )


@pytest.mark.parametrize("width", [100, 160])
async def test_the_footer_shows_the_triage_keys_at_any_width(demo_store, db_path, width):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(width, 30)) as pilot:
        await open_compare(app, pilot)
        shown = footer_text(app)
        assert "j Next" in shown and re.search(r"\b1 \w", shown) and "? Help" in shown
        if width >= 160:
            assert "g Gate" in shown and "u Undo" in shown and "v Verdict" in shown


def write_config(tmp_path, monkeypatch, text: str):
    path = tmp_path / "evaltui.toml"
    path.write_text(text)
    monkeypatch.setenv("EVALTUI_CONFIG", str(path))
    return path


async def test_a_keymap_remaps_a_key_and_help_shows_it(demo_store, db_path, tmp_path, monkeypatch):
    write_config(
        tmp_path, monkeypatch, '[keymap]\n"compare.next" = "ctrl+n"\n"compare.gate" = "G"\n'
    )
    app = EvaltuiApp(db_path, config=config.load_checked())
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert screen.position == 2
        await pilot.press("j")  # no longer Next
        await settle(app, pilot)
        assert screen.position == 2
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        shown = {k.binding_id: k.key for k in app.screen.keys}
        assert shown["compare.next"] == "^n" and shown["compare.gate"] == "G"


async def test_key_hints_in_words_follow_the_keymap(demo_store, db_path, tmp_path, monkeypatch):
    """The runs screen's hint and the filter line name the keys as the app shows them:
    remapped in the config, they say the new key."""
    keymap = (
        '"compare.filter" = "ctrl+f"\n"compare.search" = "ctrl+s"\n"runs.mark-baseline" = "B"\n'
    )
    write_config(tmp_path, monkeypatch, "[keymap]\n" + keymap)
    app = EvaltuiApp(db_path, config=config.load_checked())
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        hint = str(app.screen.query_one("#empty").content)
        assert "B / c / f mark another run" in hint and "Enter compares" in hint
        screen = await open_compare(app, pilot)
        line = str(screen.query_one("#filter-line").content)
        assert "^f filter · s segment · ^s search · F clear" in line
        await pilot.press("ctrl+f")  # and the key it names does what it says
        await settle(app, pilot)
        assert screen.flt.changes == frozenset({"regressed"})
    app = EvaltuiApp(db_path)  # no keymap: the default keys, as before
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        assert "b / c / f mark another run" in str(app.screen.query_one("#empty").content)
        screen = await open_compare(app, pilot)
        assert "f filter · s segment · / search · F clear" in str(
            screen.query_one("#filter-line").content
        )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[keymap]\n"compare.nxt" = "x"\n', ":2: compare.nxt: unknown binding id"),
        ('[keymap]\n"compare.next" = "ctrl+"\n', "compare.next: 'ctrl+' is not a key name"),
        (
            '[keymap]\n"compare.next" = "g"\n',
            "compare.next: key 'g' is already compare.gate's on the CompareScreen screen",
        ),
        ('[keymap]\n"compare.next" = "q"\n', "compare.next: key 'q' is already app.quit's"),
        ('theme = "sepia"\n', ":1: theme: unknown theme 'sepia'"),
        ("colour = 1\n", "colour: unknown field"),
        ("[keymap\n", "not valid TOML"),
    ],
)
def test_a_bad_config_is_refused_before_the_app_starts(
    demo_store, db_path, tmp_path, monkeypatch, text, says
):
    path = write_config(tmp_path, monkeypatch, text)
    result = CliRunner().invoke(cli, ["--db", str(db_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}") and says in lines[0], (
        result.output
    )


async def test_the_theme_switches_and_the_config_sets_it(
    demo_store, db_path, tmp_path, monkeypatch
):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert app.theme == "textual-light" and not app.current_theme.dark
    write_config(tmp_path, monkeypatch, 'theme = "textual-light"\n')
    app = EvaltuiApp(db_path, config=config.load_checked())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.theme == "textual-light"


def test_no_color_drops_colour_instead_of_greying_it(db_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = EvaltuiApp(db_path)
    assert app.no_color
    assert any(isinstance(f, NoColor) for f in app._filters)
    assert not any(isinstance(f, Monochrome) for f in app._filters)


async def test_copy_puts_the_case_s_own_data_on_the_clipboard(demo_store, db_path):
    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        detail = screen.current_detail
        for choice, check in [
            (0, lambda text: text == f"support-assistant/{order[0]}"),
            (1, lambda text: text == detail.candidate[0].output),
            (
                3,
                lambda text: (
                    text.startswith(f"### support-assistant / {order[0]}: regressed")
                    and "**Candidate output**" in text
                    and detail.input.split()[0] in text
                ),
            ),
        ]:
            await pilot.press("y")
            await settle(app, pilot)
            assert isinstance(app.screen, OptionPicker)
            await pilot.press(*["down"] * choice, "enter")
            await settle(app, pilot)
            assert check(app.clipboard), app.clipboard


async def test_reducer_and_segments_are_chosen_in_the_app(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, OptionPicker)
        await pilot.press("down", "down", "down", "enter")  # worst, majority, mean, best
        await settle(app, pilot, rounds=8)
        assert screen.comparison.reducer.label == "best"
        assert "reducer best" in str(screen.query_one("#title").content)
        await pilot.press("D")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)
        box = app.screen.query_one("Input")
        box.value = "task"
        await pilot.press("enter")
        await settle(app, pilot, rounds=8)
        assert screen.comparison.dimensions == ["task"]
        labels = {s.dimension for s in screen.segments}
        assert labels == {"all", "task"}


async def test_where_you_were_is_kept_per_comparison(demo_store, db_path):
    regressed, _ = expected_order(
        db_path,
        demo_store,
        __import__("evaltui.compare", fromlist=["Filter"]).Filter(frozenset({"regressed"})),
    )
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("f", "j", "j", "j")
        await settle(app, pilot)
        assert screen.current.case_key == regressed[3]
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RunsScreen)
    with Store(db_path) as store:
        saved = view_state.load(store, 1, 2, 3)
    assert saved.changes == ["regressed"] and saved.position == 4
    app = EvaltuiApp(db_path)  # a new session: the same place
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        assert screen.flt.changes == frozenset({"regressed"})
        assert screen.position == 4 and screen.current.case_key == regressed[3]
        assert regressed[3] in pane_text(screen)


async def test_a_saved_view_that_does_not_check_is_said_and_not_applied(demo_store, db_path):
    bad = {"position": -5, "reducer": "worst"}
    demo_store.set_setting(view_state.key(1, 2, 3, demo_store.actor), bad, log=False)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        assert screen.position == 1
        said = [n.message for n in app._notifications]
        assert any("saved view was not applied" in m and "position" in m for m in said), said


async def test_the_trend_view_shows_segments_and_standing_failures(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        assert isinstance(app.screen, TrendScreen)
        segments = app.screen.query_one("#trend-segments")
        first = [c.plain for c in segments.get_row_at(0)]
        base, cand = screen.segments[0].baseline_rate, screen.segments[0].candidate_rate
        assert first[0] == "all" and first[2] == f"{base:.1%}" and first[3] == f"{cand:.1%}"
        cases = app.screen.query_one("#trend-cases")
        assert cases.row_count > 0 and cases.get_row_at(0)[1].plain == "✗✗"
        await pilot.press("escape")
        assert app.screen is screen
