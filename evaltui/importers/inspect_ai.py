"""Inspect AI logs: `.eval` (a zip, members deflate or Zstandard) and `.json`.

Mapping (docs/formats.md):
- one log is one run; `eval.task` is the suite; `eval.model` the system;
- a sample's `id` (str or int) is the case key, its `epoch` (1-based) the
  sample index (stored 0-based);
- every scorer is a criterion; a dict-valued scorer gives one criterion per key;
- `C`/`I`/`P`/`N`, booleans and 0/1 numbers have verdicts; other numbers are scores;
- the overall verdict is the pass criterion's: `--pass-criterion`, else the
  log's headline scorer, else its first scorer;
- a sample with `error` is a result with verdict `error`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from evaltui.errors import InputError
from evaltui.importers import jsonstream
from evaltui.importers.base import (
    MAX_FIELD_BYTES,
    ImportOptions,
    LooseModel,
    ParsedRun,
    Progress,
    chat_text,
    criterion_name,
    env_limit,
    find_criterion,
    score_to_criterion,
    validation_error,
)
from evaltui.importers.inspect_archive import (
    JOURNAL_START,
    member_json,
    open_zip,
    read_member,
    sample_members,
    unfinished,
)
from evaltui.importers.inspect_nan import ConstantReader, restore
from evaltui.importers.inspect_path import sample_path
from evaltui.importers.inspect_scoring import grader_models, scores_digest
from evaltui.models import Criterion, Record, Run, Verdict

NAME = "inspect"
# kept under their old names for the tests and the bench that read members directly
_read_member, _member_json, _open_zip = read_member, member_json, open_zip


# -- a private model of the parts of the log evaltui reads ----------------------------


class _Dataset(LooseModel):
    name: str | None = None
    samples: int | None = None


class _Config(LooseModel):
    epochs: int | None = None
    epochs_reducer: list[str] | str | None = None


class _EvalSpec(LooseModel):
    task: str
    model: str
    created: datetime | None = None
    run_id: str | None = None
    eval_id: str | None = None
    task_id: str | None = None
    task_version: int | str | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    model_args: dict[str, Any] | None = None
    dataset: _Dataset | None = None
    config: _Config | None = None
    packages: dict[str, str] | None = None


class _EvalScore(LooseModel):
    name: str
    scorer: str
    reducer: str | None = None


class _Headline(LooseModel):
    scorer: str | None = None
    score: str | None = None  # the key of a dict-valued scorer (Inspect >= 0.3.1xx)


class _Results(LooseModel):
    total_samples: int | None = None
    completed_samples: int | None = None
    scores: list[_EvalScore] = Field(default_factory=list)
    headline: _Headline | None = None


class _Header(LooseModel):
    version: int | None = None
    status: str | None = None
    eval: _EvalSpec
    results: _Results | None = None


class _Score(LooseModel):
    value: Any = None
    answer: Any = None
    explanation: str | None = None


class _Output(LooseModel):
    completion: str = ""
    model: str | None = None


class _Error(LooseModel):
    message: str = ""


class _Limit(LooseModel):
    """A limit the sample hit (Inspect's EvalSampleLimit): message, token, time, ..."""

    type: str
    limit: float | None = None


class _Sample(LooseModel):
    id: str | int
    epoch: int = Field(default=1, ge=1)
    input: str | list[Any] = ""
    target: str | list[str] | None = None
    output: _Output | None = None
    scores: dict[str, _Score] | None = None
    metadata: dict[str, Any] | None = None
    error: _Error | str | None = None
    total_time: float | None = None
    working_time: float | None = None
    model_usage: dict[str, Any] | None = None
    limit: _Limit | None = None
    messages: list[dict[str, Any]] | None = None
    events: list[dict[str, Any]] | None = None


# -- mapping -------------------------------------------------------------------------------


def _criterion(value: Any, explanation: str | None, threshold: float) -> Criterion:
    """A score value as a criterion; Inspect's NaN (no valid grade: a grader's reply with
    no grade, a panel with no majority) is the criterion unscored (docs/formats.md)."""
    if isinstance(value, float) and value != value:
        return Criterion(
            verdict=None, score=None, explanation=explanation or "no valid grade (NaN)"
        )
    return score_to_criterion(value, explanation, threshold)


def _criteria(scores: dict[str, _Score], threshold: float) -> dict[str, Criterion]:
    """One criterion per scorer, named as the scorer; a dict-valued scorer gives one per
    key, named `scorer/key`, each with the scorer's explanation."""
    out: dict[str, Criterion] = {}
    for name, sc in scores.items():
        if isinstance(sc.value, dict):
            for key, val in sc.value.items():
                out[f"{name}/{key}"] = _criterion(val, sc.explanation, threshold)
        else:
            out[name] = _criterion(sc.value, sc.explanation, threshold)
    return out


def _unscored(scores: dict[str, _Score], name: str | None) -> bool:
    """Whether the pass criterion's value is Inspect's NaN (the sample is unscored)."""
    if name is None:
        return False
    scorer, _, key = name.partition("/")
    sc = scores.get(scorer) if scorer in scores else scores.get(name)
    value = sc.value if sc is not None else None
    if isinstance(value, dict) and key:
        value = value.get(key)
    return isinstance(value, float) and value != value


def _criterion_names(header: _Header) -> list[str]:
    """The log's criteria, named as `_criteria` names them: a results score whose name
    differs from its scorer is a dict-valued scorer's key."""
    names: list[str] = []
    for sc in header.results.scores if header.results else []:
        name = sc.scorer if sc.name == sc.scorer else f"{sc.scorer}/{sc.name}"
        if name not in names:
            names.append(name)
    return names


def _pass_criterion(header: _Header, options: ImportOptions, path: Path) -> str | None:
    """--pass-criterion (as `scorer`, `scorer/key` or a unique `key`), else Inspect's own
    headline (scorer and, for a dict-valued scorer, its key), else the first scorer."""
    names = _criterion_names(header)
    if options.pass_criterion:
        if not names:
            return options.pass_criterion  # checked against the samples (checked_records)
        found = criterion_name(options.pass_criterion, names)
        if found is None:
            raise InputError(
                str(path),
                f"no scorer named '{options.pass_criterion}' in this log; it has: {', '.join(names)}",
                field="--pass-criterion",
            )
        return found
    headline = header.results.headline if header.results else None
    if headline and headline.scorer:
        if headline.score and headline.score != headline.scorer:
            return f"{headline.scorer}/{headline.score}"
        return headline.scorer
    return names[0] if names else None


def _check_sizes(location: str, **texts: str) -> None:
    """One stored text at most EVALTUI_MAX_FIELD_BYTES characters, as in every other format
    (a JSONL line, a streamed JSON value): a member under the member limit holding one
    60 MB output would take four copies of it through the store (docs/security.md)."""
    limit = env_limit("EVALTUI_MAX_FIELD_BYTES", MAX_FIELD_BYTES)
    for name, text in texts.items():
        if len(text) > limit:
            raise InputError(
                "",
                f"{name} holds {len(text):,} characters, over the limit of {limit:,} "
                "(EVALTUI_MAX_FIELD_BYTES)",
                location=location,
                field=name,
            )


def _record(
    sample: _Sample, suite: str, pass_name: str | None, location: str, threshold: float
) -> Record:
    criteria = _criteria(sample.scores or {}, threshold)
    error = sample.error.message if isinstance(sample.error, _Error) else sample.error
    chosen = (
        find_criterion(criteria, pass_name) if pass_name else next(iter(criteria.values()), None)
    )
    limit = None
    if sample.limit is not None:  # a flag beside the tool's verdict (docs/formats.md)
        amount = sample.limit.limit
        limit = f"{sample.limit.type} limit" + ("" if amount is None else f" ({amount:g})")
    if error:
        verdict: Verdict = "error"
    elif chosen is not None and chosen.verdict is not None:
        verdict = chosen.verdict  # scored after a limit too: the tool's verdict stands
    elif limit is not None:  # stopped at a limit and given no verdict
        verdict = "limit"
    elif chosen is not None and _unscored(
        sample.scores or {}, pass_name or next(iter(criteria), None)
    ):
        verdict = "unscored"  # Inspect's NaN: no valid grade, left out of its metrics
    else:
        verdict = "error"
        error = error or "no score for the pass criterion"
    target = sample.target
    expected = (
        None if target is None else (target if isinstance(target, str) else " | ".join(target))
    )
    cost = None
    for usage in (sample.model_usage or {}).values():
        if isinstance(usage, dict) and isinstance(usage.get("total_cost"), int | float):
            cost = (cost or 0.0) + float(usage["total_cost"])
    seconds = sample.total_time if sample.total_time is not None else sample.working_time
    explanation = chosen.explanation if chosen is not None else None
    output = sample.output.completion if sample.output else ""
    text = chat_text(sample.input)
    _check_sizes(location, output=output, input=text, explanation=explanation or "")
    return Record(
        trajectory=sample_path(
            sample.messages, sample.events, sample.limit.type if sample.limit else None
        ),
        suite=suite,
        case_key=str(sample.id),
        verdict=verdict,
        input=text,
        expected=expected,
        attributes={k: v for k, v in (sample.metadata or {}).items() if v is not None},
        epoch=sample.epoch - 1,
        output=output,
        score=chosen.score if chosen else None,
        criteria=criteria,
        latency_ms=None if seconds is None else max(seconds, 0.0) * 1000.0,
        cost=cost,
        explanation=explanation,
        error=error or None,
        limit=limit,
        location=location,
    )


def _notes(header: _Header) -> list[str]:
    """What the import line says about the log: which of several declared reducers a
    comparison's `--reducer declared` uses."""
    declared = header.eval.config.epochs_reducer if header.eval.config else None
    if isinstance(declared, list) and len(declared) > 1:
        names = [str(d) for d in declared]
        others = " or ".join(f"declared:{n}" for n in names[1:])
        return [
            f"its epochs declare reducers {', '.join(names)}: `--reducer declared` uses "
            f"{names[0]}, the first (Inspect's headline); --reducer {others} picks another"
        ]
    return []


def _parsed(
    path: Path,
    obj: Any,
    header: _Header,
    options: ImportOptions,
    records: Iterator[Record],
    progress: Progress,
) -> list[ParsedRun]:
    run = _run(path, header, options)
    digest = scores_digest(obj)
    if digest:
        run.metadata["scores_digest"] = digest
    if graders := grader_models(obj):
        run.metadata["grader_models"] = graders
    return [ParsedRun(run, records, progress, notes=_notes(header))]


def _run(path: Path, header: _Header, options: ImportOptions) -> Run:
    spec = header.eval
    created = spec.created.strftime("%Y-%m-%d %H:%M") if spec.created else path.stem
    metadata: dict[str, Any] = {
        "task": spec.task,
        "run_id": spec.run_id,
        "eval_id": spec.eval_id,
        "task_id": spec.task_id,
        "task_version": spec.task_version,
        "tags": spec.tags or [],
        "metadata": spec.metadata or {},
        "status": header.status,
        "epochs": spec.config.epochs if spec.config else None,
        "epochs_reducer": spec.config.epochs_reducer if spec.config else None,
        "inspect_version": (spec.packages or {}).get("inspect_ai"),
        # the same log as .eval or .json, or copied, is the same run (docs/formats.md)
        "identity": f"inspect/{spec.eval_id}"
        if spec.eval_id
        else (f"inspect/run/{spec.run_id}/{spec.task_id or spec.task}" if spec.run_id else None),
    }
    return Run(
        name=options.name or f"{spec.task} {spec.model} {created}",
        system=options.system or spec.model,
        role=options.role or "none",
        source_path=str(path.resolve()),
        format=NAME,
        created_at=spec.created,
        metadata={k: v for k, v in metadata.items() if v is not None},
    )


def _header(path: Path, obj: Any, location: str) -> _Header:
    try:
        return _Header.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(path, exc, location) from None


def _sample(path: Path, obj: Any, location: str) -> _Sample:
    try:
        return _Sample.model_validate(restore(path, obj, location))
    except ValidationError as exc:
        raise validation_error(path, exc, location) from None


class InspectImporter:
    name = NAME
    description = "Inspect AI log (.eval archive, deflate or Zstandard; or .json)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if head.startswith(b"PK\x03\x04"):
            try:
                with zipfile.ZipFile(path) as zf:
                    names = zf.namelist()
                # an unfinished log (only its journal) is Inspect's too: read, it says so
                return "header.json" in names or JOURNAL_START in names
            except (zipfile.BadZipFile, OSError):
                return path.suffix == ".eval"
        start = head.lstrip()[:4096]
        return (
            start.startswith(b"{")
            and b'"eval"' in head
            and (b'"version"' in start or b'"status"' in start)
            and b'"task"' in head
        )

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == b"PK\x03\x04" or path.suffix == ".eval":
            return self._read_eval(path, options)
        return self._read_json(path, options)

    # .eval ---------------------------------------------------------------------------

    def _read_eval(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        zf = open_zip(path)
        try:
            if "header.json" not in zf.namelist():
                raise unfinished(path, zf)
            obj = member_json(path, zf, "header.json")
            header = _header(path, obj, "header.json")
            pass_name = _pass_criterion(header, options, path)
            members = sample_members(path, zf)
        except BaseException:
            zf.close()
            raise
        progress = Progress(total=len(members))
        suite = options.suite or header.eval.task

        def records() -> Iterator[Record]:
            with zf:  # one member in memory at a time; each record goes on as it is made,
                for info in members:  # and the parsed sample is gone before the next is read
                    name = info.filename
                    record = _record(
                        _sample(path, member_json(path, zf, name), name),
                        suite,
                        pass_name,
                        name,
                        options.threshold,
                    )
                    progress.done += 1
                    yield record

        return _parsed(path, obj, header, options, records(), progress)

    # .json ---------------------------------------------------------------------------

    def _read_json(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        # streamed, one sample in memory at a time; NaN read where Inspect writes it
        scan = jsonstream.scan(path, "samples", wrap=ConstantReader)
        header = _header(path, scan.head, "log")
        pass_name = _pass_criterion(header, options, path)
        if not scan.count:
            raise InputError(str(path), "the log holds no samples", field="samples")
        progress = Progress(total=scan.count)
        suite = options.suite or header.eval.task

        def records() -> Iterator[Record]:
            items = jsonstream.items(path, "samples", scan, wrap=ConstantReader)
            for i, item in enumerate(items):
                location = f"samples[{i}]"
                sample = _sample(path, item, location)
                del item
                record = _record(
                    sample,
                    suite,
                    pass_name,
                    f"{location} (id {sample.id}, epoch {sample.epoch})",
                    options.threshold,
                )
                del sample  # not held while the record is written
                progress.done += 1
                yield record

        return _parsed(path, scan.head, header, options, records(), progress)
