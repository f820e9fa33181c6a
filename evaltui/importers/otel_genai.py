"""OpenTelemetry GenAI traces as OTLP/JSON lines (a Collector file exporter's output: one
`ExportTraceServiceRequest` per line). One trace is one case (docs/formats.md).

- the trace's root span (no parent; usually `invoke_agent`) is the case: its key is the
  root attribute `test.case.name` (else `evaltui.case_key`, else the trace id), its suite
  `test.suite.name` (else the resource's `service.name`); input and output are the root's
  `gen_ai.input.messages` / `gen_ai.output.messages`;
- criteria are the root's `gen_ai.evaluation.result` span events (name, score value,
  label, explanation); the verdict is `test.case.result.status` when set, else every
  criterion passing (or --pass-criterion); a root with error status is an error;
- the trajectory: the system instructions and input turns, then every span in start
  order: `chat` spans give the assistant turns and the tool calls they emit (`tool_call`
  parts), `execute_tool` spans the results (or the error status), `retrieval` spans the
  retrieved document ids; passages in a tool's JSON result and `[id]` citations in the
  answer become sources;
- the run is named by the resource's `evaltui.run` (else `service.name service.version`),
  its system is `gen_ai.request.model`; other root attributes outside the gen_ai./test.
  namespaces become case attributes, by their last dotted part (`acme.case.risk` -> risk).
Spans of a trace may come on several lines; a trace is complete when its root arrives
(the SDK ends children first); a trace left without a root is refused, naming it, and the
spans waiting for their root are bounded (EVALTUI_MAX_PENDING_SPANS, _BYTES).
A file whose traces name no case or carry no verdict is refused, naming the trace dialect
when it is one evaltui does not read (OpenInference, the Vercel AI SDK...): never imported
as if its cases and verdicts were absent. The OTLP shape is checked in `otlp`.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaltui.errors import InputError
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    as_text,
    env_limit,
    find_criterion,
    iter_lines,
    json_line,
    score_to_criterion,
)
from evaltui.importers.otlp import Span, dialect, request, resource_of, spans_of
from evaltui.models import Criterion, Record, Run, Verdict
from evaltui.trajectory import Step, with_sources

NAME = "otel-genai"
_SKIP_NS = ("gen_ai.", "test.", "server.", "error.", "telemetry.", "otel.")
MAX_PENDING_SPANS = (
    50_000  # spans held while their trace's root has not come (EVALTUI_MAX_PENDING_SPANS)
)
MAX_PENDING_BYTES = 32 << 20  # their text (EVALTUI_MAX_PENDING_BYTES)
_DONE_KEPT = 100_000  # completed traces remembered, to name a late span (a forgotten one is
# refused anyway, at the end, as a trace without its root)
_KEYS = ("test.case.name", "evaltui.case_key")
_EVAL = "gen_ai.evaluation.result"
_MESSAGE_ATTRS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                  "gen_ai.retrieval.documents")  # fmt: skip


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _messages(span: Span, key: str, path: Path, location: str) -> list[dict[str, Any]]:
    """A JSON-array attribute (messages, documents): its objects. Present but not a JSON
    array is refused: read as empty, the input or output would be silently lost."""
    text = span.attrs.get(key)
    if text is None:
        return []
    try:
        value = json.loads(text, parse_constant=_no_constant) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, list):
        raise InputError(str(path), "a JSON array (as a string) is expected", location=location,
                         field=f"{span.where}.attributes[{key}]")  # fmt: skip
    return [m for m in value if isinstance(m, dict)]


def _text_of(message: dict[str, Any]) -> str:
    return "\n".join(
        str(p.get("content", "")) for p in message.get("parts") or []
        if isinstance(p, dict) and p.get("type") == "text"
    )  # fmt: skip


def _tokens(span: Span, path: Path, location: str) -> int | None:
    total = 0
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
        value = span.attrs.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**52:
            raise InputError(str(path), f"a token count is expected, got {value!r:.40}",
                             location=location, field=f"{span.where}.attributes[{key}]")  # fmt: skip
        total += value
    return total or None


def _has_verdict(root: Span) -> bool:
    return (
        root.status_code == 2
        or root.attrs.get("test.case.result.status") in ("pass", "fail", "error")
        or any(name == _EVAL for name, _, _ in root.events)
    )


class OtelGenAIImporter:
    name = NAME
    description = (
        "OpenTelemetry GenAI traces, OTLP/JSON lines (one ExportTraceServiceRequest per line)"
    )

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b'{"resourceSpans"')

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        progress = Progress()
        first = self._first_resource(path)
        run_name = first.get("evaltui.run") or " ".join(
            str(x) for x in (first.get("service.name"), first.get("service.version")) if x
        ) or path.stem  # fmt: skip
        run = Run(
            name=options.name or str(run_name),
            system=options.system or str(first.get("service.version") or ""),
            role=options.role or "none",
            source_path=str(path.resolve()),
            format=NAME,
            metadata={k: v for k, v in first.items() if not k.startswith("telemetry.")},
        )
        return [ParsedRun(run, self._records(path, options, progress), progress)]

    def _first_resource(self, path: Path) -> dict[str, Any]:
        from evaltui.importers.otlp import Bad

        for number, raw in iter_lines(path, Progress()):
            location = f"line {number}"
            for r, rs in enumerate(request(path, json_line(path, raw, location), location)):
                try:
                    return resource_of(rs, f"resourceSpans[{r}]")
                except Bad as bad:
                    raise InputError(str(path), bad.why, location=location,
                                     field=bad.where) from None  # fmt: skip
        raise InputError(str(path), "no resourceSpans in this file", field="resourceSpans")

    def _records(self, path: Path, options: ImportOptions, progress: Progress) -> Iterator[Record]:
        max_spans = env_limit("EVALTUI_MAX_PENDING_SPANS", MAX_PENDING_SPANS)
        max_bytes = env_limit("EVALTUI_MAX_PENDING_BYTES", MAX_PENDING_BYTES)
        pending: dict[str, list[Span]] = {}
        done: OrderedDict[str, None] = OrderedDict()
        held = held_bytes = 0
        keyed = scored = False
        seen: tuple[str, str] | None = None  # a foreign dialect, once seen
        for number, raw in iter_lines(path, progress):
            location = f"line {number}"
            roots: dict[str, Span] = {}
            for span in spans_of(path, json_line(path, raw, location), location):
                trace = span.trace
                if trace in done:
                    what = "a second root span" if not span.parent else "a span"
                    raise InputError(
                        str(path), f"{what} of trace {trace} after its root span: the trace was "
                        "already complete", location=location, field=span.where,
                    )  # fmt: skip
                if not span.parent:
                    if trace in roots:
                        raise InputError(
                            str(path), f"trace {trace} has two root spans ({roots[trace].span_id} "
                            f"and {span.span_id} have no parent)", location=location,
                            field=f"{span.where}.parentSpanId",
                        )  # fmt: skip
                    roots[trace] = span
                pending.setdefault(trace, []).append(span)
                held += 1
                held_bytes += span.size
                if held > max_spans or held_bytes > max_bytes:
                    which = (f"{held:,} spans", f"{max_spans:,} (EVALTUI_MAX_PENDING_SPANS)") \
                        if held > max_spans else \
                        (f"{held_bytes:,} bytes of spans", f"{max_bytes:,} (EVALTUI_MAX_PENDING_BYTES)")  # fmt: skip
                    raise InputError(
                        str(path), f"{which[0]} of {len(pending):,} trace(s) wait for their "
                        f"trace's root span, over the limit of {which[1]}: a trace is complete "
                        "when its root (the span without a parent) arrives", location=location,
                    )  # fmt: skip
            for trace, root in roots.items():
                spans = pending.pop(trace)
                held -= len(spans)
                held_bytes -= sum(s.size for s in spans)
                done[trace] = None
                if len(done) > _DONE_KEPT:
                    done.popitem(last=False)
                has_key = any(root.attrs.get(k) is not None for k in _KEYS)
                has_verdict = _has_verdict(root)
                if not has_key and not has_verdict and seen is None:
                    seen = dialect(spans)
                    if seen is not None:
                        raise InputError(
                            str(path), f"trace {trace} is in the {seen[0]} convention ({seen[1]}), "
                            "which evaltui does not read: its cases and verdicts would be read as "
                            "absent (evaltui reads OpenTelemetry GenAI traces: test.case.name and "
                            "gen_ai.evaluation.result on the root span)", location=location,
                            field=seen[1],
                        )  # fmt: skip
                keyed, scored = keyed or has_key, scored or has_verdict
                yield self._record(path, number, trace, spans, root, options)
        if pending:
            trace = next(iter(pending))
            raise InputError(str(path), f"trace {trace} has no root span (no span without a parent)",
                             field="parentSpanId")  # fmt: skip
        if not keyed or not scored:
            missing = (
                "names its case (no root span has test.case.name or evaltui.case_key; trace "
                "ids would be case keys, which line up with no other run)"
                if not keyed else "carries a verdict (no root span has test.case.result.status, "
                "a gen_ai.evaluation.result event or an error status)"
            )  # fmt: skip
            raise InputError(str(path), f"no trace in this file {missing}",
                             field="test.case.name" if not keyed else _EVAL)  # fmt: skip

    def _record(self, path: Path, number: int, trace: str, spans: list[Span], root: Span,
                options: ImportOptions) -> Record:  # fmt: skip
        location = f"line {number}"
        spans.sort(key=lambda s: (s.start, s.end))
        attrs = root.attrs
        key = next((attrs[k] for k in _KEYS if attrs.get(k) is not None), trace)
        if not isinstance(key, str | int) or isinstance(key, bool) or key == "":
            name = next(k for k in _KEYS if attrs.get(k) is not None)
            raise InputError(str(path), f"a case name (a string) is expected, got {key!r:.40}",
                             location=location, field=f"{root.where}.attributes[{name}]")  # fmt: skip
        suite = options.suite or str(
            attrs.get("test.suite.name") or root.resource.get("service.name") or "otel"
        )
        criteria: dict[str, Criterion] = {}
        for event, ev, _ in root.events:
            if event != _EVAL:
                continue
            name = str(ev.get("gen_ai.evaluation.name") or "evaluation")
            label = ev.get("gen_ai.evaluation.score.label")
            explanation = ev.get("gen_ai.evaluation.explanation")
            crit = score_to_criterion(ev.get("gen_ai.evaluation.score.value"),
                                      None if explanation is None else as_text(explanation),
                                      options.threshold)  # fmt: skip
            if label in ("pass", "fail"):
                crit.verdict = label
            if label not in (None, "pass", "fail"):
                crit.explanation = (
                    f"{as_text(label)}: {crit.explanation}" if crit.explanation else as_text(label)
                )
            criteria[name] = crit
        error = None
        verdict: Verdict
        if root.status_code == 2:
            verdict, error = "error", root.status_message or "the agent's root span failed"
        elif options.pass_criterion:
            chosen = find_criterion(criteria, options.pass_criterion)
            verdict = (chosen.verdict if chosen else None) or "unscored"
        elif attrs.get("test.case.result.status") in ("pass", "fail", "error"):
            verdict = attrs["test.case.result.status"]
        elif criteria:
            verdicts = [c.verdict for c in criteria.values()]
            verdict = (
                "unscored"
                if None in verdicts
                else ("pass" if all(v == "pass" for v in verdicts) else "fail")
            )
        else:
            verdict = "unscored"
        input_msgs = _messages(root, "gen_ai.input.messages", path, location)
        output_msgs = _messages(root, "gen_ai.output.messages", path, location)
        case_attrs: dict[str, Any] = {}
        for k, v in attrs.items():
            if k.startswith(_SKIP_NS) or not isinstance(v, str | int | float | bool):
                continue
            short = k.rsplit(".", 1)[-1]
            case_attrs[short if short not in case_attrs else k] = v
        start, end = root.start, root.end
        return Record(
            suite=suite,
            case_key=str(key),
            verdict=verdict,
            input="\n".join(f"{m.get('role', '?')}: {_text_of(m)}" for m in input_msgs),
            expected=None,
            attributes=case_attrs,
            output="\n".join(_text_of(m) for m in output_msgs),
            criteria=criteria,
            latency_ms=(end - start) / 1e6 if end >= start > 0 else None,
            error=error,
            location=f"line {number} (trace {trace})",
            trajectory=self._trajectory(path, location, spans, root, input_msgs),
        )

    def _trajectory(self, path: Path, location: str, spans: list[Span], root: Span,
                    input_msgs: list[dict[str, Any]]) -> list[Step]:  # fmt: skip
        steps: list[Step] = []
        system = _messages(root, "gen_ai.system_instructions", path, location)
        sys_text = "\n".join(str(p.get("content", "")) for p in system)
        if sys_text:
            steps.append(Step(kind="message", role="system", text=sys_text))
        for m in input_msgs:
            steps.append(Step(kind="message", role=str(m.get("role") or "user"), text=_text_of(m)))
        turn = 0
        for span in spans:
            if not span.parent:
                continue
            a = span.attrs
            op = a.get("gen_ai.operation.name")
            ms = max((span.end - span.start) / 1e6, 0.0)
            if op == "chat":
                turn += 1
                tokens = _tokens(span, path, location)
                for m in _messages(span, "gen_ai.output.messages", path, location):
                    steps.append(Step(kind="message", role="assistant", text=_text_of(m), turn=turn,
                                      latency_ms=ms, tokens=tokens))  # fmt: skip
                    for p in m.get("parts") or []:
                        if isinstance(p, dict) and p.get("type") == "tool_call":
                            steps.append(Step(kind="tool_call", turn=turn, name=as_text(p.get("name")),
                                              call_id=as_text(p.get("id")), arguments=p.get("arguments")))  # fmt: skip
            elif op == "execute_tool":
                failed = span.status_code == 2
                steps.append(Step(
                    kind="tool_result", turn=turn, name=as_text(a.get("gen_ai.tool.name")),
                    call_id=as_text(a.get("gen_ai.tool.call.id")),
                    text=None if failed else as_text(a.get("gen_ai.tool.call.result")),
                    error=(span.status_message or as_text(a.get("error.type")) or "error") if failed else None,
                    latency_ms=ms,
                ))  # fmt: skip
            elif op == "retrieval":
                for d in _messages(span, "gen_ai.retrieval.documents", path, location):
                    if d.get("id") is not None:
                        steps.append(Step(kind="source", turn=turn, source_id=as_text(d["id"]),
                                          name=as_text(a.get("gen_ai.data_source.id") or "retrieval")))  # fmt: skip
        return _dedupe_sources(with_sources(steps))


def _dedupe_sources(steps: list[Step]) -> list[Step]:
    """One source step per id and turn (a retrieval span and the tool's JSON result name the
    same passages): the one with the most detail is kept, cited if either is."""
    best: dict[tuple[int, str], Step] = {}
    for s in steps:
        if s.kind == "source" and s.source_id:
            k = (s.turn, s.source_id)
            old = best.get(k)
            if old is None or (s.text and not old.text):
                best[k] = s.model_copy(update={"cited": s.cited or (old.cited if old else False)})
            elif s.cited and not old.cited:
                best[k] = old.model_copy(update={"cited": True})
    out, seen = [], set()
    for s in steps:
        if s.kind == "source" and s.source_id:
            k = (s.turn, s.source_id)
            if k in seen:
                continue
            seen.add(k)
            out.append(best[k])
        else:
            out.append(s)
    return out
