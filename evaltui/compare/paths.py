"""Agent paths in a comparison: per-run tool statistics and one case's aligned tool calls
and sources (docs/compare.md, "Agent runs"). Trajectories are read one at a time.

Below the engine: `Comparison.tool_stats` and `Comparison.step_in_case` call these."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import ValidationError

from evaltui import trajectory
from evaltui.compare.rows import CaseDetail, Sample, read_trajectory
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


def tool_stats(conn: sqlite3.Connection, run_id: int, case_ids: list[int]) -> trajectory.ToolStats:
    """Calls per case, tools used, tool errors and loops over the run's included cases."""
    return trajectory.stats(_run_trajectories(conn, run_id, case_ids))


def _first(samples: list[Sample] | None) -> list[trajectory.Step]:
    return list(samples[0].trajectory or []) if samples else []


def case_paths(detail: CaseDetail) -> dict[str, Any]:
    """One case's paths: each run's steps, the baseline/candidate tool calls aligned,
    loops, errors, and the sources retrieved and cited (the JSON of `evaltui case`)."""
    base, cand = _first(detail.baseline), _first(detail.candidate)
    runs: dict[str, list[trajectory.Step]] = {"baseline": base, "candidate": cand}
    if detail.fallback is not None:
        runs["fallback"] = _first(detail.fallback)
    out: dict[str, Any] = {"runs": {}}
    for name, steps in runs.items():
        retrieved, cited = trajectory.sources(steps)
        out["runs"][name] = {
            "steps": [s.model_dump(exclude_defaults=True) for s in steps],
            "tool_calls": [c.name for c in trajectory.calls(steps)],
            "tool_errors": trajectory.tool_errors(steps),
            "loops": [{"tool": t, "times": n} for t, n in trajectory.loops(steps)],
            "sources": {
                "retrieved": retrieved,
                "cited": cited,
                "cited_not_retrieved": [c for c in cited if c not in retrieved],
            },
        }
    aligned = trajectory.align(base, cand)
    out["aligned"] = [a.as_dict() for a in aligned]
    out["tools_changed"] = any(a.op != "same" for a in aligned)
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
