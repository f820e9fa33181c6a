"""The scoreboard's verified rows (#27): with judged results the grader's own figures on
the criterion, those corrected for its errors (the delta with its interval) and the audited
delta are rows under the segments, labelled; without judgments there are none."""

from __future__ import annotations

from evaltui.review.calibration import demo
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.widgets import Scoreboard

from .conftest import open_compare, settle


def row_texts(board: Scoreboard) -> list[list[str]]:
    return [[str(c) for c in board.get_row_at(i)] for i in range(board.row_count)]


async def test_judged_results_add_labelled_rows_under_the_segments(demo_store, db_path):
    demo.load(demo_store)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(220, 60)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        board = screen.query_one("#scoreboard", Scoreboard)
        rows = row_texts(board)
        n = len(board.segments)
        assert [r[0] for r in rows[n:]] == [
            "grounded: grader, raw",
            "grounded: corrected",
            "verdict: audited (refused)",
        ]
        raw, fixed, audited = rows[n:]
        assert raw[1:5] == ["564", "80.6%", "92.4%", "+11.9"]
        assert fixed[1:5] == ["60", "77.4%", "65.9%", "-11.6\n-100 to +43"]
        assert audited[1:5] == ["360", "-", "-", "-"]
        assert "●" in fixed[-1] and "─" in fixed[-1]
        board.move_cursor(row=n + 1)
        assert board.highlighted_segment is False  # not a segment: Enter filters nothing


async def test_no_judgments_no_verified_rows(demo_store, db_path):
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(220, 60)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        board = screen.query_one("#scoreboard", Scoreboard)
        assert board.row_count == len(board.segments) and board.verified == []
