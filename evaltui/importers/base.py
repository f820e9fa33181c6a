"""What every importer shares: options, the parsed-run shape, line reading."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from evaltui.errors import InputError
from evaltui.files import env_limit
from evaltui.models import Criterion, Record, Role, Run, Verdict


@dataclass
class ImportOptions:
    """What the user said on the command line (or in the app) about a file."""

    name: str | None = None
    role: Role | None = None
    system: str | None = None
    suite: str | None = None
    pass_criterion: str | None = None
    pass_threshold: float | None = None  # a numeric value passes at >= this (default 1.0)
    logs: tuple[str, ...] = ()  # OTLP logs files given with OTLP traces (joined by trace, span)

    @property
    def threshold(self) -> float:
        return DEFAULT_PASS_THRESHOLD if self.pass_threshold is None else self.pass_threshold


@dataclass
class Progress:
    """Bytes read so far out of the file's size; updated by the reader."""

    total: int = 0
    done: int = 0


@dataclass
class ParsedRun:
    """One run found in a file. `records` is lazy: it reads as it is iterated."""

    run: Run
    records: Iterable[Record]
    progress: Progress = field(default_factory=Progress)
    notes: list[str] = field(default_factory=list)  # said in the import line


class Importer(Protocol):
    """An importer reads one external format and never touches the store."""

    name: str
    description: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when the file's first bytes look like this format."""
        ...

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        """The runs in the file; raises InputError (naming file, record, field)."""
        ...


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_text_head(path: Path, head: bytes) -> None:
    """Reject empty, binary and non-UTF-8-encoded files with a clear message."""
    if not head.strip():
        raise InputError(str(path), "the file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(str(path), "the file is UTF-16 encoded; evaltui reads UTF-8 text")
    if b"\x00" in head[:8192]:
        raise InputError(str(path), "this is a binary file, not text (it contains NUL bytes)")


MAX_LINE_BYTES = 32 << 20  # one record: a JSONL line, a JSON array item (EVALTUI_MAX_LINE_BYTES)
MAX_RECORD_VALUES = 1_000_000  # JSON values in one record (EVALTUI_MAX_RECORD_VALUES)
MAX_FIELD_BYTES = 32 << 20  # one string or number in a streamed JSON file (EVALTUI_MAX_FIELD_BYTES)
MAX_DEPTH = 64  # nesting of a record read from a streamed JSON file (EVALTUI_MAX_DEPTH)
_COUNT_VALUES_FROM = 1 << 20  # lines shorter than this cannot hold the values limit's worth


def limit_csv_fields() -> None:
    """CSV cells are capped at the field limit (Python's own default is 128 KiB); set by
    every CSV reader, so the cap does not depend on which format was read first."""
    csv.field_size_limit(env_limit("EVALTUI_MAX_FIELD_BYTES", MAX_FIELD_BYTES))


def max_line_bytes() -> int:
    return env_limit("EVALTUI_MAX_LINE_BYTES", MAX_LINE_BYTES)


def check_values(path: Path, raw: bytes | bytearray, location: str) -> None:
    """Refuse a record that would parse into more JSON values than the limit.

    A 32 MiB line of `{},{},...` parses into ten million dicts (700 MB); every value but
    the first is preceded by `,` (or opens with `{`/`[`), so counting those bytes bounds
    the count from above, at C speed. Only lines of 1 MiB or more are counted."""
    if len(raw) < _COUNT_VALUES_FROM:
        return
    limit = env_limit("EVALTUI_MAX_RECORD_VALUES", MAX_RECORD_VALUES)
    n = raw.count(b",") + raw.count(b"{") + raw.count(b"[")
    if n > limit:
        raise InputError(
            str(path),
            f"the record holds up to {n:,} JSON values, over the limit of {limit:,} "
            "(EVALTUI_MAX_RECORD_VALUES)",
            location=location,
        )


def bounded_lines(fh: IO[bytes], path: Path, start: int = 1) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every line, each read with a cap: a line longer than
    the limit (a 1 GB single-line file) is refused, naming it, before it fills memory."""
    limit = max_line_bytes()
    number = start
    while raw := fh.readline(limit + 1):
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise InputError(
                str(path),
                f"the line is longer than {limit:,} bytes (EVALTUI_MAX_LINE_BYTES)",
                location=f"line {number}",
            )
        check_values(path, raw, f"line {number}")
        yield number, raw
        del raw  # not held while the next line is read (a 30 MiB line would be twice)
        number += 1


def iter_lines(path: Path, progress: Progress) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) for non-blank lines, streaming, each line bounded."""
    progress.total = path.stat().st_size
    with path.open("rb") as fh:
        lines = bounded_lines(fh, path)
        _, first = next(lines, (1, b""))
        progress.done = len(first)
        first = first.removeprefix(b"\xef\xbb\xbf")
        if first and not first.isspace():
            yield 1, first
        done = progress.done
        for number, raw in lines:
            done += len(raw)
            progress.done = done
            if not raw.isspace():  # isspace stops at the first other byte; strip would copy
                yield number, raw
            del raw


def decode_utf8(path: Path, raw: bytes, location: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path),
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
            "evaltui reads UTF-8 text",
            location=location,
        ) from None


def json_line(path: Path, raw: bytes, location: str) -> Any:
    """One JSONL line parsed: UTF-8 and JSON errors name the file and the line."""
    text = decode_utf8(path, raw, location)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(str(path), f"malformed JSON ({exc})", location=location) from None


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict", "any"}


def _is_type_tag(part: object) -> bool:
    """Union branches add their type to pydantic's error location ('id.str'): drop them."""
    if not isinstance(part, str):
        return False
    p = part.lower()
    return p in _TYPE_TAGS or p.startswith(
        ("list[", "dict[", "function-", "literal[", "tagged-union[")
    )


