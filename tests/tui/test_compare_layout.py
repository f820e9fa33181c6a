"""The compare screen's layout at 80x24, 100x30 and 160x45 (#26): the screen captured as
text (what a terminal shows) right after the comparison opens, before any key, and
what must be readable on it: case keys whole up to 24 characters, every verdict and
sample count whole, the candidate column, a way to the case when the pane is not beside
the list. The column rules themselves are unit-tested on `case_columns.fit`."""

from __future__ import annotations

import re

import pytest

from evaltui import service
from evaltui.compare import CaseRow, Comparison
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.render import verdict_text
from evaltui.tui.widgets.case_columns import KEY_FULL, Needs, core_width, fit, layout

from .conftest import open_compare, settle, wait_until
from .screen_text import screen_text as drawn_text

SIZES = [(80, 24), (100, 30), (160, 45)]


def screen_text(app) -> list[str]:
    """The screen as a terminal shows it, one string per line (tests/tui/screen_text.py)."""
    return drawn_text(app).splitlines()


def list_lines(lines: list[str]) -> tuple[str, list[str]]:
    """The case list's header and its rows as drawn (the part left of the pane's border)."""
    at = next(i for i, line in enumerate(lines) if line.startswith("change "))
    rows = []
    for line in lines[at + 1 :]:
        cells = line.split("│")[0]
        if not cells.strip():
            break
        rows.append(cells)
    return lines[at].split("│")[0], rows


def row(key: str, **kw) -> CaseRow:
    defaults = dict(case_id=1, suite="s", case_key=key, change="regressed", ord=1,
                    baseline="pass", candidate="fail", fallback=None,
                    baseline_samples=(3, 3), candidate_samples=(0, 3), status="active")  # fmt: skip
    return CaseRow(**{**defaults, **kw})


# -- the rules -------------------------------------------------------------------------------


def test_numbers_are_never_cut_text_columns_give_way_first():
    needs = Needs()
    needs.take([row("k" * 30, triage_class="unsupported_claim", triage_owner="grounding",
                    candidate_samples=(10, 12), baseline_samples=(12, 12))], risk=None)  # fmt: skip
    names = layout(risk=False, fallback=True)
    wide = dict(fit(names, needs, 200))
    assert wide["case"] == 30 and wide["class"] >= 17 and wide["owner"] >= 9  # all whole
    assert wide["base"] == len("pass 12/12") and wide["cand"] == len("fail 10/12")
    for width in range(30, 140):
        cols = dict(fit(names, needs, width))
        assert sum(w + 1 for w in cols.values()) <= width or width < core_width(needs) - 14
        assert cols["change"] == needs.change and cols["cand"] == needs.cand  # always there
        for number in ("base", "fb"):  # whole, or left out: never cut
            assert cols.get(number, needs.of(number)) == needs.of(number)
        if width >= core_width(needs):
            assert cols["case"] >= KEY_FULL and "base" in cols  # the key whole up to 24
    # the order things give way: owner, class (shortened, then left out), then fallback
    narrow = fit(names, needs, core_width(needs) + 4)
    assert [n for n, _ in narrow] == ["change", "case", "base", "cand", "fb"]


def test_a_wider_row_widens_its_column_and_a_narrower_one_never_narrows_it():
    needs = Needs()
    assert needs.take([row("short")], risk="risk")
    assert dict(fit(layout(True, False), needs, 120))["case"] == len("short")
    assert needs.take([row("a-much-longer-case-key")], risk="risk")
    assert not needs.take([row("tiny")], risk="risk")
    assert dict(fit(layout(True, False), needs, 120))["case"] == len("a-much-longer-case-key")


# -- the screen, before any key ---------------------------------------------------------------


@pytest.fixture
def long_keys_store(store, tmp_path):
    """Two runs whose case keys are 9 to 30 characters long (one of each length), every
    one a regression so all are in the first page."""
    from tests.helpers import line, write_jsonl

    keys = [f"case-{'x' * (n - 8)}-{n:02d}" for n in range(9, 31)]
    for name, role, verdict in (("base", "production", "pass"), ("cand", "candidate", "fail")):
        path = write_jsonl(tmp_path / f"{name}.jsonl", [line(k, verdict) for k in keys],
                           header={"name": name, "role": role})  # fmt: skip
        service.import_path(store, path)
    return keys


