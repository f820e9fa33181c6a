"""Agent paths in a comparison: per-run tool statistics and one case's aligned tool calls
and sources (docs/compare.md, "Agent runs"). Trajectories are read one at a time.

Below the engine: `Comparison.tool_stats` and `Comparison.step_in_case` call these."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from evaltui import trajectory
from evaltui.compare.rows import CaseDetail, RunRef, Sample, read_trajectory
from evaltui.divergence import (
    DIVERGENCE_KINDS,
    Divergence,
    DivergenceKind,
    Op,
    align3,
    first_divergence,
)
from evaltui.errors import InputError
from evaltui.models import StepRef
from evaltui.store import runs


def _run_trajectories(
    conn: sqlite3.Connection, run_id: int, case_ids: list[int]
) -> Iterator[list[trajectory.Step]]:
    """The run's first-sample trajectory of each of its `case_ids`, one at a time; a case
    the tool recorded no path for (an answer with no tool call) is an empty path."""
    for case_id in case_ids:
        row = conn.execute(runs.FIRST_TRAJECTORY_EPOCH, (run_id, case_id)).fetchone()
        steps = read_trajectory(conn, run_id, case_id, row[0]) if row[0] is not None else None
        yield steps or []


def divergence_kind(kind: str, field: str) -> DivergenceKind:
    """A first divergence's kind as a filter names it, or an error naming `field` and
    the kinds there are."""
    for known in DIVERGENCE_KINDS:
        if kind == known:
            return known
    raise InputError(field, f"unknown divergence {kind!r}; one of {', '.join(DIVERGENCE_KINDS)}")


def first_divergences(
    conn: sqlite3.Connection, baseline: RunRef, candidate: RunRef, case_ids: list[int]
) -> Iterator[tuple[int, DivergenceKind]]:
    """(case id, kind) of each case whose candidate path first parts from the baseline's
    (the first samples'), reading one case's two paths at a time; none when either run
    recorded no paths."""
    if not (baseline.has_paths or candidate.has_paths):
        return
    pairs = zip(
        _run_trajectories(conn, baseline.id, case_ids),
        _run_trajectories(conn, candidate.id, case_ids),
        strict=True,
    )
    for case_id, (base, cand) in zip(case_ids, pairs, strict=True):
        found = first_divergence(base, cand)
        if found is not None:
            yield case_id, found.kind


def divergence_table(
    conn: sqlite3.Connection, table: str, baseline: RunRef, candidate: RunRef
) -> str:
    """A temporary table of (case id, first-divergence kind) beside the comparison's `table`
    of classified cases, over the cases both runs hold: it reads both paths of each."""
    name = f"{table}_div"
    conn.execute(f"CREATE TEMP TABLE {name} (case_id INTEGER PRIMARY KEY, kind TEXT)")
    shared = f"SELECT case_id FROM {table} WHERE b_n IS NOT NULL AND c_n IS NOT NULL"
    ids = [r[0] for r in conn.execute(shared)]
    kinds = list(first_divergences(conn, baseline, candidate, ids))  # read, then written
    conn.executemany(f"INSERT INTO {name} VALUES (?, ?)", kinds)
    return name


def tool_stats(conn: sqlite3.Connection, run_id: int, case_ids: list[int]) -> trajectory.ToolStats:
    """Calls per case, tools used, tool errors and loops over the run's included cases."""
    return trajectory.stats(_run_trajectories(conn, run_id, case_ids))


def _first(samples: list[Sample] | None) -> list[trajectory.Step]:
    return list(samples[0].trajectory or []) if samples else []


class CallRef(BaseModel):
    """A tool call in an aligned row: what `case --json` shows of it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None
    arguments: Any
    call_id: str | None
    turn: int

    @classmethod
    def of(cls, step: trajectory.Step | None) -> CallRef | None:
        if step is None:
            return None
        return cls(name=step.name, arguments=step.arguments, call_id=step.call_id, turn=step.turn)


class AlignedRow(BaseModel):
    """A row of the baseline's and the candidate's aligned calls."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["same", "changed", "removed", "inserted"]
    baseline: CallRef | None
    candidate: CallRef | None


class SideOps(BaseModel):
    """The candidate's and the fallback's op on a row of three, against the baseline's
    call (None: neither it nor the baseline has a call on the row)."""

    model_config = ConfigDict(extra="forbid")

    candidate: Op | None
    fallback: Op | None


class AlignedRow3(BaseModel):
    """A row of the three runs' aligned calls (`divergence.align3`)."""

    model_config = ConfigDict(extra="forbid")

    op: SideOps
    baseline: CallRef | None
    candidate: CallRef | None
    fallback: CallRef | None


class Loop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool: str
    times: int


class Sources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retrieved: list[str]
    cited: list[str]
    cited_not_retrieved: list[str]


class RunPath(BaseModel):
    """One run's path of the case."""

    model_config = ConfigDict(extra="forbid")

    steps: list[trajectory.Step]
    tool_calls: list[str | None]
    tool_errors: int
    loops: list[Loop]
    sources: Sources


class CasePaths(BaseModel):
    """One case's paths (`paths` in `evaltui case --json`, docs/compare.md): each run's
    steps, the baseline/candidate calls aligned, where the candidate's path first parts
    from the baseline's; with a fallback, the three paths aligned and where the
    fallback's parts."""

    model_config = ConfigDict(extra="forbid")

    runs: dict[str, RunPath]
    aligned: list[AlignedRow]
    tools_changed: bool
    first_divergence: Divergence | None
    aligned3: list[AlignedRow3] | None = None  # with a fallback only
    fallback_first_divergence: Divergence | None = None  # with a fallback only

    def dump(self) -> dict[str, Any]:
        """The JSON (a step's default fields left out, as the store keeps it; the keys
        of a fallback only with one)."""
        out = self.model_dump(exclude={"runs", "aligned3", "fallback_first_divergence"})
        out = {
            "runs": {
                name: {
                    "steps": [s.model_dump(exclude_defaults=True) for s in run.steps],
                    **run.model_dump(exclude={"steps"}),
                }
                for name, run in self.runs.items()
            },
            **out,
        }
        if self.aligned3 is not None:
            out["aligned3"] = [r.model_dump() for r in self.aligned3]
            fb = self.fallback_first_divergence
            out["fallback_first_divergence"] = None if fb is None else fb.model_dump()
        return out


def case_paths(detail: CaseDetail) -> CasePaths:
    """One case's paths: each run's steps, the baseline/candidate tool calls aligned,
    loops, errors, the sources retrieved and cited, and the first divergence (with a
    fallback: the three paths aligned, and the fallback's first divergence)."""
    base, cand = _first(detail.baseline), _first(detail.candidate)
    paths: dict[str, list[trajectory.Step]] = {"baseline": base, "candidate": cand}
    if detail.fallback is not None:
        paths["fallback"] = _first(detail.fallback)
    runs: dict[str, RunPath] = {}
    for name, steps in paths.items():
        retrieved, cited = trajectory.sources(steps)
        runs[name] = RunPath(
            steps=steps,
            tool_calls=[c.name for c in trajectory.calls(steps)],
            tool_errors=trajectory.tool_errors(steps),
            loops=[Loop(tool=t, times=n) for t, n in trajectory.loops(steps)],
            sources=Sources(
                retrieved=retrieved,
                cited=cited,
                cited_not_retrieved=[c for c in cited if c not in retrieved],
            ),
        )
    aligned = trajectory.align(base, cand)
    out = CasePaths(
        runs=runs,
        aligned=[
            AlignedRow(op=a.op, baseline=CallRef.of(a.baseline), candidate=CallRef.of(a.candidate))
            for a in aligned
        ],
        tools_changed=any(a.op != "same" for a in aligned),
        first_divergence=first_divergence(base, cand, aligned),
    )
    if "fallback" in paths:
        fall = paths["fallback"]
        out.aligned3 = [
            AlignedRow3(
                op=SideOps(candidate=r.candidate_op, fallback=r.fallback_op),
                baseline=CallRef.of(r.baseline),
                candidate=CallRef.of(r.candidate),
                fallback=CallRef.of(r.fallback),
            )
            for r in align3(base, cand, fall)
        ]
        out.fallback_first_divergence = first_divergence(base, fall)
    return out


def step_of(detail: CaseDetail, index: int) -> StepRef:
    """The step a finding points at: the `index`-th (0-based) aligned tool call of the
    case, the candidate's call where both runs made one."""
    aligned = trajectory.align(_first(detail.baseline), _first(detail.candidate))
    if not 0 <= index < len(aligned):
        raise InputError(
            "--step",
            f"the case's path has {len(aligned)} aligned tool calls; there is no call {index + 1}",
        )
    row = aligned[index]
    run: Literal["baseline", "candidate"] = "baseline" if row.candidate is None else "candidate"
    call = row.candidate if run == "candidate" else row.baseline
    assert call is not None
    try:
        return StepRef(run=run, index=index, tool=call.name, call_id=call.call_id, turn=call.turn)
    except ValidationError as exc:  # a name longer than a findings file may carry
        where = ".".join(str(x) for x in exc.errors()[0]["loc"])
        raise InputError(
            "--step", f"call {index + 1} cannot be pointed at: its {where} is out of bounds"
        ) from None
