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

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from evaltui.errors import InputError
from evaltui.importers import jsonstream
from evaltui.importers.base import (
    ImportOptions,
    LooseModel,
    ParsedRun,
    Progress,
    chat_text,
    check_values,
    criterion_name,
    env_limit,
    find_criterion,
    score_to_criterion,
    validation_error,
)
from evaltui.importers.inspect_path import sample_path
from evaltui.models import Criterion, Record, Run, Verdict

NAME = "inspect"
ZSTD_METHOD = 93
MAX_MEMBER_BYTES = 64 << 20  # one member of an .eval, decompressed (EVALTUI_MAX_MEMBER_BYTES)
MAX_RATIO = 1_000  # decompressed / compressed size of a member over 1 MiB (EVALTUI_MAX_RATIO)
MAX_MEMBERS = 2_000_000  # samples in one .eval archive (EVALTUI_MAX_MEMBERS)
MAX_ARCHIVE_BYTES = (
    64 << 30
)  # what all its samples may declare, decompressed (EVALTUI_MAX_ARCHIVE_BYTES)


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


# -- reading .eval members --------------------------------------------------------------


def _bounded(path: Path, info: zipfile.ZipInfo, stream: Any) -> bytearray:
    """Decompress a member in 1 MiB steps, stopping as soon as it passes the per-member
    limit or the size its zip header declares: a bomb never reaches memory."""
    limit = env_limit("EVALTUI_MAX_MEMBER_BYTES", MAX_MEMBER_BYTES)
    if info.file_size > limit:
        raise InputError(
            str(path), f"member declares {info.file_size:,} bytes, over the limit of {limit:,} "
            "(EVALTUI_MAX_MEMBER_BYTES)", location=info.filename,
        )  # fmt: skip
    ratio = env_limit("EVALTUI_MAX_RATIO", MAX_RATIO)
    if info.file_size > 1 << 20 and info.file_size > ratio * max(info.compress_size, 1):
        raise InputError(
            str(path), f"member expands {info.file_size // max(info.compress_size, 1):,}-fold, over the "
            f"limit of {ratio:,} (EVALTUI_MAX_RATIO): a decompression bomb?", location=info.filename,
        )  # fmt: skip
    data = bytearray()  # grown in place: no second copy when the last chunk arrives
    while chunk := stream.read(1 << 20):
        data += chunk
        if len(data) > info.file_size:
            raise InputError(
                str(path), f"member expands past the {info.file_size:,} bytes its zip header "
                "declares (a decompression bomb?)", location=info.filename,
            )  # fmt: skip
    return data


def _read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """A member's bytes, bounded: stdlib for deflate/stored, Zstandard (method 93) by hand."""
    if info.compress_type != ZSTD_METHOD:
        with zf.open(info) as stream:
            return _bounded(path, info, stream)
    import zstandard  # deferred: only .eval files written by recent Inspect need it

    fp = zf.fp
    assert fp is not None
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise InputError(str(path), "corrupt zip member header", location=info.filename)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    raw = io.BytesIO(fp.read(info.compress_size))  # compressed: bounded by the file itself
    try:
        data = _bounded(path, info, zstandard.ZstdDecompressor().stream_reader(raw))
    except zstandard.ZstdError as exc:
        raise InputError(
            str(path), f"corrupt Zstandard data ({exc})", location=info.filename
        ) from None
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise InputError(
            str(path),
            "member is truncated or corrupt (size or CRC mismatch)",
            location=info.filename,
        )
    return data


def _member_json(path: Path, zf: zipfile.ZipFile, name: str) -> Any:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise InputError(
            str(path), f"member '{name}' is missing from the .eval archive", location=name
        ) from None
    try:
        raw = _read_member(path, zf, info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise InputError(str(path), f"cannot read member ({exc})", location=name) from None
    check_values(path, raw, name)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(str(path), f"malformed JSON ({exc})", location=name) from None


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            str(path), f"not a readable .eval archive (truncated or corrupt zip: {exc})"
        ) from None


# -- mapping -------------------------------------------------------------------------------


def _criteria(scores: dict[str, _Score], threshold: float) -> dict[str, Criterion]:
    """One criterion per scorer, named as the scorer; a dict-valued scorer gives one per
    key, named `scorer/key`, each with the scorer's explanation."""
    out: dict[str, Criterion] = {}
    for name, sc in scores.items():
        if isinstance(sc.value, dict):
            for key, val in sc.value.items():
                out[f"{name}/{key}"] = score_to_criterion(val, sc.explanation, threshold)
        else:
            out[name] = score_to_criterion(sc.value, sc.explanation, threshold)
    return out


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


