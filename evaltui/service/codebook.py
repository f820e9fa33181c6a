"""The codebook's proposals over the store with the comparison's outcomes (issue #29):
the label guide (review/labelguide/) is a layer below the comparison, so the case
outcomes that tell a failure mode new in the candidate are read here and passed down."""

from __future__ import annotations

from typing import Any

from evaltui.compare import Comparison
from evaltui.review.labelguide.proposals import Outcomes, Proposed
from evaltui.review.labelguide.proposals import propose_in_store as _propose
from evaltui.store import Store

_IN_CHUNK = 500  # case ids per IN (...) list


def case_outcomes(store: Store, base: int, cand: int) -> Outcomes:
    """The comparison BASE vs CAND's (baseline passes, candidate passes) of given cases."""

    def read(wanted: list[int]) -> dict[int, tuple[int | None, int | None]]:
        outcome: dict[int, tuple[int | None, int | None]] = {}
        with Comparison(store.path, base, cand) as cmp:
            for i in range(0, len(wanted), _IN_CHUNK):
                ids = ",".join(str(int(c)) for c in wanted[i : i + _IN_CHUNK])
                for case_id, b_pass, c_pass in cmp.rows_where(
                    "t.case_id, t.b_pass, t.c_pass", f"t.case_id IN ({ids})"
                ):
                    outcome[case_id] = (b_pass, c_pass)
        return outcome

    return read


def propose_in_store(
    store: Store, *, base: int | None = None, cand: int | None = None, **kw: Any
) -> Proposed:
    """`labelguide.proposals.propose_in_store`, with the comparison's outcomes when BASE
    vs CAND is given (each proposal then says whether it is new in the candidate)."""
    outcomes = case_outcomes(store, base, cand) if base is not None and cand is not None else None
    return _propose(store, base=base, cand=cand, outcomes=outcomes, **kw)
