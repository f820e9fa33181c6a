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
- latency, cost and `testCase.metadata` are carried over (the CSV has neither);
- a model-graded assertion's (`llm-rubric`) grading provider, where the file names one, is
  the run's `grader_models` {criterion: provider id} (promptfoo_graders; the CSV has none);
- a JSON file written with tracing on has a top-level `traces` array: each row's trace (its
  `traceId`) gives the row's trajectory (promptfoo_traces).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evaltui.errors import InputError
from evaltui.importers import jsonstream
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    as_text,
    bounded_lines,
    check_text_head,
    json_line,
    non_finite,
    validation_error,
)
from evaltui.importers.promptfoo_csv import csv_header, csv_rows, header_starts
from evaltui.importers.promptfoo_graders import GraderIndex, default_grader
from evaltui.importers.promptfoo_keys import KeyIndex, column_of, variables_of
from evaltui.importers.promptfoo_model import Assertion, Component, Row, TestCase, Top
from evaltui.importers.promptfoo_traces import TraceIndex
from evaltui.models import Criterion, Record, Run, Verdict

NAME = "promptfoo"
DEFAULT_SUITE = "promptfoo"


def _short_label(label: str | None) -> str:
    """promptfoo labels are "<label>: <file>: <raw prompt>"; keep the first part."""
    if not label:
        return "prompt"
    first = label.split(":", 1)[0].strip() or label
    first = first.splitlines()[0] if first.splitlines() else first
    return first[:40]


# -- rows to records ---------------------------------------------------------------


def _components(row: Row) -> Iterator[tuple[str, Component]]:
    """Each assertion result with its criterion name: an assertion's metric (or type); an
    assert-set is one named by its own metric, its checks `set/check` under it (promptfoo
    also lists them again after the set: those copies are skipped)."""
    comps = list(row.gradingResult.componentResults or []) if row.gradingResult else []
    i = 0
    while i < len(comps):
        comp = comps[i]
        i += 1
        group = comp.assertion_set
        if group is not None:
            name = str(group.get("metric") or "assert-set")
            yield name, comp
            inner = comp.componentResults or []
            for sub in inner:
                sub_name = (
                    (sub.assertion.metric or sub.assertion.type) if sub.assertion else "check"
                )
                yield f"{name}/{sub_name}", sub
            copies = comps[i : i + len(inner)]
            if [c.assertion for c in copies] == [c.assertion for c in inner]:
                i += len(inner)  # the flattened copies of the set's checks
            continue
        yield (
            (comp.assertion.metric or comp.assertion.type) if comp.assertion else "assertion",
            comp,
        )


def _criteria(row: Row) -> dict[str, Criterion]:
    """One criterion per assertion metric (or type) (_components); an assert-set's verdict
    is the set's, against its threshold."""
    out: dict[str, Criterion] = {}
    for name, comp in _components(row):
        _add(out, name, comp)
    for name, value in (row.namedScores or {}).items():
        if name in out:
            out[name].score = value
        elif value is not None:
            out[name] = Criterion(score=value)
    return out


def _add_graders(graders: GraderIndex, row: Row) -> None:
    test = row.testCase.options.provider if row.testCase and row.testCase.options else None
    for name, comp in _components(row):
        if comp.assertion is not None:
            graders.add(column_of(row), name, comp.assertion.type, comp.assertion.provider, test)


def _add(out: dict[str, Criterion], name: str, comp: Any) -> None:
    verdict: Verdict = "pass" if comp.pass_ else "fail"
    prev = out.get(name)
    if prev is not None:  # several assertions in one metric: all must pass
        verdict = "fail" if prev.verdict == "fail" or not comp.pass_ else "pass"
    out[name] = Criterion(verdict=verdict, score=comp.score, explanation=comp.reason)


def _expected(variables: dict[str, Any], asserts: list[Assertion] | None) -> str | None:
    if variables.get("expected") not in (None, ""):
        return as_text(variables["expected"])
    parts = []
    for a in asserts or []:
        if a.value is None:
            parts.append(a.type)
        else:
            parts.append(f"{a.type}: {as_text(a.value)}")
    return "\n".join(parts) or None


def _verdict(
    row_success: bool,
    failure_reason: int | None,
    criteria: dict[str, Criterion],
    pass_criterion: str | None,
) -> Verdict:
    if failure_reason == 2:
        return "error"
    if pass_criterion:
        crit = criteria.get(pass_criterion)
        if crit is not None and crit.verdict is not None:
            return crit.verdict
    return "pass" if row_success else "fail"


def _validate_row(path: Path, obj: Any, location: str) -> Row:
    try:
        return Row.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(path, exc, location) from None


def _record(
    path: Path,
    row: Row,
    key: str,
    epoch: int,
    suite: str,
    location: str,
    options: ImportOptions,
    traces: TraceIndex | None = None,
) -> Record:
    tc = row.testCase or TestCase()
    variables = variables_of(row)
    criteria = _criteria(row)
    verdict = _verdict(row.success, row.failureReason, criteria, options.pass_criterion)
    error = None
    if verdict == "error":
        error = row.error or (row.response.error if row.response else None) or "error"
    attributes = {k: v for k, v in (tc.metadata or {}).items() if not k.startswith("_")}
    if hit := non_finite(attributes, "testCase.metadata"):  # JSON.stringify writes null
        raise InputError(
            str(path), "not a finite number; promptfoo writes none", location=location, field=hit
        )
    output = as_text(row.response.output) if row.response else ""
    trajectory = None
    if traces is not None and row.traceId:
        trajectory = traces.path_of(row.traceId, row.testIdx, row.promptIdx, output, location)
    return Record(
        suite=suite,
        case_key=key,
        verdict=verdict,
        input=(row.prompt.raw if row.prompt and row.prompt.raw else as_text(variables)),
        expected=_expected(variables, tc.assert_),
        attributes=attributes,
        epoch=epoch,
        output=output,
        score=row.score,
        criteria=criteria,
        latency_ms=row.latencyMs if row.latencyMs is None or row.latencyMs >= 0 else None,
        cost=row.cost if row.cost is None or row.cost >= 0 else None,
        explanation=row.gradingResult.reason if row.gradingResult else None,
        error=error,
        location=f"{location} (testIdx {row.testIdx})",
        trajectory=trajectory,
    )


