"""Opening a comparison for the compare screen, off the UI thread: the first page from a
preview (`Comparison(first=...)`, about half the time at a million results: people read
the worst case first) while the whole comparison is built beside it; then its figures.
The preview's rows are the whole one's, so the list goes on from them when the figures
arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaltui.compare import Comparison, Filter
from evaltui.compare.production import dimensions_with, from_store, headline
from evaltui.review import taxonomy, triage
from evaltui.review.taxonomy import Taxonomy
from evaltui.store import Store
from evaltui.tui.messages import Built, Opened

if TYPE_CHECKING:
    from evaltui.compare.verified import VerifiedRow


def open_comparison(
    db_path: Path,
    run_ids: tuple[int, int, int | None],
    args: dict[str, Any],
    first: int,
    taxonomy_path: Path | None,
    opened: Callable[[Opened], object],
    cancelled: Callable[[], bool],
    *,
    open_store: Callable[[], Store],
) -> Built | None:
    """`opened` gets the preview (its first `first` rows and case) as soon as it is
    there; returns the whole comparison's figures (None: cancelled meanwhile).
    `open_store` opens the store as the app's reviewer (the refold below logs events)."""
    b, c, f = run_ids
    done: dict[str, Any] = {}
    with open_store() as store:  # states an earlier evaltui folded, recomputed first (#24)
        triage.refold(store)

    def whole() -> None:
        try:
            done["cmp"] = Comparison(db_path, b, c, f, **args)
        except BaseException as exc:
            done["error"] = exc

    thread = threading.Thread(target=whole, name="compare-whole", daemon=True)
    thread.start()
    try:
        preview = Comparison(db_path, b, c, f, first=first, **args)
        with open_store() as store:
            tax = taxonomy.load(store, taxonomy_path)
        rows = preview.page(Filter(), limit=first)
        opened(Opened(preview, rows, tax, preview.read_case(rows[0]) if rows else None))
    finally:
        thread.join()
    if "error" in done:
        raise done["error"]
    if cancelled():
        done["cmp"].close()
        return None
    return figures(done["cmp"], tax)


def figures(cmp: Comparison, taxonomy: Taxonomy) -> Built:
    """The comparison's figures as a message."""
    progress = cmp.triage_progress()
    return Built(cmp, cmp.segments(), cmp.counts(), cmp.status_counts(), taxonomy, progress)


def production_lines(open_store: Callable[[], Store], cmp: Comparison) -> list[str]:
    """The production estimate's lines for the screen's header (#28), with the weights in
    force ([] when none are): on this comparison when the weights' attributes are among
    its segments, else on one built with them added."""
    with open_store() as store:
        production = from_store(store)
    if production is None:
        return []
    if set(production.attributes) <= set(cmp.dimensions):
        return headline(production.as_json(cmp))
    dims = dimensions_with(cmp.dimensions, production.traffic)
    with Comparison(
        cmp.db_path,
        cmp.baseline.id,
        cmp.candidate.id,
        cmp.fallback.id if cmp.fallback else None,
        reducer=cmp.reducer,
        dimensions=dims,
        statuses=cmp.statuses,
    ) as other:
        return headline(production.as_json(other))


def verified_rows(cmp: Comparison) -> list[VerifiedRow]:
    """The scoreboard's verified figures (#27); none when no result of the two is judged."""
    # load time: the judgments and the calibration estimators, only when a comparison is open
    from evaltui.compare.verified import calibrated_json, scoreboard_rows

    return scoreboard_rows(calibrated_json(cmp))
