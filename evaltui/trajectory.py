"""An agent's path through a case: messages, tool calls, tool results, sources.

A result may carry a trajectory, an ordered list of steps (docs/format.md, `trajectory`).
It is stored compressed beside the result and read per case, never in lists. Here:
the step model, the tool-call alignment of two runs (longest common subsequence on the
tool name, then the arguments), per-run tool statistics and the fingerprint a
comparison uses to see that a tool path changed. No I/O.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from evaltui.files import env_limit

StepKind = Literal["message", "tool_call", "tool_result", "source", "limit"]
STEP_KINDS: tuple[StepKind, ...] = get_args(StepKind)
LOOP_MIN = 3  # the same call this many times in a row is a loop


class Step(BaseModel):
    """One step of a trajectory. Which fields are set depends on `kind`:

    - message: role, text (a user, assistant or system turn's text);
    - tool_call: name, call_id, arguments (the model asked for the call);
    - tool_result: call_id, name, text (what the tool returned) or error;
    - source: source_id, title, uri, text (an excerpt); retrieved, cited (either or both);
    - limit: text (which limit stopped the run).
    `turn` numbers the model turns (0 = the input); latency_ms and tokens where recorded.
    """

    model_config = ConfigDict(extra="forbid")

    kind: StepKind
    turn: int = Field(default=0, ge=0)
    role: str | None = None
    text: str | None = None
    name: str | None = None
    call_id: str | None = None
    arguments: Any = None
    error: str | None = None
    source_id: str | None = None
    title: str | None = None
    uri: str | None = None
    cited: bool = False
    retrieved: bool = True  # False: cited in the answer, never retrieved (ungrounded)
    latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    tokens: int | None = Field(default=None, ge=0, le=2**53)


Trajectory = list[Step]


_STEPS = TypeAdapter(list[Step])


def dumps(steps: Sequence[Step]) -> bytes:
    """A trajectory as compact JSON (what the store compresses), by pydantic's serializer
    (in Rust); numbers are finite by the model, so the JSON is strict."""
    return _STEPS.dump_json(list(steps), exclude_defaults=True)


MAX_STEPS = 10_000  # steps of one path read per case (EVALTUI_MAX_CASE_STEPS)
_SMALL = 1 << 20  # a path this short is read whole, at once
_WINDOW: ContextVar[tuple[int, int] | None] = ContextVar("trajectory_window", default=None)


def max_steps() -> int:
    return env_limit("EVALTUI_MAX_CASE_STEPS", MAX_STEPS)


class Paged(list[Step]):
    """A page of a path too long to read whole: the steps `start` to `start + len - 1` of
    `total`; `calls_elsewhere` tool calls are in the steps left out."""

    start: int = 0
    total: int = 0
    calls_elsewhere: int = 0


def page_of(steps: Sequence[Step]) -> tuple[int, int]:
    """(first step shown, steps in the whole path) of what `loads` returned."""
    if isinstance(steps, Paged):
        return steps.start, steps.total
    return 0, len(steps)


@contextmanager
def window(start: int, count: int | None = None) -> Iterator[None]:
    """Within this block, `loads` keeps the steps `start` .. `start + count - 1` (default:
    the first EVALTUI_MAX_CASE_STEPS): how `evaltui case --steps-from` pages a long path."""
    token = _WINDOW.set((max(start, 0), count or max_steps()))
    try:
        yield
    finally:
        _WINDOW.reset(token)


def loads(data: bytes | str) -> Trajectory:
    """A stored path. One longer than EVALTUI_MAX_CASE_STEPS is read a page at a time (a
    `Paged`, saying how many steps it has in all): 100,000 steps as models would take
    hundreds of MB, so the steps outside the page are streamed past and only counted."""
    start, count = _WINDOW.get() or (0, max_steps())
    if start == 0 and len(data) < _SMALL:
        steps = _STEPS.validate_json(data)
        if len(steps) <= count:
            return steps

    import ijson  # load time: ijson only for a path longer than a page

    raw = data.encode() if isinstance(data, str) else data
    out = Paged()
    out.start = start
    total = elsewhere = 0
    for item in ijson.items(io.BytesIO(raw), "item", use_float=True):
        if start <= total < start + count:
            out.append(Step.model_validate(item))
        elif isinstance(item, dict) and item.get("kind") == "tool_call":
            elsewhere += 1
        total += 1
    out.total, out.calls_elsewhere = total, elsewhere
    return out


def calls(steps: Iterable[Step]) -> list[Step]:
    return [s for s in steps if s.kind == "tool_call"]


def _args_text(arguments: Any) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False, default=str)


def fingerprint(steps: Sequence[Step]) -> int:
    """The tool path as one number (names and arguments, in order; ids ignored): equal
    paths give equal fingerprints; 0 is "no tool calls"."""
    path = [(c.name or "", _args_text(c.arguments)) for c in calls(steps)]
    return zlib.crc32(json.dumps(path).encode()) if path else 0


@dataclass(frozen=True)
class Aligned:
    """One row of two aligned tool-call sequences."""

    op: Literal["same", "changed", "removed", "inserted"]
    baseline: Step | None
    candidate: Step | None

    def as_dict(self) -> dict[str, Any]:
        def call(s: Step | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"name": s.name, "arguments": s.arguments, "call_id": s.call_id, "turn": s.turn}

        return {"op": self.op, "baseline": call(self.baseline), "candidate": call(self.candidate)}


def _lcs(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs of a longest common subsequence (dynamic programming; paths are short,
    and are cut at MAX_ALIGN calls each)."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
            )
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


MAX_ALIGN = 2000  # calls per side aligned; a longer path is cut (and says so)


def align(baseline: Sequence[Step], candidate: Sequence[Step]) -> list[Aligned]:
    """The two runs' tool calls aligned: matched on the tool name (longest common
    subsequence), a matched pair is `same` when the arguments are equal too, else
    `changed`; unmatched calls are `removed` (baseline only) or `inserted`."""
    a, b = calls(baseline)[:MAX_ALIGN], calls(candidate)[:MAX_ALIGN]
    pairs = _lcs([c.name or "" for c in a], [c.name or "" for c in b])
    out: list[Aligned] = []
    i = j = 0
    for pi, pj in [*pairs, (len(a), len(b))]:
        while i < pi:
            out.append(Aligned("removed", a[i], None))
            i += 1
        while j < pj:
            out.append(Aligned("inserted", None, b[j]))
            j += 1
        if pi < len(a) and pj < len(b):
            same = _args_text(a[pi].arguments) == _args_text(b[pj].arguments)
            out.append(Aligned("same" if same else "changed", a[pi], b[pj]))
            i, j = pi + 1, pj + 1
    return out


def loops(steps: Sequence[Step]) -> list[tuple[str, int]]:
    """(tool, times) for each run of the same call (name and arguments) repeated
    LOOP_MIN times or more in a row."""
    out: list[tuple[str, int]] = []
    path = [(c.name or "", _args_text(c.arguments)) for c in calls(steps)]
    i = 0
    while i < len(path):
        j = i
        while j + 1 < len(path) and path[j + 1] == path[i]:
            j += 1
        if j - i + 1 >= LOOP_MIN:
            out.append((path[i][0], j - i + 1))
        i = j + 1
    return out


def tool_errors(steps: Sequence[Step]) -> int:
    return sum(1 for s in steps if s.kind == "tool_result" and s.error)


def sources(steps: Sequence[Step]) -> tuple[list[str], list[str]]:
    """(retrieved source ids, cited source ids), each in first-seen order."""
    retrieved = list(
        dict.fromkeys(
            s.source_id for s in steps if s.kind == "source" and s.source_id and s.retrieved
        )
    )
    cited = list(
        dict.fromkeys(s.source_id for s in steps if s.kind == "source" and s.cited and s.source_id)
    )
    return retrieved, cited


_CITATION = re.compile(r"\[([^\[\]\s]{2,200})\]")


def citations(text: str) -> list[str]:
    """Source ids cited in an answer as `[id]` (a bracketed token with no spaces that
    looks like an id: it holds `/`, `#`, `:` or `.`)."""
    return list(dict.fromkeys(m for m in _CITATION.findall(text or "") if re.search(r"[/#:.]", m)))


def retrieved_from(text: str) -> list[dict[str, Any]]:
    """Passages in a tool's result, when it is a JSON list of objects with an `id`
    (a search tool's output): [{id, title, text, uri}]."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return []
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("id"), str | int):
            out.append(item)
    return out