def _record(sample: _Sample, suite: str, pass_name: str | None, location: str,
            threshold: float) -> Record:  # fmt: skip
    criteria = _criteria(sample.scores or {}, threshold)
    error = sample.error.message if isinstance(sample.error, _Error) else sample.error
    chosen = (
        find_criterion(criteria, pass_name) if pass_name else next(iter(criteria.values()), None)
    )
    if error:
        verdict: Verdict = "error"
    elif sample.limit is not None:  # stopped by the tool: not an ordinary fail (scores kept)
        verdict = "limit"
        amount = sample.limit.limit
        shown = "" if amount is None else f" ({amount:g})"
        error = f"{sample.limit.type} limit{shown} hit"
    elif chosen is not None and chosen.verdict is not None:
        verdict = chosen.verdict
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
    return Record(
        trajectory=sample_path(
            sample.messages, sample.events, sample.limit.type if sample.limit else None
        ),
        suite=suite,
        case_key=str(sample.id),
        verdict=verdict,
        input=chat_text(sample.input),
        expected=expected,
        attributes={k: v for k, v in (sample.metadata or {}).items() if v is not None},
        epoch=sample.epoch - 1,
        output=sample.output.completion if sample.output else "",
        score=chosen.score if chosen else None,
        criteria=criteria,
        latency_ms=None if seconds is None else max(seconds, 0.0) * 1000.0,
        cost=cost,
        explanation=explanation,
        error=error or None,
        location=location,
    )


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
        return _Sample.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(path, exc, location) from None


class InspectImporter:
    name = NAME
    description = "Inspect AI log (.eval archive, deflate or Zstandard; or .json)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if head.startswith(b"PK\x03\x04"):
            try:
                with zipfile.ZipFile(path) as zf:
                    return "header.json" in zf.namelist()
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
        zf = _open_zip(path)
        header = _header(path, _member_json(path, zf, "header.json"), "header.json")
        pass_name = _pass_criterion(header, options, path)
        members = sorted(
            (
                i
                for i in zf.infolist()
                if i.filename.startswith("samples/") and i.filename.endswith(".json")
            ),
            key=lambda i: i.filename,
        )
        if not members:
            zf.close()
            raise InputError(str(path), "the log holds no samples (samples/ is empty)")
        max_members = env_limit("EVALTUI_MAX_MEMBERS", MAX_MEMBERS)
        declared = sum(i.file_size for i in members)
        max_total = env_limit("EVALTUI_MAX_ARCHIVE_BYTES", MAX_ARCHIVE_BYTES)
        if len(members) > max_members or declared > max_total:
            zf.close()
            raise InputError(
                str(path), f"the archive holds {len(members):,} samples declaring {declared:,} bytes; the "
                f"limits are {max_members:,} (EVALTUI_MAX_MEMBERS) and {max_total:,} bytes "
                "(EVALTUI_MAX_ARCHIVE_BYTES)",
            )  # fmt: skip
        progress = Progress(total=len(members))
        suite = options.suite or header.eval.task

        def records() -> Iterator[Record]:
            with zf:
                for info in members:
                    obj = _member_json(path, zf, info.filename)
                    sample = _sample(path, obj, info.filename)
                    progress.done += 1
                    yield _record(sample, suite, pass_name, info.filename, options.threshold)

        return [ParsedRun(_run(path, header, options), records(), progress)]

    # .json ---------------------------------------------------------------------------

    def _read_json(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        scan = jsonstream.scan(path, "samples")  # streamed: one sample in memory at a time
        header = _header(path, scan.head, "log")
        pass_name = _pass_criterion(header, options, path)
        if not scan.count:
            raise InputError(str(path), "the log holds no samples", field="samples")
        progress = Progress(total=scan.count)
        suite = options.suite or header.eval.task

        def records() -> Iterator[Record]:
            for i, item in enumerate(jsonstream.items(path, "samples", scan)):
                location = f"samples[{i}]"
                sample = _sample(path, item, location)
                progress.done += 1
                yield _record(
                    sample,
                    suite,
                    pass_name,
                    f"{location} (id {sample.id}, epoch {sample.epoch})",
                    options.threshold,
                )

        return [ParsedRun(_run(path, header, options), records(), progress)]
