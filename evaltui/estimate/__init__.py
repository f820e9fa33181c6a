"""Estimates about the evidence itself: how far a grader can be trusted (calibration against
blind human judgments), pass rates and paired deltas corrected for the grader's errors,
deltas verified by audits, reviewers' accuracy on gold items, and the seeded stratified
sample that calibration judges.

A base-layer package: it imports only the standard library and evaltui.stats. Every
result is a frozen dataclass; an estimate that cannot be given says why in `refused`
(a `Refusal`) and has value None. The method: docs/calibration.md.
"""

from .audit import (
    DirectionAudit,
    ReviewerAccuracy,
    VerifiedDelta,
    gold_accuracy,
    reviewer_accuracy,
    verified_delta,
)
from .binomial import Interval, clopper_pearson, fisher_exact, newcombe_difference, wilson_interval
from .calibration import (
    DEFAULT_DRAWS,
    DEFAULT_METHOD,
    DEFAULT_SEED,
    MAX_DRAWS,
    METHODS,
    Agreement,
    Confusion,
    CorrectedRate,
    GraderCalibration,
    Method,
    Proportion,
    Refusal,
    RefusalCode,
    agreement,
    calibrate,
    corrected_pass_rate,
    rogan_gladen,
)
from .paired import (
    DEFAULT_DELTA_METHOD,
    DELTA_METHODS,
    CorrectedDelta,
    DeltaMethod,
    GraderDifference,
    PairedCounts,
    corrected_delta,
    grader_differs,
)
from .sampling import (
    ALLOCATIONS,
    Allocation,
    CalibrationSample,
    FrameItem,
    SampleFrame,
    Stratum,
    draw_sample,
)

__all__ = [
    "ALLOCATIONS",
    "DEFAULT_DELTA_METHOD",
    "DEFAULT_DRAWS",
    "DEFAULT_METHOD",
    "DEFAULT_SEED",
    "DELTA_METHODS",
    "MAX_DRAWS",
    "METHODS",
    "Agreement",
    "Allocation",
    "CalibrationSample",
    "Confusion",
    "CorrectedDelta",
    "CorrectedRate",
    "DeltaMethod",
    "DirectionAudit",
    "FrameItem",
    "GraderCalibration",
    "GraderDifference",
    "Interval",
    "Method",
    "PairedCounts",
    "Proportion",
    "Refusal",
    "RefusalCode",
    "ReviewerAccuracy",
    "SampleFrame",
    "Stratum",
    "VerifiedDelta",
    "agreement",
    "calibrate",
    "clopper_pearson",
    "corrected_delta",
    "corrected_pass_rate",
    "draw_sample",
    "fisher_exact",
    "gold_accuracy",
    "grader_differs",
    "newcombe_difference",
    "reviewer_accuracy",
    "rogan_gladen",
    "verified_delta",
    "wilson_interval",
]
