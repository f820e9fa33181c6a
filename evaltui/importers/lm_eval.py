"""lm-evaluation-harness `--log_samples` output.

Files: `results_<ts>.json` and one `samples_<task>_<ts>.jsonl` per task, in the
model's output folder. Import the folder (every (folder, timestamp) is a run;
sub-folders are searched, so `--output_path` itself works) or one samples file
(its run holds that task; the sibling results file, if any, gives model and date).

Mapping (docs/formats.md):
- each task is a suite; the case key is `doc.id` when the dataset has one, else `doc_id`;
- one line per (doc, filter): lines of one doc are merged into one result;
  every (metric, filter) is a criterion named like the results file's keys
  (`exact_match,strict-match`; `acc` when the filter is `none`);
- the verdict is the pass criterion's: `--pass-criterion`, else the task's first
  metric under its first filter; 0/1 metric values are verdicts, pass means 1;
- with the task option `repeats: N`, each of the N responses is a sample (epoch);
  lm-eval scores them together through the filter, so every sample carries the
  filtered score (the explanation says so).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError
from evaltui.files import read_capped
from evaltui.importers.base import (
    ImportOptions,
    LooseModel,
    ParsedRun,
    Progress,
    as_text,
    bounded_lines,
    check_text_head,
    criterion_name,
    decode_utf8,
    finite_json,
    max_line_bytes,
    score_to_criterion,
    validation_error,
)
from evaltui.models import Criterion, Record, Run, Verdict
from evaltui.textsafe import one_line

NAME = "lm-eval"
SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl$")
RESULTS_RE = re.compile(r"^results_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.json$")


class _SampleLine(BaseModel):
    model_config = ConfigDict(extra="allow")  # metric values are top-level keys

    doc_id: int
    doc: dict[str, Any] | Any = None
    target: Any = None
    arguments: dict[str, Any] | None = None
    resps: list[Any] = Field(default_factory=list)
    filtered_resps: list[Any] = Field(default_factory=list)
    filter: str = "none"
    metrics: list[str]


class _Results(LooseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)  # `date` is a timestamp

    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model_name: str | None = None
    date: float | None = None
    config: dict[str, Any] | None = None
    lm_eval_version: str | None = None
    configs: dict[str, dict[str, Any]] | None = None


def _criterion_name(metric: str, flt: str) -> str:
    return metric if flt == "none" else f"{metric},{flt}"


def _continuations(arguments: dict[str, Any] | None) -> list[str] | None:
    """The choices of a loglikelihood request (each `arg_1` a string), else None."""
    if not arguments:
        return None
    conts = []
    for key in sorted(
        arguments, key=lambda k: int(k.rsplit("_", 1)[-1]) if k.rsplit("_", 1)[-1].isdigit() else 0
    ):
        arg = arguments[key]
        if not isinstance(arg, dict) or not isinstance(arg.get("arg_1"), str):
            return None
        conts.append(arg["arg_1"])
    return conts or None


def _prompt(arguments: dict[str, Any] | None) -> str:
    if not arguments:
        return ""
    first: Any = arguments.get("gen_args_0") or next(iter(arguments.values()), {})
    return as_text(first.get("arg_0", "")) if isinstance(first, dict) else as_text(first)


def _output(line: _SampleLine, conts: list[str] | None) -> str:
    resp = line.filtered_resps
    if conts and len(resp) == len(conts):
        try:
            lls = [float(r[0]) if isinstance(r, list) else float(r) for r in resp]
        except (TypeError, ValueError, IndexError):
            return as_text(resp)
        best = max(range(len(lls)), key=lls.__getitem__)
        return f"{conts[best].strip()} (choice {best}, loglikelihood {lls[best]:.3f})"
    if len(resp) == 1 and isinstance(resp[0], str):
        return resp[0]
    return as_text(resp)


def _expected(line: _SampleLine, conts: list[str] | None) -> str | None:
    target = line.target
    if conts and isinstance(target, str | int) and str(target).lstrip("-").isdigit():
        i = int(target)
        if 0 <= i < len(conts):
            return f"{conts[i].strip()} (choice {i})"
    return None if target is None else as_text(target)


def _attributes(doc: Any) -> dict[str, Any]:
    """The doc's short scalar fields; a NaN (a dataset's missing value, as pandas and
    Hugging Face datasets write it) is a missing attribute."""
    if not isinstance(doc, dict):
        return {}
    return {
        k: v
        for k, v in doc.items()
        if k != "id"
        and isinstance(v, str | int | float | bool)
        and not (isinstance(v, str) and (len(v) > 40 or "\n" in v))
        and not (isinstance(v, float) and v - v != 0)
    }


def _non_finite(path: Path, value: float, location: str, metric: str) -> Criterion:
    """A per-sample metric value lm-eval wrote as NaN: no value for this document (lm-eval's
    `nanmean` aggregation leaves such documents out; under `mean` the run's figure is NaN
    too): no verdict, counted as unscored. An infinity has no such meaning: refused."""
    if value != value:
        return Criterion(
            explanation="lm-eval recorded NaN for this document: no value (its "
            "nanmean aggregation leaves it out of the run's figure)"
        )
    raise InputError(str(path), f"{value} is not a finite number", location=location, field=metric)


def _task_records(
    path: Path, task: str, suite: str, options: ImportOptions, progress: Progress
) -> Iterator[Record]:
    """Read one samples file; lines of one doc (one per filter) become one result."""
    docs: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    primary: str | None = None
    with path.open("rb") as fh:
        head = fh.read(4096)
    check_text_head(path, head)
    with path.open("rb") as fh:
        for number, raw in bounded_lines(fh, path):
            progress.done += len(raw)
            if not raw.strip():
                continue
            location = f"line {number}"
            text = decode_utf8(path, raw, location)
            try:
                line = _SampleLine.model_validate_json(text)
            except ValidationError as exc:
                raise validation_error(path, exc, location) from None
            entry = docs.get(line.doc_id)
            if entry is None:
                doc = line.doc if isinstance(line.doc, dict) else {}
                key = doc.get("id", line.doc_id)
                conts = _continuations(line.arguments)
                entry = docs[line.doc_id] = {
                    "key": str(key),
                    "line": number,
                    "input": _prompt(line.arguments),
                    "expected": _expected(line, conts),
                    "attributes": _attributes(line.doc),
                    "criteria": {},
                    "outputs": {},
                    "resps": line.resps,
                    "conts": conts,
                }
                order.append(line.doc_id)
            for metric in line.metrics:
                if metric not in line.model_extra:  # type: ignore[operator]
                    raise InputError(
                        str(path),
                        f"metric '{metric}' is listed in 'metrics' but has no value",
                        location=location,
                        field=metric,
                    )
                name = _criterion_name(metric, line.filter)
                value = line.model_extra[metric]  # type: ignore[index]
                if isinstance(value, float) and value - value != 0:
                    entry["criteria"][name] = _non_finite(path, value, location, metric)
                    if primary is None:
                        primary = name
                elif isinstance(value, int | float | bool):
                    entry["criteria"][name] = score_to_criterion(value, threshold=options.threshold)
                    if primary is None:
                        primary = name
                else:
                    # a corpus-level metric (f1, mcc, bleu...): the per-sample value is what
                    # lm-eval aggregates over the whole run afterwards (a (gold, prediction)
                    # pair, say): no verdict of its own, counted as unscored
                    shown = one_line(as_text(value), 80) if value is not None else "none"
                    why = (
                        "--predict_only: lm-eval computed no metric"
                        if metric == "bypass"
                        else f"corpus-level metric: lm-eval aggregates this sample's value "
                        f"({shown}) over the run (its results file has the figure)"
                    )
                    entry["criteria"][name] = Criterion(explanation=why)
            entry["outputs"][line.filter] = _output(line, entry["conts"])
    if not docs:
        raise InputError(str(path), "no samples in this file")
    chosen = options.pass_criterion if options.pass_criterion else primary
    if chosen and options.pass_criterion:
        chosen = criterion_name(chosen, {n for e in docs.values() for n in e["criteria"]}) or chosen
    primary_filter = chosen.split(",", 1)[1] if chosen and "," in chosen else "none"
    for doc_id in order:
        entry = docs[doc_id]
        criteria: dict[str, Criterion] = entry["criteria"]
        crit = criteria.get(chosen or "")
        if crit is None and options.pass_criterion:
            crit = criteria.get(primary or "")
        verdict: Verdict
        error = None
        if chosen is None:  # --predict_only, or only corpus-level metrics: no verdict at all
            verdict = "unscored"
        elif crit is None:
            verdict, error = "error", f"no value for the pass criterion '{chosen}'"
        elif crit.verdict is not None:
            verdict = crit.verdict
        else:
            verdict = "unscored"
        outputs: dict[str, str] = entry["outputs"]
        output = outputs.get(primary_filter) or next(iter(outputs.values()), "")
        resps = entry["resps"]
        repeats = (
            resps[0]
            if len(resps) == 1
            and isinstance(resps[0], list)
            and len(resps[0]) > 1
            and all(isinstance(r, str) for r in resps[0])
            else None
        )
        samples = repeats if repeats else [None]
        for epoch, raw_resp in enumerate(samples):
            yield Record(
                suite=suite,
                case_key=entry["key"],
                verdict=verdict,
                input=entry["input"],
                expected=entry["expected"],
                attributes=entry["attributes"],
                epoch=epoch,
                output=output if raw_resp is None else raw_resp,
                score=crit.score if crit else None,
                criteria=criteria,
                explanation=(
                    f"lm-eval scores the {len(samples)} repeats together (filter {primary_filter}: {output!r})"
                    if repeats
                    else None
                ),
                error=error,
                location=f"line {entry['line']} (doc_id {doc_id}, task {task})",
            )


def _read_results(path: Path) -> _Results:
    try:
        data = read_capped(path, "lm-eval results file", limit=max_line_bytes())
        return _Results.model_validate_json(data)
    except ValidationError as exc:
        raise validation_error(path, exc, "top level") from None


class LmEvalImporter:
    name = NAME
    description = "lm-evaluation-harness --log_samples output (folder, or a samples_*.jsonl file)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return any(p for p in path.rglob("samples_*.jsonl") if SAMPLES_RE.match(p.name))
        first = head.lstrip().split(b"\n", 1)[0]
        return first.startswith(b'{"doc_id"') or (
            b'"doc_id"' in first and b'"filtered_resps"' in first and b'"metrics"' in first
        )

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        if path.is_dir():
            files = sorted(p for p in path.rglob("samples_*.jsonl") if SAMPLES_RE.match(p.name))
            if not files:
                raise InputError(str(path), "no samples_<task>_<time>.jsonl files in this folder")
        else:
            files = [path]
        groups: dict[tuple[Path, str], list[tuple[str, Path]]] = {}
        for f in files:
            m = SAMPLES_RE.match(f.name)
            task, ts = (m["task"], m["ts"]) if m else (f.stem.removeprefix("samples_"), "")
            groups.setdefault((f.parent, ts), []).append((task, f))
        return [
            self._run(folder, ts, tasks, options) for (folder, ts), tasks in sorted(groups.items())
        ]

    def _run(
        self, folder: Path, ts: str, tasks: list[tuple[str, Path]], options: ImportOptions
    ) -> ParsedRun:
        results_path = folder / f"results_{ts}.json" if ts else None
        results = _read_results(results_path) if results_path and results_path.exists() else None
        model = (results.model_name if results else None) or folder.name
        created = (
            datetime.fromtimestamp(results.date, UTC)
            if results and results.date is not None
            else None
        )
        digest = hashlib.sha256()
        files = [p for _, p in tasks] + ([results_path] if results and results_path else [])
        for p in sorted(files):
            with p.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):  # type: ignore[misc]
                    digest.update(block)
        progress = Progress(total=sum(p.stat().st_size for _, p in tasks))
        single = len(tasks) == 1

        def records() -> Iterator[Record]:
            for task, p in sorted(tasks):
                suite = options.suite if (options.suite and single) else task
                yield from _task_records(p, task, suite, options, progress)

        model_args = (results.config or {}).get("model_args") if results else None
        summary = (
            {  # a figure lm-eval could not compute is NaN: kept as its word "NaN"
                task: {
                    k: finite_json(v)
                    for k, v in (results.results.get(task) or {}).items()
                    if "," in k
                }
                for task, _ in tasks
            }
            if results
            else {}
        )
        run = Run(
            name=options.name or (f"{model} {created:%Y-%m-%d %H:%M}" if created else model),
            system=options.system or _system_label(model, model_args),
            role=options.role or "none",
            source_path=str((folder if not single or results else tasks[0][1]).resolve()),
            source_part=ts,
            format=NAME,
            sha256=digest.hexdigest(),
            created_at=created,
            metadata={
                **(
                    {
                        "identity": f"lm-eval/{model}/{results.date!r}/{','.join(sorted(t for t, _ in tasks))}"
                    }
                    if results and results.date is not None
                    else {}
                ),
                "tasks": sorted(t for t, _ in tasks),
                "lm_eval_version": results.lm_eval_version if results else None,
                "results": summary,
                "tasks_without_samples": sorted(set(results.results) - {t for t, _ in tasks})
                if results
                else [],
            },
        )
        return ParsedRun(run, records(), progress)


def _system_label(model: str, model_args: Any) -> str:
    """The model and its arguments on one line, as lm-eval's own `--model_args` reads:
    `k=v,k=v` (a dict's `pretrained` left out when it is the model already named). Was
    the dict as indented JSON (a line break in every runs table); runs imported before
    keep the label they have."""
    if not model_args:
        return model
    if isinstance(model_args, dict):
        pairs = [
            f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
            for k, v in model_args.items()
            if not (k == "pretrained" and v == model)
        ]
        args = ",".join(pairs)
    else:
        args = " ".join(as_text(model_args).split())
    return f"{model} {args}" if args else model
