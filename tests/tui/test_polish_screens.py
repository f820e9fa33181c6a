"""The first hour, polished (#26), in the app: the runs, gate, stale and help screens as a
new user meets them, real keys pressed (Pilot)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable

from evaltui import service
from evaltui.errors import InputError
from evaltui.store import Store
from evaltui.tui import config
from evaltui.tui.app import EvaltuiApp

from ..conftest import FIXTURES
from .conftest import settle
from .screen_text import screen_text, squeezed

POLICY = FIXTURES / "policies" / "support-assistant.toml"


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
    keys = "N,ctrl+n,f24,pagedown,left_square_bracket,shift+tab,ctrl+shift+up,space,slash"
    path = tmp_path / "config.toml"
    path.write_text(f'[keymap]\n"runs.next" = "{keys}"\n')
    loaded = config.load(config.binding_ids(), set(), path)
    assert loaded.keymap["runs.next"].split(",")[:4] == ["N", "ctrl+n", "f24", "pagedown"]


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


# -- 5. bulk retire: a reason per kind, and the preview says why rows are not cases --------


def rendered(renderable, width: int = 160) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_bulk_retire_proposes_a_reason_per_kind_and_says_what_it_leaves_out(
    demo_store, db_path
):
    from evaltui.review import lifecycle
    from evaltui.tui.screens.prompts import ConfirmEffect, ReasonPicker
    from evaltui.tui.screens.stale import StaleScreen

    from .conftest import open_compare

    found = lifecycle.stale(demo_store)
    suggested = [s for s in found if s.preselect]
    standing = next(i for i, s in enumerate(found) if s.rule == "always_fails")
    twice = {s.case_id for s in suggested if s.rule == "duplicate"} & {
        s.case_id for s in suggested if s.rule == "never_changes_decision"
    }
    assert len(suggested) == 202 and len(twice) == 3  # the demo: 202 rows, 199 cases
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("S")
        await settle(app, pilot)
        stale = app.screen
        assert isinstance(stale, StaleScreen)
        await pilot.press("A", *["down"] * standing, "space")  # and one standing failure
        assert "203 selected (200 cases)" in str(stale.query_one("#stale-detail").content)
        await pilot.press("X")
        await settle(app, pilot)
        assert isinstance(app.screen, ReasonPicker)
        options = app.screen.query_one("#picker-list")
        first = options.get_option_at_index(options.highlighted).prompt.plain
        assert first == (
            "as proposed, a reason per kind: 4 duplicate, 195 never_changes_decision, 1 bad_case"
        )
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press(*"cleanup", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmEffect)
        said = rendered(app.screen.table)
        assert "203 rows selected, 200 cases." in said
        assert "195  retired as never_changes_decision" in said
        assert "4  retired as duplicate" in said and "1  retired as bad_case" in said
        keys = sorted(f"{s.suite}/{s.case_key}" for s in suggested if s.case_id in twice)
        assert "3 case(s) are listed under two rules and are retired once, as duplicate: " in said
        assert all(k in said for k in keys)
        assert (
            "1 standing failure(s) selected (report only: they fail in each run); retired as "
            "bad_case, which says the case itself is wrong" in " ".join(said.split())
        )
        assert f"{found[standing].suite}/{found[standing].case_key}" in said
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        assert "Retired 200 case(s): 4 duplicate, 195 never_changes_decision, 1 bad_case" in (
            said_notices(app)
        )
    with Store(db_path) as store:
        retired = {r.case_key: r.reason for r in lifecycle.list_cases(store, status="retired")}
        assert len(retired) == 200
        assert retired[found[standing].case_key] == "bad_case"
        assert {retired[k.split("/", 1)[1]] for k in keys} == {"duplicate"}
        events = [e for e in store.events() if e.action == "case.retire"]
        assert len(events) == 200 and {e.context["cases"] for e in events} == {200}


def said_notices(app) -> str:
    return "\n".join(said(app))


def test_a_bulk_retirement_by_reason_is_one_transaction(demo_store):
    from evaltui.errors import NotFoundError
    from evaltui.review import lifecycle

    ids = [s.case_id for s in lifecycle.stale(demo_store) if s.rule == "never_changes_decision"]
    with pytest.raises(NotFoundError):
        lifecycle.retire_by_reason(
            demo_store, {"never_changes_decision": ids[:5], "bad_case": [10**9]}, "x"
        )
    assert lifecycle.status_counts(demo_store)["retired"] == 0  # nothing half-written
    with pytest.raises(InputError, match="unknown reason 'stale'"):
        lifecycle.retire_by_reason(demo_store, {"stale": ids[:1]})
    n = lifecycle.retire_by_reason(demo_store, {"duplicate": ids[:2], "bad_case": ids[2:3]}, "x")
    assert n == 3
    reasons = {r.reason for r in lifecycle.list_cases(demo_store, status="retired")}
    assert reasons == {"duplicate", "bad_case"}


# -- 6. the stale screen at 80 and 100 columns: keys, evidence whole, Enter opens the case --


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_stale_screen_at_80_and_100_columns(demo_store, db_path, size):
    from evaltui.review import lifecycle
    from evaltui.tui.screens.case import CaseScreen
    from evaltui.tui.screens.stale import StaleScreen

    from .conftest import open_compare

    found = lifecycle.stale(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        await pilot.press("S")
        await settle(app, pilot)
        stale = app.screen
        assert isinstance(stale, StaleScreen)
        shown = screen_text(app)
        lines = shown.splitlines()
        assert found[0].case_key in lines[4] and "always_fails (report only)" in lines[4]
        # the highlighted suggestion's evidence whole, under the table
        assert found[0].evidence in squeezed(shown)
        footer = lines[-1]
        for key in ("⏎ Open", "space Select", "A Suggested", "X Retire", "? Help"):
            assert key in footer, (key, footer)
        assert "space selects and moves down" in squeezed(shown)
        # space selects the highlighted case and moves to the next
        await pilot.press("space")
        await settle(app, pilot)
        assert stale.selected == {0}
        assert stale.query_one("#stale-table").cursor_row == 1
        assert found[1].evidence in squeezed(screen_text(app))
        # Enter opens the case: why it is suggested, then the case itself
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseScreen)
        assert app.screen.detail.case_key == found[1].case_key
        opened = squeezed(screen_text(app))
        assert f"Suggested: {found[1].rule}" in opened and found[1].evidence in opened
        assert app.screen.detail.input.split("\n")[0][:30] in opened
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is stale and stale.selected == {0}


# -- 7. the gate at 80x24: every rule reachable, the highlighted rule's why whole ----------


def many_rules_policy(tmp_path, copies: int) -> Path:
    """The demo's policy with its rules `copies` times over (ids made distinct)."""
    text = POLICY.read_text()
    head, rules = text.split("[[rule]]", 1)
    body = "[[rule]]" + rules
    extra = [body.replace('id = "', f'id = "copy{n}-') for n in range(2, copies + 1)]
    path = tmp_path / "many.toml"
    path.write_text(head + body + "".join(extra))
    return path


