"""The first hour, polished (#26), in the app: the runs, gate, stale and help screens as a
new user meets them, real keys pressed (Pilot)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from evaltui import service
from evaltui.errors import InputError
from evaltui.store import Store
from evaltui.tui import config
from evaltui.tui.app import EvaltuiApp

from .conftest import settle


def marks(table: DataTable) -> list[str]:
    return [table.get_cell(row_key, "mark").plain for row_key in table.rows]


# -- 1. the runs screen steps with j / k ----------------------------------------------------


async def test_j_and_k_move_on_the_runs_screen_so_marks_land_on_different_runs(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        # typed ahead, no wait between keys: each mark is saved in the order pressed
        await pilot.press("j", "j", "b", "k", "c", "k", "f")
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert marks(table) == ["FALL", "CAND", "BASE"]
        assert table.cursor_row == 0
        await pilot.press("k")  # at the top: stays
        assert table.cursor_row == 0
        await pilot.press("j", "j", "j")  # at the bottom: stays
        assert table.cursor_row == 2
    with Store(db_path) as store:
        assert service.get_selection(store) == {"baseline": 3, "candidate": 2, "fallback": 1}


# -- 2. y says what it did: sent through the terminal, which may not honour it; f: a file ---


def said(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_copy_says_it_was_sent_by_osc52_and_f_writes_a_new_file(
    demo_store, db_path, tmp_path, monkeypatch
):
    import base64

    from evaltui.tui.screens.prompts import CopyPicker

    from .conftest import expected_order, open_compare

    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    order, _ = expected_order(db_path, demo_store)
    key = f"support-assistant/{order[0]}"
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_compare(app, pilot)
        sent: list[str] = []  # what the terminal was sent (the OSC 52 sequence)
        write = app._driver.write
        monkeypatch.setattr(app._driver, "write", lambda data: (sent.append(data), write(data)))
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, CopyPicker)
        await pilot.press("enter")  # the case key, to the clipboard
        await settle(app, pilot)
        osc = f"\x1b]52;c;{base64.b64encode(key.encode()).decode()}\a"
        assert osc in sent
        (notice,) = [n for n in said(app) if "clipboard" in n]
        assert not notice.startswith("Copied")  # nothing says it arrived
        assert f"Sent the key ({len(key)} characters)" in notice and "(OSC 52)" in notice
        assert "may ignore it" in notice and "set -g set-clipboard on" in notice
        assert "y then f writes it to a file" in notice
        # y then f: the highlighted text (the key) to a new file, its full path said
        sent.clear()
        for n in (1, 2):
            await pilot.press("y")
            await settle(app, pilot)
            await pilot.press("f")
            await settle(app, pilot)
            written = sorted(folder.iterdir())
            assert len(written) == n  # a new file each time, never over the first
            path = folder / ("evaltui-key-support-assistant_" + order[0].replace("/", "_")
                             + ("" if n == 1 else "-2") + ".txt")  # fmt: skip
            assert path.read_text() == key
            assert said(app)[-1] == f"Wrote the key ({len(key)} characters) to {path}"
        assert not any(s.startswith("\x1b]52") for s in sent)  # f sent nothing to the terminal
        # the Markdown summary, chosen in the dialog, to a .md file
        await pilot.press("y")
        await settle(app, pilot)
        await pilot.press("down", "down", "down", "f")
        await settle(app, pilot)
        (md,) = folder.glob("*.md")
        assert md.read_text().startswith(f"### support-assistant / {order[0]}: regressed")


# -- 3. the keymap refuses names that are not keys ----------------------------------------


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("banana", "'banana' is no key"),
        ("ctrl+banana", "'banana' is no key"),
        ("f99", "'f99' is no key"),
        ("F5", "did you mean 'f5'?"),
        ("esc", "did you mean 'escape'?"),
        ("hyper+j", "'hyper' is not a modifier"),
        ("ctrl+", "it ends in '+'"),
    ],
)
def test_the_keymap_refuses_a_name_that_is_not_a_key(tmp_path, key, why):
    path = tmp_path / "config.toml"
    path.write_text(f'theme = "textual-dark"\n[keymap]\n"runs.next" = "down,{key}"\n')
    with pytest.raises(InputError) as refused:
        config.load(config.binding_ids(), {"textual-dark"}, path)
    said = str(refused.value)
    assert said.startswith(f"{path}:3: runs.next: '{key}' is not a key name: ")
    assert why in said and "\n" not in said


def test_the_keymap_takes_every_kind_of_real_key(tmp_path):
    keys = "J,ctrl+n,f24,pagedown,left_square_bracket,shift+tab,ctrl+shift+up,space,slash"
    path = tmp_path / "config.toml"
    path.write_text(f'[keymap]\n"runs.next" = "{keys}"\n')
    loaded = config.load(config.binding_ids(), set(), path)
    assert loaded.keymap["runs.next"].split(",")[:4] == ["J", "ctrl+n", "f24", "pagedown"]


def test_a_key_that_is_not_a_key_stops_the_app_with_one_line(
    demo_store, tmp_path, monkeypatch, db_path
):
    from click.testing import CliRunner

    from evaltui.cli import cli

    path = tmp_path / "config.toml"
    path.write_text('[keymap]\n"compare.gate" = "ctrl+banana"\n')
    monkeypatch.setenv("EVALTUI_CONFIG", str(path))
    result = CliRunner().invoke(cli, ["--db", str(db_path)])
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: {path}:2: compare.gate: 'ctrl+banana' is not a key name: 'banana' is no key"
    )
    assert len(result.output.strip().splitlines()) == 1
