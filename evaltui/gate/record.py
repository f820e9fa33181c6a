"""The decision record as a typed model: what `gate --out` writes and `verify` reads.

Field order is the JSON's key order; the content hash is over the canonical
form (sorted keys, no content_hash), so it does not depend on that order.
docs/decision.schema.json is generated from this model (`evaltui schema decision`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaltui.compare.summary import SegmentRecord  # the one segment type (compare --json's too)
from evaltui.gate.calibration import CalibrationRecord
from evaltui.gate.policy import Action
from evaltui.gate.production import ProductionRecord

SCHEMA = "evaltui.decision/1"
Number = int | float
ScopeValue = str | int | float | bool | list[str | int | float | bool]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_serialization_defaults_required=True
    )


class RuleResult(_Model):
    """One rule as measured: value, threshold, pass/fail, what it triggers."""

    id: str
    metric: str
    scope: dict[str, ScopeValue] | str
    scope_text: str
    threshold: dict[str, Number]
    value: Number | None
    passed: bool
    result: str
    action: Action
    owner: str
    why: str
    evidence: dict[str, Any]
    n: int  # cases in scope
    min_n: int
    insufficient: bool  # fewer than min_n cases (or none): never a pass
    triggers: Action  # what the rule contributes when it does not pass
    # why it lacks evidence for want of calibration (the policy's [calibration]); written
    # only then
    uncalibrated: str | None = Field(default=None, exclude_if=lambda v: v is None)

    @property
    def threshold_kind(self) -> tuple[str, Number]:
        ((kind, v),) = self.threshold.items()
        return kind, v


class FindingsSummary(_Model):
    by_class: dict[str, int]
    by_owner: dict[str, int]
    open_by_owner: dict[str, int]
    triaged_cases: int


class RetiredCase(_Model):
    suite: str
    case_key: str
    reason: str | None
    by: str | None
    at: str | None
    note: str | None


class RunProvenance(_Model):
    id: int
    name: str
    role: str
    system: str
    source_path: str
    sha256: str


class PolicyProvenance(_Model):
    path: str
    sha256: str


class TaxonomyProvenance(_Model):
    """The taxonomy a decision was made with (#29): the store's version (None: a
    `--taxonomy` file) and the classes' sha256, so that `verify` notices a change."""

    version: int | None
    sha256: str
    source: str  # "built-in", "store, version N", or the file's path


class Provenance(_Model):
    baseline: RunProvenance
    candidate: RunProvenance
    fallback: RunProvenance | None
    reducer: str
    alpha: float
    correction: str
    min_n: int
    insufficient_evidence: Action
    dimensions: list[str]
    policy: PolicyProvenance
    taxonomy: TaxonomyProvenance
    reference_set_sha256: str
    reference_set_cases: int
    evaltui_version: str
    decided_at: str
    decided_by: str
    # the event log's chain head when the decision was made (`evaltui log --verify`)
    event_log_head: str | None


class DecisionRecord(_Model):
    """A gate decision with everything it was made from."""

    schema_: Literal["evaltui.decision/1"] = Field(default="evaltui.decision/1", alias="schema")
    decision: Action
    exit_code: Literal[0, 10, 11, 12, 13]
    why: str
    promise: str
    actions: list[Action] = Field(min_length=5, max_length=5)
    rules: list[RuleResult]
    counts: dict[str, int]
    excluded: dict[str, int]
    segments: list[SegmentRecord]
    findings: FindingsSummary
    untriaged_regressions: list[str]
    retired_since_previous_decision: list[RetiredCase]
    previous_decision_at: str | None
    reviewers: list[str]
    open_disagreements: list[str]
    provenance: Provenance
    # the calibration used (gate/calibration.py): only when the policy asks for it, so a
    # record that uses none is written as before
    calibration: CalibrationRecord | None = Field(default=None, exclude_if=lambda v: v is None)
    # the production estimate (#28, gate/production.py): only when the policy reads traffic
    # weights, so a record that reads none is written as before
    production: ProductionRecord | None = Field(default=None, exclude_if=lambda v: v is None)
    content_hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON data (keys as written to files)."""
        return self.model_dump(mode="json", by_alias=True)

    def sealed(self) -> DecisionRecord:
        """This record with its content hash set."""
        return self.model_copy(update={"content_hash": content_hash(self.as_dict())})

    @property
    def violated(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed]


def canonical(obj: Any) -> bytes:
    """The bytes a record's hash is over: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "content_hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a decision record (docs/decision.schema.json)."""
    schema = DecisionRecord.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://evaltui.dev/schemas/decision-1.json",
        **schema,
        "title": "evaltui decision record",
        "description": "What `evaltui gate --out` writes (docs/gate.md); generated from "
        "evaltui.gate.record.DecisionRecord by `evaltui schema decision`.",
    }
