"""One trace's spans, read in their dialects (`otlp_dialects.View`), mapped onto a case:
its key, suite, attributes, input, output, criteria and trajectory. The same mapping for
every dialect, so a run traced with OpenInference, the Vercel AI SDK or OpenTelemetry GenAI
gives the same path for the same behaviour.

The trajectory: the system instructions and the input turns, then the spans in start
order: a model turn gives an assistant message (latency, tokens) and the tool calls it
emits; a tool span the result (or its error); a retrieval span the documents it returned.
A call whose tool span holds no result (the instrumentation did not capture content) takes
the response a later model turn was given for it (its `tool` message), and a call with no
tool span at all gets its result from there too.
"""

from __future__ import annotations

from typing import Any

from evaltui.importers.base import as_text, score_to_criterion
from evaltui.importers.otlp import Span
from evaltui.importers.otlp_dialects import Evaluation, View, parts, text_of
from evaltui.models import Criterion
from evaltui.trajectory import Step, dedupe_sources, with_sources

KEYS = ("test.case.name", "evaltui.case_key", "case_id")  # metadata keys naming the case
SKIP_NS = ("gen_ai.", "test.", "server.", "error.", "telemetry.", "otel.", "llm.", "input.",
           "output.", "openinference.", "ai.", "operation.", "resource.", "session.", "agent.",
           "metadata", "tag.", "trace.", "evaluations.", "annotations.", "retrieval.", "tool.",
           "tool_call.", "user.", "evaltui.")  # fmt: skip


def case_key(root: Span, views: list[View]) -> tuple[Any, str] | None:
    """(the case's name, the attribute that gave it): the root's `test.case.name` or
    `evaltui.case_key`, else the same keys in a dialect's metadata (OpenInference
    `metadata`, Vercel `ai.telemetry.metadata.*`) on the root or, failing that, any span."""
    for key in KEYS[:2]:
        if root.attrs.get(key) is not None:
            return root.attrs[key], f"{root.where}.attributes[{key}]"
    for view in views:
        for key in KEYS:
            if view.metadata.get(key) is not None:
                return view.metadata[key], f"metadata {key}"
    return None


def suite_of(root: Span, views: list[View]) -> str | None:
    if root.attrs.get("test.suite.name"):
        return str(root.attrs["test.suite.name"])
    for view in views:
        if view.metadata.get("test.suite.name"):
            return str(view.metadata["test.suite.name"])
    return None


def attributes(root: Span, views: list[View]) -> dict[str, Any]:
    """Root attributes outside the conventions' namespaces, by their last dotted part
    (`acme.case.risk` -> risk), then the metadata's other keys (OpenInference, Vercel)."""
    out: dict[str, Any] = {}
    for k, v in root.attrs.items():
        if k.startswith(SKIP_NS) or not isinstance(v, str | int | float | bool):
            continue
        short = k.rsplit(".", 1)[-1]
        out[short if short not in out else k] = v
    for view in views[:1]:
        for k, v in view.metadata.items():
            if k not in KEYS and k != "test.suite.name" and isinstance(v, str | int | float | bool):
                out.setdefault(k.rsplit(".", 1)[-1], v)
    return out


def criteria(views: list[View], threshold: float) -> dict[str, Criterion]:
    """Every evaluation in the trace as a criterion: a number passes at the threshold, a
    `pass`/`fail` label is the verdict, another label is kept in the explanation. A name
    seen twice is numbered (`name#2`)."""
    out: dict[str, Criterion] = {}
    for view in views:
        for e in view.evaluations:
            name, n = e.name, 2
            while name in out:
                name, n = f"{e.name}#{n}", n + 1
            out[name] = _criterion(e, threshold)
    return out


def _criterion(e: Evaluation, threshold: float) -> Criterion:
    explanation = None if e.explanation is None else as_text(e.explanation)
    crit = score_to_criterion(e.score, explanation, threshold)
    if e.label in ("pass", "fail"):
        crit.verdict = e.label
    elif e.label not in (None, ""):
        label = as_text(e.label)
        crit.explanation = f"{label}: {crit.explanation}" if crit.explanation else label
    if e.error:
        crit.verdict = "error"
        crit.explanation = f"{e.error}: {crit.explanation}" if crit.explanation else e.error
    return crit


