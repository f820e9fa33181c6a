"""The compare screen's cursor over the case list: every key lands, across pages. No
Textual here: the screen runs what the cursor asks for and hands the answers back, and
tests/tui/test_case_cursor.py drives it without a terminal.

The cursor is an absolute position in the filtered list (`position`). A key moves it at
once; when the row there is in the window held, the case shows in the same frame. When
it is not (a page boundary, End, keys typed faster than pages arrive), the position
still moves, the list draws a placeholder there, and the page holding it is asked for
(`PageRequest`) by keyset from the nearest row held (or from either end of the list).
When the page lands (`land`, then `settle`), the case at the position, wherever it got
to meanwhile, is shown: N presses move exactly N cases, whatever order pages arrive in.
Near either edge of the window the next page is read ahead. The window holds at most
three pages of rows (or two screens, when that is more). The cursor also keeps the
details of the cases around it (`details`), read ahead so a step needs no round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from evaltui.compare import CaseDetail, CaseRow, Filter

if TYPE_CHECKING:
    from evaltui.compare import Comparison
    from evaltui.review.triage import Finding

PAGE = 60  # rows per page read
LAST = 1 << 62  # an order key after every case
KEPT = 12  # case details kept: the current case and a few either side; memory stays flat
REFILLS = 4  # pages read again for one scroll (the list scrolled further meanwhile)

CaseView = tuple[CaseRow, CaseDetail, "list[Finding]"]
Mode = Literal["replace", "append", "prepend"]


@dataclass(frozen=True)
class PageRequest:
    """One page to read by keyset: `limit` rows after the order key `after` (or before
    `before`; neither: from the top), `offset` rows further. `start` is the position of
    the first row (after) or one past the last (before) when known; otherwise the worker
    counts it. `generation` names the list it is for: an answer for an older one is
    dropped."""

    flt: Filter
    generation: int
    after: int | None = None
    before: int | None = None
    start: int | None = None
    offset: int = 0
    limit: int = PAGE
    mode: Mode = "replace"  # or next to the window held: "append" / "prepend"
    count: bool = False  # count the filtered list again (a new filter, a refresh)
    view: int | None = None  # a position scrolled to: rows for it, the cursor stays
    select: int | None = None  # a case id to put the cursor on
    target: int | None = None  # the position it is read for (None: a reload, a new list)


@dataclass(frozen=True)
class Page:
    """A page read, as the cursor takes it back."""

    request: PageRequest
    rows: list[CaseRow]
    total: int | None  # None: not counted
    start: int  # position of rows[0]


@dataclass(frozen=True)
class Move:
    """What a move asks of the screen: a case to put on screen now (`show`; `cached`:
    its details, when read ahead), a page to read (`fetch`)."""

    show: CaseRow | None = None
    cached: CaseView | None = None
    fetch: PageRequest | None = None


def read_page(cmp: Comparison, request: PageRequest) -> Page:
    """Run a request against the comparison (in a worker thread)."""
    r = request
    rows = cmp.page(r.flt, after=r.after, before=r.before, limit=r.limit, offset=r.offset)
    total = cmp.count(r.flt) if r.count else None
    start = r.start
    if rows and r.before is not None and start is not None:
        start -= len(rows)
    elif rows and start is None:
        start = 1 if r.after is None and r.before is None else cmp.position(rows[0], r.flt)
    return Page(request, rows, total, start or 1)


class CaseCursor:
    """The position in the filtered list, the window of rows held around it, the case
    shown there and the details kept around it; which page to read, and from where."""

    def __init__(self, page: int | None = None) -> None:
        self.page = page or PAGE
        self.flt = Filter()
        self.generation = 0  # bumps with each new list: stale answers are dropped
        self.rows: list[CaseRow] = []
        self.start = 1  # position of rows[0]
        self.total = 0
        self.position = 0  # 0: none
        self.previewing = False  # only the first page exists (the whole list is being built)
        self.fetching = False  # a page is on its way
        self.current: CaseRow | None = None
        self.detail: CaseDetail | None = None  # the current case's, once read
        self.history: list[Finding] = []
        self.details: dict[int, CaseView] = {}
        self._refills = 0

    @property
    def end(self) -> int:
        """Position of the last row held."""
        return self.start + len(self.rows) - 1

    def row_at(self, position: int) -> CaseRow | None:
        index = position - self.start
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def position_of(self, case_id: int) -> int | None:
        index = next((i for i, r in enumerate(self.rows) if r.case_id == case_id), None)
        return None if index is None else self.start + index

    # -- a list ----------------------------------------------------------------------------

    def open(self, flt: Filter, first: CaseView | None, *, previewing: bool) -> Page:
        """A comparison opened: nothing held yet but its first case's details. Returns
        the page to land for its first rows (given with the comparison)."""
        self.flt, self.previewing = flt, previewing
        self.generation += 1
        self.position = self.total = 0
        self.details = {first[0].case_id: first} if first else {}
        return Page(PageRequest(flt, self.generation), [], None, 1)

    def new_list(self, flt: Filter) -> PageRequest:
        """A new filter: nothing held; its first page, counted."""
        self.flt = flt
        self.generation += 1
        self.current, self.position, self.total, self.rows = None, 0, 0, []
        return self._request(start=1, count=True)

    def reload(self, select: int | None = None, *, count: bool = False) -> PageRequest:
        """Read the window held again (rows changed in place); the cursor stays."""
        if not self.rows:
            return self._request(start=1, count=True)
        self.fetching = True
        return self._request(
            after=self.rows[0].key - 1,
            select=select,
            start=self.start,
            count=count,
            limit=len(self.rows),
        )

    def page_from(self, row: CaseRow) -> PageRequest:
        """The page starting at `row` (not held), its position counted; the cursor goes to it."""
        return self._request(after=row.key - 1, select=row.case_id)

    # -- moving ----------------------------------------------------------------------------

    def step(self, n: int) -> Move | None:
        return self.go_to(self.position + n) if self.rows or self.total else None

    def first(self) -> Move | None:
        return self.step(1 - self.position)

    def last(self) -> Move | None:
        return self.step(max(self.total, self.end) - self.position)

    def go_to(self, target: int, *, reselect: bool = False) -> Move:
        """Put the cursor at `target` (clamped to the list) and say what to show."""
        # While previewing, the list's end is not known yet: the position may go past the
        # page held; it is clamped once the whole list is there.
        last = target if self.previewing else max(self.total, self.end, 1)
        target = max(1, min(target, last))
        self.position = target
        row = self.row_at(target)
        if row is None:  # not held yet: the position moves now, the case when its page lands
            self.current = None
            return Move(fetch=self.fetch_for(target))
        if reselect or self.current is None or row.case_id != self.current.case_id:
            self.current = row
            cached = self.details.get(row.case_id)
            if cached is None:
                self.detail = None  # the pane still shows the last case until it is read
            return Move(show=row, cached=cached, fetch=self._read_ahead())
        return Move(fetch=self._read_ahead())

    def _read_ahead(self) -> PageRequest | None:
        if self.fetching or not self.rows:
            return None
        if self.end < self.total and self.end - self.position < self.page // 3:
            return self.fetch_for(self.end + 1)
        if self.start > 1 and self.position - self.start < self.page // 3:
            return self.fetch_for(self.start - 1)
        return None

    def fetch_for(self, target: int, *, scrolled: int = 0) -> PageRequest | None:
        """The page holding position `target`, from the nearest key held (`scrolled`: for
        the list's view of that many rows; the cursor stays where it is)."""
        if self.previewing:
            return None  # the preview holds one page: the whole list reads the rest
        rows, start, end, total, page = self.rows, self.start, self.end, self.total, self.page
        self.fetching = True
        view = target if scrolled else None
        limit = max(page, scrolled)  # the rows on screen, at least
        aim = None if scrolled else target  # (for the view: the cursor stays)
        if rows and end < target <= end + page:
            return self._request(
                after=rows[-1].key, start=end + 1, mode="append", view=view, limit=limit, target=aim
            )
        if rows and start - page <= target < start:
            return self._request(
                before=rows[0].key, start=start, mode="prepend", view=view, limit=limit, target=aim
            )
        if target <= page:
            return self._request(start=1, view=view, limit=limit, target=aim)
        if total and target > total - page:
            return self._request(before=LAST, start=total + 1, view=view, limit=limit, target=aim)
        if rows and target > end:
            skip = target - end - 1 - page // 2
            return self._request(
                after=rows[-1].key,
                start=end + 1 + skip,
                offset=skip,
                view=view,
                limit=limit,
                target=aim,
            )
        if rows:
            skip = start - target - page // 2
            return self._request(
                before=rows[0].key,
                start=start - skip,
                offset=skip,
                view=view,
                limit=limit,
                target=aim,
            )
        return self._request(start=1, view=view, limit=limit, target=aim)

    def wanted(self, position: int, rows: int) -> PageRequest | None:
        """The list (`rows` on screen) was scrolled onto `position`, whose row is not
        held: its page, unless a page is on its way already (a key's: it brings the rows
        it needs)."""
        if self.fetching:
            return None
        self._refills = 0
        return self.fetch_for(position, scrolled=rows)

    def _request(
        self,
        *,
        after: int | None = None,
        before: int | None = None,
        start: int | None = None,
        offset: int = 0,
        limit: int | None = None,
        mode: Mode = "replace",
        count: bool = False,
        view: int | None = None,
        select: int | None = None,
        target: int | None = None,
    ) -> PageRequest:
        return PageRequest(
            self.flt,
            self.generation,
            after,
            before,
            start,
            offset,
            limit or self.page,
            mode,
            count or not self.total,
            view,
            select,
            target,
        )

    # -- a page lands ----------------------------------------------------------------------

    def land(self, page: Page, window: int) -> bool:
        """Take a page into the window (at most `window` rows, around the cursor or the
        position scrolled to). False: it was for an older list, and is dropped."""
        r = page.request
        if r.generation != self.generation:
            return False
        self.fetching = False
        if page.total is not None:
            self.total = page.total
        rows, start = page.rows, page.start
        if r.mode == "append" and start == self.end + 1:
            rows, start = self.rows + rows, self.start
        elif r.mode == "prepend" and start + len(rows) == self.start:
            rows = rows + self.rows
        window = max(window, 3 * self.page)
        if len(rows) > window:
            centre = self.position if r.view is None else r.view
            cut = max(0, min(len(rows) - window, centre - start - window // 2))
            rows, start = rows[cut : cut + window], start + cut
        if r.mode != "replace" and not page.rows:
            self.total = min(self.total, self.end)  # the list ends sooner than counted
            rows, start = self.rows, self.start
        late = r.target is not None and r.view is None  # read for a position, maybe passed
        if late and self._holds(self.start, self.rows) and not self._holds(start, rows):
            return True  # the rows held have the cursor, this page not: it stays unused
        self.rows, self.start = rows, start
        if not rows:
            self.current, self.position = None, 0
        return True

    def _holds(self, start: int, rows: list[CaseRow]) -> bool:
        return start <= self.position < start + len(rows)

    def settle(self, page: Page) -> Move:
        """Where the cursor goes once `page` has landed: the case it was read for, else
        where the cursor is (its page read next if this one does not hold it), else, on
        a new list, its first row."""
        r = page.request
        at = self.position_of(r.select) if r.select is not None else None
        target = self.position if at is None else at
        if at is None and self.position == 0:
            target = self.start  # a new list: its first row
        elif at is None and r.target == self.position and not self.start <= target <= self.end:
            # read for this position, and it is not there: the list is shorter than counted
            target = max(self.start, min(target, self.end))
        # Otherwise the cursor stays, wherever keys took it meanwhile: when this page does
        # not hold it, the next is read for it (pages land late and in any order).
        return self.go_to(target, reselect=r.select is not None)

    def refill(self, missing: int | None, follow: int, rows: int) -> PageRequest | None:
        """After a page read for a position scrolled to: the list scrolled further
        meanwhile (`missing`: the first row on screen not held). Bounded: never a loop."""
        if missing is None or missing == follow or self._refills >= REFILLS:
            return None
        self._refills += 1
        return self.fetch_for(missing, scrolled=rows)

    # -- the case shown and the details kept -----------------------------------------------

    def take(self, view: CaseView) -> bool:
        """A case read (or read again): True when it is the case at the cursor and not
        what is shown already (then it is the case shown)."""
        row, detail, history = view
        if self.current is None or row.case_id != self.current.case_id:
            return False
        if self.detail is detail or (
            self.details.get(row.case_id) == view and self.detail == detail
        ):
            return False  # the same as on screen: no repaint
        self.current, self.detail, self.history = row, detail, history
        self.keep({row.case_id: view})
        return True

    def keep(self, views: dict[int, CaseView]) -> None:
        self.details.update(views)
        while len(self.details) > KEPT:
            self.details.pop(next(iter(self.details)))

    def neighbours(self, row: CaseRow) -> list[CaseRow]:
        """The rows to read ahead around `row`: the next, the previous, the one after next."""
        at = self.position_of(row.case_id)
        if at is None:
            return []
        return [r for r in (self.row_at(at + 1), self.row_at(at - 1), self.row_at(at + 2)) if r]

    def replace_row(self, fresh: CaseRow) -> bool:
        """A row changed in place (its triage columns); False when it is not held."""
        if self.position_of(fresh.case_id) is None:
            return False
        self.rows = [fresh if r.case_id == fresh.case_id else r for r in self.rows]
        return True
