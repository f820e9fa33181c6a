"""A LangSmith export's runs and feedback, read once into a private temporary SQLite file
(compressed) and indexed by trace, so each trace can be built in turn
(`evaltui.importers.langsmith`). Checks each line's shape as it is read."""

from __future__ import annotations

import json
import sqlite3
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, ValidationError

from evaltui.errors import InputError
from evaltui.importers.base import (
    LooseModel,
    Progress,
    iter_lines,
    json_line,
    non_finite,
    validation_error,
)


class _Strict(LooseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class LsRun(_Strict):
    id: UUID
    name: str = ""
    run_type: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    extra: dict[str, Any] | None = None
    error: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    reference_example_id: UUID | None = None
    parent_run_id: UUID | None = None
    trace_id: UUID | None = None
    dotted_order: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    total_cost: float | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        meta = (self.extra or {}).get("metadata")
        return meta if isinstance(meta, dict) else {}


class LsFeedback(_Strict):
    key: str
    run_id: UUID | None = None
    trace_id: UUID | None = None
    score: bool | float | None = None
    value: Any = None
    comment: str | None = None


_TABLES = """
CREATE TABLE r (pos INTEGER PRIMARY KEY, id TEXT UNIQUE, trace TEXT, root INTEGER, line INTEGER,
                sort TEXT, data BLOB);
CREATE INDEX r_trace ON r (trace, sort, pos);
CREATE TABLE f (pos INTEGER PRIMARY KEY, line INTEGER, run TEXT, trace TEXT, data BLOB);
CREATE INDEX f_trace ON f (trace);
CREATE INDEX f_run ON f (run);
"""


class RunIndex:
    """The file's runs and feedback, by trace, in a private temporary SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect("")  # "" = a temporary file, deleted on close
        self.db.executescript(_TABLES)
        self.first_root: LsRun | None = None
        self.model: str | None = None
        self.feedback = 0

    def read(self, progress: Progress) -> None:
        for number, raw in iter_lines(self.path, progress):
            location = f"line {number}"
            obj = json_line(self.path, raw, location)
            if not isinstance(obj, dict):
                raise InputError(
                    str(self.path),
                    "a run or a feedback (a JSON object) is expected",
                    location=location,
                )
            if hit := non_finite(obj):  # pydantic and orjson write NaN as null: not LangSmith's
                raise InputError(
                    str(self.path),
                    "not a finite number; LangSmith writes none",
                    location=location,
                    field=hit,
                )
            if "run_type" in obj:
                self._run(obj, number, None, "")
            elif "key" in obj and ("run_id" in obj or "trace_id" in obj):
                fb = self._validate(LsFeedback, obj, location, "")
                self.db.execute(
                    "INSERT INTO f (line, run, trace, data) VALUES (?, ?, ?, ?)",
                    (
                        number,
                        str(fb.run_id) if fb.run_id else None,
                        str(fb.trace_id) if fb.trace_id else None,
                        zlib.compress(fb.model_dump_json().encode()),
                    ),
                )
                self.feedback += 1
            else:
                raise InputError(
                    str(self.path),
                    "neither a run (run_type) nor a feedback (key, "
                    "run_id): not a LangSmith export line",
                    location=location,
                )

    def _validate(self, model: Any, obj: Any, location: str, prefix: str) -> Any:
        try:
            return model.model_validate(obj)
        except ValidationError as exc:
            raise validation_error(self.path, exc, location, prefix) from None

    def _run(self, obj: dict[str, Any], number: int, parent: LsRun | None, prefix: str) -> None:
        location = f"line {number}"
        children = obj.pop("child_runs", None) or []
        if parent is not None:  # a child read with its parent (a run tree)
            obj.setdefault("parent_run_id", str(parent.id))
            obj.setdefault("trace_id", str(parent.trace_id or parent.id))
        run = self._validate(LsRun, obj, location, prefix)
        is_root = run.parent_run_id is None
        if run.trace_id is None and not is_root:
            raise InputError(
                str(self.path),
                "a child run without its trace_id",
                location=location,
                field=f"{prefix}trace_id",
            )
        trace = str(run.trace_id or run.id)
        sort = run.dotted_order or (run.start_time.isoformat() if run.start_time else "")
        try:
            self.db.execute(
                "INSERT INTO r (id, trace, root, line, sort, data) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    str(run.id),
                    trace,
                    is_root,
                    number,
                    sort,
                    zlib.compress(json.dumps(obj).encode()),
                ),
            )
        except sqlite3.IntegrityError:
            line = self.db.execute("SELECT line FROM r WHERE id = ?", (str(run.id),)).fetchone()[0]
            raise InputError(
                str(self.path),
                f"run {run.id} is in the file twice (first on line {line})",
                location=location,
                field=f"{prefix}id",
            ) from None
        if is_root and self.first_root is None:
            self.first_root = run
        if run.run_type == "llm" and self.model is None:
            self.model = run.metadata.get("ls_model_name") or run.name
        if not isinstance(children, list):
            raise InputError(
                str(self.path),
                "an array is expected",
                location=location,
                field=f"{prefix}child_runs",
            )
        for i, child in enumerate(children):
            if not isinstance(child, dict):
                raise InputError(
                    str(self.path),
                    "a run (a JSON object) is expected",
                    location=location,
                    field=f"{prefix}child_runs[{i}]",
                )
            self._run(child, number, run, f"{prefix}child_runs[{i}].")

    def check(self) -> None:
        """Every trace has one root; a trace whose root is not in the file is refused."""
        bad = self.db.execute(
            "SELECT trace, sum(root), min(line) FROM r GROUP BY trace HAVING sum(root) != 1 LIMIT 1"
        ).fetchone()
        if bad is not None:
            trace, roots, line = bad
            why = (
                "has no root run (none without parent_run_id) in this file"
                if not roots
                else f"has {roots} root runs (runs without parent_run_id)"
            )
            raise InputError(
                str(self.path),
                f"trace {trace} {why}",
                location=f"line {line}",
                field="parent_run_id",
            )
        if self.first_root is None:
            raise InputError(str(self.path), "no runs in this file", field="run_type")
