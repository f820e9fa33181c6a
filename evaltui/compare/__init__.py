"""Comparisons: baseline vs candidate (and fallback), case by case. The public names live here."""

from evaltui.compare.engine import ACTIVE, Comparison
from evaltui.compare.filter import FILTER_CYCLE, Filter
from evaltui.compare.kinds import CHANGED, CHANGES, RANK, REDUCERS, Change, Reducer
from evaltui.compare.rows import (
    MAX_SEGMENT_VALUES,
    CaseDetail,
    CaseRow,
    RunRef,
    Sample,
    TriagedCase,
    default_dimensions,
    run_ref,
)
from evaltui.compare.summary import CompareSummary, SegmentRecord
from evaltui.stats import ALPHA

__all__ = [
    "ACTIVE",
    "ALPHA",
    "CHANGED",
    "CHANGES",
    "FILTER_CYCLE",
    "MAX_SEGMENT_VALUES",
    "RANK",
    "REDUCERS",
    "CaseDetail",
    "CaseRow",
    "Change",
    "CompareSummary",
    "Comparison",
    "Filter",
    "Reducer",
    "RunRef",
    "Sample",
    "SegmentRecord",
    "TriagedCase",
    "default_dimensions",
    "run_ref",
]
