"""What a comparison hands out: run references, case rows, samples, case detail, triage
rows (the segment table and the summary are compare/summary.py's)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from evaltui import trajectory
from evaltui.compare.kinds import CHANGES, Change, Reducer
from evaltui.errors import InputError, NotFoundError
from evaltui.store import runs

MAX_SEGMENT_VALUES = 12
# What a segment dimension may be called: it is put in SQL (a JSON path) and shown.
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.\- ]+$")


def check_dimensions(dims: Iterable[str]) -> None:
    """Refuse a segment dimension that is not a usable attribute name."""
    for d in dims:
        if not ATTRIBUTE_NAME.match(d):
            raise InputError("--segments", f"not a usable attribute name: {d!r}")


RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "med": 2, "low": 3, "minimal": 4}


@dataclass
class RunRef:
    id: int
    name: str
    role: str
    system: str
    sha256: str
    source_path: str
    attribute_values: dict[str, dict[str, int]]
    suites: list[str] = field(default_factory=list)
    declared_reducer: str | None = None  # what the tool's log declared (Inspect epochs_reducer)
    epochs: int | None = None
    has_paths: bool = False  # the run recorded trajectories (agent runs)
    declared_all: tuple[str, ...] = ()  # every reducer it declared (the first is the above)


@dataclass
class CaseRow:
    """A line of the case list."""

    case_id: int
    suite: str
    case_key: str
    change: Change
    ord: int  # the list order key (keyset paging)
    baseline: str | None  # "pass" | "fail" | "error" | None (absent)
    candidate: str | None
    fallback: str | None
    baseline_samples: tuple[int, int]  # (passed, n)
    candidate_samples: tuple[int, int]
    status: str
    segments: dict[str, str | None] = field(default_factory=dict)
    triage_state: str | None = None  # triaged | disagreement | adjudicated | None (untriaged)
    triage_class: str | None = None
    triage_owner: str | None = None
    triage_verdict: str | None = None
    # samples that hit a message, token or time limit (a flag beside the verdict)
    baseline_limits: int = 0
    candidate_limits: int = 0

    @property
    def key(self) -> int:
        return self.ord


class TriagedCase(NamedTuple):
    """An included case with a verified finding, as the gate reads it (`Comparison.triaged`)."""

    failure_class: str | None
    owner: str | None
    verdict: str | None
    state: str  # triaged | disagreement | adjudicated
    case_key: str
    classes: list[str]  # every class the current opinions name (a disagreement keeps them all)
    triaged: (
        bool  # a failure class or a verdict (an owner or a note alone is a finding, not triage)
    )


@dataclass
class Sample:
    epoch: int
    verdict: str
    score: float | None
    output: str
    criteria: dict[str, dict[str, Any]]
    latency_ms: float | None
    cost: float | None
    explanation: str | None
    error: str | None
    output_length: int | None = None  # the whole output's length, when `output` is its start
    limit: str | None = None  # the limit the sample hit ("message limit (4)"), beside its verdict
    trajectory: list[Any] | None = None  # evaltui.trajectory.Step items, when recorded


@dataclass
class CaseDetail:
    case_id: int
    suite: str
    case_key: str
    input: str
    expected: str | None
    attributes: dict[str, Any]
    status: str
    status_reason: str | None
    baseline: list[Sample]
    candidate: list[Sample]
    fallback: list[Sample] | None
    # who retired or quarantined the case, when, and their note (None while active)
    status_note: str | None = None
    status_by: str | None = None
    status_at: str | None = None

    def criteria_changes(self, reducer: Reducer) -> dict[str, tuple[str | None, str | None]]:
        """Per criterion, the reduced verdict in baseline and candidate."""

        def reduce(samples: list[Sample]) -> dict[str, str | None]:
            seen: dict[str, list[str]] = {}
            for s in samples:
                for name, c in s.criteria.items():
                    v = c.get("verdict")
                    if v is not None:
                        seen.setdefault(name, []).append(v)
            out: dict[str, str | None] = {}
            for name, verdicts in seen.items():
                passed, n = sum(v == "pass" for v in verdicts), len(verdicts)
                out[name] = "pass" if reducer.passes(passed, n) else "fail"
            return out

        b, c = reduce(self.baseline), reduce(self.candidate)
        return {name: (b.get(name), c.get(name)) for name in sorted(set(b) | set(c))}


def run_ref(conn: sqlite3.Connection, run_id: int) -> RunRef:
    """A run as a comparison refers to it (NotFoundError when there is none)."""
    row = conn.execute(runs.COMPARED_RUN, (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no run with id {run_id}")
    declared = row[8]
    listed: tuple[str, ...] = (declared,) if isinstance(declared, str) else ()
    if isinstance(declared, str) and declared.startswith("["):  # a list: the first is headline
        listed = tuple(str(x) for x in json.loads(declared))
        declared = listed[0] if listed else None
    epochs = row[9] if isinstance(row[9], int) else None
    return RunRef(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        json.loads(row[6] or "{}"),
        json.loads(row[7] or "[]"),
        declared if isinstance(declared, str) else None,
        epochs,
        bool(row[10]),
        listed,
    )


# The reference answer, in the names tools give it in a case's fields (lm-eval's doc
# `answer`/`label`/`target`, ...): never a segment by default (--segments can still name it).
GOLD_FIELDS = frozenset(
    {
        "answer",
        "answers",
        "label",
        "labels",
        "target",
        "targets",
        "gold",
        "golds",
        "ideal",
        "expected",
        "expected_output",
        "solution",
        "correct",
        "reference",
        "references",
    }
)


def is_gold(name: str) -> bool:
    """A field that holds the reference answer (or names the expected source)."""
    low = name.lower()
    return low in GOLD_FIELDS or low.startswith(("expected_", "gold_", "reference_"))


def default_dimensions(runs: Iterable[RunRef]) -> list[str]:
    """Attributes with few distinct values (2..12) in the compared runs, in a stable order;
    gold fields (the reference answer) never."""
    merged: dict[str, set[str]] = {}
    many: set[str] = set()
    for run in runs:
        for key, values in run.attribute_values.items():
            if any(v.endswith("more") and v.startswith("\u2026") for v in values):
                many.add(key)
            merged.setdefault(key, set()).update(values)
    dims = [
        k
        for k, v in merged.items()
        if k not in many and not is_gold(k) and 2 <= len(v) <= MAX_SEGMENT_VALUES
    ]
    preferred = ["task", "risk", "risk_tier", "source_quality", "intent", "segment"]
    return sorted(dims, key=lambda k: (preferred.index(k) if k in preferred else len(preferred), k))


def risk_dimension(dims: Sequence[str], runs: Iterable[RunRef]) -> str | None:
    keys = set(dims)
    for run in runs:
        keys.update(run.attribute_values)
    for k in sorted(keys):
        if k.lower() in ("risk", "risk_tier", "risk_level", "tier") or "risk" in k.lower():
            return k
    return None


def segment_value(value: Any) -> str | None:
    """An attribute value as segment text: scalars as written, booleans lower-case."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def case_row(r: Sequence[Any], dimensions: Sequence[str]) -> CaseRow:
    """A CaseRow from the engine's list columns (its `_cols`, in that order)."""

    def verdict(passed: Any, errors: Any, present: Any) -> str | None:
        if present is None:
            return None
        if passed:
            return "pass"
        return "error" if errors else "fail"

    return CaseRow(
        case_id=r[0],
        suite=r[1],
        case_key=r[2],
        change=CHANGES[r[3]],
        ord=r[4],
        status=r[5],
        baseline=verdict(r[6], r[7], r[9]),
        candidate=verdict(r[10], r[11], r[13] or None),
        fallback=None if r[14] is None else ("pass" if r[14] else "fail"),
        baseline_samples=(int(r[8] or 0), int(r[9] or 0)),
        candidate_samples=(int(r[12] or 0), int(r[13] or 0)),
        segments={
            d: (None if v is None else str(v)) for d, v in zip(dimensions, r[21:], strict=True)
        },
        triage_state=r[15],
        triage_class=r[16],
        triage_owner=r[17],
        triage_verdict=r[18],
        baseline_limits=int(r[19] or 0),
        candidate_limits=int(r[20] or 0),
    )