def with_sources(steps: list[Step]) -> list[Step]:
    """Add `source` steps: passages a tool returned (a JSON list of objects with an id),
    marked cited when the final answer cites them; cited ids never retrieved are added
    as cited-only sources (an ungrounded citation)."""
    final = next(
        (s.text or "" for s in reversed(steps) if s.kind == "message" and s.role == "assistant"), ""
    )
    cited = citations(final)
    out: list[Step] = []
    seen: set[str] = set()
    for s in steps:
        out.append(s)
        if s.kind == "tool_result" and s.text and not s.error:
            for doc in retrieved_from(s.text):
                sid = str(doc["id"])
                out.append(
                    Step(
                        kind="source",
                        turn=s.turn,
                        source_id=sid,
                        name=s.name,
                        title=str(doc["title"]) if doc.get("title") is not None else None,
                        uri=str(doc["uri"]) if doc.get("uri") is not None else None,
                        text=str(doc["text"])[:2000] if doc.get("text") is not None else None,
                        cited=sid in cited,
                    )
                )
                seen.add(sid)
    for sid in cited:
        if sid not in seen:
            out.append(
                Step(
                    kind="source",
                    turn=steps[-1].turn if steps else 0,
                    source_id=sid,
                    cited=True,
                    retrieved=False,
                )
            )
    return out


