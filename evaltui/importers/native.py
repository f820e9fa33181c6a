"""evaltui's own result format: JSONL (one result per line) or the same columns as CSV.

The format is documented in docs/format.md; its JSON Schema is generated from
`NativeLine` (`evaltui schema native`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    as_text,
    check_text_head,
    check_values,
    decode_utf8,
    iter_lines,
    limit_csv_fields,
    non_finite,
    validation_error,
)
from evaltui.models import Criterion, Record, Role, Run, Verdict
from evaltui.trajectory import Step

NAME = "native"
DEFAULT_SUITE = "default"


class NativeRunHeader(BaseModel):
    """Optional first line `{"run": {...}}`: what the run is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Run name; defaults to the file name.")
    system: str = Field(default="", description="System under test: model, prompt, config.")
    role: Role = Field(default="none", description="production, candidate, fallback or none.")
    suite: str | None = Field(default=None, description="Default suite for lines that name none.")
    created_at: datetime | None = Field(default=None, description="When the run was made.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form run metadata.")


class NativeHeaderLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: NativeRunHeader


class NativeLine(BaseModel):
    """One result: a run's outcome on one case for one sample (epoch)."""

    model_config = ConfigDict(extra="forbid")

    suite: str | None = Field(
        default=None,
        min_length=1,
        description="Reference set; defaults to the header's, else 'default'.",
    )
    case_key: str | int = Field(description="Case identity within the suite; aligns runs.")
    epoch: int = Field(
        default=0, ge=0, description="Sample index when a case is run several times."
    )
    input: Any = Field(default="", description="The case input: text, or JSON (kept as JSON text).")
    expected: Any = Field(default=None, description="The reference answer, if any.")
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Segment dimensions and tags: task, risk, source_quality, intent…",
    )
    output: Any = Field(default="", description="What the system produced.")
    verdict: Verdict = Field(
        description="Outcome of this sample: pass, fail, error; limit (stopped at a message, "
        "token or time limit; say which in `error`); unscored (no verdict: predict-only)."
    )
    score: float | None = Field(default=None, description="Overall score, if the grader gives one.")
    criteria: dict[str, Criterion] = Field(
        default_factory=dict, description="Per-criterion verdicts and scores."
    )
    latency_ms: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    explanation: str | None = Field(default=None, description="Grader explanation.")
    error: str | None = Field(default=None, description="Error message when verdict is error.")
    trajectory: list[Step] | None = Field(
        default=None,
        description="An agent's path, in order: messages, tool calls, tool results, sources "
        "(docs/format.md, Trajectories). Stored compressed; shown per case.",
    )


CSV_COLUMNS = [
    "suite", "case_key", "epoch", "input", "expected", "attributes", "output",
    "verdict", "score", "criteria", "latency_ms", "cost", "explanation", "error",
]  # fmt: skip


def _check_finite(path: Path, line: NativeLine, location: str) -> None:
    """The native format is strict JSON: a NaN or an infinity (which Python's readers let
    through) has no meaning in it and is refused, naming the field (an unscored result
    says `"verdict": "unscored"`). Scores, latency and cost are checked where every
    record passes (store.rows); here the free-form fields."""
    for name in ("input", "expected", "output", "attributes"):
        value = getattr(line, name)
        if isinstance(value, str) or value is None:
            continue
        if hit := non_finite(value, name):
            raise InputError(
                str(path),
                "not a finite number: the native format is strict JSON",
                location=location,
                field=hit,
            )
    for i, step in enumerate(line.trajectory or ()):
        if step.arguments is not None and (hit := non_finite(step.arguments, "arguments")):
            raise InputError(
                str(path),
                "not a finite number: the native format is strict JSON",
                location=location,
                field=f"trajectory[{i}].{hit}",
            )


def _record(line: NativeLine, suite: str, location: str) -> Record:
    return Record(
        suite=suite,
        case_key=str(line.case_key),
        verdict=line.verdict,
        input=as_text(line.input),
        expected=None if line.expected is None else as_text(line.expected),
        attributes=line.attributes,
        epoch=line.epoch,
        output=as_text(line.output),
        score=line.score,
        criteria=line.criteria,
        latency_ms=line.latency_ms,
        cost=line.cost,
        explanation=line.explanation,
        error=line.error,
        location=location,
        trajectory=line.trajectory,
    )


def _run(path: Path, header: NativeRunHeader | None, options: ImportOptions, fmt: str) -> Run:
    header = header or NativeRunHeader()
    return Run(
        name=options.name or header.name or path.stem,
        system=options.system or header.system,
        role=options.role or header.role,
        source_path=str(path.resolve()),
        format=fmt,
        created_at=header.created_at,
        metadata=header.metadata,
    )


