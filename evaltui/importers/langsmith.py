"""LangSmith run exports: JSON lines, each a run (the client's `langsmith.schemas.Run`, as
`Client.list_runs` returns it and pydantic's `model_dump_json` writes it) or a feedback
(`langsmith.schemas.Feedback`), in any order (docs/formats.md).

- one trace is one case: its root run (no `parent_run_id`) is the case; the case key is the
  root's `extra.metadata.case_id`, else its `reference_example_id` (the dataset example the
  run evaluated, which lines up two experiments on one dataset); a root with neither is
  refused, naming the line: a trace id would line up with nothing;
- the verdict comes from feedback (LangSmith runs carry none of their own): each feedback key
  on the trace is a criterion (its `score`: a boolean as it says, a number passing at
  --pass-threshold, default 1.0; its `value` and `comment` in the explanation); the case
  passes when every criterion with a verdict passes (--pass-criterion picks one); a root with
  `error` is an error. A file where no feedback has a verdict is refused, naming the field;
- the trajectory, runs in `dotted_order` (execution order): the root's input messages, an
  assistant turn per `llm` run (`outputs.choices[0].message.content`, latency, tokens), a call
  and a result per `tool` run (name, `inputs` as arguments, `outputs.output` or `error`),
  sources from `retriever` runs (`outputs.documents[].metadata.id`), then the root's output as
  the final answer; chain, prompt, parser and embedding runs give no step.
Runs may come nested (`child_runs`, a tree read with its children) or flat (`parent_run_id`).
The file is read once: runs and feedback go to a private temporary SQLite file (compressed),
then each trace is built from it in turn, its runs bounded (EVALTUI_MAX_PENDING_SPANS, _BYTES).
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaltui import trajectory
from evaltui.errors import InputError
from evaltui.importers.base import (
    ImportOptions,
    ParsedRun,
    Progress,
    as_text,
    chat_text,
    env_limit,
    find_criterion,
    score_to_criterion,
)
from evaltui.importers.langsmith_index import LsFeedback, LsRun, RunIndex
from evaltui.models import Criterion, Record, Run, Verdict
from evaltui.trajectory import Step, with_sources

NAME = "langsmith"
MAX_TRACE_RUNS = 50_000  # runs of one trace built at once (EVALTUI_MAX_PENDING_SPANS)
MAX_TRACE_BYTES = 32 << 20  # their JSON (EVALTUI_MAX_PENDING_BYTES)


def _text(outputs: dict[str, Any] | None) -> str:
    """A run's answer: outputs.choices[0].message.content, else `output`/`answer`/`content`
    when it is text."""
    out = outputs or {}
    choices = out.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return message["content"]
    for key in ("output", "answer", "content"):
        if isinstance(out.get(key), str):
            return str(out[key])
    return ""


def _steps(runs: list[LsRun], root: LsRun) -> list[Step]:
    steps: list[Step] = []
    for m in (root.inputs or {}).get("messages") or []:
        if isinstance(m, dict) and isinstance(m.get("content"), str):
            steps.append(
                Step(kind="message", role=as_text(m.get("role") or "user"), text=m["content"])
            )
    turn = 0
    for run in runs:
        ms = (
            (run.end_time - run.start_time).total_seconds() * 1000
            if run.end_time and run.start_time and run.end_time >= run.start_time
            else None
        )
        if run.run_type == "llm":
            turn += 1
            tokens = run.total_tokens or ((run.prompt_tokens or 0) + (run.completion_tokens or 0))
            text = _text(run.outputs)
            if text:
                steps.append(
                    Step(
                        kind="message",
                        role="assistant",
                        text=text,
                        turn=turn,
                        latency_ms=ms,
                        tokens=tokens if 0 < tokens <= 2**53 else None,
                    )
                )
        elif run.run_type == "tool":
            inputs = run.inputs or {}
            arguments: Any = inputs
            if set(inputs) == {"input"}:  # a LangChain tool's one input, maybe JSON text
                arguments = inputs["input"]
                if isinstance(arguments, str):
                    with contextlib.suppress(ValueError, RecursionError):
                        arguments = json.loads(arguments)
            call_id = run.metadata.get("tool_call_id")
            call_id = as_text(call_id) if call_id is not None else None
            outputs = run.outputs or {}
            result = outputs.get("output", outputs or None)
            steps.append(
                Step(
                    kind="tool_call", turn=turn, name=run.name, call_id=call_id, arguments=arguments
                )
            )
            steps.append(
                Step(
                    kind="tool_result",
                    turn=turn,
                    name=run.name,
                    call_id=call_id,
                    latency_ms=ms,
                    error=run.error,
                    text=None if run.error or result is None else as_text(result),
                )
            )
        elif run.run_type == "retriever":
            for doc in (run.outputs or {}).get("documents") or []:
                meta = doc.get("metadata") if isinstance(doc, dict) else None
                if (
                    not isinstance(meta, dict)
                    or (sid := meta.get("id") or meta.get("source")) is None
                ):
                    continue
                content = doc.get("page_content")
                steps.append(
                    Step(
                        kind="source",
                        turn=turn,
                        source_id=as_text(sid),
                        name=run.name,
                        title=as_text(meta["title"]) if meta.get("title") is not None else None,
                        text=content[:2000] if isinstance(content, str) else None,
                    )
                )
    final = _text(root.outputs)
    last = next((s for s in reversed(steps) if s.kind == "message" and s.role == "assistant"), None)
    if final and (last is None or last.text != final):
        steps.append(Step(kind="message", role="assistant", text=final, turn=turn))
    return trajectory.dedupe_sources(with_sources(steps))


class LangSmithImporter:
    name = NAME
    description = "LangSmith run exports (JSON lines of runs and feedback)"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        return (
            text.startswith(b"{")
            and b'"run_type"' in head
            and (b'"dotted_order"' in head or b'"parent_run_id"' in head)
        )

    def read(self, path: Path, options: ImportOptions) -> list[ParsedRun]:
        index = RunIndex(path)
        index.read(Progress())
        index.check()
        root = index.first_root
        assert root is not None
        model = index.model or root.metadata.get("ls_model_name")
        name = " ".join(str(x) for x in (root.name, model) if x) or path.stem
        n = index.db.execute("SELECT count(*) FROM r WHERE root").fetchone()[0]
        progress = Progress(total=n)
        run = Run(
            name=options.name or name,
            system=options.system or str(model or ""),
            role=options.role or "none",
            source_path=str(path.resolve()),
            format=NAME,
            created_at=root.start_time,
            metadata={
                "runs": index.db.execute("SELECT count(*) FROM r").fetchone()[0],
                "feedback": index.feedback,
            },
        )
        notes = []
        orphans = self._orphan_feedback(index)
        if orphans:
            notes.append(
                f"{orphans:,} feedback rows are for runs this file does not hold: left out"
            )
        return [ParsedRun(run, self._records(index, options, progress), progress, notes)]

    def _orphan_feedback(self, index: RunIndex) -> int:
        return int(
            index.db.execute(
                "SELECT count(*) FROM f WHERE coalesce(trace, (SELECT trace FROM r WHERE r.id = f.run)) "
                "NOT IN (SELECT trace FROM r) OR coalesce(trace, (SELECT trace FROM r WHERE r.id = f.run)) IS NULL"
            ).fetchone()[0]
        )

    def _records(
        self, index: RunIndex, options: ImportOptions, progress: Progress
    ) -> Iterator[Record]:
        path, db = index.path, index.db
        max_runs = env_limit("EVALTUI_MAX_PENDING_SPANS", MAX_TRACE_RUNS)
        max_bytes = env_limit("EVALTUI_MAX_PENDING_BYTES", MAX_TRACE_BYTES)
        scored = False
        roots = db.execute("SELECT trace, line, data FROM r WHERE root ORDER BY pos").fetchall()
        for trace, line, data in roots:
            root = LsRun.model_validate_json(zlib.decompress(data))
            runs: list[LsRun] = []
            held = 0
            for (blob,) in db.execute(
                "SELECT data FROM r WHERE trace = ? AND NOT root ORDER BY sort, pos", (trace,)
            ):
                raw = zlib.decompress(blob)
                held += len(raw)
                if len(runs) >= max_runs or held > max_bytes:
                    which = (
                        f"{max_runs:,} runs (EVALTUI_MAX_PENDING_SPANS)"
                        if len(runs) >= max_runs
                        else f"{max_bytes:,} bytes (EVALTUI_MAX_PENDING_BYTES)"
                    )
                    raise InputError(
                        str(path), f"trace {trace} holds more than {which}", location=f"line {line}"
                    )
                runs.append(LsRun.model_validate_json(raw))
            record = self._record(index, trace, line, root, runs, options)
            scored = scored or any(c.verdict is not None for c in record.criteria.values())
            yield record
            progress.done += 1
        if not scored:
            what = "no feedback" if not index.feedback else "no feedback with a verdict"
            raise InputError(
                str(path),
                f"{what} in this file: LangSmith runs carry no pass or fail "
                "of their own; export the feedback (key, score: a boolean or a number) "
                "with the runs",
                field="feedback.score",
            )

    def _criteria(
        self, index: RunIndex, trace: str, options: ImportOptions
    ) -> dict[str, Criterion]:
        found: dict[str, list[LsFeedback]] = {}
        for _, blob in index.db.execute(
            "SELECT pos, data FROM f WHERE trace = ? UNION SELECT f.pos, f.data FROM r JOIN f "
            "ON f.run = r.id WHERE r.trace = ? AND f.trace IS NULL ORDER BY 1",
            (trace, trace),
        ):
            fb = LsFeedback.model_validate_json(zlib.decompress(blob))
            found.setdefault(fb.key, []).append(fb)
        out: dict[str, Criterion] = {}
        for key, rows in found.items():
            crits = []
            for fb in rows:
                said = " ".join(
                    as_text(x)
                    for x in (fb.value if isinstance(fb.value, str) else None, fb.comment)
                    if x
                )
                value = fb.score if fb.score is not None else fb.value
                crits.append(score_to_criterion(value, said or None, options.threshold))
            verdicts = [c.verdict for c in crits if c.verdict is not None]
            scores = [c.score for c in crits if c.score is not None]
            out[key] = Criterion(
                verdict=("fail" if "fail" in verdicts else "pass") if verdicts else None,
                score=sum(scores) / len(scores) if scores else None,
                explanation="; ".join(c.explanation for c in crits if c.explanation) or None,
            )
        return out

    def _record(
        self,
        index: RunIndex,
        trace: str,
        line: int,
        root: LsRun,
        runs: list[LsRun],
        options: ImportOptions,
    ) -> Record:
        path = index.path
        meta = root.metadata
        key = meta.get("case_id")
        if key in (None, ""):
            key = str(root.reference_example_id) if root.reference_example_id else None
        if key is None:
            raise InputError(
                str(path),
                f"the root run {root.id} names no case: neither "
                "extra.metadata.case_id nor reference_example_id (its trace id would "
                "line up with no other run)",
                location=f"line {line}",
                field="extra.metadata.case_id",
            )
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise InputError(
                str(path),
                f"a case name (a string) is expected, got {key!r:.40}",
                location=f"line {line}",
                field="extra.metadata.case_id",
            )
        criteria = self._criteria(index, trace, options)
        verdict: Verdict
        if root.error:
            verdict = "error"
        elif options.pass_criterion:
            chosen = find_criterion(criteria, options.pass_criterion)
            verdict = (chosen.verdict if chosen else None) or "unscored"
        else:
            verdicts = [c.verdict for c in criteria.values() if c.verdict is not None]
            verdict = ("fail" if "fail" in verdicts else "pass") if verdicts else "unscored"
        inputs = root.inputs or {}
        messages = inputs.get("messages")
        text_in = (
            chat_text(messages)
            if isinstance(messages, list)
            else (
                next(iter(inputs.values()))
                if len(inputs) == 1 and isinstance(next(iter(inputs.values())), str)
                else as_text(inputs)
            )
        )
        attributes = {
            k: v
            for k, v in meta.items()
            if k != "case_id"
            and not k.startswith("ls_")
            and isinstance(v, str | int | float | bool)
        }
        latency = None
        if root.end_time and root.start_time and root.end_time >= root.start_time:
            latency = (root.end_time - root.start_time).total_seconds() * 1000
        return Record(
            suite=options.suite or str(meta.get("suite") or "langsmith"),
            case_key=str(key),
            verdict=verdict,
            input=text_in,
            expected=None,
            attributes=attributes,
            output=_text(root.outputs) or as_text(root.outputs or ""),
            criteria=criteria,
            latency_ms=latency,
            cost=root.total_cost if root.total_cost is not None and root.total_cost >= 0 else None,
            error=root.error,
            location=f"line {line} (trace {trace})",
            trajectory=_steps(runs, root),
        )