def _messages_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(f"{m.get('role', '?')}: {text_of(m)}" for m in messages)


def case_io(root: View | None, views: list[View]) -> tuple[list[dict[str, Any]], str, str, str]:
    """(input messages, input text, output text, system text) of the case: the root's, else
    the first agent span's, else the first model turn's input and the last one's answer."""
    turns = [v for v in views if v.kind == "llm"]
    agents = [v for v in ([root] if root else []) + views if v.kind == "agent" or v is root]
    inputs: list[dict[str, Any]] = []
    for v in agents + turns[:1]:
        if v.input:
            inputs = [m for m in v.input if m.get("role") != "system"]
            break
    system = next((v.system for v in agents + turns if v.system), "")
    text = _messages_text(inputs)
    if not text:
        text = next((v.input_text for v in agents if v.input_text), "")
    output = ""
    for v in agents:
        if v.output:
            output = "\n".join(text_of(m) for m in v.output)
            break
        if v.output_text:
            output = v.output_text
            break
    if not output:
        answers = [text_of(m) for v in turns for m in v.output if text_of(m)]
        output = answers[-1] if answers else ""
    return inputs, text, output, system


def trajectory(
    spans: list[Span], views: dict[str, View], inputs: list[dict[str, Any]], system: str
) -> list[Step]:
    """The path through the case (module docstring); `spans` in start order, the root left out."""
    steps: list[Step] = []
    if system:
        steps.append(Step(kind="message", role="system", text=system))
    for m in inputs:
        steps.append(Step(kind="message", role=str(m.get("role") or "user"), text=text_of(m)))
    turn = 0
    called: dict[str, Step] = {}  # call id -> its tool_call step
    results: dict[str, Step] = {}  # call id -> its tool_result step (index in steps by identity)
    for span in spans:
        view = views.get(span.span_id)
        if view is None:
            continue
        ms = max((span.end - span.start) / 1e6, 0.0)
        if view.kind == "llm":
            _responses(steps, view, called, results, turn)
            turn += 1
            for m in view.output:
                steps.append(
                    Step(
                        kind="message",
                        role="assistant",
                        text=text_of(m),
                        turn=turn,
                        latency_ms=ms,
                        tokens=view.tokens,
                    )
                )
                for p in parts([m], "tool_call"):
                    step = Step(
                        kind="tool_call",
                        turn=turn,
                        name=as_text(p.get("name")),
                        call_id=as_text(p.get("id")) or None,
                        arguments=p.get("arguments"),
                    )
                    steps.append(step)
                    if step.call_id:
                        called[step.call_id] = step
        elif view.kind == "tool":
            step = Step(
                kind="tool_result",
                turn=turn,
                name=view.tool,
                call_id=view.call_id,
                text=view.result,
                error=view.error,
                latency_ms=ms,
            )
            steps.append(step)
            if view.call_id:
                results[view.call_id] = step
        elif view.kind == "retrieval":
            for d in view.documents:
                steps.append(
                    Step(
                        kind="source",
                        turn=turn,
                        source_id=as_text(d["id"]),
                        name=view.tool,
                        title=as_text(d["title"]) if d.get("title") is not None else None,
                        text=as_text(d["text"])[:2000] if d.get("text") is not None else None,
                    )
                )
    return dedupe_sources(with_sources(steps))


def _responses(
    steps: list[Step], view: View, called: dict[str, Step], results: dict[str, Step], turn: int
) -> None:
    """A model turn's input holds the responses to the calls before it: fill a result the
    tool span did not capture, add one for a call that had no tool span."""
    for p in parts(view.input, "tool_call_response"):
        call_id = as_text(p.get("id"))
        if not call_id or call_id not in called:
            continue
        text = as_text(p.get("response"))
        have = results.get(call_id)
        if have is None:
            step = Step(
                kind="tool_result", turn=turn, name=called[call_id].name, call_id=call_id, text=text
            )
            steps.append(step)
            results[call_id] = step
        elif have.text is None and have.error is None:
            have.text = text
