"""OpenAI Evals record logs (`oaieval ... --record_path log.jsonl`).

Mapping (docs/formats.md):
- the `spec` line describes the run; `final_report` may appear on any line;
  events come in any order and are grouped by `sample_id`, which is the case key;
- the suite is the spec's `base_eval`; the system its completion functions;
- input and output come from `sampling` events (`prompt`, `sampled[0]`), the
  verdict from `match` events (`correct`); `metrics` events become criteria;
  an `error` event makes the result an error;
- a log with no sampling events (the `dummy` completion fn) still imports;
- when a sample has several match events, each is a sample (epoch), in event order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from evaltui.errors import InputError
from evaltui.importers.base import (
    ImportOptions,
    LooseModel,
    ParsedRun,
    Progress,
    as_text,
    chat_text,
    check_text_head,
    find_criterion,
    finite_json,
    iter_lines,
    json_line,
    score_to_criterion,
    validation_error,
)
from evaltui.models import Criterion, Record, Run, Verdict

NAME = "openai-evals"


class _Spec(LooseModel):
    completion_fns: list[str] = Field(default_factory=list)
    eval_name: str
    base_eval: str | None = None
    split: str | None = None
    run_id: str | None = None
    created_at: str | None = None
    run_config: dict[str, Any] | None = None


class _SpecLine(LooseModel):
    spec: _Spec


class _Event(LooseModel):
    sample_id: str
    type: str
    event_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None


class _Sample:
    __slots__ = ("errors", "first_line", "matches", "metric_lines", "metrics", "samplings")

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line
        self.samplings: list[tuple[int, dict[str, Any]]] = []
        self.matches: list[tuple[int, dict[str, Any], int]] = []
        self.metrics: dict[str, Any] = {}
        self.metric_lines: dict[str, int] = {}
        self.errors: list[str] = []


def _created(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (ValueError, RecursionError):
        return None


_UNDEFINED = (
    "OpenAI Evals recorded NaN: the metric is undefined for this sample (its evals leave "
    "such samples out of the run's figure, with nanmean)"
)


def _metric(path: Path, sample: _Sample, name: str, value: Any, threshold: float) -> Criterion:
    """A `metrics` event's value as a criterion. OpenAI Evals records NaN where a metric is
    undefined for the sample (recall with no relevant item, say) and aggregates with
    nanmean, which leaves it out: read as no verdict (unscored). An infinity has no such
    meaning and is refused, naming the line and the field."""
    if isinstance(value, float) and value != value:
        return Criterion(explanation=_UNDEFINED)
    if isinstance(value, float) and value - value != 0:
        raise InputError(
            str(path),
            f"{value} is not a finite number",
            location=f"line {sample.metric_lines.get(name, sample.first_line)}",
            field=f"data.{name}",
        )
    return score_to_criterion(value, threshold=threshold)


class OpenAIEvalsImporter:
    name = NAME
    description = "OpenAI Evals record log (oaieval --record_path, JSONL)"

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
        return first.startswith(b'{"spec"') or (
            b'"spec"' in first and b'"eval_name"' in first and b'"completion_fns"' in first
        )

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        with path.open("rb") as fh:
            head = fh.read(65536)
        check_text_head(path, head)
        progress = Progress()
        spec: _Spec | None = None
        final_report: dict[str, Any] | None = None
        samples: dict[str, _Sample] = {}
        validate_event = _Event.model_validate
        for number, raw in iter_lines(path, progress):
            location = f"line {number}"
            obj = json_line(path, raw, location)
            if not isinstance(obj, dict):
                raise InputError(str(path), "each line is a JSON object", location=location)
            if "spec" in obj:
                try:
                    spec = _SpecLine.model_validate(obj).spec
                except ValidationError as exc:
                    raise validation_error(path, exc, location) from None
                continue
            if "final_report" in obj:
                report = obj["final_report"]
                if not isinstance(report, dict):
                    raise InputError(
                        str(path),
                        "final_report must be an object",
                        location=location,
                        field="final_report",
                    )
                final_report = report
                continue
            try:
                event = validate_event(obj)
            except ValidationError as exc:
                raise validation_error(path, exc, location) from None
            sample = samples.get(event.sample_id)
            if sample is None:
                sample = samples[event.sample_id] = _Sample(number)
            order = event.event_id if event.event_id is not None else number
            if event.type == "sampling":
                sample.samplings.append((order, event.data))
            elif event.type == "match":
                sample.matches.append((order, event.data, number))
            elif event.type == "metrics":
                sample.metrics.update(event.data)
                sample.metric_lines.update(dict.fromkeys(event.data, number))
            elif event.type == "error":
                sample.errors.append(as_text(event.data.get("message", event.data)))
        if spec is None:
            raise InputError(
                str(path), "no spec line: not an OpenAI Evals record log", field="spec"
            )
        if not samples:
            raise InputError(str(path), "the log holds no sample events")
        if not any(s.matches or s.metrics or s.errors for s in samples.values()):
            raise InputError(
                str(path),
                "no sample carries a verdict: the log has no match, "
                "metrics or error events (every result would be unscored)",
                field="match",
            )
        suite = options.suite or spec.base_eval or spec.eval_name.split(".")[0]
        run = Run(
            name=options.name or f"{spec.eval_name} {','.join(spec.completion_fns) or '?'}",
            system=options.system or ",".join(spec.completion_fns),
            role=options.role or "none",
            source_path=str(path.resolve()),
            format=NAME,
            created_at=_created(spec.created_at),
            metadata={
                k: v
                for k, v in {
                    "run_id": spec.run_id,
                    "identity": f"openai-evals/{spec.run_id}" if spec.run_id else None,
                    "eval_name": spec.eval_name,
                    "split": spec.split,
                    "eval_class": ((spec.run_config or {}).get("eval_spec") or {}).get("cls"),
                    "final_report": finite_json(final_report),
                }.items()
                if v is not None
            },
        )
        # Without `match` events (classes that record only `metrics`), a sample's verdict is
        # its value of the run's headline metric: the first final_report key the samples carry
        names = {str(k) for sample in samples.values() for k in sample.metrics}
        report = final_report if isinstance(final_report, dict) else {}
        headline = next((str(k) for k in report if str(k) in names), None)
        return [ParsedRun(run, self._records(path, samples, suite, options, headline), progress)]

    def _records(
        self,
        path: Path,
        samples: dict[str, _Sample],
        suite: str,
        options: ImportOptions,
        headline: str | None = None,
    ) -> Iterator[Record]:
        for sample_id, sample in samples.items():
            samplings = [d for _, d in sorted(sample.samplings, key=lambda x: x[0])]
            matches = sorted(sample.matches, key=lambda x: x[0])
            metric_criteria = {
                str(k): _metric(path, sample, str(k), v, options.threshold)
                for k, v in sample.metrics.items()
            }
            n = max(len(matches), 1)
            for epoch in range(n):
                sampling = (
                    samplings[epoch]
                    if epoch < len(samplings)
                    else (samplings[0] if samplings else {})
                )
                match = matches[epoch][1] if epoch < len(matches) else None
                line = matches[epoch][2] if epoch < len(matches) else sample.first_line
                criteria: dict[str, Criterion] = dict(metric_criteria)
                error = "; ".join(sample.errors) or None
                verdict: Verdict
                if match is not None:
                    correct = match.get("correct")
                    if not isinstance(correct, bool):
                        raise InputError(
                            str(path),
                            f"'correct' must be true or false (got {correct!r})",
                            location=f"line {line}",
                            field="data.correct",
                        )
                    criteria["match"] = Criterion(verdict="pass" if correct else "fail")
                if error:
                    verdict = "error"
                elif options.pass_criterion and find_criterion(criteria, options.pass_criterion):
                    crit = find_criterion(criteria, options.pass_criterion)
                    verdict = (crit.verdict if crit else None) or "unscored"
                elif "match" in criteria:
                    verdict = criteria["match"].verdict or "fail"
                elif headline and headline in criteria:  # a metrics-only class
                    verdict = criteria[headline].verdict or "unscored"
                else:  # no match event and no headline metric: the tool gave no verdict
                    verdict = "unscored"
                sampled = sampling.get("sampled")
                output = sampled[0] if isinstance(sampled, list) and sampled else sampled
                if output is None and match is not None:
                    output = match.get("sampled")
                expected = match.get("expected") if match is not None else None
                if isinstance(expected, list):
                    expected = " | ".join(as_text(e) for e in expected)
                explanation = None
                if match is not None and "picked" in match:
                    explanation = f"picked: {as_text(match.get('picked')) or 'nothing'}"
                yield Record(
                    suite=suite,
                    case_key=sample_id,
                    verdict=verdict,
                    input=chat_text(sampling.get("prompt", "")),
                    expected=None if expected is None else as_text(expected),
                    attributes={},
                    epoch=epoch,
                    output=as_text(output),
                    criteria=criteria,
                    explanation=explanation,
                    error=error,
                    location=f"line {line} (sample {sample_id})",
                )
