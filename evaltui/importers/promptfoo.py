"""promptfoo output: `-o results.json`, `-o results.jsonl` and `-o results.csv`.

Mapping (docs/formats.md):
- each prompt x provider column is its own run, named "<provider> · <prompt label>";
- the case key is stable across runs whatever the test order: the var `case_id`
  when the tests have one, else the test's description; when one key would cover
  tests with different vars, a short hash of the vars is appended
  ("capital #3f2a9c1e"); tests with neither get "vars #<hash>";
- `--repeat N` output (testIdx = i*N + r) gives N samples of one case, in testIdx order;
- `success` decides pass/fail, `failureReason` 2 is an error; every assertion
  metric (or assertion type, when it has no metric) is a criterion;
- latency, cost and `testCase.metadata` are carried over (the CSV has neither).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
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
    bounded_lines,
    check_text_head,
    decode_utf8,
    validation_error,
)
from evaltui.models import Criterion, Record, Run, Verdict

NAME = "promptfoo"
DEFAULT_SUITE = "promptfoo"


class _Assertion(LooseModel):
    type: str = "assertion"
    value: Any = None
    metric: str | None = None


class _Component(LooseModel):
    pass_: bool = Field(alias="pass")
    score: float | None = None
    reason: str | None = None
    assertion: _Assertion | None = None


class _Grading(LooseModel):
    pass_: bool | None = Field(default=None, alias="pass")
    score: float | None = None
    reason: str | None = None
    componentResults: list[_Component] | None = None


class _TestCase(LooseModel):
    description: str | None = None
    vars: dict[str, Any] | None = None
    assert_: list[_Assertion] | None = Field(default=None, alias="assert")
    metadata: dict[str, Any] | None = None


class _Prompt(LooseModel):
    raw: str | None = None
    label: str | None = None


class _Provider(LooseModel):
    id: str | None = None
    label: str | None = None


class _Response(LooseModel):
    output: Any = None
    error: str | None = None


class _Row(LooseModel):
    testIdx: int
    promptIdx: int = 0
    success: bool
    score: float | None = None
    failureReason: int | None = None
    error: str | None = None
    namedScores: dict[str, float | None] | None = None
    gradingResult: _Grading | None = None
    latencyMs: float | None = None
    cost: float | None = None
    response: _Response | None = None
    testCase: _TestCase | None = None
    vars: dict[str, Any] | None = None
    prompt: _Prompt | None = None
    provider: _Provider | str | None = None
    metadata: dict[str, Any] | None = None


class _PromptColumn(LooseModel):
    label: str | None = None
    provider: str | None = None
    raw: str | None = None


class _Results(LooseModel):
    version: int | None = None
    timestamp: datetime | None = None
    prompts: list[_PromptColumn] = Field(default_factory=list)
    results: list[Any]
    stats: dict[str, Any] | None = None


class _Top(LooseModel):
    evalId: str | None = None
    results: _Results
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


# -- case keys --------------------------------------------------------------------


def vars_hash(variables: dict[str, Any]) -> str:
    """A short hash of a test's vars, the same from JSON and from CSV (values as text)."""
    norm = {
        str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True)
        for k, v in variables.items()
        if v not in (None, "")
    }
    return hashlib.sha256(json.dumps(norm, sort_keys=True).encode()).hexdigest()[:8]


def case_keys(tests: list[tuple[str | None, dict[str, Any]]]) -> list[str]:
    """The case key of each (description, vars), by the rule in the module doc."""
    base: list[str] = []
    hashes: list[str] = []
    for description, variables in tests:
        cid = variables.get("case_id")
        key = str(cid) if cid not in (None, "") else (description or "").strip()
        base.append(key)
        hashes.append(vars_hash(variables))
    seen: dict[str, set[str]] = defaultdict(set)
    for key, h in zip(base, hashes, strict=True):
        seen[key].add(h)
    out = []
    for key, h in zip(base, hashes, strict=True):
        if not key:
            out.append(f"vars #{h}")
        elif len(seen[key]) > 1:
            out.append(f"{key} #{h}")
        else:
            out.append(key)
    return out


