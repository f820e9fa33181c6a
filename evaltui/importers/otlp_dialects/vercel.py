"""The Vercel AI SDK's telemetry (`experimental_telemetry`): spans named by `ai.operationId`.
`ai.generateText.doGenerate` / `ai.streamText.doStream` (and the generateObject ones) are
model turns: input `ai.prompt.messages` (the SDK's messages as JSON: text, tool-call and
tool-result content parts), output `ai.response.text` and `ai.response.toolCalls` (JSON:
`toolCallId`, `toolName`, `input` or `args`), tokens `ai.usage.inputTokens` /
`outputTokens` (or `promptTokens` / `completionTokens`); `ai.toolCall` spans are tool
executions (`ai.toolCall.name`, `.id`, `.args`, `.result` as JSON, or the error status);
the outer `ai.generateText` / `ai.streamText` span is the agent (`ai.prompt`,
`ai.response.text`). `ai.telemetry.metadata.*` can name the case (`test.case.name`,
`evaltui.case_key`, `case_id`). Other operations (embeddings, rerank) are read, with no step.
"""

from __future__ import annotations

import json
from typing import Any

from evaltui.importers.base import as_text
from evaltui.importers.otlp import Span
from evaltui.importers.otlp_dialects import (
    VERCEL,
    Ctx,
    Kind,
    View,
    arguments,
    call_part,
    text_part,
    tokens,
)

_TURNS = ("ai.generateText.doGenerate", "ai.streamText.doStream", "ai.generateObject.doGenerate",
          "ai.streamObject.doStream")  # fmt: skip
_AGENTS = ("ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject")
_META = "ai.telemetry.metadata."


def _result_text(value: Any) -> str:
    """A tool-result output: the SDK's {type: text|json|error-text, value} or the value."""
    if isinstance(value, dict) and "type" in value and "value" in value:
        value = value["value"]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _message(m: dict[str, Any]) -> dict[str, Any]:
    role = str(m.get("role") or "user")
    content = m.get("content")
    if isinstance(content, str):
        return {"role": role, "parts": [text_part(content)]}
    parts: list[dict[str, Any]] = []
    for p in content if isinstance(content, list) else []:
        if not isinstance(p, dict):
            continue
        if p.get("type") == "text":
            parts.append(text_part(p.get("text")))
        elif p.get("type") == "tool-call":
            parts.append(
                call_part(p.get("toolCallId"), p.get("toolName"), p.get("input", p.get("args")))
            )
        elif p.get("type") == "tool-result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": p.get("toolCallId"),
                    "response": _result_text(p.get("output", p.get("result"))),
                }
            )
    return {"role": role, "parts": parts}


def view(ctx: Ctx, span: Span) -> View:
    a = span.attrs
    op = str(a.get("ai.operationId"))
    kind: Kind = (
        "llm"
        if op in _TURNS
        else "tool"
        if op == "ai.toolCall"
        else "agent"
        if op in _AGENTS
        else "other"
    )
    meta = {k[len(_META) :]: v for k, v in a.items() if k.startswith(_META)}
    out = View(kind=kind, dialect=VERCEL, metadata=meta)
    if kind == "llm":
        msgs = [
            _message(m)
            for m in ctx.json_attr(span, "ai.prompt.messages") or []
            if isinstance(m, dict)
        ]
        out.system = "\n".join(
            str(p.get("content", "")) for m in msgs if m["role"] == "system" for p in m["parts"]
        )
        out.input = [m for m in msgs if m["role"] != "system"]
        reply: list[dict[str, Any]] = []
        if a.get("ai.response.text"):
            reply.append(text_part(a["ai.response.text"]))
        for c in ctx.json_attr(span, "ai.response.toolCalls") or []:
            if isinstance(c, dict):
                reply.append(
                    call_part(c.get("toolCallId"), c.get("toolName"), c.get("input", c.get("args")))
                )
        has_reply = "ai.response.text" in a or "ai.response.toolCalls" in a
        out.output = [{"role": "assistant", "parts": reply}] if has_reply else []
        out.tokens = tokens(ctx, span, "ai.usage.inputTokens", "ai.usage.outputTokens") or tokens(
            ctx, span, "ai.usage.promptTokens", "ai.usage.completionTokens"
        )
        out.content_missing = not msgs and not has_reply
    elif kind == "tool":
        out.tool = as_text(a.get("ai.toolCall.name")) or None
        out.call_id = as_text(a.get("ai.toolCall.id")) or None
        out.arguments = arguments(a.get("ai.toolCall.args", a.get("ai.toolCall.input")))
        if span.status_code == 2:
            out.error = span.status_message or "error"
        else:
            raw = a.get("ai.toolCall.result", a.get("ai.toolCall.output"))
            if raw is not None:
                out.result = _result_text(arguments(raw))
    elif kind == "agent":
        prompt = ctx.json_attr(span, "ai.prompt", (dict,)) or {}
        if isinstance(prompt.get("system"), str):
            out.system = prompt["system"]
        if isinstance(prompt.get("messages"), list):
            out.input = [_message(m) for m in prompt["messages"] if isinstance(m, dict)]
        elif isinstance(prompt.get("prompt"), str):
            out.input = [{"role": "user", "parts": [text_part(prompt["prompt"])]}]
        if a.get("ai.response.text") is not None:
            out.output = [{"role": "assistant", "parts": [text_part(a["ai.response.text"])]}]
    return out
