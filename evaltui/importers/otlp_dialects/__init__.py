"""Trace dialects: which convention a span is written in, decided per span, and what each
reads from it. Every dialect module turns a `Span` into a `View` (what kind of step it is,
its messages in the OTel GenAI message shape, the tool call, the documents, evaluations);
`otlp_steps` maps views onto the trajectory model, the same for every dialect.

Decided per span, first match: `openinference.span.kind` -> OpenInference; `ai.operationId`
-> the Vercel AI SDK; any `gen_ai.*` attribute or event (or a joined `gen_ai.*` log record)
-> OpenTelemetry GenAI (its attribute shape and its older event shape, `genai` and
`genai_events`); an attribute of a convention evaltui does not read (`FOREIGN`) -> that
convention, skipped and counted; anything else -> unknown, skipped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evaltui.errors import InputError
from evaltui.importers.otlp import Span

GENAI, OPENINFERENCE, VERCEL = "otel-genai", "openinference", "vercel-ai"
READ = (GENAI, OPENINFERENCE, VERCEL)
NAMES = {GENAI: "OpenTelemetry GenAI", OPENINFERENCE: "OpenInference", VERCEL: "the Vercel AI SDK"}
# Trace conventions evaltui does not read, by the attribute that gives them away.
FOREIGN: tuple[tuple[str, str], ...] = (
    ("traceloop.span.kind", "OpenLLMetry (Traceloop)"),
    ("langsmith.span.kind", "LangSmith"),
    ("logfire.span_type", "Pydantic Logfire"),
    ("mlflow.spanType", "MLflow"),
    ("langfuse.observation.type", "Langfuse"),
)
UNKNOWN = "no known convention"

Kind = Literal["llm", "tool", "retrieval", "agent", "evaluator", "other"]


def dialect_of(keys: Iterable[str], events: Iterable[str] = ()) -> str:
    """The convention a span is written in, from its attribute keys and event names: one of
    READ, a FOREIGN convention's name with its attribute ("OpenLLMetry (Traceloop):
    traceloop.span.kind"), or UNKNOWN."""
    keys = keys if isinstance(keys, dict | set | frozenset) else set(keys)
    if "openinference.span.kind" in keys:
        return OPENINFERENCE
    if "ai.operationId" in keys:
        return VERCEL
    if any(k.startswith("gen_ai.") for k in keys) or any(e.startswith("gen_ai.") for e in events):
        return GENAI
    for key, name in FOREIGN:
        if key in keys:
            return f"{name}: {key}"
    return UNKNOWN


def span_dialect(span: Span) -> str:
    events = [e[0] for e in span.events] + [r.name for r in span.logs]
    return dialect_of(span.attrs, events)


@dataclass
class Evaluation:
    """One evaluation result found in a trace (a criterion)."""

    name: str
    score: Any = None
    label: Any = None
    explanation: Any = None
    error: str | None = None


@dataclass
class View:
    """What one span says, in one shape for every dialect. Messages are in the OTel GenAI
    message shape: {"role", "parts": [{"type": "text", "content"} | {"type": "tool_call",
    "id", "name", "arguments"} | {"type": "tool_call_response", "id", "response"}]}."""

    kind: Kind
    dialect: str
    input: list[dict[str, Any]] = field(default_factory=list)
    output: list[dict[str, Any]] = field(default_factory=list)
    system: str = ""
    input_text: str = ""  # a plain input value (OpenInference input.value), when no messages
    output_text: str = ""
    tool: str | None = None
    call_id: str | None = None
    arguments: Any = None
    result: str | None = None
    error: str | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    tokens: int | None = None
    evaluations: list[Evaluation] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)  # case key, suite, attributes
    content_missing: bool = False  # a model turn whose messages are not in the file


class Ctx:
    """Where a span came from, to name it in an error."""

    def __init__(self, path: Path, location: str) -> None:
        self.path, self.location = path, location

    def fail(self, span: Span, key: str, why: str) -> InputError:
        return InputError(
            str(self.path), why, location=self.location, field=f"{span.where}.attributes[{key}]"
        )

    def json_attr(self, span: Span, key: str, kinds: tuple[type, ...] = (list,)) -> Any:
        """An attribute holding JSON (as a string) or the structured value itself; None when
        absent. Present but not of the expected kind is refused: read as empty, the
        messages would be silently lost."""
        value = span.attrs.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value, parse_constant=_no_constant)
            except (ValueError, RecursionError):
                value = None
        if not isinstance(value, kinds):
            what = " or ".join(
                {"list": "a JSON array", "dict": "a JSON object", "str": "a string"}[k.__name__]
                for k in kinds
            )
            raise self.fail(span, key, f"{what} (as a string or a structured value) is expected")
        return value

    def int_attr(self, span: Span, key: str) -> int | None:
        value = span.attrs.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**52:
            raise self.fail(span, key, f"a token count is expected, got {value!r:.40}")
        return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def tokens(ctx: Ctx, span: Span, *keys: str) -> int | None:
    counts = [ctx.int_attr(span, k) for k in keys]
    total = sum(c for c in counts if c is not None)
    return total or None


def arguments(value: Any) -> Any:
    """Tool-call arguments: a JSON string is parsed (every dialect then holds the same
    object); text that is not JSON is kept as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return value
    return value


def text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": "" if text is None else str(text)}


def call_part(call_id: Any, name: Any, args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments(args)}


def text_of(message: dict[str, Any]) -> str:
    return "\n".join(
        str(p.get("content", ""))
        for p in message.get("parts") or []
        if isinstance(p, dict) and p.get("type") == "text"
    )


def parts(messages: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    for m in messages:
        for p in m.get("parts") or []:
            if isinstance(p, dict) and p.get("type") == kind:
                yield p


def events(span: Span) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(name, attributes, body) of every event of the span: its span events, then the log
    records joined to it (in the order they were written)."""
    for name, attrs, _ in span.events:
        yield name, attrs, None
    for record in span.logs:
        yield record.name, record.attrs, record.body


def view_of(ctx: Ctx, span: Span, dialect: str) -> View:
    """The span read in its dialect (one of READ)."""
    if dialect == OPENINFERENCE:
        # cycle: each dialect's module imports this package's helpers (Ctx, View, parts...)
        from evaltui.importers.otlp_dialects import openinference

        return openinference.view(ctx, span)
    if dialect == VERCEL:
        from evaltui.importers.otlp_dialects import vercel  # cycle: as above

        return vercel.view(ctx, span)
    from evaltui.importers.otlp_dialects import genai  # cycle: as above

    return genai.view(ctx, span)
