"""OpenTelemetry traces: OTLP/JSON lines (a Collector file exporter's output: one
`ExportTraceServiceRequest` per line) or OTLP protobuf (`otlp_proto`), with OTLP logs
files joined to their spans (`otlp_logs`). One trace is one case (docs/formats.md).

Each span is read in its own dialect, decided per span (`otlp_dialects`): OpenTelemetry
GenAI (attributes or events), OpenInference, the Vercel AI SDK; a span in no dialect
evaltui reads is skipped and counted, and the count is in the import line and in the run's
metadata (`otlp`). `otlp_steps` maps the spans onto the case: key, suite, attributes,
input, output, criteria and the trajectory.

- the trace's root span (no parent) is the case: its key is `test.case.name` (else
  `evaltui.case_key`, else the same keys in a dialect's metadata, else the trace id), its
  suite `test.suite.name` (else the resource's `service.name`);
- the verdict is `test.case.result.status` when set, else every criterion passing (or
  --pass-criterion); a root with error status is an error;
- the run is named by the resource's `evaltui.run` (else `service.name service.version`).
Spans of a trace may come on several lines; a trace is complete when its root arrives (the
SDK ends children first); a trace left without a root is refused, naming it, and the spans
waiting for their root are bounded (EVALTUI_MAX_PENDING_SPANS, _BYTES).

The file is read twice: first to count the spans by dialect and check that the traces name
their cases and carry verdicts (the counts go in the run's metadata before a row is
written), then to build the records. A file none of whose traces names its case or carries
a verdict is refused, naming the dialects seen: never imported as if its cases and verdicts
were absent. The OTLP shape is checked in `otlp` (JSON) and `otlp_proto`.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaltui.errors import InputError
from evaltui.importers import otlp_logs, otlp_proto, otlp_steps
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    env_limit,
    find_criterion,
    iter_lines,
    json_line,
    sha256_file,
)
from evaltui.importers.otlp import Span, spans_of
from evaltui.importers.otlp_dialects import (
    FOREIGN,
    NAMES,
    READ,
    UNKNOWN,
    Ctx,
    View,
    dialect_of,
    span_dialect,
    view_of,
)
from evaltui.importers.otlp_logs import Joined
from evaltui.models import Record, Run, Verdict

NAME = "otel-genai"
MAX_PENDING_SPANS = (
    50_000  # spans held while their trace's root has not come (EVALTUI_MAX_PENDING_SPANS)
)
MAX_PENDING_BYTES = 32 << 20  # their text (EVALTUI_MAX_PENDING_BYTES)
_DONE_KEPT = 100_000  # completed traces remembered, to name a late span (a forgotten one is
# refused anyway, at the end, as a trace without its root)
_EVAL = "gen_ai.evaluation.result"


@dataclass
class Census:
    """What the first pass found: the first resource, spans read and skipped by dialect."""

    resource: dict[str, Any] | None = None
    traces: int = 0
    read: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    content_missing: int = 0  # model turns whose messages are in no span, event or log record
    keyed: bool = False
    scored: bool = False

    def meta(self, joined: Joined | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "traces": self.traces,
            "spans_read": dict(sorted(self.read.items())),
            "spans_skipped": sum(self.skipped.values()),
            "skipped_by_dialect": dict(sorted(self.skipped.items())),
        }
        if self.content_missing:
            out["model_turns_without_content"] = self.content_missing
        if joined is not None:
            out["logs"] = {"files": joined.files, "records": joined.total, "joined": joined.joined}
        return out

    def notes(self, joined: Joined | None) -> list[str]:
        out = []
        if self.skipped:
            shown = ", ".join(
                f"{n:,} {k}" for k, n in sorted(self.skipped.items(), key=lambda x: (-x[1], x[0]))
            )
            out.append(
                f"{sum(self.skipped.values()):,} span(s) in no dialect evaltui reads "
                f"skipped ({shown})"
            )
        if self.content_missing:
            out.append(
                f"{self.content_missing:,} model turn(s) carry no messages (the "
                "instrumentation wrote them as log records: import the OTLP logs file "
                "with the traces)"
                if joined is None
                else f"{self.content_missing:,} model turn(s) carry no messages, in the spans "
                "or in the logs given"
            )
        if joined is not None:
            out.append(joined.note())
        return out


@dataclass
class Trace:
    number: int  # the line (message) where its root came
    location: str
    trace: str
    spans: list[Span]
    root: Span


class OtelGenAIImporter:
    name = NAME
    description = (
        "OpenTelemetry traces (OTel GenAI, OpenInference, Vercel AI SDK), OTLP/JSON lines or "
        "protobuf, with OTLP logs joined"
    )

    def sniff(self, path: Path, head: bytes) -> bool:
        if head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b'{"resourceSpans"'):
            return True

        return bool(head) and otlp_proto.sniff(path, head, "traces")

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        progress = Progress()
        joined = _load_logs(options)
        census = self._census(path, options, joined)
        first = census.resource or {}
        run_name = (
            first.get("evaltui.run")
            or " ".join(
                str(x) for x in (first.get("service.name"), first.get("service.version")) if x
            )
            or path.stem
        )
        metadata = {k: v for k, v in first.items() if not k.startswith("telemetry.")}
        metadata["otlp"] = census.meta(joined)
        run = Run(
            name=options.name or str(run_name),
            system=options.system or str(first.get("service.version") or ""),
            role=options.role or "none",
            source_path=str(path.resolve()),
            format=NAME,
            metadata=metadata,
        )
        if joined is not None:  # the same traces with other logs are another import
            digest = hashlib.sha256(sha256_file(path).encode())
            for name in options.logs:
                digest.update(sha256_file(Path(name)).encode())
            run.sha256 = digest.hexdigest()
        records = self._records(path, options, progress, census, joined)
        return [ParsedRun(run, records, progress, notes=census.notes(joined))]

    # -- the two passes ----------------------------------------------------------------

    def _census(self, path: Path, options: ImportOptions, joined: Joined | None) -> Census:
        census = Census()
        seen_foreign: str | None = None
        for t in self._traces(path, Progress(), joined, keep_logs=True):
            census.traces += 1
            if census.resource is None:
                census.resource = t.root.resource
            views, root_view, counts = _views(path, t)
            for label, n in counts.items():
                (census.read if label in READ or label == "case" else census.skipped)[label] += n
            census.content_missing += sum(1 for v in views.values() if v.content_missing)
            ordered = [root_view, *views.values()]

            has_key = otlp_steps.case_key(t.root, ordered) is not None
            has_verdict = _has_verdict(t.root, ordered)
            if not has_key and not has_verdict and not views and seen_foreign is None:
                seen_foreign = next(
                    (k for k in counts if k not in READ and k not in ("case", UNKNOWN)), None
                )
                if seen_foreign is not None:
                    name, key = seen_foreign.split(": ", 1)
                    raise InputError(
                        str(path),
                        f"trace {t.trace} is in the {name} convention ({key}), which "
                        "evaltui does not read: its cases and verdicts would be read as absent "
                        "(evaltui reads OpenTelemetry GenAI, OpenInference and Vercel AI SDK "
                        "traces)",
                        location=t.location,
                        field=key,
                    )
            census.keyed |= has_key
            census.scored |= has_verdict
        if census.resource is None:
            raise InputError(str(path), "no spans in this file", field="resourceSpans")
        if not census.keyed or not census.scored:
            missing = (
                "names its case (no root span has test.case.name or evaltui.case_key, and no "
                "metadata names it; trace ids would be case keys, which line up with no other run)"
                if not census.keyed
                else "carries a verdict (no root span has "
                "test.case.result.status, no trace has a gen_ai.evaluation.result event, an "
                "OpenInference evaluation or an error status)"
            )
            seen = ", ".join(
                f"{n:,} {NAMES.get(k, k)}"
                for k, n in (census.read + census.skipped).most_common()
                if k != "case"
            )
            raise InputError(
                str(path),
                f"no trace in this file {missing}; its spans: {seen or 'none'}",
                field="test.case.name" if not census.keyed else _EVAL,
            )
        return census

    def _records(
        self,
        path: Path,
        options: ImportOptions,
        progress: Progress,
        census: Census,
        joined: Joined | None,
    ) -> Iterator[Record]:

        read: Counter[str] = Counter()
        for t in self._traces(path, progress, joined):
            views, root_view, counts = _views(path, t)
            read.update(counts)
            yield _record(path, t, views, root_view, options, otlp_steps)
        if read != census.read + census.skipped:
            raise InputError(
                str(path),
                "the file changed while it was read (its spans were "
                "counted, then read again, and differ)",
            )

    def _traces(
        self, path: Path, progress: Progress, joined: Joined | None, keep_logs: bool = False
    ) -> Iterator[Trace]:
        """Every complete trace (its root arrived), in file order, bounded."""
        max_spans = env_limit("EVALTUI_MAX_PENDING_SPANS", MAX_PENDING_SPANS)
        max_bytes = env_limit("EVALTUI_MAX_PENDING_BYTES", MAX_PENDING_BYTES)
        pending: dict[str, list[Span]] = {}
        done: OrderedDict[str, None] = OrderedDict()
        held = held_bytes = 0
        for number, location, spans in _batches(path, progress):
            roots: dict[str, Span] = {}
            for span in spans:
                trace = span.trace
                if trace in done:
                    what = "a second root span" if not span.parent else "a span"
                    raise InputError(
                        str(path),
                        f"{what} of trace {trace} after its root span: the trace was "
                        "already complete",
                        location=location,
                        field=span.where,
                    )
                if not span.parent:
                    if trace in roots:
                        raise InputError(
                            str(path),
                            f"trace {trace} has two root spans ({roots[trace].span_id} "
                            f"and {span.span_id} have no parent)",
                            location=location,
                            field=f"{span.where}.parentSpanId",
                        )
                    roots[trace] = span
                pending.setdefault(trace, []).append(span)
                held += 1
                held_bytes += span.size
                if held > max_spans or held_bytes > max_bytes:
                    which = (
                        (f"{held:,} spans", f"{max_spans:,} (EVALTUI_MAX_PENDING_SPANS)")
                        if held > max_spans
                        else (
                            f"{held_bytes:,} bytes of spans",
                            f"{max_bytes:,} (EVALTUI_MAX_PENDING_BYTES)",
                        )
                    )
                    raise InputError(
                        str(path),
                        f"{which[0]} of {len(pending):,} trace(s) wait for their "
                        f"trace's root span, over the limit of {which[1]}: a trace is complete "
                        "when its root (the span without a parent) arrives",
                        location=location,
                    )
            for trace, root in roots.items():
                group = pending.pop(trace)
                held -= len(group)
                held_bytes -= sum(s.size for s in group)
                done[trace] = None
                if len(done) > _DONE_KEPT:
                    done.popitem(last=False)
                if joined is not None:
                    joined.attach(group, root, keep=keep_logs)
                group.sort(key=lambda s: (s.start, s.end))
                yield Trace(number, location, trace, group, root)
        if pending:
            trace = next(iter(pending))
            raise InputError(
                str(path),
                f"trace {trace} has no root span (no span without a parent)",
                field="parentSpanId",
            )


def _load_logs(options: ImportOptions) -> Joined | None:
    if not options.logs:
        return None

    return otlp_logs.load(options.logs)


def _batches(path: Path, progress: Progress) -> Iterator[tuple[int, str, Iterator[Span]]]:
    """(record number, its location, its spans): JSON lines, or protobuf messages."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        for number, raw in iter_lines(path, progress):
            location = f"line {number}"
            yield number, location, spans_of(path, json_line(path, raw, location), location)
        return

    progress.total = path.stat().st_size
    yield from otlp_proto.spans(path, progress)


