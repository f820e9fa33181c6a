"""The compare screen's small frictions (#26), by real keys: the cursor kept on its case
through `H` and the reducer, undo saying what it undid, search matches marked in the
case pane and a hint for an unknown class, one wording of each change kind, identical
grader lines collapsed, the findings table unwrapped."""

from __future__ import annotations

from evaltui import service
from evaltui.compare import Comparison, Filter, Reducer
from evaltui.review import lifecycle
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.prompts import OptionPicker

from .conftest import open_compare, settle


def keys_of(db_path, flt=None, **kwargs) -> list[str]:
    with Store(db_path) as store:
        sel = service.get_selection(store)
    with Comparison(db_path, sel["baseline"], sel["candidate"], sel["fallback"], **kwargs) as cmp:
        return [r.case_key for r in cmp.page(flt or Filter(), limit=1000)]


# -- 4. the cursor stays on its case -----------------------------------------------------------


async def test_counting_retired_cases_keeps_the_cursor_on_its_case(demo_store, db_path):
    order = keys_of(db_path)
    # two cases above the sixth retired: counted again, they come back above it
    lifecycle.retire(demo_store, lifecycle.resolve_cases(demo_store, order[1:3]), "obsolete_policy")
    shown = keys_of(db_path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("j", "j", "j", "j", "j")
        await settle(app, pilot)
        assert screen.position == 6 and screen.current.case_key == shown[5]
        await pilot.press("H")  # retired cases counted: two more rows above it
        await settle(app, pilot, rounds=6)
        assert screen.current.case_key == shown[5] and screen.position == 8
        assert screen.browser.listing.cursor == 8
        await pilot.press("H")  # and left out again
        await settle(app, pilot, rounds=6)
        assert screen.current.case_key == shown[5] and screen.position == 6


async def test_choosing_a_reducer_keeps_the_case_and_the_filter(demo_store, db_path):
    regressed = Filter(frozenset({"regressed"}))
    order = keys_of(db_path, regressed)
    majority = keys_of(db_path, regressed, reducer=Reducer.parse("majority"))
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("f")  # regressions only
        await settle(app, pilot)
        kept = next(i for i, key in enumerate(order) if key in majority and i >= 3)
        for _ in range(kept):
            await pilot.press("j")
        await settle(app, pilot)
        assert screen.current.case_key == order[kept]
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, OptionPicker)
        await pilot.press("down", "enter")  # worst, majority
        await settle(app, pilot, rounds=8)
        assert screen.comparison.reducer.label == "majority"
        assert screen.flt.changes == frozenset({"regressed"})  # the filter stays
        assert screen.current.case_key == order[kept]
        assert screen.position == majority.index(order[kept]) + 1
        gone = next(i for i, key in enumerate(majority) if key not in keys_of(
            db_path, regressed, reducer=Reducer.parse("best")))  # fmt: skip
        await pilot.press("home", *["j"] * gone)
        await settle(app, pilot)
        # best (the picker starts on majority): the case leaves the list
        await pilot.press("R", "down", "down", "enter")
        await settle(app, pilot, rounds=8)
        assert screen.comparison.reducer.label == "best"
        best = keys_of(db_path, regressed, reducer=Reducer.parse("best"))
        # the case now at its position (or the last, when the list got shorter)
        assert screen.current.case_key == best[min(gone, len(best) - 1)]


# -- 5. undo says what it undid ------------------------------------------------------------------


async def test_undo_says_what_it_undid_and_where(demo_store, db_path):
    from textual.widgets import Static

    order = keys_of(db_path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)

        def status() -> str:
            return str(screen.query_one("#status", Static).content)

        await pilot.press("1")  # unsupported_claim, then the next untriaged case
        await settle(app, pilot)
        await pilot.press("v", "enter")  # a verdict on the second case (real_regression)
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == f"Undid: verdict real_regression on support-assistant/{order[1]} (saved)"
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == f"Undid: class unsupported_claim on support-assistant/{order[0]} (saved)"
        assert screen.current.case_key == order[0]  # the cursor goes to the case undone
        assert screen.current.triage_class is None
        await pilot.press("e", *"see [red]x[/]", "enter")
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == f"Undid: note “see [red]x[/]” on support-assistant/{order[0]} (saved)"
        await pilot.press("u")
        await settle(app, pilot)
        assert status() == "Nothing of yours to undo in this comparison"


# -- 6. search: matches marked, a hint for an unknown class ----------------------------------------