class ToolStats(BaseModel):
    """A run's tool statistics over its cases' trajectories (`compare --json`'s `tools`)."""

    model_config = ConfigDict(extra="forbid")

    cases: int
    tool_calls: int
    calls_per_case: float | None
    tools: dict[str, int]  # calls by tool name, sorted
    tool_errors: int
    cases_with_loops: int


def stats(trajectories: Iterable[Sequence[Step]]) -> ToolStats:
    """Per-run tool statistics over its cases' trajectories."""
    cases = n_calls = errors = with_loops = 0
    used: dict[str, int] = {}
    for steps in trajectories:
        cases += 1
        cs = calls(steps)
        n_calls += len(cs) + (steps.calls_elsewhere if isinstance(steps, Paged) else 0)
        errors += tool_errors(steps)
        with_loops += bool(loops(steps))
        for c in cs:
            used[c.name or "?"] = used.get(c.name or "?", 0) + 1
    return ToolStats(
        cases=cases,
        tool_calls=n_calls,
        calls_per_case=round(n_calls / cases, 3) if cases else None,
        tools=dict(sorted(used.items())),
        tool_errors=errors,
        cases_with_loops=with_loops,
    )


MAX_FIELD_CHARS = 65_536  # one step field shown by `evaltui case` (EVALTUI_MAX_CASE_FIELD_CHARS)


def max_field_chars() -> int:
    return env_limit("EVALTUI_MAX_CASE_FIELD_CHARS", MAX_FIELD_CHARS)


def clip(value: Any, limit: int) -> tuple[Any, int]:
    """A step field for display: text (or arguments as JSON text) longer than `limit`
    characters cut there, saying how much was left out; (value, characters left out)."""
    if value is None or isinstance(value, bool | int | float):
        return value, 0
    text = value if isinstance(value, str) else _args_text(value)
    if len(text) <= limit:
        return value, 0
    left = len(text) - limit
    return f"{text[:limit]}… [truncated: {len(text):,} characters in all, {left:,} left out]", left


def clip_steps(steps: list[dict[str, Any]], limit: int) -> int:
    """`clip` every long field of dumped steps (or aligned calls) in place; the characters
    left out in all."""
    left = 0
    for step in steps:
        if step is None:
            continue
        for key in (
            "text",
            "arguments",
            "error",
            "title",
            "uri",
            "name",
            "role",
            "call_id",
            "source_id",
        ):
            if key in step:
                step[key], n = clip(step[key], limit)
                left += n
    return left


def dedupe_sources(steps: list[Step]) -> list[Step]:
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
