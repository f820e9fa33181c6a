"""An Inspect AI sample's path (docs/formats.md, Inspect: trajectories): its `messages`
with their tool calls, tool results and errors, passages in tool results, and each model
turn's latency and tokens from its `model` event."""

from __future__ import annotations

from typing import Any

from evaltui.trajectory import Step, with_sources


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            if isinstance(p, dict) and p.get("type") == "text"
            else f"<{p.get('type', 'part')}>"
            if isinstance(p, dict)
            else str(p)
            for p in content
        )
    return "" if content is None else str(content)


def sample_path(
    messages: list[dict[str, Any]] | None, events: list[dict[str, Any]] | None, limit: str | None
) -> list[Step] | None:
    """The sample's path, when it has one (tool calls or several model turns): its
    messages in order, with tool calls, tool results (or errors) and the passages tool
    results hold; each model turn's latency and tokens from its `model` event."""
    messages = messages or []
    agentic = any(
        m.get("tool_calls") or m.get("role") == "tool" for m in messages if isinstance(m, dict)
    )
    turns = sum(
        1
        for m in messages
        if isinstance(m, dict) and m.get("role") == "assistant" and m.get("source") == "generate"
    )
    if not (agentic or turns > 1):
        return None
    models = [e for e in events or [] if isinstance(e, dict) and e.get("event") == "model"]
    steps: list[Step] = []
    turn = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        role = str(m.get("role") or "?")
        if role == "assistant" and m.get("source") == "generate":
            turn += 1
            event = models[turn - 1] if turn - 1 < len(models) else {}
            usage = ((event.get("output") or {}).get("usage") or {}) if event else {}
            seconds = event.get("working_time") if event else None
            steps.append(
                Step(
                    kind="message",
                    role=role,
                    text=_content_text(m.get("content")),
                    turn=turn,
                    latency_ms=seconds * 1000
                    if isinstance(seconds, int | float) and seconds >= 0
                    else None,
                    tokens=usage.get("total_tokens")
                    if isinstance(usage.get("total_tokens"), int)
                    else None,
                )
            )
        elif role == "tool":
            err = m.get("error")
            steps.append(
                Step(
                    kind="tool_result",
                    turn=turn,
                    name=str(m.get("function") or ""),
                    call_id=str(m.get("tool_call_id") or ""),
                    text=None if err else _content_text(m.get("content")),
                    error=(str(err.get("message") or err) if isinstance(err, dict) else str(err))
                    if err
                    else None,
                )
            )
            continue
        else:
            steps.append(
                Step(kind="message", role=role, text=_content_text(m.get("content")), turn=turn)
            )
        for call in m.get("tool_calls") or []:
            if isinstance(call, dict):
                steps.append(
                    Step(
                        kind="tool_call",
                        turn=turn,
                        name=str(call.get("function") or ""),
                        call_id=str(call.get("id") or ""),
                        arguments=call.get("arguments"),
                    )
                )
    if limit is not None:
        steps.append(Step(kind="limit", turn=turn, text=f"{limit} limit"))
    return with_sources(steps)