def _short_label(label: str | None) -> str:
    """promptfoo labels are "<label>: <file>: <raw prompt>"; keep the first part."""
    if not label:
        return "prompt"
    first = label.split(":", 1)[0].strip() or label
    first = first.splitlines()[0] if first.splitlines() else first
    return first[:40]


# -- rows to records ---------------------------------------------------------------


def _criteria(row: _Row) -> dict[str, Criterion]:
    out: dict[str, Criterion] = {}
    comps = row.gradingResult.componentResults if row.gradingResult else None
    for comp in comps or []:
        name = (comp.assertion.metric or comp.assertion.type) if comp.assertion else "assertion"
        verdict: Verdict = "pass" if comp.pass_ else "fail"
        prev = out.get(name)
        if prev is not None:  # several assertions in one metric: all must pass
            verdict = "fail" if prev.verdict == "fail" or not comp.pass_ else "pass"
        out[name] = Criterion(verdict=verdict, score=comp.score, explanation=comp.reason)
    for name, value in (row.namedScores or {}).items():
        if name in out:
            out[name].score = value
        elif value is not None:
            out[name] = Criterion(score=value)
    return out


def _expected(variables: dict[str, Any], asserts: list[_Assertion] | None) -> str | None:
    if variables.get("expected") not in (None, ""):
        return as_text(variables["expected"])
    parts = []
    for a in asserts or []:
        if a.value is None:
            parts.append(a.type)
        else:
            parts.append(f"{a.type}: {as_text(a.value)}")
    return "\n".join(parts) or None


def _verdict(row_success: bool, failure_reason: int | None, criteria: dict[str, Criterion],
             pass_criterion: str | None) -> Verdict:  # fmt: skip
    if failure_reason == 2:
        return "error"
    if pass_criterion:
        crit = criteria.get(pass_criterion)
        if crit is not None and crit.verdict is not None:
            return crit.verdict
    return "pass" if row_success else "fail"


def _column_of(row: _Row) -> tuple[int, str]:
    provider = row.provider
    if isinstance(provider, _Provider):
        label = provider.label or provider.id or "provider"
    else:
        label = provider or "provider"
    return row.promptIdx, label


def _validate_row(path: Path, obj: Any, location: str) -> _Row:
    try:
        return _Row.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(path, exc, location) from None


def _records_from_rows(
    rows: list[tuple[str, _Row]], suite: str, options: ImportOptions
) -> list[Record]:
    """Records of one column; rows are (location, row)."""
    rows = sorted(rows, key=lambda lr: lr[1].testIdx)
    tests = []
    for _, row in rows:
        tc = row.testCase or _TestCase()
        variables = row.vars if row.vars is not None else (tc.vars or {})
        tests.append((tc.description, variables))
    keys = case_keys(tests)
    epochs: dict[str, int] = defaultdict(int)
    out = []
    for (location, row), key, (_, variables) in zip(rows, keys, tests, strict=True):
        tc = row.testCase or _TestCase()
        criteria = _criteria(row)
        verdict = _verdict(row.success, row.failureReason, criteria, options.pass_criterion)
        epoch = epochs[key]
        epochs[key] += 1
        error = None
        if verdict == "error":
            error = row.error or (row.response.error if row.response else None) or "error"
        attributes = {k: v for k, v in (tc.metadata or {}).items() if not k.startswith("_")}
        out.append(
            Record(
                suite=suite,
                case_key=key,
                verdict=verdict,
                input=(row.prompt.raw if row.prompt and row.prompt.raw else as_text(variables)),
                expected=_expected(variables, tc.assert_),
                attributes=attributes,
                epoch=epoch,
                output=as_text(row.response.output) if row.response else "",
                score=row.score,
                criteria=criteria,
                latency_ms=row.latencyMs if row.latencyMs is None or row.latencyMs >= 0 else None,
                cost=row.cost if row.cost is None or row.cost >= 0 else None,
                explanation=row.gradingResult.reason if row.gradingResult else None,
                error=error,
                location=f"{location} (testIdx {row.testIdx})",
            )
        )
    return out


