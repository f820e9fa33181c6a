"""Inspect's non-finite numbers (docs/formats.md, Inspect: NaN scores).

Inspect writes a score of NaN (the JSON constant `NaN`, outside the JSON standard) when
a scorer could give no value: a model grader's reply with no grade, a grader panel with
no majority, `Score.unscored()`. Inspect leaves such a sample out of its metrics and
counts it in `unscored_samples`: evaltui reads it as that criterion unscored for that
sample. The constants are read in both forms of a log (an `.eval` member, the streamed
`.json`) as a marker, and given their meaning only where Inspect defines one: a score's
value. Anywhere else evaltui reads, a non-finite number is refused naming the field;
where evaltui reads nothing (events, the model's raw output) it is never looked at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

from evaltui.errors import InputError

# What a constant becomes when parsed: a string JSON text can hold, but not one a tool
# writes (a NUL character first); only `restore` ever turns it back into a number.
MARK = "\x00"
NAN = MARK + "NaN"
_CONSTANTS = {"NaN": NAN, "Infinity": MARK + "Infinity", "-Infinity": MARK + "-Infinity"}
_TOKEN = re.compile(rb'\\.|"|-?Infinity|NaN', re.S)
_ESCAPE = re.compile(rb"\\.", re.S)
_HOLD = len(b"-Infinity")
# the start of a constant at a chunk's end, held back until the next chunk completes it
_PARTIAL = re.compile(rb"(?:-|-?I|-?In|-?Inf|-?Infi|-?Infin|-?Infini|-?Infinit|N|Na)\Z")


def _constant(name: str) -> str:
    return _CONSTANTS[name]


def loads(path: Path, raw: str | bytes | bytearray, location: str) -> Any:
    """An `.eval` member parsed, its constants read as markers."""
    try:
        return json.loads(raw, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:
        raise InputError(str(path), f"malformed JSON ({exc})", location=location) from None


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class ConstantReader:
    """A `.json` log read through this: `NaN`, `Infinity` and `-Infinity` tokens outside
    strings become the marker strings (`"\\u0000NaN"`), so the streaming parser, which
    knows only standard JSON, reads them. Strings are followed exactly (escapes across
    chunk ends too): a `NaN` inside a string is text and stays as it is."""

    def __init__(self, fh: Readable) -> None:
        self.fh = fh
        self.held = b""
        self.in_string = False

    def read(self, n: int = -1) -> bytes:
        """Up to about `n` bytes, never empty before the end (an empty read is the end)."""
        if n == 0:
            return b""
        while True:
            chunk = self.fh.read(n)
            data = self.held + chunk
            if not chunk:  # the end: nothing can be cut any more
                self.held = b""
                return self._filter(data)
            cut = len(data)
            partial = _PARTIAL.search(data, max(cut - _HOLD, 0))
            if partial and not data.endswith((b"NaN", b"Infinity")):  # a constant may be
                # cut here: hold its start back
                cut = partial.start()
            run = 0  # a backslash escaping the first held byte stays with it
            while run < cut and data[cut - 1 - run] == 0x5C:
                run += 1
            cut -= run % 2
            self.held = data[cut:]
            if cut:
                return self._filter(data[:cut])

    def _filter(self, body: bytes) -> bytes:
        if b"NaN" not in body and b"Infinity" not in body:  # the usual chunk: count quotes
            if _ESCAPE.sub(b"", body).count(b'"') % 2:
                self.in_string = not self.in_string
            return body
        parts: list[bytes] = []
        start = 0
        for m in _TOKEN.finditer(body):
            token = m.group()
            if token == b'"':
                self.in_string = not self.in_string
            elif token[0] != 0x5C and not self.in_string:
                parts += [body[start : m.start()], json.dumps(_CONSTANTS[token.decode()]).encode()]
                start = m.end()
        parts.append(body[start:])
        return b"".join(parts)


def _refuse(path: Path, location: str, field: str, value: str) -> InputError:
    return InputError(
        str(path),
        f"{value[1:]} is not a number evaltui reads here (Inspect gives NaN a "
        "meaning only as a score's value: no valid grade)",
        location=location,
        field=field,
    )


def _check(path: Path, location: str, field: str, value: Any) -> None:
    """Refuse a marker anywhere in `value` (a field evaltui reads)."""
    if isinstance(value, str):
        if value.startswith(MARK) and value in _CONSTANTS.values():
            raise _refuse(path, location, field, value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check(path, location, f"{field}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check(path, location, f"{field}[{i}]", v)


def _text(value: Any) -> Any:
    """Markers in messages (a tool call's arguments) shown as the tool wrote them."""
    if isinstance(value, str):
        return value[1:] if value.startswith(MARK) and value in _CONSTANTS.values() else value
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


# The sample fields evaltui reads, besides scores and messages (docs/formats.md).
_READ = ("id", "epoch", "input", "target", "metadata", "error", "total_time", "working_time",
         "model_usage", "limit")  # fmt: skip


def restore(path: Path, sample: Any, location: str) -> Any:
    """A parsed sample with Inspect's NaN score values as float NaN (unscored), markers in
    its messages as text, and any other constant in a field evaltui reads refused."""
    if not isinstance(sample, dict):
        return sample
    for key in _READ:
        if key in sample:
            _check(path, location, key, sample[key])
    output = sample.get("output")
    if isinstance(output, dict):
        _check(path, location, "output.completion", output.get("completion"))
    scores = sample.get("scores")
    if isinstance(scores, dict):
        for name, score in scores.items():
            if not isinstance(score, dict):
                continue
            value = score.get("value")
            if value == NAN:
                score["value"] = float("nan")
            elif isinstance(value, dict):
                score["value"] = {k: float("nan") if v == NAN else v for k, v in value.items()}
            _check(path, location, f"scores.{name}.value", score["value"])
            _check(path, location, f"scores.{name}.explanation", score.get("explanation"))
    if "messages" in sample:
        sample["messages"] = _text(sample["messages"])
    return sample
