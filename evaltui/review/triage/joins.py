"""The comparison's reads of `case_triage`: SQL fragments (alias ct) that compare/engine.py
composes with its temporary classification table (alias t); the conditions on ct are
triage_state's. Part of the owner of `case_triage` (review/triage/)."""

from __future__ import annotations


def triage_join(baseline: int, candidate: int) -> str:
    """The case's triage row in this comparison (ct; NULL columns when it has none)."""
    return (
        f"LEFT JOIN case_triage ct ON ct.baseline_run = {int(baseline)} "
        f"AND ct.candidate_run = {int(candidate)} AND ct.case_id = t.case_id"
    )


def triaged_in(table: str) -> str:
    """FROM and WHERE over the comparison's triage rows (ct) joined to the classification
    `table` (t); params: the baseline and candidate run ids."""
    return (
        f"FROM case_triage ct JOIN {table} t ON t.case_id = ct.case_id "
        "WHERE ct.baseline_run = ? AND ct.candidate_run = ?"
    )