RowSource = Callable[[], Iterator[tuple[str, Row]]]


def _runs(
    path: Path,
    source: RowSource,
    prompt_labels: dict[int, str],
    options: ImportOptions,
    created: datetime | None,
    metadata: dict[str, Any],
    traces: TraceIndex | None = None,
    graders: GraderIndex | None = None,
) -> list[ParsedRun]:
    """One run per prompt x provider column. The rows are read twice: once for the case
    keys (and the grading providers), then once per column for its records, streaming both
    times."""
    index = KeyIndex()
    graders = graders or GraderIndex()
    traced = missing = 0
    for pos, (_, row) in enumerate(source()):
        index.add(pos, row)
        _add_graders(graders, row)
        if row.traceId:
            traced += 1
            missing += traces is None or not traces.holds(row.traceId)
    if not index.columns:
        raise InputError(str(path), "no results in this file")
    index.finish()
    suite = options.suite or DEFAULT_SUITE
    parsed = []
    many = len(index.columns) > 1
    for (prompt_idx, provider), col in sorted(index.columns.items()):
        label = prompt_labels.get(prompt_idx) or _short_label(index.labels[col])
        column = f"{provider} · {label}"
        eval_id = metadata.get("eval_id")
        extra: dict[str, Any] = (
            {"identity": f"promptfoo/{eval_id}/{prompt_idx}:{provider}"} if eval_id else {}
        )
        if found := graders.of((prompt_idx, provider)):
            extra["grader_models"] = found  # the grader's identity, per criterion
        name = f"{options.name} [{column}]" if options.name and many else options.name or column
        run = Run(
            name=name,
            system=options.system or provider,
            role=options.role or "none",
            source_path=str(path.resolve()),
            source_part=f"{prompt_idx}:{provider}" if many else "",
            format=NAME,
            created_at=created,
            metadata={**metadata, "provider": provider, "prompt": label, **extra},
        )
        progress = Progress(total=index.counts[col])
        records = _column_records(path, index, col, source, suite, options, progress, traces)
        parsed.append(ParsedRun(run, records, progress, _trace_notes(traced, missing, traces)))
    return parsed


def _trace_notes(traced: int, missing: int, traces: TraceIndex | None) -> list[str]:
    """What the import line says of the traces: joined, cut, or named but not in the file."""
    notes = []
    if traces is not None and traces.count:
        notes.append(
            f"{traced - missing:,} of the file's rows joined to their traces "
            f"({traces.count:,} traces, {traces.spans:,} spans)"
        )
        if traces.cut:
            notes.append(
                f"{traces.cut:,} span attributes were cut at 400 characters by promptfoo's "
                "export: kept as written, not parsed"
            )
    if missing and (traces is None or not traces.count):
        notes.append(
            f"{missing:,} rows name a trace (traceId) this file does not hold: promptfoo "
            "writes traces only into -o results.json; import that file for their paths"
        )
    elif missing:
        notes.append(
            f"{missing:,} rows name a trace the file's traces array does not hold: no path"
        )
    return notes


def _column_records(
    path: Path,
    index: KeyIndex,
    col: int,
    source: RowSource,
    suite: str,
    options: ImportOptions,
    progress: Progress,
    traces: TraceIndex | None = None,
) -> Iterator[Record]:
    keys = index.keys(col)
    want = next(keys, None)
    for pos, (location, row) in enumerate(source()):
        if want is None:
            break
        if pos != want[0]:
            continue
        yield _record(path, row, want[1], want[2], suite, location, options, traces)
        progress.done += 1
        want = next(keys, None)
    if want is not None:
        raise InputError(str(path), "the file changed while it was being read")


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
        traces = TraceIndex(path)
        scan = jsonstream.scan(path, "results.results", collect={"traces": traces.add})
        try:
            top = Top.model_validate(scan.head)
        except ValidationError as exc:
            raise validation_error(path, exc, "top level") from None
        if not scan.count:
            raise InputError(str(path), "no results in this file", field="results.results")

        def source() -> Iterator[tuple[str, Row]]:
            for i, item in enumerate(jsonstream.items(path, "results.results", scan)):
                location = f"results.results[{i}]"
                yield location, _validate_row(path, item, location)

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
            path,
            source,
            labels,
            options,
            created,
            {k: v for k, v in metadata.items() if v is not None},
            traces,
            GraderIndex(default_grader(config)),
        )

    def _read_jsonl(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        def source() -> Iterator[tuple[str, Row]]:
            with path.open("rb") as fh:
                for number, raw in bounded_lines(fh, path):
                    if not raw.strip():
                        continue
                    location = f"line {number}"
                    yield location, _validate_row(path, json_line(path, raw, location), location)

        return _runs(path, source, {}, options, None, {})

    def _read_csv(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        header = csv_header(path)
        labels = {
            i: _short_label(header[s].partition("] ")[2])
            for i, s in enumerate(header_starts(header))
        }
        return _runs(path, lambda: csv_rows(path, header), labels, options, None, {})