def declared_reducer(baseline: RunRef, candidate: RunRef, pick: str | None = None) -> Reducer:
    """`--reducer declared`: the reducer both logs declared (or the one that did), the
    first of several; `declared:NAME` (`pick`): NAME, which every log that declares
    reducers must list."""
    if pick is not None:
        runs = [r for r in (baseline, candidate) if r.declared_all]
        missing = [r for r in runs if pick not in r.declared_all]
        if not runs or missing:
            said = "; ".join(f"run {r.id} declares {', '.join(r.declared_all)}" for r in runs)
            raise InputError(
                "--reducer",
                f"declared:{pick}: not a reducer the logs declare ({said or 'none do'})",
            )
        red = Reducer.declared(pick, candidate.epochs or baseline.epochs)
        if red is None:
            raise InputError("--reducer", f"{pick!r} has no pass rule here; name one")
        return red
    names = {r.declared_reducer for r in (baseline, candidate) if r.declared_reducer}
    if not names:
        raise InputError(
            "--reducer",
            "neither run's log declares a reducer; name one (worst, mean, majority, best, at-least-K)",
        )
    if len(names) > 1:
        raise InputError(
            "--reducer",
            f"the logs declare different reducers ({', '.join(sorted(names))}); name one",
        )
    (name,) = names
    red = Reducer.declared(name, candidate.epochs or baseline.epochs)
    if red is None:
        raise InputError(
            "--reducer", f"the logs declare {name!r}, which has no pass rule here; name one"
        )
    return red


