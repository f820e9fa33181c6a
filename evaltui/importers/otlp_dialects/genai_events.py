"""OpenTelemetry GenAI, the older shape (semantic conventions up to 1.36, and what
instrumentations still write unless OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental):
the chat history as one event per message, `gen_ai.system.message`, `gen_ai.user.message`,
`gen_ai.assistant.message` (its `tool_calls`), `gen_ai.tool.message` (its `id`) and the
answer as `gen_ai.choice` (`message`, `finish_reason`), each with its content in the log
record's body (or, as a span event, in the `gen_ai.event.content` attribute, JSON); older
still, the `gen_ai.content.prompt` / `gen_ai.content.completion` events and the
`gen_ai.prompt` / `gen_ai.completion` attributes, a JSON list of {role, content} or
flattened (`gen_ai.prompt.0.role`, `gen_ai.completion.0.tool_calls.0.name`). All of it is
turned into the GenAI message shape of `genai`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evaltui.importers.otlp import Span
from evaltui.importers.otlp_dialects import Ctx, call_part, events, text_part

_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
          "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}  # fmt: skip
_FLAT = re.compile(r"gen_ai\.(prompt|completion)\.(\d+)\.(.+)")


def _body(ctx: Ctx, span: Span, attrs: dict[str, Any], body: Any) -> Any:
    if body is None and isinstance(attrs.get("gen_ai.event.content"), str):
        try:
            body = json.loads(attrs["gen_ai.event.content"])
        except (ValueError, RecursionError):
            raise ctx.fail(span, "gen_ai.event.content", "a JSON object is expected") from None
    return body if isinstance(body, dict) else {}


def _content(value: Any) -> str:
    if isinstance(value, list):  # [{"type": "text", "text": ...}, ...]
        return "\n".join(
            str(p.get("text", p.get("content", ""))) for p in value if isinstance(p, dict)
        )
    return "" if value is None else str(value)


def _message(role: str, body: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI-style message ({role, content, tool_calls, tool_call_id | id}) as GenAI parts."""
    parts: list[dict[str, Any]] = []
    if role == "tool":
        call_id = body.get("id", body.get("tool_call_id"))
        parts.append(
            {"type": "tool_call_response", "id": call_id, "response": _content(body.get("content"))}
        )
        return {"role": "tool", "parts": parts}
    if body.get("content"):
        parts.append(text_part(_content(body.get("content"))))
    for call in body.get("tool_calls") or []:
        if isinstance(call, dict):
            fn: dict[str, Any] = (
                call["function"] if isinstance(call.get("function"), dict) else call
            )
            parts.append(
                call_part(call.get("id"), fn.get("name"), fn.get("arguments", fn.get("args")))
            )
    return {"role": role, "parts": parts}


def _listed(ctx: Ctx, span: Span, key: str, attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """A `gen_ai.prompt` / `gen_ai.completion` JSON list of {role, content} messages."""
    value = attrs.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            value = [{"role": "user" if key == "gen_ai.prompt" else "assistant", "content": value}]
    if not isinstance(value, list):
        raise ctx.fail(span, key, "a JSON array of messages is expected")
    return [_message(str(m.get("role") or "user"), m) for m in value if isinstance(m, dict)]


def _flattened(attrs: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`gen_ai.prompt.N.*` / `gen_ai.completion.N.*` (with `tool_calls.M.name`...)."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for key, value in attrs.items():
        m = _FLAT.fullmatch(key)
        if not m:
            continue
        msg = found.setdefault((m[1], int(m[2])), {})
        rest = m[3].split(".")
        if rest[0] == "tool_calls" and len(rest) == 3 and rest[1].isdigit():
            calls = msg.setdefault("tool_calls", {})
            calls.setdefault(int(rest[1]), {})[rest[2]] = value
        else:
            msg[m[3]] = value
    prompt: list[dict[str, Any]] = []
    completion: list[dict[str, Any]] = []
    for (which, _), msg in sorted(found.items()):
        calls = msg.pop("tool_calls", {})
        msg["tool_calls"] = [calls[i] for i in sorted(calls)]
        role = str(msg.get("role") or ("user" if which == "prompt" else "assistant"))
        (prompt if which == "prompt" else completion).append(_message(role, msg))
    return prompt, completion


def messages(
    ctx: Ctx, span: Span
) -> tuple[str, list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """(system text, input messages, output messages) of a span in the older shape; None for
    a side no event or attribute gives."""
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    found_in = found_out = False
    for name, attrs, body in events(span):
        if name in _ROLES:
            inputs.append(_message(_ROLES[name], _body(ctx, span, attrs, body)))
            found_in = True
        elif name == "gen_ai.choice":
            data = _body(ctx, span, attrs, body)
            message = data.get("message") if isinstance(data.get("message"), dict) else data
            outputs.append(_message(str(message.get("role") or "assistant"), message))
            found_out = True
        elif name == "gen_ai.content.prompt" and "gen_ai.prompt" in attrs:
            inputs += _listed(ctx, span, "gen_ai.prompt", attrs)
            found_in = True
        elif name == "gen_ai.content.completion" and "gen_ai.completion" in attrs:
            outputs += _listed(ctx, span, "gen_ai.completion", attrs)
            found_out = True
    if not found_in and "gen_ai.prompt" in span.attrs:
        inputs, found_in = _listed(ctx, span, "gen_ai.prompt", span.attrs), True
    if not found_out and "gen_ai.completion" in span.attrs:
        outputs, found_out = _listed(ctx, span, "gen_ai.completion", span.attrs), True
    if not found_in and not found_out:
        flat_in, flat_out = _flattened(span.attrs)
        inputs, outputs = flat_in, flat_out
        found_in, found_out = bool(flat_in), bool(flat_out)
    system = "\n".join(
        "\n".join(str(p.get("content", "")) for p in m["parts"] if p.get("type") == "text")
        for m in inputs
        if m["role"] == "system"
    )
    inputs = [m for m in inputs if m["role"] != "system"]
    return system, inputs if found_in else None, outputs if found_out else None