def assert_readable(lines: list[str], rows: list[CaseRow], where: str) -> None:
    header, shown = list_lines(lines)
    assert "cand" in header.split(), f"{where}: no candidate column: {header!r}"
    assert len(shown) >= 5, where
    has_base = "base" in header.split()
    for r, drawn in zip(rows, shown, strict=False):
        key = r.case_key if len(r.case_key) <= KEY_FULL else r.case_key[: KEY_FULL - 1]
        assert key in drawn, f"{where}: {r.case_key!r} not whole in {drawn!r}"
        cand = verdict_text(r.candidate, r.candidate_samples).plain
        assert re.search(rf"(^| ){re.escape(cand)}( |$)", drawn), f"{where}: {cand!r} in {drawn!r}"
        if has_base:
            base = verdict_text(r.baseline, r.baseline_samples).plain
            assert re.search(rf"(^| ){re.escape(base)}( |$)", drawn), where
    # every figure whole: nothing cut right after a digit, a % or a sample count
    assert not [line for line in lines if re.search(r"[\d%]…", line)], where


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_first_draw_of_the_demo_shows_keys_and_numbers_whole(demo_store, db_path, size):
    sel = service.get_selection(demo_store)
    with Comparison(db_path, sel["baseline"], sel["candidate"], sel["fallback"]) as cmp:
        rows = cmp.page(limit=40)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.position == 1  # no key pressed since the comparison opened
        lines = screen_text(app)
        assert_readable(lines, rows, f"{size}")
        if size[0] < 100:  # the pane is not beside the list: the way to it is said
            assert "z case" in next(line for line in lines if "showing " in line)
        else:
            assert "│" in lines[lines.index(next(x for x in lines if x.startswith("change ")))]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_case_keys_up_to_24_characters_are_shown_whole(long_keys_store, db_path, size):
    with Store(db_path) as store:
        sel = service.get_selection(store)
    with Comparison(db_path, sel["baseline"], sel["candidate"]) as cmp:
        rows = cmp.page(limit=40)
    assert max(len(r.case_key) for r in rows) == 30
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        assert_readable(screen_text(app), rows, f"{size}")


async def test_zoom_on_a_narrow_screen_switches_between_the_list_and_the_case(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(60, 24)) as pilot:
        screen = await open_compare(app, pilot)
        listing, pane = screen.query_one("#cases"), screen.query_one("#case-pane")
        assert listing.display and not pane.display
        header, _ = list_lines(screen_text(app))
        assert "cand" in header.split()
        await pilot.press("z")
        assert pane.display and not listing.display and screen.focused.id == "case-view"
        filter_line = next(line for line in screen_text(app) if "showing " in line)
        assert "z list" in filter_line
        await pilot.press("j")  # stepping still works with the case alone on screen
        await pilot.press("z")
        assert listing.display and not pane.display and screen.position == 2


# -- the header: counts, tool lines, the legend ------------------------------------------------


def test_the_legend_fits_the_lines_it_has_in_its_longest_wording():
    from evaltui.tui.render import LEGEND, legend_text

    for width in range(30, 240):
        for lines in (1, 2):
            text = legend_text(width, lines, fallback=True).plain
            assert len(text.splitlines()) <= lines and all(
                len(x) <= width for x in text.split("\n")
            )
            assert text.startswith("rates: cases passing")
    assert legend_text(240, 2, fallback=False).plain.split("   ")[0] == LEGEND[0][0]
    assert "f fallback" in legend_text(240, 2, fallback=True).plain
    assert "fallback" not in legend_text(240, 2, fallback=False).plain