def declared_reducers(
    baseline: RunRef, candidate: RunRef, fallback: RunRef | None
) -> dict[str, str | None]:
    out = {"baseline": baseline.declared_reducer, "candidate": candidate.declared_reducer}
    if fallback:
        out["fallback"] = fallback.declared_reducer
    return out


def reducer_note(
    reducer: Reducer, baseline: RunRef, candidate: RunRef, fallback: RunRef | None
) -> str | None:
    """A line saying the logs declared another reducer than `reducer`, or None."""
    epochs = candidate.epochs or baseline.epochs
    runs = [r for r in (baseline, candidate, fallback) if r is not None]
    firsts = {r.declared_reducer for r in runs if r.declared_reducer}
    declared = [d for r in runs for d in r.declared_all]
    others = sorted({d for d in declared if Reducer.declared(d, epochs) != reducer})
    if not others:
        return None
    hint = " or ".join(f"declared:{d}" if d not in firsts else "declared" for d in others)
    return (
        f"the logs declare {', '.join(others)}; this comparison uses {reducer.label} "
        f"(--reducer {hint} to use theirs)"
    )


def read_trajectory(
    conn: sqlite3.Connection, run_id: int, case_id: int, epoch: int, has_paths: bool = True
) -> trajectory.Trajectory | None:
    """One sample's trajectory (decompressed), or None; read per case, never in lists.
    `has_paths` False (the run recorded none): no query at all, on the stepping path."""
    if not has_paths:
        return None
    row = conn.execute(runs.SAMPLE_TRAJECTORY, (run_id, case_id, epoch)).fetchone()
    if row is None:
        return None
    import zstandard  # load time: zstandard (36 ms), only agent runs hold trajectories

    return trajectory.loads(zstandard.ZstdDecompressor().decompress(row[0]))


OUTPUT_READ_CHARS = 200_000  # of one output, for a case on screen: never a whole 32 MiB one


def read_detail(
    conn: sqlite3.Connection,
    case_id: int,
    baseline: RunRef,
    candidate: RunRef,
    fallback: RunRef | None,
) -> CaseDetail:
    """One case with every sample of each run (outputs cut at OUTPUT_READ_CHARS), and
    each sample's trajectory when its run recorded them."""
    c = conn.execute(runs.CASE_SHOWN, (case_id,)).fetchone()
    if c is None:
        raise NotFoundError(f"no case with id {case_id}")

    def samples(run: RunRef) -> list[Sample]:
        return [
            Sample(
                epoch=r[0],
                verdict=r[1],
                score=r[2],
                output=r[3],
                criteria=json.loads(r[4] or "{}"),
                latency_ms=r[5],
                cost=r[6],
                explanation=r[7],
                error=r[8],
                output_length=r[9],
                limit=r[10],
                trajectory=read_trajectory(conn, run.id, case_id, r[0], run.has_paths),
            )
            for r in conn.execute(runs.SAMPLES_SHOWN, (OUTPUT_READ_CHARS, run.id, case_id))
        ]

    return CaseDetail(
        case_id=case_id,
        suite=c[0],
        case_key=c[1],
        input=c[2],
        expected=c[3],
        attributes=json.loads(c[4] or "{}"),
        status=c[5],
        status_reason=c[6],
        status_note=c[7],
        status_by=c[8],
        status_at=c[9],
        baseline=samples(baseline),
        candidate=samples(candidate),
        fallback=samples(fallback) if fallback else None,
    )


def build_sets(
    conn: sqlite3.Connection, table: str, dims: Sequence[str], risk_dimension: str | None
) -> dict[int, tuple[str | None, ...]]:
    """`{table}_sets`: per attributes set, its risk rank and segment values (as text);
    returns the values by set id."""
    cols = "".join(f", s{i} TEXT" for i in range(len(dims)))
    conn.execute(
        f"CREATE TEMP TABLE {table}_sets (attr_set INTEGER PRIMARY KEY, risk_rank INTEGER{cols})"
    )
    rows = []
    values_of: dict[int, tuple[str | None, ...]] = {}
    for set_id, text in conn.execute(runs.ATTRIBUTE_SETS):
        try:
            attrs = json.loads(text)
        except ValueError:
            attrs = {}
        if not isinstance(attrs, dict):
            attrs = {}
        values = tuple(segment_value(attrs.get(d)) for d in dims)
        risk = segment_value(attrs.get(risk_dimension)) if risk_dimension else None
        rows.append((set_id, RISK_ORDER.get((risk or "").lower(), 9), *values))
        values_of[set_id] = values
    marks = ",".join("?" * (2 + len(dims)))
    conn.executemany(f"INSERT INTO {table}_sets VALUES ({marks})", rows)
    return values_of