def _views(path: Path, t: Trace) -> tuple[dict[str, View], View, Counter[str]]:
    """Each span of the trace read in its dialect (the root always, as the case), and the
    spans counted by dialect (READ, "case", or the convention that was skipped)."""
    counts: Counter[str] = Counter()
    views: dict[str, View] = {}
    root_view: View | None = None
    ctx = Ctx(path, t.location)
    for span in t.spans:
        dialect = span_dialect(span)
        if span is t.root:
            counts[dialect if dialect in READ else "case"] += 1
            root_view = view_of(ctx, span, dialect) if dialect in READ else View("agent", "case")
            root_view.kind = "agent"
        elif dialect in READ:
            counts[dialect] += 1
            views[span.span_id] = view_of(ctx, span, dialect)
        else:
            counts[dialect] += 1
    assert root_view is not None
    return views, root_view, counts


def _has_verdict(root: Span, views: list[View]) -> bool:
    return (
        root.status_code == 2
        or root.attrs.get("test.case.result.status") in ("pass", "fail", "error")
        or any(v.evaluations for v in views)
    )


def _record(
    path: Path,
    t: Trace,
    views: dict[str, View],
    root_view: View,
    options: ImportOptions,
    steps: Any,
) -> Record:
    root = t.root
    ordered = [root_view, *views.values()]
    found = steps.case_key(root, ordered)
    key = found[0] if found else t.trace
    if not isinstance(key, str | int) or isinstance(key, bool) or key == "":
        raise InputError(
            str(path),
            f"a case name (a string) is expected, got {key!r:.40}",
            location=t.location,
            field=found[1] if found else "traceId",
        )
    suite = (
        options.suite
        or steps.suite_of(root, ordered)
        or str(root.resource.get("service.name") or "otel")
    )
    criteria = steps.criteria(ordered, options.threshold)
    error = None
    verdict: Verdict
    if root.status_code == 2:
        verdict, error = "error", root.status_message or "the agent's root span failed"
    elif options.pass_criterion:
        chosen = find_criterion(criteria, options.pass_criterion)
        verdict = (chosen.verdict if chosen else None) or "unscored"
    elif root.attrs.get("test.case.result.status") in ("pass", "fail", "error"):
        verdict = root.attrs["test.case.result.status"]
    elif criteria:
        verdicts = [c.verdict for c in criteria.values()]
        verdict = (
            "unscored"
            if None in verdicts
            else "error"
            if "error" in verdicts
            else ("pass" if all(v == "pass" for v in verdicts) else "fail")
        )
    else:
        verdict = "unscored"
    inputs, input_text, output, system = steps.case_io(root_view, list(views.values()))
    children = [s for s in t.spans if s is not root]
    return Record(
        suite=suite,
        case_key=str(key),
        verdict=verdict,
        input=input_text,
        expected=None,
        attributes=steps.attributes(root, ordered),
        output=output,
        criteria=criteria,
        latency_ms=(root.end - root.start) / 1e6 if root.end >= root.start > 0 else None,
        error=error,
        location=f"{t.location} (trace {t.trace}, span {root.span_id})",
        trajectory=steps.trajectory(children, views, inputs, system),
    )


__all__ = ["FOREIGN", "NAME", "UNKNOWN", "OtelGenAIImporter", "dialect_of"]
