"""OTLP/JSON lines (one `ExportTraceServiceRequest`, or `ExportLogsServiceRequest`, per line),
read with their shape checked: every span a compact `Span`, every log record a `LogRecord`,
every malformed shape an InputError naming the line and the field
(`resourceSpans[0].scopeSpans[0].spans[3].attributes[2].value`), never a crash. The
mapping (otel_genai, otlp_dialects/) reads these spans; `otlp_proto` makes the same
objects from protobuf files.

The OTLP/JSON rules followed (opentelemetry-proto, docs/specification.md "JSON Protobuf
Encoding"): ids are hex strings (traceId 32 digits, spanId 16), 64-bit integers
(`intValue`, the `*UnixNano` times) are decimal strings or JSON integers, `doubleValue` is
a number or one of "NaN", "Infinity", "-Infinity"; an AnyValue holds one of stringValue,
boolValue, intValue, doubleValue, arrayValue, kvlistValue, bytesValue (or none: unset).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaltui.errors import InputError
from evaltui.importers.base import MAX_DEPTH, env_limit

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_INT = re.compile(r"-?[0-9]{1,20}")
INT64 = (-(2**63), 2**63 - 1)
UINT64 = 2**64 - 1
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_NON_FINITE = {"NaN", "Infinity", "-Infinity"}
_KINDS = ("stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
          "bytesValue")  # fmt: skip


class Bad(Exception):
    """A shape error inside one line: the field's path and why (turned into an InputError
    naming the file and the line by `spans_of`)."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(why)
        self.where, self.why = where, why


@dataclass(slots=True)
class Span:
    """One span, decoded: what the GenAI mapping reads, and where it came from."""

    trace: str
    span_id: str
    parent: str
    name: str
    start: int
    end: int
    attrs: dict[str, Any]
    events: list[tuple[str, dict[str, Any], str]]  # (name, attributes, field path)
    status_code: int
    status_message: str
    where: str  # the span's field path within its line
    resource: dict[str, Any] = field(repr=False, default_factory=dict)
    size: int = 0  # about how many bytes of text it holds (the pending-span bound)
    logs: list[LogRecord] = field(repr=False, default_factory=list)  # joined from a logs file


@dataclass(slots=True)
class LogRecord:
    """One OTLP log record: an event when it has a name (`gen_ai.choice`), its attributes and
    its body, and the trace and span it belongs to (empty when it names none)."""

    name: str
    attrs: dict[str, Any]
    body: Any
    trace: str
    span_id: str
    where: str  # "FILE line N: resourceLogs[0]...logRecords[2]"
    size: int = 0


def _type(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), "a number")


