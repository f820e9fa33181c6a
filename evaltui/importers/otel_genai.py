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
(the SDK ends children first); a trace left without a root is refused, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaltui.errors import InputError
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    as_text,
    find_criterion,
    iter_lines,
    json_line,
    score_to_criterion,
)
from evaltui.models import Criterion, Record, Run, Verdict
from evaltui.trajectory import Step, with_sources

NAME = "otel-genai"
_SKIP_NS = ("gen_ai.", "test.", "server.", "error.", "telemetry.", "otel.")


def _value(v: dict[str, Any]) -> Any:
    """An OTLP AnyValue as Python."""
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [_value(x) for x in (v["arrayValue"].get("values") or [])]
    if "kvlistValue" in v:
        return _attrs(v["kvlistValue"].get("values") or [])
    return None


def _attrs(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(a.get("key")): _value(a.get("value") or {}) for a in items if isinstance(a, dict)}


def _messages(text: Any) -> list[dict[str, Any]]:
    if not isinstance(text, str):
        return []
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return []
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _text_of(message: dict[str, Any]) -> str:
    return "\n".join(
        str(p.get("content", "")) for p in message.get("parts") or []
        if isinstance(p, dict) and p.get("type") == "text"
    )  # fmt: skip


def _ns(span: dict[str, Any], key: str) -> int:
    try:
        return int(span.get(key) or 0)
    except (TypeError, ValueError):
        return 0


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
        for number, raw in iter_lines(path, Progress()):
            obj = self._line(path, raw, number)
            for rs in obj.get("resourceSpans") or []:
                return _attrs(((rs or {}).get("resource") or {}).get("attributes") or [])
        raise InputError(str(path), "no resourceSpans in this file")

    def _line(self, path: Path, raw: bytes, number: int) -> dict[str, Any]:
        location = f"line {number}"
        obj = json_line(path, raw, location)
        if not isinstance(obj, dict) or not isinstance(obj.get("resourceSpans"), list):
            raise InputError(str(path), "not an ExportTraceServiceRequest", location=location,
                             field="resourceSpans")  # fmt: skip
        return obj

    def _records(self, path: Path, options: ImportOptions, progress: Progress) -> Iterator[Record]:
        pending: dict[str, list[dict[str, Any]]] = {}
        resources: dict[str, dict[str, Any]] = {}
        done: set[str] = set()
        for number, raw in iter_lines(path, progress):
            obj = self._line(path, raw, number)
            ready = []
            for rs in obj["resourceSpans"]:
                resource = _attrs(((rs or {}).get("resource") or {}).get("attributes") or [])
                for ss in (rs or {}).get("scopeSpans") or []:
                    for span in (ss or {}).get("spans") or []:
                        trace = str(span.get("traceId") or "")
                        if not trace or not span.get("spanId"):
                            raise InputError(str(path), "a span without traceId or spanId",
                                             location=f"line {number}", field="traceId")  # fmt: skip
                        if trace in done:
                            raise InputError(
                                str(path), f"a span of trace {trace} after its root span: the "
                                "trace was already complete", location=f"line {number}",
                            )  # fmt: skip
                        pending.setdefault(trace, []).append(span)
                        resources.setdefault(trace, resource)
                        if not span.get("parentSpanId"):
                            ready.append(trace)
            for trace in ready:
                spans = pending.pop(trace)
                done.add(trace)
                yield self._record(path, number, trace, spans, resources.pop(trace), options)
        if pending:
            trace = next(iter(pending))
            raise InputError(str(path), f"trace {trace} has no root span (no span without a parent)",
                             field="parentSpanId")  # fmt: skip

    def _record(self, path: Path, number: int, trace: str, spans: list[dict[str, Any]],
                resource: dict[str, Any], options: ImportOptions) -> Record:  # fmt: skip
        spans.sort(key=lambda s: (_ns(s, "startTimeUnixNano"), _ns(s, "endTimeUnixNano")))
        root = next(s for s in spans if not s.get("parentSpanId"))
        attrs = _attrs(root.get("attributes") or [])
        key = attrs.get("test.case.name") or attrs.get("evaltui.case_key") or trace
        suite = options.suite or str(
            attrs.get("test.suite.name") or resource.get("service.name") or "otel"
        )
        criteria: dict[str, Criterion] = {}
        for event in root.get("events") or []:
            if event.get("name") != "gen_ai.evaluation.result":
                continue
            ev = _attrs(event.get("attributes") or [])
            name = str(ev.get("gen_ai.evaluation.name") or "evaluation")
            label = ev.get("gen_ai.evaluation.score.label")
            crit = score_to_criterion(ev.get("gen_ai.evaluation.score.value"),
                                      ev.get("gen_ai.evaluation.explanation"), options.threshold)  # fmt: skip
            if label in ("pass", "fail"):
                crit.verdict = label
            if label not in (None, "pass", "fail"):
                crit.explanation = (
                    f"{label}: {crit.explanation}" if crit.explanation else str(label)
                )
            criteria[name] = crit
        status = root.get("status") or {}
        error = None
        verdict: Verdict
        if status.get("code") == 2:
            verdict, error = "error", str(status.get("message") or "the agent's root span failed")
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
        input_msgs = _messages(attrs.get("gen_ai.input.messages"))
        output_msgs = _messages(attrs.get("gen_ai.output.messages"))
        case_attrs: dict[str, Any] = {}
        for k, v in attrs.items():
            if k.startswith(_SKIP_NS) or not isinstance(v, str | int | float | bool):
                continue
            short = k.rsplit(".", 1)[-1]
            case_attrs[short if short not in case_attrs else k] = v
        start, end = _ns(root, "startTimeUnixNano"), _ns(root, "endTimeUnixNano")
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
            trajectory=self._trajectory(spans, attrs, input_msgs),
        )

    def _trajectory(self, spans: list[dict[str, Any]], root_attrs: dict[str, Any],
                    input_msgs: list[dict[str, Any]]) -> list[Step]:  # fmt: skip
        steps: list[Step] = []
        system = _messages(root_attrs.get("gen_ai.system_instructions"))
        sys_text = "\n".join(str(p.get("content", "")) for p in system if isinstance(p, dict))
        if sys_text:
            steps.append(Step(kind="message", role="system", text=sys_text))
        for m in input_msgs:
            steps.append(Step(kind="message", role=str(m.get("role") or "user"), text=_text_of(m)))
        turn = 0
        for span in spans:
            if not span.get("parentSpanId"):
                continue
            a = _attrs(span.get("attributes") or [])
            op = a.get("gen_ai.operation.name")
            ms = (_ns(span, "endTimeUnixNano") - _ns(span, "startTimeUnixNano")) / 1e6
            if op == "chat":
                turn += 1
                tokens = sum(
                    int(a.get(k) or 0)
                    for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
                )
                for m in _messages(a.get("gen_ai.output.messages")):
                    text = _text_of(m)
                    steps.append(Step(kind="message", role="assistant", text=text, turn=turn,
                                      latency_ms=max(ms, 0.0), tokens=tokens or None))  # fmt: skip
                    for p in m.get("parts") or []:
                        if isinstance(p, dict) and p.get("type") == "tool_call":
                            steps.append(Step(kind="tool_call", turn=turn, name=str(p.get("name") or ""),
                                              call_id=str(p.get("id") or ""), arguments=p.get("arguments")))  # fmt: skip
            elif op == "execute_tool":
                status = span.get("status") or {}
                failed = status.get("code") == 2
                steps.append(Step(
                    kind="tool_result", turn=turn, name=str(a.get("gen_ai.tool.name") or ""),
                    call_id=str(a.get("gen_ai.tool.call.id") or ""),
                    text=None if failed else as_text(a.get("gen_ai.tool.call.result")),
                    error=str(status.get("message") or a.get("error.type") or "error") if failed else None,
                    latency_ms=max(ms, 0.0),
                ))  # fmt: skip
            elif op == "retrieval":
                docs = _messages(a.get("gen_ai.retrieval.documents"))
                for d in docs:
                    if d.get("id") is not None:
                        steps.append(Step(kind="source", turn=turn, source_id=str(d["id"]),
                                          name=str(a.get("gen_ai.data_source.id") or "retrieval")))  # fmt: skip
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
