"""OTLP protobuf files: `ExportTraceServiceRequest` (and `ExportLogsServiceRequest`) messages,
decoded by the OpenTelemetry project's own `opentelemetry-proto` classes (never by hand),
into the same `Span` / `LogRecord` objects, with the same checks and field paths, as the
OTLP/JSON reader (`otlp`).

Framing: as the Collector's file exporter writes `format: proto` (exporter/fileexporter:
every message preceded by its length, a 4-byte big-endian unsigned integer), or one bare
message making up the whole file (an OTLP/HTTP request body saved as it was sent). The
first byte tells them apart: a message starts with field 1's tag (0x0a); a length prefix
of a message under 160 MiB starts with a byte below it. Each message is bounded
(EVALTUI_MAX_LINE_BYTES, as a JSON line) and read, decoded and let go one at a time.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from evaltui.errors import InputError
from evaltui.importers.base import MAX_DEPTH, Progress, env_limit, max_line_bytes
from evaltui.importers.otlp import Bad, LogRecord, Span

_TAG = 0x0A  # field 1, length-delimited: resource_spans / resource_logs


def _messages(path: Path, fh: BinaryIO, progress: Progress | None) -> Iterator[tuple[int, bytes]]:
    """(message number from 1, its bytes), one at a time."""
    limit = max_line_bytes()
    first = fh.read(1)
    if not first:
        raise InputError(str(path), "the file is empty")
    if first[0] == _TAG:  # one bare message
        data = first + fh.read(limit)
        if fh.read(1):
            raise InputError(
                str(path),
                f"a protobuf message longer than {limit:,} bytes (EVALTUI_MAX_LINE_BYTES)",
                location="message 1",
            )
        if progress is not None:
            progress.done = len(data)
        yield 1, data
        return
    head, number, done = first + fh.read(3), 0, 0
    while head:
        number += 1
        where = f"message {number}"
        if len(head) < 4:
            raise InputError(
                str(path),
                f"the file ends inside the length prefix of a message "
                f"({len(head)} of 4 bytes; the file is framed as the Collector's "
                "file exporter writes protobuf)",
                location=where,
            )
        size = int.from_bytes(head, "big")
        if size > limit:
            raise InputError(
                str(path),
                f"a protobuf message of {size:,} bytes is over the limit "
                f"of {limit:,} (EVALTUI_MAX_LINE_BYTES)",
                location=where,
            )
        data = fh.read(size)
        if len(data) < size:
            raise InputError(
                str(path),
                f"the file ends inside a message ({size:,} bytes announced, {len(data):,} there)",
                location=where,
            )
        done += 4 + size
        if progress is not None:
            progress.done = done
        yield number, data
        del data
        head = fh.read(4)


def sniff(path: Path, head: bytes, kind: str) -> bool:
    """Whether the file is OTLP protobuf of `kind` ("traces" or "logs"): its first message
    decodes as that request and holds at least one span (one log record)."""
    if not head or head[0] > _TAG:
        return False
    if head[0] == _TAG:
        body = head
    else:
        size = int.from_bytes(head[:4], "big")
        if not 0 < size <= max_line_bytes() or len(head) < 5 or head[4] != _TAG:
            return False
        if 4 + size > len(head):
            with path.open("rb") as fh:
                fh.seek(4)
                head = b"\0\0\0\0" + fh.read(size)
        body = head[4 : 4 + size]
    try:
        request = _request(kind)
        request.ParseFromString(body)
    except Exception:
        return False
    if kind == "traces":
        return any(
            len(s.trace_id) == 16
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for s in ss.spans
        )
    return any(True for rl in request.resource_logs for sl in rl.scope_logs for _ in sl.log_records)


def _request(kind: str) -> Any:
    if kind == "traces":
        # load time: opentelemetry-proto (and protobuf) only for an OTLP protobuf file
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        return ExportTraceServiceRequest()
    # load time: as above
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    return ExportLogsServiceRequest()


class _Reader:
    """AnyValue and KeyValue messages to Python values, counting the text held."""

    def __init__(self) -> None:
        self.size = 0
        self.depth = env_limit("EVALTUI_MAX_DEPTH", MAX_DEPTH)

    def any(self, value: Any, where: str, depth: int = 0) -> Any:
        if depth > self.depth:
            raise Bad(where, f"nested more than {self.depth} levels deep (EVALTUI_MAX_DEPTH)")
        kind = value.WhichOneof("value")
        if kind is None:
            return None
        if kind == "string_value":
            self.size += len(value.string_value)
            return value.string_value
        if kind == "int_value":
            return value.int_value
        if kind == "bool_value":
            return value.bool_value
        if kind == "double_value":
            number = value.double_value
            if not math.isfinite(number):
                raise Bad(
                    f"{where}.doubleValue",
                    f"{number} is not a finite number; "
                    "OpenTelemetry gives a non-finite attribute no meaning, so evaltui "
                    "cannot read one",
                )
            return number
        if kind == "bytes_value":
            self.size += len(value.bytes_value)
            return base64.b64encode(value.bytes_value).decode()
        if kind == "array_value":
            at = f"{where}.arrayValue.values"
            return [
                self.any(v, f"{at}[{i}]", depth + 1) for i, v in enumerate(value.array_value.values)
            ]
        return self.attrs(value.kvlist_value.values, f"{where}.kvlistValue.values", depth + 1)

    def attrs(self, items: Any, where: str, depth: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, kv in enumerate(items):
            self.size += len(kv.key)
            out[kv.key] = self.any(kv.value, f"{where}[{i}].value", depth)
        return out


def _hex(raw: bytes, where: str, size: int, optional: bool = False) -> str:
    if optional and not raw:
        return ""
    if len(raw) != size or not any(raw):
        raise Bad(where, f"a non-zero id of {size} bytes is expected, got {len(raw)} bytes")
    return raw.hex()


def spans(
    path: Path, progress: Progress | None = None
) -> Iterator[tuple[int, str, Iterator[Span]]]:
    """(message number, its location, its spans) for every message of a traces file."""
    with path.open("rb") as fh:
        for number, data in _messages(path, fh, progress):
            location = f"message {number}"
            request = _parse(path, "traces", data, location)
            yield number, location, _spans_of(path, request, location)


def _parse(path: Path, kind: str, data: bytes, location: str) -> Any:
    from google.protobuf.message import DecodeError  # load time: protobuf, for OTLP protobuf

    request = _request(kind)
    try:
        request.ParseFromString(data)
    except DecodeError as exc:
        what = "ExportTraceServiceRequest" if kind == "traces" else "ExportLogsServiceRequest"
        raise InputError(
            str(path), f"not an OTLP {what} protobuf message ({exc})", location=location
        ) from None
    return request


def _spans_of(path: Path, request: Any, location: str) -> Iterator[Span]:
    try:
        for r, rs in enumerate(request.resource_spans):
            where = f"resourceSpans[{r}]"
            resource = _Reader().attrs(rs.resource.attributes, f"{where}.resource.attributes")
            for s, ss in enumerate(rs.scope_spans):
                for k, span in enumerate(ss.spans):
                    yield _span(span, f"{where}.scopeSpans[{s}].spans[{k}]", resource)
    except Bad as bad:
        raise InputError(str(path), bad.why, location=location, field=bad.where) from None


def _span(span: Any, where: str, resource: dict[str, Any]) -> Span:
    read = _Reader()
    events = [
        (
            ev.name,
            read.attrs(ev.attributes, f"{where}.events[{i}].attributes"),
            f"{where}.events[{i}]",
        )
        for i, ev in enumerate(span.events)
    ]
    out = Span(
        trace=_hex(span.trace_id, f"{where}.traceId", 16),
        span_id=_hex(span.span_id, f"{where}.spanId", 8),
        parent=_hex(span.parent_span_id, f"{where}.parentSpanId", 8, optional=True),
        name=span.name,
        start=span.start_time_unix_nano,
        end=span.end_time_unix_nano,
        attrs=read.attrs(span.attributes, f"{where}.attributes"),
        events=events,
        status_code=span.status.code,
        status_message=span.status.message,
        where=where,
        resource=resource,
    )
    if out.status_code not in (0, 1, 2):
        raise Bad(f"{where}.status.code", f"{out.status_code} is not a status code (0, 1 or 2)")
    out.size = read.size + 200
    return out


def log_records(path: Path) -> Iterator[LogRecord]:
    """Every log record of a protobuf logs file, checked and decoded."""
    with path.open("rb") as fh:
        for number, data in _messages(path, fh, None):
            location = f"message {number}"
            request = _parse(path, "logs", data, location)
            try:
                for r, rl in enumerate(request.resource_logs):
                    for s, sl in enumerate(rl.scope_logs):
                        for k, rec in enumerate(sl.log_records):
                            yield _log(
                                rec,
                                f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{k}]",
                                f"{path.name} {location}",
                            )
            except Bad as bad:
                raise InputError(str(path), bad.why, location=location, field=bad.where) from None


def _log(rec: Any, where: str, place: str) -> LogRecord:
    read = _Reader()
    out = LogRecord(
        name=rec.event_name,
        attrs=read.attrs(rec.attributes, f"{where}.attributes"),
        body=read.any(rec.body, f"{where}.body") if rec.HasField("body") else None,
        trace=_hex(rec.trace_id, f"{where}.traceId", 16, optional=True),
        span_id=_hex(rec.span_id, f"{where}.spanId", 8, optional=True),
        where=f"{place}: {where}",
    )
    out.size = read.size + 100
    return out