def marked(screen) -> list[str]:
    """The pieces of the case pane's text drawn as a search match."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from evaltui.tui.widgets.case_pane import MATCH_STYLE

    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, Text):
            found.extend(
                value.plain[s.start : s.end] for s in value.spans if s.style == MATCH_STYLE
            )
        elif isinstance(value, Group):
            for part in value.renderables:
                walk(part)
        elif isinstance(value, Table):
            for column in value.columns:
                for cell in column._cells:
                    walk(cell)

    walk(screen.query_one("#case-view").content)
    return found


async def test_search_matches_are_marked_in_the_case_pane(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        assert marked(screen) == []
        await pilot.press("slash", *"SECURE LINK", "enter")  # any case, as the search finds
        await settle(app, pilot)
        assert screen.total > 2 and screen.flt.text == "SECURE LINK"
        first = marked(screen)
        assert first and all(m.lower() == "secure link" for m in first)
        await pilot.press("j")  # a case read (and rendered) ahead is marked too
        await settle(app, pilot)
        assert screen.position == 2 and marked(screen)
        assert all(m.lower() == "secure link" for m in marked(screen))
        await pilot.press("F")  # the search cleared: the marks go, on the case shown too
        await settle(app, pilot)
        assert marked(screen) == []


async def test_an_unknown_class_in_the_search_gets_a_hint(demo_store, db_path):
    from evaltui.tui.case_browser import class_hint

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("slash", *"class:unsuported_claim", "enter")
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
        assert (
            "No class unsuported_claim in the taxonomy: did you mean class:unsupported_claim?"
            in said
        )
        await pilot.press("slash", "ctrl+u", *"class:nonsense", "enter")
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
        hint = next(m for m in said if "nonsense" in m)
        assert hint.startswith("No class nonsense in the taxonomy; its classes: unsupported_claim,")
        assert screen.flt.failure_class == "nonsense" and screen.total == 0
        before = len(app._notifications)
        await pilot.press("slash", "ctrl+u", *"class:wrong_source", "enter")  # a class: no hint
        await settle(app, pilot)
        assert len(app._notifications) == before and screen.flt.failure_class == "wrong_source"
    classes = [("unsupported_claim", "Unsupported claim"), ("over_refusal", "Over-refusal")]
    assert class_hint("Over-Refusal", classes) == (
        "No class Over-Refusal in the taxonomy: did you mean class:over_refusal?"
    )
    assert class_hint("over_refusal", classes) is None


# -- 7. one wording of each change kind ------------------------------------------------------------


async def test_the_filter_line_names_change_kinds_as_the_list_does(demo_store, db_path):
    from textual.widgets import Static

    from evaltui.tui.widgets.filter_bar import describe

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        seen = []
        for _ in range(6):
            await pilot.press("f")
            await settle(app, pilot)
            line = str(screen.query_one("#filter-line", Static).content)
            seen.append(line.split("  (")[0].removeprefix("showing "))
            assert "_" not in line, line
        assert "output changed" in seen and "still failing" in seen and "regressed" in seen
        counts = str(screen.query_one("#counts", Static).content)
        assert "output changed 224" in counts  # the same words as the counts
    flt = Filter(frozenset({"output_changed", "tools_changed"}), segment=("task", "refunds"))
    assert describe(flt.parse("untriaged class:wrong_source refund")) == (
        "output changed, tools changed task=refunds untriaged class:wrong_source /refund"
    )


# -- 8. the whole case: one grader line per explanation --------------------------------------------


async def test_the_whole_case_says_each_grader_explanation_once(demo_store, db_path):
    from rich.console import Console

    from evaltui.tui.screens.case import CaseScreen

    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_compare(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseScreen)
        console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(app.screen.query_one("#case-full-view").content)
        text = console.export_text()
    grader = text[text.index("grader") :].splitlines()[1:]
    grader = [line.rstrip() for line in grader[: next(
        (i for i, line in enumerate(grader) if not line.strip()), len(grader))]]  # fmt: skip
    # the demo's first case: 3 samples per run, the same explanation on each but one
    assert grader == [
        "baseline: Matches the reference answer and cites the right policy.  × 3 samples",
        "candidate: Claims to have taken an account action that requires verification.  × 3 samples",
        "fallback: Response is not valid JSON as the channel requires.  × 2 samples (0, 1)",
        "fallback: Makes a claim the knowledge base does not support.  sample 2",
    ]


# -- 9. the findings in the case pane: no stamp wrapped ---------------------------------------------


async def test_the_findings_never_wrap_a_stamp_at_any_width(demo_store, db_path):
    import re

    from .test_compare_layout import screen_text

    for size in ((100, 30), (160, 45), (220, 50)):
        app = EvaltuiApp(db_path)
        async with app.run_test(size=size) as pilot:
            screen = await open_compare(app, pilot)
            await pilot.press("1", "k")  # a class on the first case, then back to it
            await settle(app, pilot)
            await pilot.press("e", *"a note long enough to wrap in a narrow pane", "enter")
            await settle(app, pilot)
            await pilot.press("tab", "end")  # to the pane's end: its findings
            await settle(app, pilot)
            assert screen.focused.id == "case-view"
            pane = [line.split("│", 1)[1] for line in screen_text(app) if "│" in line]
            stamps = [line for line in pane if re.search(r"\d{4}-\d\d-\d\d", line)]
            assert len(stamps) >= 2, (size, pane)
            for line in stamps:  # the whole stamp on its line
                assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line), (size, line)
            shown = " ".join(pane)
            assert "Unsupported claim" in shown and "narrow pane" in shown
            if size[0] >= 220:  # where a table fits, it is a table
                assert any(line.split()[:3] == ["when", "who", "what"] for line in pane)
        await app.workers.wait_for_complete()
