"""The case cursor without a terminal (no Textual, no Pilot): every key moves it at once,
the pages it asks for are read from a real comparison of the demo store and handed back
late, out of order or not at all, and N presses always end N cases on."""

from __future__ import annotations

import pytest

from evaltui.compare import Comparison, Filter
from evaltui.tui import case_cursor
from evaltui.tui.case_cursor import KEPT, CaseCursor, Move, PageRequest, read_page

PAGE = 5  # small pages: 302 cases are 61 of them
WINDOW = 20  # rows the list holds at most (two screens of 10)


class Screen:
    """What the compare screen does with the cursor's answers, minus the drawing: runs the
    page requests when told to (so they can arrive late, or in any order)."""

    def __init__(self, cmp: Comparison) -> None:
        self.cmp = cmp
        self.cursor = CaseCursor(page=PAGE)
        self.pending: list[PageRequest] = []
        self.shown: list[str] = []  # case keys put on screen, in order

    def follow(self, move: Move | None) -> None:
        if move is None:
            return
        if move.show is not None:
            self.shown.append(move.show.case_key)
            self.cursor.take(self.cmp.read_case(move.show))
        if move.fetch is not None:
            self.pending.append(move.fetch)

    def deliver(self, request: PageRequest) -> None:
        page = read_page(self.cmp, request)
        if self.cursor.land(page, window=WINDOW) and request.view is None:
            self.follow(self.cursor.settle(page))

    def deliver_all(self, order: str = "fifo") -> None:
        """Every page asked for, including those asked for by pages delivered."""
        while self.pending:
            batch, self.pending = self.pending, []
            for request in reversed(batch) if order == "lifo" else batch:
                self.deliver(request)

    def press(self, n: int, step: int = 1) -> None:
        for _ in range(n):
            self.follow(self.cursor.step(step))

    def open(self, flt: Filter | None = None) -> None:
        self.follow(Move(fetch=self.cursor.new_list(flt or Filter())))
        self.deliver_all()


@pytest.fixture
def keys(demo_store, db_path):
    with Comparison(db_path, 1, 2, 3) as cmp:
        yield cmp, [r.case_key for r in cmp.page(Filter(), limit=1000)]


def test_the_cursor_module_needs_no_textual():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(case_cursor))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.startswith(("textual", "rich")) for name in names), names


@pytest.mark.parametrize("order", ["fifo", "lifo"])
def test_n_presses_move_n_cases_with_pages_arriving_late(keys, order):
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    assert screen.cursor.position == 1 and screen.cursor.current.case_key == expected[0]
    for n, total in ((40, 41), (37, 78), (1, 79)):
        screen.press(n)  # typed ahead: no page arrives until every key is in
        assert screen.cursor.position == total
        screen.deliver_all(order)
        assert screen.cursor.position == total
        assert screen.cursor.current.case_key == expected[total - 1]
        assert screen.cursor.detail.case_key == expected[total - 1]
        assert len(screen.cursor.rows) <= WINDOW
    screen.press(23, step=-1)
    screen.deliver_all(order)
    assert screen.cursor.position == 56 and screen.cursor.current.case_key == expected[55]


def test_pages_that_arrive_for_an_older_list_or_twice_move_nothing(keys):
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    screen.press(12)
    stale = list(screen.pending)
    screen.deliver_all()
    screen.press(3)
    screen.deliver_all()
    for request in stale:  # the same pages again, late: the window moves, the cursor not
        screen.deliver(request)
    screen.deliver_all()
    assert screen.cursor.position == 16 and screen.cursor.current.case_key == expected[15]
    old = screen.cursor.fetch_for(200)
    regressed = Filter(frozenset({"regressed"}))
    screen.open(regressed)  # a new list meanwhile: the page for the old one is dropped
    screen.deliver(old)
    assert screen.cursor.flt == regressed and screen.cursor.position == 1
    assert screen.cursor.total == cmp.count(regressed)


def test_each_key_lands_one_at_a_time_too(keys):
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    for i in range(1, 130):
        screen.press(1)
        screen.deliver_all()
        assert screen.cursor.position == i + 1 and screen.cursor.current.case_key == expected[i]
    assert screen.shown == expected[:130]  # every case on the way was shown, once


