"""The parts of a promptfoo output file evaltui reads (one model per object)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from evaltui.importers.base import LooseModel as _Loose


class LooseModel(_Loose):
    """promptfoo writes JSON with JavaScript's JSON.stringify, which writes NaN and the
    infinities as null: a non-finite number in one of its files was not written by
    promptfoo, and is refused, naming the field."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class Assertion(LooseModel):
    type: str = "assertion"
    value: Any = None
    metric: str | None = None
    provider: Any = None  # a model-graded assertion's grading provider: an id or an object


class Component(LooseModel):
    pass_: bool = Field(alias="pass")
    score: float | None = None
    reason: str | None = None
    assertion: Assertion | None = None
    # an assert-set: its own checks nested here, and metadata.assertionSet {metric, threshold}
    componentResults: list[Component] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def assertion_set(self) -> dict[str, Any] | None:
        found = (self.metadata or {}).get("assertionSet")
        return found if isinstance(found, dict) else None


class Grading(LooseModel):
    pass_: bool | None = Field(default=None, alias="pass")
    score: float | None = None
    reason: str | None = None
    componentResults: list[Component] | None = None


class TestOptions(LooseModel):
    provider: Any = None  # the test's grading provider (defaultTest.options merged in)


class TestCase(LooseModel):
    description: str | None = None
    vars: dict[str, Any] | None = None
    assert_: list[Assertion] | None = Field(default=None, alias="assert")
    options: TestOptions | None = None
    metadata: dict[str, Any] | None = None


class Prompt(LooseModel):
    raw: str | None = None
    label: str | None = None


class Provider(LooseModel):
    id: str | None = None
    label: str | None = None


class Response(LooseModel):
    output: Any = None
    error: str | None = None


class Row(LooseModel):
    testIdx: int
    promptIdx: int = 0
    success: bool
    score: float | None = None
    failureReason: int | None = None
    error: str | None = None
    namedScores: dict[str, float | None] | None = None
    gradingResult: Grading | None = None
    latencyMs: float | None = None
    cost: float | None = None
    response: Response | None = None
    testCase: TestCase | None = None
    vars: dict[str, Any] | None = None
    prompt: Prompt | None = None
    provider: Provider | str | None = None
    metadata: dict[str, Any] | None = None
    traceId: str | None = None  # the test's trace in the file's `traces` (tracing on)


class TraceSpan(LooseModel):
    """A span as promptfoo's trace store exports it (times in ms, attributes flattened)."""

    spanId: str
    parentSpanId: str | None = None
    name: str = ""
    startTime: float
    endTime: float | None = None
    attributes: dict[str, Any] | None = None
    statusCode: int | None = None
    statusMessage: str | None = None


class Trace(LooseModel):
    """One item of the top-level `traces` array: a test's trace and its spans."""

    traceId: str = Field(min_length=1)
    testCaseId: str | None = None
    metadata: dict[str, Any] | None = None
    spans: list[TraceSpan] = Field(default_factory=list)


class PromptColumn(LooseModel):
    label: str | None = None
    provider: str | None = None
    raw: str | None = None


class Results(LooseModel):
    version: int | None = None
    timestamp: datetime | None = None
    prompts: list[PromptColumn] = Field(default_factory=list)
    results: list[Any]
    stats: dict[str, Any] | None = None


class Top(LooseModel):
    evalId: str | None = None
    results: Results
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
