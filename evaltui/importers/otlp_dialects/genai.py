"""OpenTelemetry GenAI, as the semantic conventions write it now: the operation in
`gen_ai.operation.name` (chat, execute_tool, retrieval, invoke_agent...), the chat history
in the `gen_ai.input.messages` / `gen_ai.output.messages` / `gen_ai.system_instructions`
attributes (a JSON string, or a structured value), or in a
`gen_ai.client.inference.operation.details` event (a span event or a log record joined to
the span, as instrumentations write it with content captured as events). A span with
neither reads the older event shape (`genai_events`). Evaluations are
`gen_ai.evaluation.result` events (span events or log records).
"""

from __future__ import annotations

import json
from typing import Any

from evaltui.importers.base import as_text
from evaltui.importers.otlp import Span
from evaltui.importers.otlp_dialects import (
    GENAI,
    Ctx,
    Evaluation,
    Kind,
    View,
    arguments,
    events,
    genai_events,
    text_of,
    tokens,
)

EVAL = "gen_ai.evaluation.result"
DETAILS = "gen_ai.client.inference.operation.details"
_KINDS: dict[str, Kind] = {
    "chat": "llm", "text_completion": "llm", "generate_content": "llm",
    "execute_tool": "tool", "retrieval": "retrieval",
    "invoke_agent": "agent", "create_agent": "agent", "invoke_workflow": "agent",
}  # fmt: skip


def evaluations(span: Span) -> list[Evaluation]:
    out = []
    for name, attrs, _ in events(span):
        if name == EVAL:
            out.append(
                Evaluation(
                    name=str(attrs.get("gen_ai.evaluation.name") or "evaluation"),
                    score=attrs.get("gen_ai.evaluation.score.value"),
                    label=attrs.get("gen_ai.evaluation.score.label"),
                    explanation=attrs.get("gen_ai.evaluation.explanation"),
                    error=as_text(attrs["error.type"]) if attrs.get("error.type") else None,
                )
            )
    return out


def _messages(ctx: Ctx, span: Span, key: str) -> list[dict[str, Any]] | None:
    value = ctx.json_attr(span, key)
    return None if value is None else [m for m in value if isinstance(m, dict)]


def _details(ctx: Ctx, span: Span) -> Span | None:
    """The operation-details event of the span, as a span (its attributes read as one)."""
    for name, attrs, _ in events(span):
        if name == DETAILS:
            return Span(
                span.trace,
                span.span_id,
                span.parent,
                span.name,
                0,
                0,
                attrs,
                [],
                0,
                "",
                f"{span.where} (event {DETAILS})",
            )
    return None


def _system(ctx: Ctx, span: Span) -> str:
    value = ctx.json_attr(span, "gen_ai.system_instructions")
    if not value:
        return ""
    return "\n".join(str(p.get("content", "")) for p in value if isinstance(p, dict))


def view(ctx: Ctx, span: Span) -> View:
    a = span.attrs
    op = a.get("gen_ai.operation.name")
    source = (
        span
        if any(k in a for k in ("gen_ai.input.messages", "gen_ai.output.messages"))
        else (_details(ctx, span) or span)
    )
    inputs = _messages(ctx, source, "gen_ai.input.messages")
    outputs = _messages(ctx, source, "gen_ai.output.messages")
    system = _system(ctx, source) or _system(ctx, span)
    if inputs is None and outputs is None:
        system, inputs, outputs = genai_events.messages(ctx, span)
    if inputs and not system:  # the system prompt as a message of the history
        system = "\n".join(text_of(m) for m in inputs if m.get("role") == "system")
    inputs = [m for m in inputs or [] if m.get("role") != "system"] if inputs is not None else None
    kind: Kind = _KINDS.get(str(op), "llm" if inputs or outputs else "other")
    out = View(kind=kind, dialect=GENAI, input=inputs or [], output=outputs or [], system=system)
    out.evaluations = evaluations(span)
    failed = span.status_code == 2
    if kind == "llm":
        out.tokens = tokens(ctx, span, "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
        out.content_missing = not inputs and not outputs
    elif kind == "tool":
        out.tool = as_text(a.get("gen_ai.tool.name")) or None
        out.call_id = as_text(a.get("gen_ai.tool.call.id")) or None
        out.arguments = arguments(a.get("gen_ai.tool.call.arguments"))
        result = a.get("gen_ai.tool.call.result")
        if result is not None and not failed:
            out.result = result if isinstance(result, str) else json.dumps(result)
        if failed:
            out.error = span.status_message or as_text(a.get("error.type")) or "error"
    elif kind == "retrieval":
        docs = ctx.json_attr(span, "gen_ai.retrieval.documents") or []
        out.documents = [d for d in docs if isinstance(d, dict) and d.get("id") is not None]
        out.tool = as_text(a.get("gen_ai.data_source.id")) or "retrieval"
    return out