def _runs(
    path: Path,
    columns: dict[tuple[int, str], list[tuple[str, _Row]]],
    prompt_labels: dict[int, str],
    options: ImportOptions,
    created: datetime | None,
    metadata: dict[str, Any],
) -> list[ParsedRun]:
    suite = options.suite or DEFAULT_SUITE
    parsed = []
    many = len(columns) > 1
    for (prompt_idx, provider), rows in sorted(columns.items()):
        first = rows[0][1]
        label = prompt_labels.get(prompt_idx) or _short_label(
            first.prompt.label if first.prompt else None
        )
        column = f"{provider} · {label}"
        name = f"{options.name} [{column}]" if options.name and many else options.name or column
        records = _records_from_rows(rows, suite, options)
        run = Run(
            name=name,
            system=options.system or provider,
            role=options.role or "none",
            source_path=str(path.resolve()),
            source_part=f"{prompt_idx}:{provider}" if many else "",
            format=NAME,
            created_at=created,
            metadata={**metadata, "provider": provider, "prompt": label},
        )
        parsed.append(ParsedRun(run, records, Progress(total=len(records), done=len(records))))
    return parsed


class PromptfooImporter:
    name = NAME
    description = "promptfoo output (-o results.json, .jsonl or .csv)"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if text.startswith(b"{"):
            first = text.split(b"\n", 1)[0]
            if b'"evalId"' in head[:4096] or (b'"results"' in head and b'"promptIdx"' in head):
                return True
            return b'"testIdx"' in first and b'"promptIdx"' in first and b'"success"' in first
        line = text.split(b"\n", 1)[0]
        return line.startswith(b"Description,") or (b",Status," in head and b'"[' in head)

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        with path.open("rb") as fh:
            head = fh.read(65536)
        check_text_head(path, head)
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if not text.startswith(b"{"):
            return self._read_csv(path, options)
        first = text.split(b"\n", 1)[0]
        try:
            obj = json.loads(first)
            one_line_row = isinstance(obj, dict) and "testIdx" in obj
        except (ValueError, RecursionError):
            one_line_row = False
        if one_line_row:
            return self._read_jsonl(path, options)
        return self._read_json(path, options)

    def _read_json(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        try:
            obj = json.loads(path.read_bytes())
        except UnicodeDecodeError as exc:
            raise InputError(str(path), f"not valid UTF-8 ({exc.reason})") from None
        except (ValueError, RecursionError) as exc:
            raise InputError(str(path), f"malformed JSON ({exc})") from None
        try:
            top = _Top.model_validate(obj)
        except ValidationError as exc:
            raise validation_error(path, exc, "top level") from None
        if not top.results.results:
            raise InputError(str(path), "no results in this file", field="results.results")
        columns: dict[tuple[int, str], list[tuple[str, _Row]]] = defaultdict(list)
        for i, item in enumerate(top.results.results):
            location = f"results.results[{i}]"
            row = _validate_row(path, item, location)
            columns[_column_of(row)].append((location, row))
        labels = {i: _short_label(p.label) for i, p in enumerate(top.results.prompts) if p.label}
        config = top.config or {}
        metadata = {
            "eval_id": top.evalId,
            "description": config.get("description"),
            "tags": config.get("tags"),
            "promptfoo_version": (top.metadata or {}).get("promptfooVersion"),
            "stats": top.results.stats,
        }
        created = top.results.timestamp
        return _runs(
            path, columns, labels, options, created,
            {k: v for k, v in metadata.items() if v is not None},
        )  # fmt: skip

    def _read_jsonl(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        columns: dict[tuple[int, str], list[tuple[str, _Row]]] = defaultdict(list)
        with path.open("rb") as fh:
            for number, raw in bounded_lines(fh, path):
                if not raw.strip():
                    continue
                location = f"line {number}"
                text = decode_utf8(path, raw, location)
                try:
                    obj = json.loads(text)
                except (ValueError, RecursionError) as exc:
                    raise InputError(
                        str(path), f"malformed JSON ({exc})", location=location
                    ) from None
                row = _validate_row(path, obj, location)
                columns[_column_of(row)].append((location, row))
        if not columns:
            raise InputError(str(path), "no results in this file")
        return _runs(path, columns, {}, options, None, {})

    def _read_csv(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(str(path), f"not valid UTF-8 ({exc.reason})") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(str(path), "the file is empty") from None
        if not header or header[0] != "Description":
            raise InputError(
                str(path), "a promptfoo CSV starts with a 'Description' column", location="record 1"
            )
        starts = [i for i, h in enumerate(header) if h.startswith("[")]
        if not starts:
            raise InputError(
                str(path),
                "no '[provider] prompt' output column in the header",
                location="record 1",
            )
        var_names = header[1 : starts[0]]
        spans = []
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(header)
            spans.append((start, {h: i for i, h in enumerate(header[start + 1 : end], start + 1)}))
        columns: dict[tuple[int, str], list[tuple[str, _Row]]] = defaultdict(list)
        for index, cells in enumerate(reader):
            record_no = index + 2
            location = f"record {record_no}"
            if not any(cells):
                continue
            if len(cells) != len(header):
                raise InputError(
                    str(path),
                    f"{len(cells)} cells where the header has {len(header)}",
                    location=location,
                )
            variables = {
                name: cells[i + 1] for i, name in enumerate(var_names) if cells[i + 1] != ""
            }
            for prompt_idx, (start, cols) in enumerate(spans):
                title = header[start]
                provider, _, label = title[1:].partition("] ")
                status_col = cols.get("Status")
                if status_col is None:
                    raise InputError(
                        str(path), "no Status column", location="record 1", field="Status"
                    )
                status = cells[status_col].strip().upper()
                if status not in ("PASS", "FAIL", "ERROR"):
                    raise InputError(
                        str(path),
                        f"Status must be PASS, FAIL or ERROR (got {cells[status_col]!r})",
                        location=location,
                        field="Status",
                    )
                named: dict[str, float | None] = {}
                metric_cols = {
                    h[len("Metric: ") :]: i for h, i in cols.items() if h.startswith("Metric: ")
                }
                for metric, i in metric_cols.items():
                    if cells[i] != "":
                        named[metric] = _float(path, cells[i], location, f"Metric: {metric}")
                score_col = cols.get("Score")
                row = _Row(
                    testIdx=index,
                    promptIdx=prompt_idx,
                    success=status == "PASS",
                    failureReason={"PASS": 0, "FAIL": 1, "ERROR": 2}[status],
                    score=_float(path, cells[score_col], location, "Score") if score_col is not None and cells[score_col] != "" else None,
                    namedScores=named,
                    gradingResult=_Grading(reason=cells[cols["Grader Reason"]] or None) if "Grader Reason" in cols else None,
                    response=_Response(output=cells[start]),
                    testCase=_TestCase(description=cells[0] or None, vars=variables),
                    vars=variables,
                    prompt=None,
                    provider=provider,
                )  # fmt: skip
                columns[(prompt_idx, provider)].append((location, row))
                if status == "ERROR":
                    row.error = cells[cols["Grader Reason"]] if "Grader Reason" in cols else None
                _ = label
        if not columns:
            raise InputError(str(path), "no results in this file")
        labels = {i: _short_label(header[s].partition("] ")[2]) for i, (s, _) in enumerate(spans)}
        return _runs(path, columns, labels, options, None, {})


def _float(path: Path, cell: str, location: str, field: str) -> float:
    try:
        return float(cell)
    except (ValueError, RecursionError):
        raise InputError(
            str(path), f"not a number (got {cell!r})", location=location, field=field
        ) from None
