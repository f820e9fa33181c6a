"""Domain types: cases, runs, results and criteria. Pydantic, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["pass", "fail", "error"]
Role = Literal["production", "candidate", "fallback", "none"]
CaseStatus = Literal["active", "quarantined", "retired"]

VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "error")
ROLES: tuple[Role, ...] = ("production", "candidate", "fallback", "none")
CASE_STATUSES: tuple[CaseStatus, ...] = ("active", "quarantined", "retired")

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


class Record(BaseModel):
    """What an importer yields: a case and that run's result on it, with its origin."""

    case: Case
    result: Result
    location: str = ""


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
    pass_rate: float | None
    criteria: dict[str, dict[str, int]]