def _want(value: Any, kind: type, where: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Bad(where, f"{what} is expected, got {_type(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    return [] if value is None else _want(value, list, where, "an array")


def integer(value: Any, where: str, low: int, high: int) -> int:
    """A 64-bit integer as OTLP/JSON writes it: a decimal string or a JSON integer."""
    if isinstance(value, str) and _INT.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        shown = repr(value)[:40]
        raise Bad(where, f"a 64-bit integer (a decimal string or number) is expected, got {shown}")
    if not low <= number <= high:
        raise Bad(where, f"{str(value)[:30]} is out of the 64-bit range")
    return number


def _double(value: Any, where: str) -> float:
    if (isinstance(value, str) and value in _NON_FINITE) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise Bad(
            where,
            f"{value} is not a finite number; OpenTelemetry gives a non-finite "
            "attribute no meaning, so evaltui cannot read one",
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise Bad(where, f"a number is expected, got {repr(value)[:40]}")


class _Reader:
    """Converts one line's values, counting the text held (for the pending bound)."""

    def __init__(self) -> None:
        self.size = 0
        self.depth = env_limit("EVALTUI_MAX_DEPTH", MAX_DEPTH)

    def any(self, value: Any, where: str, depth: int = 0) -> Any:
        if depth > self.depth:
            raise Bad(where, f"nested more than {self.depth} levels deep (EVALTUI_MAX_DEPTH)")
        _want(value, dict, where, 'an AnyValue object ({"stringValue": ...})')
        kinds = [k for k in _KINDS if k in value]
        if not kinds:
            if value:
                raise Bad(where, f"unknown AnyValue field '{str(next(iter(value)))[:40]}'")
            return None  # an unset value
        if len(kinds) > 1:
            raise Bad(where, f"an AnyValue holds one value, this one has {', '.join(kinds)}")
        kind = kinds[0]
        item, at = value[kind], f"{where}.{kind}"
        if kind in ("stringValue", "bytesValue"):
            self.size += len(_want(item, str, at, "a string"))
            return item
        if kind == "boolValue":
            return _want(item, bool, at, "a boolean")
        if kind == "intValue":
            return integer(item, at, *INT64)
        if kind == "doubleValue":
            return _double(item, at)
        _want(item, dict, at, "an object")
        values = _list(item.get("values"), f"{at}.values")
        if kind == "arrayValue":
            return [self.any(v, f"{at}.values[{i}]", depth + 1) for i, v in enumerate(values)]
        return self.attrs(values, f"{at}.values", depth + 1)

    def attrs(self, items: Any, where: str, depth: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, kv in enumerate(_list(items, where)):
            at = f"{where}[{i}]"
            _want(kv, dict, at, 'a key-value object ({"key": ..., "value": ...})')
            key = _want(kv.get("key"), str, f"{at}.key", "a string")
            self.size += len(key)
            out[key] = self.any(kv.get("value") or {}, f"{at}.value", depth)
        return out


def _id(value: Any, where: str, pattern: re.Pattern[str], digits: int) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or not value.strip("0"):
        raise Bad(
            where,
            f"a non-zero id of {digits} hex digits is expected (OTLP/JSON), got {repr(value)[:50]}",
        )
    return value.lower()


def _span(raw: Any, where: str, resource: dict[str, Any]) -> Span:
    span = _want(raw, dict, where, "a span object")
    read = _Reader()
    parent = span.get("parentSpanId")
    status = span.get("status")
    code, message = 0, ""
    if status is not None:
        _want(status, dict, f"{where}.status", "an object")
        raw_code = status.get("code", 0)
        if isinstance(raw_code, str) and raw_code in STATUS_CODES:
            code = STATUS_CODES[raw_code]
        else:
            code = integer(raw_code, f"{where}.status.code", 0, 2)
        message = _want(status.get("message", ""), str, f"{where}.status.message", "a string")
    events = []
    for i, ev in enumerate(_list(span.get("events"), f"{where}.events")):
        at = f"{where}.events[{i}]"
        _want(ev, dict, at, "an event object")
        name = _want(ev.get("name", ""), str, f"{at}.name", "a string")
        events.append((name, read.attrs(ev.get("attributes"), f"{at}.attributes"), at))
    start = integer(span.get("startTimeUnixNano", 0), f"{where}.startTimeUnixNano", 0, UINT64)
    end = integer(span.get("endTimeUnixNano", 0), f"{where}.endTimeUnixNano", 0, UINT64)
    out = Span(
        trace=_id(span.get("traceId"), f"{where}.traceId", _HEX32, 32),
        span_id=_id(span.get("spanId"), f"{where}.spanId", _HEX16, 16),
        parent="" if parent in (None, "") else _id(parent, f"{where}.parentSpanId", _HEX16, 16),
        name=_want(span.get("name", ""), str, f"{where}.name", "a string"),
        start=start,
        end=end,
        attrs=read.attrs(span.get("attributes"), f"{where}.attributes"),
        events=events,
        status_code=code,
        status_message=message,
        where=where,
        resource=resource,
    )
    out.size = read.size + 200
    return out


def _log_record(raw: Any, where: str, place: str) -> LogRecord:
    record = _want(raw, dict, where, "a log record object")
    read = _Reader()
    name = _want(record.get("eventName", ""), str, f"{where}.eventName", "a string")
    trace, span = record.get("traceId") or "", record.get("spanId") or ""
    out = LogRecord(
        name=name,
        attrs=read.attrs(record.get("attributes"), f"{where}.attributes"),
        body=read.any(record["body"], f"{where}.body") if record.get("body") is not None else None,
        trace=_id(trace, f"{where}.traceId", _HEX32, 32) if trace else "",
        span_id=_id(span, f"{where}.spanId", _HEX16, 16) if span else "",
        where=f"{place}: {where}",
    )
    out.size = read.size + 100
    return out


def log_records_of(path: Path, obj: Any, location: str) -> Iterator[LogRecord]:
    """Every log record of one parsed line of an OTLP/JSON logs file, checked and decoded."""
    items = logs_request(path, obj, location)
    try:
        for r, rl in enumerate(items):
            where = f"resourceLogs[{r}]"
            _want(rl, dict, where, "a ResourceLogs object")
            for s, sl in enumerate(_list(rl.get("scopeLogs"), f"{where}.scopeLogs")):
                at = f"{where}.scopeLogs[{s}]"
                _want(sl, dict, at, "a ScopeLogs object")
                for k, raw in enumerate(_list(sl.get("logRecords"), f"{at}.logRecords")):
                    yield _log_record(raw, f"{at}.logRecords[{k}]", f"{path.name} {location}")
    except Bad as bad:
        raise InputError(str(path), bad.why, location=location, field=bad.where) from None


def logs_request(path: Path, obj: Any, location: str) -> list[Any]:
    """The line's `resourceLogs` array, or an InputError naming what is wrong."""
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceLogs"), list):
        raise InputError(
            str(path),
            "an ExportLogsServiceRequest object with a resourceLogs array is expected",
            location=location,
            field="resourceLogs",
        )
    return obj["resourceLogs"]


def resource_of(rs: Any, where: str) -> dict[str, Any]:
    _want(rs, dict, where, "a ResourceSpans object")
    resource = rs.get("resource")
    if resource is None:
        return {}
    _want(resource, dict, f"{where}.resource", "an object")
    return _Reader().attrs(resource.get("attributes"), f"{where}.resource.attributes")


def request(path: Path, obj: Any, location: str) -> list[Any]:
    """The line's `resourceSpans` array, or an InputError naming what is wrong."""
    if not isinstance(obj, dict):
        raise InputError(
            str(path),
            f"an ExportTraceServiceRequest object is expected, got {_type(obj)}",
            location=location,
        )
    if "resourceSpans" not in obj:
        raise InputError(
            str(path),
            "not an ExportTraceServiceRequest: no resourceSpans",
            location=location,
            field="resourceSpans",
        )
    if not isinstance(obj["resourceSpans"], list):
        raise InputError(
            str(path),
            f"an array is expected, got {_type(obj['resourceSpans'])}",
            location=location,
            field="resourceSpans",
        )
    return obj["resourceSpans"]


def spans_of(path: Path, obj: Any, location: str) -> Iterator[Span]:
    """Every span of one parsed line, in file order, each checked and decoded."""
    items = request(path, obj, location)
    try:
        for r, rs in enumerate(items):
            where = f"resourceSpans[{r}]"
            resource = resource_of(rs, where)
            for s, ss in enumerate(_list(rs.get("scopeSpans"), f"{where}.scopeSpans")):
                at = f"{where}.scopeSpans[{s}]"
                _want(ss, dict, at, "a ScopeSpans object")
                for k, raw in enumerate(_list(ss.get("spans"), f"{at}.spans")):
                    yield _span(raw, f"{at}.spans[{k}]", resource)
    except Bad as bad:
        raise InputError(str(path), bad.why, location=location, field=bad.where) from None