def drawn(app) -> bool:
    """The scoreboard's header row and the candidate's tool line are on the screen."""
    text = "\n".join(screen_text(app))
    return "candidate tools:" in text and "\n segment " in text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_agent_runs_show_both_tool_lines_above_the_scoreboard(store, db_path, size):
    """#26: the candidate's tool line (its errors and looping cases) was cut off the header."""
    from tests.test_agents import OTEL, pair

    pair(store, OTEL, mark=True)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        # The tool lines are read after the figures, by a worker of their own: wait for
        # the state (the scoreboard and both tool lines drawn), never for a time.
        shown = "\n".join  # what was on the screen instead, if it never came
        await wait_until(
            app,
            pilot,
            lambda: drawn(app),
            "the scoreboard and both tool lines",
            lambda: shown(screen_text(app)),
        )
        lines = screen_text(app)
        board = next(i for i, line in enumerate(lines) if line.lstrip().startswith("segment "))
        header = "\n".join(lines[:board])
        assert "baseline tools: 26 calls (1.6/case), 1 errors" in header
        assert "candidate tools: 36 calls (2.2/case), 2 errors, 1 case(s) looping" in header
        assert "regressions triaged" in header and "rates: cases passing" in header
        assert "all " in lines[board + 1]  # the scoreboard's first row is there too


# -- a theme switch -------------------------------------------------------------------------------


def drawn_background(widget, lines: int = 12):
    """The background colour of most cells of the first `lines` lines the widget draws."""
    from collections import Counter

    cells = Counter()
    for y in range(lines):
        for segment in widget.render_line(y):
            if segment.style:
                cells[segment.style.bgcolor] += len(segment.text)
    return cells.most_common(1)[0][0]


async def test_a_theme_switch_repaints_the_case_list_and_the_case_pane(demo_store, db_path):
    """#26: ctrl+t, the palette's theme picker, and a switch made on the full case view
    all leave no line of the list or the pane in the old theme's colours."""
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("j")
        await settle(app, pilot)  # the next cases rendered ahead, in this theme
        listing, pane = screen.query_one("#cases"), screen.query_one("#case-view")

        def in_theme() -> bool:
            return all(drawn_background(w) == w.rich_style.bgcolor for w in (listing, pane))

        dark = listing.rich_style.bgcolor
        assert in_theme()
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert app.theme == "textual-light" and listing.rich_style.bgcolor != dark
        assert in_theme()
        await pilot.press("j")  # a case rendered ahead in the old theme is not shown
        await settle(app, pilot)
        assert screen.position == 3 and in_theme()
        await pilot.press("ctrl+p", *"theme", "enter")
        await settle(app, pilot)
        await pilot.press(*"solarized-light", "enter")
        await settle(app, pilot)
        assert app.theme == "solarized-light" and app.screen is screen and in_theme()
        await pilot.press("o")  # switched on the full case: the screen below follows
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen and app.current_theme.dark and in_theme()


# -- the footer -----------------------------------------------------------------------------------

TRIAGE_KEYS = ["j Next", "k Prev", "0 Class…", "w Owner", "v Verdict", "e Note", "u Undo"]


def in_order(line: str, words: list[str]) -> bool:
    at = [line.find(w) for w in words]
    return -1 not in at and at == sorted(at)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_footer_shows_the_triage_keys_j_before_k(demo_store, db_path, size):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=size) as pilot:
        await open_compare(app, pilot)
        footer = screen_text(app)[-1]
        assert in_order(footer, [*TRIAGE_KEYS, "? Help", "q Quit"]), footer
        if size[0] >= 100:
            assert "1 Unsupported claim" in footer  # the first class by name
        assert ("^p palette" in footer) == (size[0] >= 120)  # (ctrl+p works at any width)


async def test_a_keymap_keeps_the_footer_order(demo_store, db_path, tmp_path, monkeypatch):
    """The README's keymap remaps j: it stays first in the footer (it was shown after k)."""
    from evaltui.tui import config

    path = tmp_path / "evaltui.toml"
    path.write_text('[keymap]\n"compare.next" = "j,ctrl+n"\n"compare.gate" = "G"\n')
    monkeypatch.setenv("EVALTUI_CONFIG", str(path))
    app = EvaltuiApp(db_path, config=config.load_checked())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compare(app, pilot)
        footer = screen_text(app)[-1]
        assert in_order(footer, TRIAGE_KEYS), footer
        await pilot.press("ctrl+n")
        await settle(app, pilot)
        assert screen.position == 2
