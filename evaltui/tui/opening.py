"""Opening a comparison for the compare screen, off the UI thread: the first page from a
preview (`Comparison(first=...)`, about half the time at a million results: people read
the worst case first) while the whole comparison is built beside it; then its figures.
The preview's rows are the whole one's, so the list goes on from them when the figures
arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaltui.compare import Comparison, Filter
from evaltui.compare.production import NONE, corrected_short, dimensions_with, headline
from evaltui.gate.in_force import production_in_force
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


@dataclass(frozen=True)
class ProductionLines:
    """The production estimate's lines for the screen's header (#28): the estimate's
    (`headline`: the figures, then the uncovered share) and, when the policy in force asks
    for it, the corrected estimate's line in its wordings, longest first (or why none)."""

    lines: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines or self.corrected)


def production_lines(open_store: Callable[[], Store], cmp: Comparison) -> ProductionLines:
    """The production estimate with the weights in force (nothing when none are), corrected
    too when the store's policy asks (gate/in_force.py): on this comparison when the
    weights' attributes are among its segments, else on one built with them added."""
    with open_store() as store:
        found = production_in_force(store)
    production = found.production
    if production is None:
        refused = [f"{NONE}: {found.refused}"] if found.refused else []
        return ProductionLines([], refused)
    if set(production.attributes) <= set(cmp.dimensions):
        return _lines(production.as_json(cmp), found.calibrated)
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
        return _lines(production.as_json(other), found.calibrated)


def _lines(pe: dict[str, Any], asked: bool) -> ProductionLines:
    corrected = pe.pop("calibrated", None)  # its own line: the headline's are as without
    if not asked:
        return ProductionLines(headline(pe))
    if corrected is None:  # no estimate at all (the weights name no attribute of the cases)
        return ProductionLines(headline(pe), [f"{NONE}: no estimate to correct"])
    return ProductionLines(headline(pe), corrected_short(corrected))


def verified_rows(cmp: Comparison) -> list[VerifiedRow]:
    """The scoreboard's verified figures (#27); none when no result of the two is judged."""
    # load time: the judgments and the calibration estimators, only when a comparison is open
    from evaltui.compare.verified import calibrated_json, scoreboard_rows

    return scoreboard_rows(calibrated_json(cmp))