def test_home_end_and_page_keys(keys):
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    screen.follow(screen.cursor.last())  # End: the last case, from the far end of the list
    assert screen.cursor.position == len(expected) and screen.cursor.current is None
    screen.deliver_all()
    assert screen.cursor.current.case_key == expected[-1]
    screen.press(2, step=-1)
    screen.deliver_all()
    assert screen.cursor.current.case_key == expected[-3]
    screen.follow(screen.cursor.first())  # Home
    screen.deliver_all()
    assert screen.cursor.position == 1 and screen.cursor.current.case_key == expected[0]
    screen.follow(screen.cursor.step(3 * 27))  # PageDown, three screens of 27
    screen.deliver_all()
    assert screen.cursor.current.case_key == expected[81]
    screen.follow(screen.cursor.step(-27))  # PageUp
    screen.deliver_all()
    assert screen.cursor.position == 55 and screen.cursor.current.case_key == expected[54]
    screen.follow(screen.cursor.step(10_000))  # past the end: clamped to the last case
    screen.deliver_all()
    assert screen.cursor.position == len(expected)


def test_going_to_a_case_not_held(keys):
    """A jump (next regression, the next untriaged case after a save) to a row outside
    the window: its page is read from it and its position counted."""
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    row = cmp.page(Filter(), after=-1, limit=1, offset=250)[0]
    assert screen.cursor.position_of(row.case_id) is None
    screen.follow(Move(fetch=screen.cursor.page_from(row)))
    screen.deliver_all()
    assert screen.cursor.current.case_id == row.case_id and screen.cursor.position == 251
    screen.press(1)
    screen.deliver_all()
    assert screen.cursor.current.case_key == expected[251]


def test_keys_past_a_preview_land_once_the_whole_list_is_there(keys):
    """While only the preview's first page exists, the position moves past it with no
    page to read; when the whole list takes over, the window is read again and the
    cursor stays where the keys put it (it used to go back to the first case)."""
    cmp, expected = keys
    screen = Screen(cmp)
    first = cmp.page(Filter(), limit=PAGE)
    page = screen.cursor.open(Filter(), cmp.read_case(first[0]), previewing=True)
    screen.cursor.land(case_cursor.Page(page.request, first, None, 1), window=WINDOW)
    screen.follow(screen.cursor.settle(case_cursor.Page(page.request, first, None, 1)))
    screen.press(12)
    assert screen.cursor.position == 13 and screen.pending == []  # nothing to read yet
    screen.cursor.previewing = False  # the whole comparison is in
    screen.follow(Move(fetch=screen.cursor.reload(count=True)))
    screen.deliver_all()
    assert screen.cursor.total == len(expected)
    assert screen.cursor.position == 13 and screen.cursor.current.case_key == expected[12]


def test_a_scroll_reads_rows_for_the_view_and_the_cursor_stays(keys):
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    request = screen.cursor.wanted(200, rows=12)
    assert request is not None and request.limit == 12 and request.view == 200
    assert screen.cursor.wanted(210, rows=12) is None  # a page is on its way already
    screen.deliver(request)
    assert screen.cursor.position == 1 and screen.cursor.current.case_key == expected[0]
    assert screen.cursor.row_at(200).case_key == expected[199]
    assert screen.cursor.refill(None, 200, 12) is None  # the view is filled


def test_the_details_kept_are_bounded_and_a_read_again_repaints_only_on_change(keys):
    cmp, expected = keys
    screen = Screen(cmp)
    screen.open()
    current = screen.cursor.current
    assert not screen.cursor.take(cmp.read_case(current))  # the same as shown: no repaint
    rows = cmp.page(Filter(), limit=30)
    assert not screen.cursor.take(cmp.read_case(rows[5]))  # not the case at the cursor
    screen.cursor.keep({r.case_id: cmp.read_case(r) for r in rows})
    assert len(screen.cursor.details) == KEPT  # memory stays flat
    assert [r.case_key for r in screen.cursor.neighbours(current)] == expected[1:3]