class NativeJsonlImporter:
    name = NAME
    description = "evaltui native JSONL (one result per line; docs/format.md)"

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
        if len(head) >= 65536 and b"\n" not in head and first.startswith(b"{"):
            # a first line longer than the sniffed head: a native record by its field
            # names; the read then refuses it at the line limit, naming the line
            return b'"case_key"' in first
        try:
            obj = json.loads(first)
        except (ValueError, RecursionError):
            return False
        if not isinstance(obj, dict):
            return False
        return set(obj) == {"run"} or {"case_key", "verdict"} <= set(obj)

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        with path.open("rb") as fh:
            head = fh.read(65536)
        check_text_head(path, head)
        header: NativeRunHeader | None = None
        first = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
        try:
            first_obj = json.loads(first)
        except (ValueError, RecursionError):
            first_obj = None
        if isinstance(first_obj, dict) and "run" in first_obj and "case_key" not in first_obj:
            try:
                header = NativeHeaderLine.model_validate(first_obj).run
            except ValidationError as exc:
                raise validation_error(path, exc, "line 1 (run header)") from None
        progress = Progress()
        return [
            ParsedRun(
                _run(path, header, options, NAME),
                self._records(path, header, options, progress),
                progress,
            )
        ]

    def _records(
        self, path: Path, header: NativeRunHeader | None, options: ImportOptions, progress: Progress
    ) -> Iterator[Record]:
        default_suite = options.suite or (header.suite if header else None) or DEFAULT_SUITE
        validate = NativeLine.model_validate_json
        skip_first = header is not None
        for number, raw in iter_lines(path, progress):
            if skip_first:
                skip_first = False
                continue
            location = f"line {number}"
            try:
                line = validate(raw)
            except ValidationError as exc:
                decode_utf8(path, raw, location)  # a clearer message for bad bytes
                raise validation_error(path, exc, location) from None
            del raw  # neither the bytes nor the parsed line is held while the next is read
            _check_finite(path, line, location)
            record = _record(line, line.suite or default_suite, location)
            del line
            yield record
            del record


class NativeCsvImporter:
    name = "native-csv"
    description = "evaltui native CSV (the JSONL columns; attributes and criteria as JSON cells)"

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
        cols = {c.strip().strip('"') for c in first.split(",")}
        return {"case_key", "verdict"} <= cols

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        with path.open("rb") as fh:
            head = fh.read(65536)
        check_text_head(path, head)
        progress = Progress()
        return [
            ParsedRun(
                _run(path, None, options, self.name),
                self._records(path, options, progress),
                progress,
            )
        ]

    def _records(self, path: Path, options: ImportOptions, progress: Progress) -> Iterator[Record]:
        default_suite = options.suite or DEFAULT_SUITE
        progress.total = path.stat().st_size
        with path.open("rb") as raw_fh:
            fh = io.TextIOWrapper(raw_fh, encoding="utf-8-sig", newline="")
            limit_csv_fields()
            reader = csv.DictReader(fh)
            try:
                fields = reader.fieldnames or []
            except UnicodeDecodeError as exc:
                raise InputError(
                    str(path), f"not valid UTF-8 ({exc.reason})", location="line 1"
                ) from None
            unknown = [f for f in fields if f not in CSV_COLUMNS]
            if unknown:
                raise InputError(
                    str(path),
                    f"unknown column '{unknown[0]}'; columns are {', '.join(CSV_COLUMNS)}",
                    location="line 1 (header)",
                    field=unknown[0],
                )
            for required in ("case_key", "verdict"):
                if required not in fields:
                    raise InputError(
                        str(path),
                        "required column is missing",
                        location="line 1 (header)",
                        field=required,
                    )
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except UnicodeDecodeError as exc:
                    raise InputError(
                        str(path),
                        f"not valid UTF-8 ({exc.reason})",
                        location=f"line {reader.line_num + 1}",
                    ) from None
                except csv.Error as exc:
                    raise InputError(
                        str(path), f"malformed CSV ({exc})", location=f"line {reader.line_num}"
                    ) from None
                progress.done = raw_fh.tell()
                location = f"line {reader.line_num}"
                if None in row:
                    raise InputError(str(path), "more cells than header columns", location=location)
                data: dict[str, Any] = {}
                for key, value in row.items():
                    if value is None or value == "":
                        continue
                    if key in ("attributes", "criteria"):
                        check_values(path, value.encode(), f"{location}, column {key}")
                        try:
                            data[key] = json.loads(value)
                        except (ValueError, RecursionError) as exc:
                            raise InputError(
                                str(path),
                                f"malformed JSON in cell ({exc})",
                                location=location,
                                field=key,
                            ) from None
                    else:
                        data[key] = value
                try:
                    line = NativeLine.model_validate(data)
                except ValidationError as exc:
                    raise validation_error(path, exc, location) from None
                _check_finite(path, line, location)
                yield _record(line, line.suite or default_suite, location)