def validation_error(
    path: Path, exc: ValidationError, location: str, prefix: str = ""
) -> InputError:
    """The first pydantic error as an InputError naming the field."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "json_invalid":
        detail = err.get("ctx", {}).get("error", err["msg"])
        return InputError(str(path), f"malformed JSON ({detail})", location=location)
    loc = ".".join(str(p) for p in err["loc"] if not _is_type_tag(p))
    field_name = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or None)
    msg = err["msg"]
    if err["type"] != "missing" and "input" in err:
        shown = repr(err["input"])
        msg += f" (got {shown[:60]}{'…' if len(shown) > 60 else ''})"
    return InputError(str(path), msg, location=location, field=field_name)


def as_text(value: Any) -> str:
    """Inputs and outputs may be structured (chat messages): keep them as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value

    return json.dumps(value, ensure_ascii=False, indent=1)


class LooseModel(BaseModel):
    """A private model of a tool's file: fields evaltui reads are checked, the rest ignored
    (tools add fields between versions)."""

    model_config = ConfigDict(extra="ignore")


_LETTER: dict[str, tuple[Verdict, float]] = {
    "C": ("pass", 1.0),
    "I": ("fail", 0.0),
    "P": ("fail", 0.5),
    "N": ("fail", 0.0),
}
_WORDS = {"yes": ("pass", 1.0), "true": ("pass", 1.0), "no": ("fail", 0.0), "false": ("fail", 0.0)}


DEFAULT_PASS_THRESHOLD = 1.0


def score_to_criterion(
    value: Any, explanation: str | None = None, threshold: float = DEFAULT_PASS_THRESHOLD
) -> Criterion:
    """A score value as a criterion, with a verdict wherever the value implies one
    (docs/formats.md, "Verdicts"): booleans and Inspect's letters (C pass; I, P, N fail)
    as they say; a number passes at `threshold` or above (1.0 by default: a 0-1 accuracy-
    like value passes when it is whole, as the tools' accuracy reads 0/1); anything else
    (a list, an unparseable string, None) has no verdict and is counted as unscored."""
    verdict: Verdict | None = None
    score: float | None = None
    if isinstance(value, bool):
        verdict, score = ("pass", 1.0) if value else ("fail", 0.0)
    elif isinstance(value, int | float):
        score = float(value)
    elif isinstance(value, str):
        hit = _LETTER.get(value) or _WORDS.get(value.strip().lower())
        if hit:
            verdict, score = hit[0], hit[1]  # type: ignore[assignment]
        else:
            try:
                score = float(value)
            except (ValueError, RecursionError):
                score = None
    if verdict is None and score is not None and score == score and abs(score) != float("inf"):
        verdict = "pass" if score >= threshold else "fail"
    return Criterion(verdict=verdict, score=score, explanation=explanation)


def non_finite(value: Any, where: str = "") -> str | None:
    """The dotted path of the first NaN or infinity in a parsed JSON value, else None
    (Python's json and pydantic read `NaN`, `Infinity` and `1e999` as floats)."""
    if isinstance(value, float):
        return None if value - value == 0 else where or "value"
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, float | dict | list) and (
                hit := non_finite(v, f"{where}.{k}" if where else str(k))
            ):
                return hit
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, float | dict | list) and (hit := non_finite(v, f"{where}[{i}]")):
                return hit
    return None


def finite_json(value: Any) -> Any:
    """A tool's figures kept as run metadata, with each NaN or infinity as the tool's own
    word ("NaN", "Infinity"), so the store and every JSON evaltui prints stay strict."""
    if isinstance(value, float) and value - value != 0:
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    return value


def find_criterion(criteria: dict[str, Criterion], name: str) -> Criterion | None:
    """The criterion `name`: exactly, or the one `scorer/name` when a dict-valued scorer's
    key is named alone and only one scorer has that key."""
    if name in criteria:
        return criteria[name]
    hits = [c for key, c in criteria.items() if key.endswith("/" + name)]
    return hits[0] if len(hits) == 1 else None


def criterion_name(name: str, names: Iterable[str]) -> str | None:
    """`name` as it is among `names` (exact, or a unique `scorer/name`), else None."""
    names = list(names)
    if name in names:
        return name
    hits = [n for n in names if n.endswith("/" + name)]
    return hits[0] if len(hits) == 1 else None


def checked_records(
    path: Path, records: Iterable[Record], options: ImportOptions
) -> Iterator[Record]:
    """`records`, refusing the file at its end (so the run is rolled back) when
    --pass-criterion names a criterion no record has: for every format alike, a typo is
    a loud error, never a silent fallback to the tool's own verdict."""
    wanted = options.pass_criterion
    if not wanted:
        yield from records
        return
    seen: set[str] = set()
    found = False
    for record in records:
        if not found:
            if find_criterion(record.criteria, wanted) is not None:
                found = True
            elif len(seen) < 1000:
                seen.update(record.criteria)
        yield record
    if not found:
        have = ", ".join(sorted(seen)[:20]) or "none"
        raise InputError(
            str(path),
            f"no criterion named '{wanted}' in this file; it has: {have}",
            field="--pass-criterion",
        )


def chat_text(value: Any) -> str:
    """Chat messages as a readable transcript: `role: content` per message."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return as_text(value)
    lines = []
    for msg in value:
        if not isinstance(msg, dict):
            lines.append(as_text(msg))
            continue
        content = msg.get("content", "")
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    parts.append(str(part.get("text", "")))
                elif isinstance(part, dict):
                    parts.append(f"<{part.get('type', 'part')}>")
                else:
                    parts.append(str(part))
            content = "\n".join(parts)
        lines.append(f"{msg.get('role', '?')}: {content}")
    return "\n".join(lines)
