"""promptfoo's `traces` array (results written with `tracing: enabled`): each test's spans,
joined to its row by the row's `traceId`, giving the row's trajectory (docs/formats.md).

promptfoo writes the array after `results`, so the join is done without holding the file:
the first pass over the JSON (jsonstream.scan, `collect`) hands each trace to `TraceIndex.add`,
which turns its spans into steps at once and keeps them, compressed, by trace id in a private
temporary SQLite file; the rows, read after, look their trace up. One trace is one record
(bounded by the record limits); the spans of the file are never held together.

A span is read by its attributes, as promptfoo's own trajectory assertions read it:
- a tool call: a span with a tool name (`gen_ai.tool.name`, `tool.name`, `function.name`,
  `ai.toolCall.name`, ... promptfoo's families) gives a `tool_call` (its arguments, call id)
  and a `tool_result` (`gen_ai.tool.call.result` / `ai.toolCall.result` / `output.value`, or
  the error status's message);
- a model turn: `gen_ai.operation.name` chat / text_completion / generate_content gives an
  assistant message (the text parts of `gen_ai.output.messages`), its latency and tokens;
- a retrieval: `gen_ai.operation.name` retrieval gives the ids in `gen_ai.retrieval.documents`;
- any other span (the agent's root, promptfoo's own provider spans) gives no step.
promptfoo's export cuts every string attribute longer than 400 characters to 400 and `…`
(its trace store's sanitising, not an option): a cut value is kept as the text promptfoo wrote
(arguments as that string), never parsed as if whole, and counted in the import line.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evaltui import trajectory
from evaltui.errors import InputError
from evaltui.importers.base import as_text, validation_error
from evaltui.importers.promptfoo_model import Trace, TraceSpan
from evaltui.trajectory import Step, dumps, loads, with_sources

CUT_AT = 400  # promptfoo's trace store cuts string attributes here (sanitizeAttributes)
_NAME_KEYS = ("tool.name", "tool_name", "tool", "function.name", "function_name", "ai.toolCall.name",
              "gen_ai.tool.name", "agent.tool_name", "agent.tool", "agent.toolName",
              "codex.mcp.tool")  # fmt: skip
_ARG_KEYS = ("tool.args", "tool.arguments", "tool.input", "tool_args", "tool_arguments",
             "tool_input", "function.args", "function.arguments", "function.input",
             "function_args", "function_arguments", "ai.toolCall.args", "ai.toolCall.arguments",
             "ai.toolCall.input", "gen_ai.tool.args", "gen_ai.tool.arguments",
             "gen_ai.tool.input", "gen_ai.tool.call.args", "gen_ai.tool.call.arguments",
             "agent.tool.args", "agent.tool.arguments", "agent.tool.input", "args", "arguments",
             "input")  # fmt: skip
_ID_KEYS = ("gen_ai.tool.call.id", "tool_call.id", "ai.toolCall.id")
_RESULT_KEYS = ("gen_ai.tool.call.result", "ai.toolCall.result", "tool.output", "output.value")
_CHAT = ("chat", "text_completion", "generate_content")


def cut(value: Any) -> bool:
    """A string promptfoo's export cut (400 characters and `…`)."""
    return isinstance(value, str) and len(value) == CUT_AT + 1 and value.endswith("…")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class TraceIndex:
    """Every trace's steps by trace id, in a private temporary SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect("")  # "" = a temporary file, deleted on close
        self.db.execute(
            "CREATE TABLE t (trace TEXT PRIMARY KEY, pos INTEGER, test_idx INTEGER, "
            "prompt_idx INTEGER, steps BLOB)"
        )
        self.count = self.spans = self.cut = 0

    def add(self, item: Any, index: int) -> None:
        """One item of `traces` (jsonstream's collect callback)."""
        where = f"traces[{index}]"
        try:
            trace = Trace.model_validate(item)
        except ValidationError as exc:
            raise validation_error(self.path, exc, where) from None
        steps = self._steps(trace, where)
        meta = trace.metadata or {}
        test_idx, prompt_idx = meta.get("testIdx"), meta.get("promptIdx")
        try:
            self.db.execute(
                "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                (
                    trace.traceId,
                    index,
                    test_idx if isinstance(test_idx, int) else None,
                    prompt_idx if isinstance(prompt_idx, int) else None,
                    zlib.compress(dumps(steps)) if steps else None,
                ),
            )
        except sqlite3.IntegrityError:
            first = self.db.execute(
                "SELECT pos FROM t WHERE trace = ?", (trace.traceId,)
            ).fetchone()
            raise InputError(
                str(self.path),
                f"trace {trace.traceId} is in the file twice (first as traces[{first[0]}])",
                location=where,
                field="traceId",
            ) from None
        self.count += 1
        self.spans += len(trace.spans)

    def holds(self, trace_id: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM t WHERE trace = ?", (trace_id,)).fetchone() is not None
        )

    def path_of(
        self, trace_id: str, test_idx: int, prompt_idx: int, output: str, location: str
    ) -> list[Step] | None:
        """The row's trajectory: its trace's steps, the row's output as the final answer, and
        the sources (retrieved, cited in that answer); None when the file holds no such trace
        or the trace has no step."""
        found = self.db.execute(
            "SELECT pos, test_idx, prompt_idx, steps FROM t WHERE trace = ?", (trace_id,)
        ).fetchone()
        if found is None:
            return None
        pos, t_test, t_prompt, blob = found
        if (t_test is not None and t_test != test_idx) or (
            t_prompt is not None and t_prompt != prompt_idx
        ):
            raise InputError(
                str(self.path),
                f"the row names trace {trace_id}, which traces[{pos}] says belongs "
                f"to testIdx {t_test}, promptIdx {t_prompt} (this row is testIdx {test_idx}, "
                f"promptIdx {prompt_idx})",
                location=location,
                field="traceId",
            )
        if blob is None:
            return None
        steps = list(loads(zlib.decompress(blob)))
        last = next((s for s in reversed(steps) if s.kind == "message"), None)
        if output and (last is None or last.text != output):
            turn = max((s.turn for s in steps), default=0)
            steps.append(Step(kind="message", role="assistant", text=output, turn=turn))
        return trajectory.dedupe_sources(with_sources(steps))

    def _json(self, span: TraceSpan, key: str, where: str) -> Any:
        """A JSON-in-a-string attribute, parsed; None when absent or cut by promptfoo."""
        text = (span.attributes or {}).get(key)
        if text is None:
            return None
        if cut(text):
            self.cut += 1
            return None
        try:
            value = json.loads(text, parse_constant=_no_constant) if isinstance(text, str) else None
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, list):
            raise InputError(
                str(self.path),
                "a JSON array (as a string) is expected",
                location=where,
                field=f"attributes[{key}]",
            )
        return value

    def _steps(self, trace: Trace, where: str) -> list[Step]:
        order = sorted(
            range(len(trace.spans)),
            key=lambda i: (
                trace.spans[i].startTime,
                trace.spans[i].endTime or trace.spans[i].startTime,
                i,
            ),
        )
        steps: list[Step] = []
        turn = 0
        for i in order:
            span = trace.spans[i]
            at = f"{where}.spans[{i}]"
            attrs = span.attributes or {}
            ms = max((span.endTime or span.startTime) - span.startTime, 0.0)
            op = attrs.get("gen_ai.operation.name")
            name = next(
                (
                    attrs[k]
                    for k in _NAME_KEYS
                    if isinstance(attrs.get(k), str) and attrs[k].strip()
                ),
                None,
            )
            if op in _CHAT:
                turn += 1
                tokens = sum(
                    v
                    for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
                    if isinstance(v := attrs.get(k), int)
                    and not isinstance(v, bool)
                    and 0 <= v <= 2**52
                )
                for m in self._json(span, "gen_ai.output.messages", at) or []:
                    text = (
                        "\n".join(
                            str(p.get("content", ""))
                            for p in (m.get("parts") or [])
                            if isinstance(p, dict) and p.get("type") == "text"
                        )
                        if isinstance(m, dict)
                        else ""
                    )
                    if text:
                        steps.append(
                            Step(
                                kind="message",
                                role="assistant",
                                text=text,
                                turn=turn,
                                latency_ms=ms,
                                tokens=tokens or None,
                            )
                        )
            elif name is not None:
                steps.extend(self._tool(span, name.strip(), turn, ms))
            elif op == "retrieval":
                for d in self._json(span, "gen_ai.retrieval.documents", at) or []:
                    if isinstance(d, dict) and d.get("id") is not None:
                        steps.append(
                            Step(
                                kind="source",
                                turn=turn,
                                source_id=as_text(d["id"]),
                                name=as_text(attrs.get("gen_ai.data_source.id") or "retrieval"),
                            )
                        )
        return steps

    def _tool(self, span: TraceSpan, name: str, turn: int, ms: float) -> list[Step]:
        attrs = span.attributes or {}
        raw = next((attrs[k] for k in _ARG_KEYS if attrs.get(k) not in (None, "")), None)
        arguments: Any = raw
        if cut(raw):
            self.cut += 1
        elif isinstance(raw, str):
            try:
                arguments = json.loads(raw, parse_constant=_no_constant)
            except (ValueError, RecursionError):
                arguments = raw  # not JSON: the text as the tool was given it
        call_id = next((as_text(attrs[k]) for k in _ID_KEYS if attrs.get(k) is not None), None)
        result = next((attrs[k] for k in _RESULT_KEYS if attrs.get(k) is not None), None)
        if cut(result):
            self.cut += 1
        failed = span.statusCode == 2
        error = (
            (span.statusMessage or as_text(attrs.get("error.type")) or "error") if failed else None
        )
        return [
            Step(kind="tool_call", turn=turn, name=name, call_id=call_id, arguments=arguments),
            Step(
                kind="tool_result",
                turn=turn,
                name=name,
                call_id=call_id,
                latency_ms=ms,
                text=None if failed or result is None else as_text(result),
                error=error,
            ),
        ]
