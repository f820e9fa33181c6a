"""OpenInference (Arize Phoenix's conventions): `openinference.span.kind` LLM, TOOL,
RETRIEVER, AGENT, CHAIN, EVALUATOR (others: read, no step). Attributes are flattened:
`llm.input_messages.N.message.role` / `.content` / `.tool_call_id`,
`llm.output_messages.N.message.tool_calls.M.tool_call.{id,function.name,function.arguments}`,
`llm.token_count.{prompt,completion}`; a TOOL span's `tool.name`, `tool_call.id`,
`input.value` (its arguments) and `output.value` (its result); a RETRIEVER span's
`retrieval.documents.N.document.{id,content,metadata}`; feedback as
`evaluations.N.evaluation.*`, `trace.evaluations.N.evaluation.*` and the `annotations`
equivalents (name, score, label, explanation), and EVALUATOR spans; the root's `metadata`
(a JSON object) can name the case (`test.case.name`, `evaltui.case_key`, `case_id`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from evaltui.importers.base import as_text
from evaltui.importers.otlp import Span
from evaltui.importers.otlp_dialects import (
    OPENINFERENCE,
    Ctx,
    Evaluation,
    Kind,
    View,
    arguments,
    call_part,
    text_part,
    tokens,
)

_KINDS: dict[str, Kind] = {"LLM": "llm", "TOOL": "tool", "RETRIEVER": "retrieval",
                           "AGENT": "agent", "CHAIN": "agent", "EVALUATOR": "evaluator"}  # fmt: skip
_MSG = re.compile(r"llm\.(input|output)_messages\.(\d+)\.message\.(.+)")
_CALL = re.compile(r"tool_calls\.(\d+)\.tool_call\.(.+)")
_DOC = re.compile(r"retrieval\.documents\.(\d+)\.document\.(.+)")
_FEEDBACK = re.compile(
    r"(?:trace\.)?(evaluations|annotations)\.(\d+)\.(?:evaluation|annotation)\.(\w+)"
)


def _messages(span: Span) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for key, value in span.attrs.items():
        m = _MSG.fullmatch(key)
        if not m:
            continue
        msg = found.setdefault((m[1], int(m[2])), {"calls": {}})
        c = _CALL.fullmatch(m[3])
        if c:
            msg["calls"].setdefault(int(c[1]), {})[c[2]] = value
        else:
            msg[m[3]] = value
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for (side, _), msg in sorted(found.items()):
        role = str(msg.get("role") or ("user" if side == "input" else "assistant"))
        parts: list[dict[str, Any]] = []
        if role == "tool":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": msg.get("tool_call_id"),
                    "response": as_text(msg.get("content")),
                }
            )
        else:
            if msg.get("content") is not None:
                parts.append(text_part(msg["content"]))
            for _, call in sorted(msg["calls"].items()):
                parts.append(
                    call_part(
                        call.get("id"), call.get("function.name"), call.get("function.arguments")
                    )
                )
        (inputs if side == "input" else outputs).append({"role": role, "parts": parts})
    return inputs, outputs


def _documents(span: Span) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for key, value in span.attrs.items():
        m = _DOC.fullmatch(key)
        if m:
            found.setdefault(int(m[1]), {})[m[2]] = value
    out = []
    for _, doc in sorted(found.items()):
        if doc.get("id") is None:
            continue
        meta = arguments(doc.get("metadata"))
        title = meta.get("title") if isinstance(meta, dict) else None
        out.append({"id": doc["id"], "text": doc.get("content"), "title": title})
    return out


def feedback(span: Span) -> list[Evaluation]:
    """The span's evaluations and annotations (span- and trace-scoped)."""
    found: dict[tuple[str, str, int], dict[str, Any]] = {}
    for key, value in span.attrs.items():
        m = _FEEDBACK.fullmatch(key)
        if m:
            found.setdefault((key.split(".")[0], m[1], int(m[2])), {})[m[3]] = value
    return [
        Evaluation(
            name=str(f.get("name") or "evaluation"),
            score=f.get("score"),
            label=f.get("label"),
            explanation=f.get("explanation"),
        )
        for _, f in sorted(found.items())
    ]


def _evaluator(span: Span) -> list[Evaluation]:
    """An EVALUATOR span with no evaluation attributes: its output (a JSON object with score,
    label, explanation; or the label as text) is the result, named by the span."""
    value = arguments(span.attrs.get("output.value"))
    if isinstance(value, dict):
        return [
            Evaluation(
                name=str(value.get("name") or span.name),
                score=value.get("score"),
                label=value.get("label"),
                explanation=value.get("explanation"),
            )
        ]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [Evaluation(name=span.name, score=value)]
    return [Evaluation(name=span.name, label=value if value not in (None, "") else None)]


def metadata(ctx: Ctx, span: Span) -> dict[str, Any]:
    value = span.attrs.get("metadata")
    if value is None:
        return {}
    parsed = arguments(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ctx.fail(span, "metadata", "a JSON object is expected (OpenInference metadata)")
    return parsed


def view(ctx: Ctx, span: Span) -> View:
    a = span.attrs
    kind: Kind = _KINDS.get(str(a.get("openinference.span.kind")).upper(), "other")
    out = View(kind=kind, dialect=OPENINFERENCE, metadata=metadata(ctx, span))
    out.evaluations = feedback(span)
    if kind == "evaluator" and not out.evaluations:
        out.evaluations = _evaluator(span)
    if kind == "evaluator" and span.status_code == 2:
        for e in out.evaluations:
            e.error = span.status_message or "the evaluator failed"
    inputs, outputs = _messages(span)
    out.system = "\n".join(
        str(p.get("content", "")) for m in inputs if m["role"] == "system" for p in m["parts"]
    )
    out.input = [m for m in inputs if m["role"] != "system"]
    out.output = outputs
    out.input_text = as_text(a.get("input.value"))
    out.output_text = as_text(a.get("output.value"))
    if kind == "llm":
        out.tokens = tokens(ctx, span, "llm.token_count.prompt", "llm.token_count.completion")
        out.content_missing = not inputs and not outputs
    elif kind == "tool":
        out.tool = as_text(a.get("tool.name")) or span.name
        out.call_id = as_text(a.get("tool_call.id")) or None
        out.arguments = arguments(a.get("tool.parameters_value", a.get("input.value")))
        if span.status_code == 2:
            out.error = span.status_message or "error"
        elif a.get("output.value") is not None:
            value = a["output.value"]
            out.result = value if isinstance(value, str) else json.dumps(value)
    elif kind == "retrieval":
        out.documents = _documents(span)
        out.tool = span.name
    return out
