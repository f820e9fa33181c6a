"""Domain types: cases, runs, results and criteria. Pydantic, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# The vocabulary lists are defined here once; everything else derives from them.
# A result's outcome. `limit`: the tool stopped the sample at a message, token or time
# limit; `unscored`: the tool gave it no verdict (predict-only, metrics-only runs).
Verdict = Literal["pass", "fail", "error", "limit", "unscored"]
Role = Literal["production", "candidate", "fallback", "none"]
CaseStatus = Literal["active", "quarantined", "retired"]
# A reviewer's verdict on a change (a finding), not a result's outcome.
FindingVerdict = Literal["real_regression", "accepted", "grader_wrong", "flaky", "bad_case"]

VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
ROLES: tuple[Role, ...] = get_args(Role)
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
FINDING_VERDICTS: tuple[FindingVerdict, ...] = get_args(FindingVerdict)

# Attribute names that act as segment dimensions when a suite declares none.
DEFAULT_SEGMENT_DIMENSIONS = ("task", "risk", "source_quality", "intent")


class Criterion(BaseModel):
    """One grading criterion of a result. A case can fail one and pass another."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict | None = None
    score: float | None = None
    explanation: str | None = None


class Case(BaseModel):
    """One example of the reference set, shared by every run that contains it."""

    model_config = ConfigDict(extra="forbid")

    suite: str = Field(min_length=1)
    case_key: str = Field(min_length=1)
    input: str = ""
    expected: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    status: CaseStatus = "active"


class Run(BaseModel):
    """One evaluation of one system version over a suite."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    system: str = ""
    role: Role = "none"
    source_path: str = ""
    source_part: str = ""
    format: str = "native"
    sha256: str = ""
    created_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Result(BaseModel):
    """A run's outcome on one case for one sample (epoch)."""

    model_config = ConfigDict(extra="forbid")

    suite: str = Field(min_length=1)
    case_key: str = Field(min_length=1)
    epoch: int = Field(default=0, ge=0)
    output: str = ""
    verdict: Verdict
    score: float | None = None
    criteria: dict[str, Criterion] = Field(default_factory=dict)
    latency_ms: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    explanation: str | None = None
    error: str | None = None


@dataclass(slots=True)
class Record:
    """What an importer yields: one case and the run's result on it, with its origin.

    A plain slotted dataclass, not a model: importers validate what they read
    (into their own mirror models, or into Case/Result via `from_models`), and
    a million of these pass through an import, so they must be cheap to make.
    """

    suite: str
    case_key: str
    verdict: Verdict
    input: str = ""
    expected: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    output: str = ""
    score: float | None = None
    criteria: dict[str, Criterion] = field(default_factory=dict)
    latency_ms: float | None = None
    cost: float | None = None
    explanation: str | None = None
    error: str | None = None
    location: str = ""
    trajectory: list[Any] | None = None  # evaltui.trajectory.Step items (agent runs)
    # the limit the sample hit ("message limit (4)"), a flag beside its verdict: the tool's
    # verdict when it still scored the sample, `limit` when it gave none (docs/formats.md)
    limit: str | None = None

    @classmethod
    def from_models(cls, case: Case, result: Result, location: str = "") -> Record:
        """A record from validated domain objects (the usual path for importers)."""
        return cls(
            suite=case.suite,
            case_key=case.case_key,
            verdict=result.verdict,
            input=case.input,
            expected=case.expected,
            attributes=case.attributes,
            epoch=result.epoch,
            output=result.output,
            score=result.score,
            criteria=result.criteria,
            latency_ms=result.latency_ms,
            cost=result.cost,
            explanation=result.explanation,
            error=result.error,
            location=location,
        )


class RunSummary(BaseModel):
    """A run as the runs list shows it; also the stable `evaltui runs --json` row."""

    id: int
    name: str
    role: Role
    system: str
    format: str
    source_path: str
    sha256: str
    created_at: str | None
    imported_at: str
    suites: list[str]
    cases: int
    results: int
    passed: int
    failed: int
    errored: int
    limit: int  # results stopped at a message, token or time limit
    unscored: int  # results the tool gave no verdict
    pass_rate: float | None  # per result with a verdict (unscored ones left out)
    criteria: dict[str, dict[str, int]]
    # OTLP traces: spans read and skipped by dialect, log records joined (docs/formats.md)
    otlp: dict[str, Any] | None = None


class StepRef(BaseModel):
    """The tool call of an agent's path a finding points at: one shape for the
    comparison's paths (`compare.paths.step_of`), triage (`findings.step`) and the
    findings file's `step` field (docs/triage.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: Literal["baseline", "candidate", "fallback"]
    index: int = Field(ge=0, le=1_000_000)
    tool: str | None = Field(default=None, max_length=200)
    call_id: str | None = Field(default=None, max_length=200)
    turn: int | None = Field(default=None, ge=0, le=1_000_000)
