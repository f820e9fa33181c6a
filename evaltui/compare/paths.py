"""Agent paths in a comparison: per-run tool statistics and one case's aligned tool calls
and sources (docs/compare.md, "Agent runs"). Trajectories are read one at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from evaltui import trajectory
from evaltui.compare.rows import CaseDetail, Sample, read_trajectory
from evaltui.errors import InputError


def _run_trajectories(
    conn: sqlite3.Connection, run_id: int, case_ids: list[int]
) -> Iterator[list[trajectory.Step]]:
    """The run's first-sample trajectory of each of its `case_ids`, one at a time; a case
    the tool recorded no path for (an answer with no tool call) is an empty path."""
    for case_id in case_ids:
        row = conn.execute(
            "SELECT MIN(epoch) FROM trajectories WHERE run_id = ? AND case_id = ?",
            (run_id, case_id),
        ).fetchone()
        steps = read_trajectory(conn, run_id, case_id, row[0]) if row[0] is not None else None
        yield steps or []


def tool_stats(conn: sqlite3.Connection, run_id: int, case_ids: list[int]) -> dict[str, Any]:
    """Calls per case, tools used, tool errors and loops over the run's included cases."""
    return trajectory.stats(_run_trajectories(conn, run_id, case_ids))


def path_clauses(
    tool: str | None, source: str | None, base: int, cand: int
) -> tuple[list[str], list[Any]]:
    """The case-list filters `tool:NAME` and `source:ID`: either run's trajectory of the
    case called that tool / retrieved or cited that source (a clause on the case `t.case_id`
    for the engine's query)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("tools", tool), ("sources", source)):
        if value:
            clauses.append(
                f"EXISTS (SELECT 1 FROM trajectories j, json_each(j.{column}) e WHERE "
                "j.run_id IN (?, ?) AND j.case_id = t.case_id AND e.value = ?)"
            )
            params += [base, cand, value]
    return clauses, params


def tools_called(conn: sqlite3.Connection, base: int, cand: int) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT e.value FROM trajectories j, json_each(j.tools) e WHERE j.run_id IN (?, ?) "
        "ORDER BY 1", (base, cand),
    ).fetchall()  # fmt: skip
    return [str(r[0]) for r in rows]


def tools_by_run(cmp: Any) -> dict[str, dict[str, Any] | None]:
    """`compare --json`'s `tools`: each run's tool statistics (None: no trajectories)."""
    runs = (
        ("baseline", cmp.baseline, "b"),
        ("candidate", cmp.candidate, "c"),
        ("fallback", cmp.fallback, "f"),
    )
    out: dict[str, dict[str, Any] | None] = {}
    for name, r, side in runs:
        if r is None:
            continue
        # over the included cases the run has; nothing read for a run without paths
        cases = (
            [x[0] for x in cmp.rows_where("t.case_id", f"t.{side}_n IS NOT NULL")]
            if r.has_paths
            else []
        )
        out[name] = tool_stats(cmp.conn, r.id, cases) if r.has_paths else None
    return out


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


def step_of(detail: CaseDetail, index: int) -> dict[str, Any]:
    """The step a finding points at: the `index`-th (0-based) aligned tool call of the
    case, the candidate's call where both runs made one."""
    aligned = trajectory.align(_first(detail.baseline), _first(detail.candidate))
    if not 0 <= index < len(aligned):
        raise InputError(
            "--step",
            f"the case's path has {len(aligned)} aligned tool calls; there is no call {index + 1}",
        )
    row = aligned[index]
    run, call = (
        ("candidate", row.candidate) if row.candidate is not None else ("baseline", row.baseline)
    )
    assert call is not None
    return {
        "run": run,
        "index": index,
        "tool": call.name,
        "call_id": call.call_id,
        "turn": call.turn,
    }
