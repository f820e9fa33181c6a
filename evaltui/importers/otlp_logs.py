"""OTLP logs files (`ExportLogsServiceRequest`: JSON lines or protobuf) given with OTLP
traces: each log record joins the span it names (its trace and span ids), or its trace's
root when it names only the trace. Instrumentations write chat content and evaluation
results as log records (events) beside the spans: the OpenTelemetry OpenAI instrumentation
(openai-v2) puts every message and tool call there, so a trace file alone has model turns
with no calls in them.

The records are held until the traces are read, bounded (EVALTUI_MAX_JOINED_LOG_BYTES).
A logs file alone holds no case: it is refused, saying to give it with its traces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evaltui.errors import InputError
from evaltui.importers import otlp_proto
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    env_limit,
    iter_lines,
    json_line,
)
from evaltui.importers.otlp import LogRecord, Span, log_records_of

NAME = "otlp-logs"
MAX_JOINED_BYTES = (
    64 << 20
)  # text of the log records held for joining (EVALTUI_MAX_JOINED_LOG_BYTES)


def is_json_logs(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b'{"resourceLogs"')


def records(path: Path) -> Iterator[LogRecord]:
    with path.open("rb") as fh:
        head = fh.read(64)
    if is_json_logs(head):
        for number, raw in iter_lines(path, Progress()):
            location = f"line {number}"
            yield from log_records_of(path, json_line(path, raw, location), location)
        return

    if not otlp_proto.sniff(path, _head(path), "logs"):
        raise InputError(
            str(path),
            "not an OTLP logs file (an ExportLogsServiceRequest as JSON "
            "lines or protobuf) to join to the traces",
        )
    yield from otlp_proto.log_records(path)


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(65536)


@dataclass
class Joined:
    """Log records by (trace id, span id); a record naming no span is under (trace id, "")."""

    files: list[str] = field(default_factory=list)
    by_span: dict[tuple[str, str], list[LogRecord]] = field(default_factory=dict)
    total: int = 0
    joined: int = 0
    no_trace: int = 0  # records naming no trace: they can join nothing

    def attach(self, spans: list[Span], root: Span, keep: bool = False) -> None:
        """Give each span of a complete trace the records that name it. `keep` (the first
        pass) leaves them in the index and counts them; the second pass takes them out."""
        take = self.by_span.get if keep else self.by_span.pop
        for span, key in [*((s, (s.trace, s.span_id)) for s in spans), (root, (root.trace, ""))]:
            found = take(key, None)
            if found:
                span.logs.extend(found)
                self.joined += len(found) if keep else 0

    def note(self) -> str:
        if not self.files:
            return ""
        names = ", ".join(self.files)
        left = self.total - self.joined
        return (
            f"{self.joined:,} of {self.total:,} log records from {names} joined to their "
            f"spans" + (f"; {left:,} named no span of this file" if left else "")
        )


def load(paths: Iterable[str]) -> Joined:
    """Every record of the logs files, indexed for the join, bounded."""
    limit = env_limit("EVALTUI_MAX_JOINED_LOG_BYTES", MAX_JOINED_BYTES)
    out, held = Joined(), 0
    for name in paths:
        path = Path(name)
        out.files.append(path.name)
        for record in records(path):
            out.total += 1
            if not record.trace:
                out.no_trace += 1
                continue
            held += record.size
            if held > limit:
                raise InputError(
                    str(path),
                    f"the log records to join hold more than {limit:,} "
                    "bytes of text (EVALTUI_MAX_JOINED_LOG_BYTES)",
                    location=record.where.split(": ", 1)[0].split(" ", 1)[-1],
                )
            out.by_span.setdefault((record.trace, record.span_id), []).append(record)
    return out


class OtlpLogsImporter:
    """A logs file named on its own: refused (it holds no case), saying what to do."""

    name = NAME
    description = "OTLP logs (ExportLogsServiceRequest), joined to the OTLP traces given with them"

    def sniff(self, path: Path, head: bytes) -> bool:
        if is_json_logs(head):
            return True

        return bool(head) and otlp_proto.sniff(path, head, "logs")

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        raise InputError(
            str(path),
            "an OTLP logs file holds no cases: give it together with the traces it "
            "belongs to (evaltui import traces.jsonl logs.jsonl, or a folder holding both); its "
            "records join the spans by trace and span id",
        )


def pair(
    units: list[tuple[Path, str | None]],
) -> tuple[list[tuple[Path, str | None]], tuple[str, ...]]:
    """The units of one `evaltui import` with its OTLP logs files taken out, and those files:
    they join every OTLP traces file of the same command. With no traces file among the
    units the logs files stay (and are refused on their own)."""
    # cycle: importers/__init__ imports this module before it defines detect
    from evaltui.importers import detect

    def fmt(path: Path, known: str | None) -> str | None:
        if known or not path.is_file():
            return known
        try:
            return detect(path).name
        except InputError:
            return None

    found = [(path, fmt(path, known)) for path, known in units]
    logs = tuple(str(p) for p, f in found if f == NAME)
    if not logs or not any(f == "otel-genai" for _, f in found):
        return units, ()
    return [(p, f) for p, f in found if f != NAME], logs