async def open_gate(app, pilot, db_path, policy: Path):
    from evaltui import gate
    from evaltui.tui.screens.gate import GateScreen

    from .conftest import open_compare

    with Store(db_path) as store:
        gate.set_policy_path(store, str(policy))
    await open_compare(app, pilot)
    await pilot.press("g")
    await settle(app, pilot, rounds=6)
    assert isinstance(app.screen, GateScreen)
    return app.screen


@pytest.mark.parametrize("copies", [1, 3])
async def test_every_gate_rule_is_reachable_at_80x24_with_its_why_whole(
    demo_store, db_path, tmp_path, copies
):
    policy = POLICY if copies == 1 else many_rules_policy(tmp_path, copies)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        gate_screen = await open_gate(app, pilot, db_path, policy)
        rules = gate_screen.record.rules
        assert len(rules) == 10 * copies
        shown = screen_text(app)
        if copies == 1:  # ten rules fit: every one on screen at once
            assert all(r.id in shown for r in rules)
        for i, rule in enumerate(rules):
            if i:
                await pilot.press("down")
                await settle(app, pilot)
            shown = screen_text(app)
            # its row in the table, then the same words starting the detail under it
            found = [w for w in map(str.split, shown.splitlines())
                      if w[1:2] == [rule.id] and w[0] in ("ok", "FAIL", "n<min")]  # fmt: skip
            assert len(found) == 2, shown
            row = found[0]
            detail = squeezed(str(gate_screen.query_one("#rule-detail").content))
            assert detail.startswith(f"{row[0]} {rule.id} ")
            assert f"why: {' '.join(rule.why.split())}" in detail
            assert f"why: {' '.join(rule.why.split())}" in squeezed(shown)  # all of it shown
            assert shown.splitlines()[-1].lstrip().startswith("e Export")


# -- 8. a retired case says why, who, when and the note ------------------------------------


async def test_a_retired_case_shows_its_reason_note_who_and_when(demo_store, db_path):
    from evaltui.review import lifecycle

    from .conftest import expected_order, open_compare, pane_text

    order, _ = expected_order(db_path, demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("X")
        await settle(app, pilot)
        await pilot.press("down", "enter")  # retire: obsolete_policy
        await settle(app, pilot)
        await pilot.press(*"policy v2 replaced it", "enter")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot, rounds=6)
        await pilot.press("H")  # count the retired cases again: it is back in the list
        await settle(app, pilot, rounds=6)
        await pilot.press("home")
        await settle(app, pilot)
        assert screen.current.case_key == order[0]
        (row,) = lifecycle.list_cases(demo_store, status="retired")
        when = row.at[:16].replace("T", " ")
        shown = " ".join(pane_text(screen).split())
        assert (
            f"[retired] retired as obsolete_policy by tester on {when}: policy v2 replaced it"
            in shown
        )


# -- 9. dialogs in the middle; the class picker's descriptions wrap under themselves -------


async def test_the_copy_and_reducer_dialogs_are_centred_and_class_descriptions_indented(
    demo_store, db_path
):
    from evaltui.review.taxonomy import load as load_taxonomy
    from evaltui.tui.screens.prompts import ClassPicker, OptionPicker

    from .conftest import open_compare

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_compare(app, pilot)
        for key in ("y", "R"):
            await pilot.press(key)
            await settle(app, pilot)
            assert isinstance(app.screen, OptionPicker)
            box = app.screen.query_one("#picker").region
            left, right = box.x, 100 - box.right
            top, bottom = box.y, 30 - box.bottom
            assert abs(left - right) <= 1 and abs(top - bottom) <= 1, (key, box)
            await pilot.press("escape")
            await settle(app, pilot)
        await pilot.press("0")
        await settle(app, pilot)
        assert isinstance(app.screen, ClassPicker)
        first = load_taxonomy(demo_store).active[0]
        lines = screen_text(app).splitlines()
        words = first.description.split()
        at = next(i for i, line in enumerate(lines) if " ".join(words[:3]) in line)
        start = lines[at].index(words[0])
        following = lines[at + 1][start:]
        assert following.split()[0] in words[3:], lines[at : at + 2]  # the wrap, not a class
        assert lines[at + 1][:start].rstrip(" ").endswith("▊")  # indented as the first line
