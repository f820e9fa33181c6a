"""The grader's verdicts as calibration reads them: a run's results on one criterion (or on
the result's own verdict, criterion ''), for drawing a sample, for the results people
judged, and as the pass/fail counts and paired tables the corrections use.

Reads the run tables (results, run_criteria, runs, cases) and never writes; SQL lives here
so the calibration modules above hold none. A result is known by (run, case, epoch); when a
sample repeats in a run (two results with one epoch) the first one stands for it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evaltui.errors import InputError

VERDICT = ""  # the criterion name that means the result's own verdict
VERDICT_WORD = "verdict"  # how people write it (CLI, policy, record)
GRADED = ("pass", "fail")  # the only verdicts a calibration counts
Graded = Literal["pass", "fail"]


@dataclass(frozen=True, slots=True, order=True)
class ResultRef:
    """One result: a run's sample of a case."""

    run_id: int
    case_id: int
    epoch: int


@dataclass(frozen=True, slots=True)
class FrameRow:
    """One result a calibration sample may draw: its id, where it is, its stratum."""

    result_id: int
    run_id: int
    case_id: int
    epoch: int
    segment: str
    verdict: str

    @property
    def ref(self) -> ResultRef:
        return ResultRef(self.run_id, self.case_id, self.epoch)


@dataclass(frozen=True, slots=True)
class ResultView:
    """What the judging screen shows of one result (the grader's part kept apart)."""

    ref: ResultRef
    run_name: str
    suite: str
    case_key: str
    input: str
    expected: str | None
    output: str
    grader_verdict: str | None  # on the criterion judged
    grader_score: float | None
    grader_explanation: str | None


def sql_text(value: str) -> str:
    """A string as an SQL literal (quotes doubled; a NUL, which SQL text cannot hold, refused)."""
    if "\x00" in value:
        raise InputError("criterion", "a criterion name cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def verdict_sql(criterion: str, alias: str = "r") -> str:
    """The grader's verdict of result `alias` on `criterion`, as an SQL expression."""
    if criterion == VERDICT:
        return f"{alias}.verdict"
    if '"' not in criterion and "\\" not in criterion:  # a quoted JSON path label: direct
        path = '$."' + criterion + '".verdict'
        return f"json_extract({alias}.criteria, {sql_text(path)})"
    return (  # a name a path cannot quote: looked up among the criteria
        f"(SELECT json_extract(j.value, '$.verdict') FROM json_each({alias}.criteria) j "
        f"WHERE j.key = {sql_text(criterion)})"
    )


def baseline_verdict_sql(baseline_run: int, criterion: str, alias: str = "r") -> str:
    """The baseline run's verdict on the same case and epoch as result `alias` (the first
    such result), for a paired table read over the candidate's results."""
    return (
        f"(SELECT {verdict_sql(criterion, 'b')} FROM results b WHERE b.run_id = "
        f"{int(baseline_run)} AND b.case_id = {alias}.case_id AND b.epoch = {alias}.epoch "
        "ORDER BY b.id LIMIT 1)"
    )


def paired_code_sql(baseline_run: int, criterion: str, alias: str = "r") -> str:
    """Over the candidate's result `alias`: 3 both pass, 1 a regression (baseline pass,
    candidate fail), 2 an improvement, 0 both fail, 9 or more not paired (grouped on, each
    verdict is read once per result)."""
    c, b = verdict_sql(criterion, alias), baseline_verdict_sql(baseline_run, criterion, alias)
    return (
        f"((CASE {c} WHEN 'pass' THEN 2 WHEN 'fail' THEN 0 ELSE 9 END) "
        f"+ (CASE {b} WHEN 'pass' THEN 1 WHEN 'fail' THEN 0 ELSE 9 END))"
    )


def cells(rows: Iterable[tuple[Any, ...]]) -> tuple[int, int, int, int]:
    """(both pass, regressions, improvements, both fail) from (code, count) rows."""
    by = {int(code): int(n) for code, n in rows if code is not None}
    return by.get(3, 0), by.get(1, 0), by.get(2, 0), by.get(0, 0)


def criteria(conn: sqlite3.Connection, run_id: int) -> list[str]:
    """The criteria a run scores (its run_criteria), sorted."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM run_criteria WHERE run_id = ? ORDER BY name", (run_id,)
        )
    ]


def counts(conn: sqlite3.Connection, run_id: int, criterion: str) -> tuple[int, int]:
    """(passes, fails) the grader gave on the run: from the run's totals, never a scan."""
    if criterion == VERDICT:
        row = conn.execute("SELECT n_passed, n_failed FROM runs WHERE id = ?", (run_id,)).fetchone()
    else:
        row = conn.execute(
            "SELECT passed, failed FROM run_criteria WHERE run_id = ? AND name = ?",
            (run_id, criterion),
        ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _segment_sql(dimension: str | None) -> tuple[str, list[Any]]:
    if dimension is None:
        return "''", []
    return (
        "COALESCE((SELECT CASE a.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        "ELSE CAST(a.value AS TEXT) END FROM json_each(k.attributes) a WHERE a.key = ?), '')",
        [dimension],
    )


def frame(
    conn: sqlite3.Connection, run_id: int, criterion: str, dimension: str | None = None
) -> Iterator[FrameRow]:
    """Every result of the run the grader passed or failed on `criterion`, with its segment
    on `dimension` ('' without one; '' too for a case without the attribute). Streamed; the
    run's own verdict is read from the covering index alone."""
    v = verdict_sql(criterion)
    if dimension is None:
        rows = conn.execute(
            f"SELECT r.id, r.case_id, r.epoch, '', v FROM (SELECT r.id, r.case_id, r.epoch, "
            f"{v} AS v FROM results r WHERE r.run_id = ?) r WHERE v IN ('pass', 'fail')",
            (run_id,),
        )
    else:
        seg, params = _segment_sql(dimension)
        rows = conn.execute(
            f"SELECT r.id, r.case_id, r.epoch, {seg}, v FROM (SELECT r.id, r.case_id, r.epoch, "
            f"{v} AS v FROM results r WHERE r.run_id = ?) r JOIN cases k ON k.id = r.case_id "
            "WHERE v IN ('pass', 'fail')",
            [*params, run_id],
        )
    for rid, case_id, epoch, segment, verdict in rows:
        yield FrameRow(rid, run_id, case_id, epoch, str(segment), verdict)


def _chunks(refs: Sequence[ResultRef], size: int = 400) -> Iterator[Sequence[ResultRef]]:
    for i in range(0, len(refs), size):
        yield refs[i : i + size]


def verdicts(
    conn: sqlite3.Connection, refs: Sequence[ResultRef], criterion: str
) -> dict[ResultRef, Graded | None]:
    """The grader's verdict on `criterion` of each result (None: not pass or fail, or no
    such result). Indexed lookups, a few hundred per statement."""
    out: dict[ResultRef, Graded | None] = dict.fromkeys(refs)
    v = verdict_sql(criterion)
    for chunk in _chunks(refs):
        wanted = json.dumps([[r.run_id, r.case_id, r.epoch] for r in chunk])
        for run_id, case_id, epoch, verdict in conn.execute(
            f"SELECT r.run_id, r.case_id, r.epoch, {v} FROM json_each(?) w "
            "JOIN results r ON r.run_id = json_extract(w.value, '$[0]') "
            "AND r.case_id = json_extract(w.value, '$[1]') "
            "AND r.epoch = json_extract(w.value, '$[2]') ORDER BY r.id DESC",
            (wanted,),
        ):  # the first result of a repeated sample is read last, so it stands
            graded: Graded | None = verdict if verdict in GRADED else None
            out[ResultRef(run_id, case_id, epoch)] = graded
    return out


def case_verdicts(
    conn: sqlite3.Connection, run_id: int, case_ids: Iterable[int], criterion: str
) -> dict[int, set[Graded | None]]:
    """The grader's verdicts on `criterion` of every sample of these cases in a run (None:
    a sample neither passed nor failed), by case."""
    out: dict[int, set[Graded | None]] = {}
    ids = json.dumps(sorted(set(case_ids)))
    for case_id, verdict in conn.execute(
        f"SELECT r.case_id, {verdict_sql(criterion)} FROM results r "
        "WHERE r.run_id = ? AND r.case_id IN (SELECT value FROM json_each(?))",
        (run_id, ids),
    ):
        out.setdefault(int(case_id), set()).add(verdict if verdict in GRADED else None)
    return out


def segments_of(
    conn: sqlite3.Connection, refs: Sequence[ResultRef], dimension: str
) -> dict[ResultRef, str]:
    """Each result's segment on `dimension` ('' when its case lacks the attribute)."""
    seg, params = _segment_sql(dimension)
    out: dict[ResultRef, str] = {}
    by_case: dict[int, str] = {}
    cases = sorted({r.case_id for r in refs})
    for i in range(0, len(cases), 400):
        chunk = cases[i : i + 400]
        for cid, value in conn.execute(
            f"SELECT k.id, {seg} FROM cases k WHERE k.id IN ({','.join('?' * len(chunk))})",
            [*params, *chunk],
        ):
            by_case[int(cid)] = str(value)
    for r in refs:
        out[r] = by_case.get(r.case_id, "")
    return out


def segment_counts(
    conn: sqlite3.Connection, run_id: int, criterion: str, dimension: str
) -> dict[str, tuple[int, int]]:
    """(passes, fails) the grader gave per segment of `dimension`: one scan of the run."""
    seg, params = _segment_sql(dimension)
    v = verdict_sql(criterion)
    out: dict[str, tuple[int, int]] = {}
    for segment, passes, fails in conn.execute(
        f"SELECT s, TOTAL(v = 'pass'), TOTAL(v = 'fail') FROM (SELECT {seg} AS s, {v} AS v "
        "FROM results r JOIN cases k ON k.id = r.case_id WHERE r.run_id = ?) GROUP BY s",
        [*params, run_id],
    ):
        out[str(segment)] = (int(passes), int(fails))
    return out


def paired_counts(
    conn: sqlite3.Connection, baseline_run: int, candidate_run: int, criterion: str
) -> tuple[int, int, int, int]:
    """(both pass, regressions, improvements, both fail): the grader's verdicts on
    `criterion` of the results both runs have (same case, same epoch). One scan."""
    code = paired_code_sql(baseline_run, criterion)
    return cells(
        conn.execute(
            f"SELECT {code}, COUNT(*) FROM results r WHERE r.run_id = ? GROUP BY 1",
            (candidate_run,),
        )
    )


def view(conn: sqlite3.Connection, ref: ResultRef, criterion: str) -> ResultView | None:
    """One result as the judging screen shows it (None when it is not in the store)."""
    row = conn.execute(
        "SELECT u.name, k.suite, k.case_key, k.input, k.expected, r.output, r.verdict, r.score, "
        "r.criteria, r.explanation FROM results r JOIN cases k ON k.id = r.case_id "
        "JOIN runs u ON u.id = r.run_id WHERE r.run_id = ? AND r.case_id = ? AND r.epoch = ? "
        "ORDER BY r.id LIMIT 1",
        (ref.run_id, ref.case_id, ref.epoch),
    ).fetchone()
    if row is None:
        return None
    name, suite, key, inp, expected, output, verdict, score, crit, explanation = row
    if criterion != VERDICT:
        entry = json.loads(crit or "{}").get(criterion)
        entry = entry if isinstance(entry, dict) else {}
        verdict, score = entry.get("verdict"), entry.get("score")
        explanation = entry.get("explanation")
    return ResultView(
        ref=ref,
        run_name=str(name),
        suite=str(suite),
        case_key=str(key),
        input=str(inp or ""),
        expected=None if expected is None else str(expected),
        output=str(output or ""),
        grader_verdict=verdict if isinstance(verdict, str) else None,
        grader_score=float(score) if isinstance(score, int | float) else None,
        grader_explanation=explanation if isinstance(explanation, str) else None,
    )


def resolve_result(
    conn: sqlite3.Connection, run_id: int, case_id: int, epoch: int | None
) -> ResultRef:
    """The run's result on a case (epoch given, or the case's only epoch in the run)."""
    epochs = [
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT epoch FROM results WHERE run_id = ? AND case_id = ? ORDER BY epoch",
            (run_id, case_id),
        )
    ]
    if not epochs:
        raise InputError("CASE", f"run {run_id} has no result on this case")
    if epoch is None:
        if len(epochs) > 1:
            raise InputError(
                "--epoch", f"the case has {len(epochs)} samples in this run: give --epoch"
            )
        epoch = epochs[0]
    elif epoch not in epochs:
        raise InputError("--epoch", f"no sample {epoch} of this case in run {run_id}")
    return ResultRef(run_id, case_id, epoch)


def run_identity(conn: sqlite3.Connection, run_id: int) -> tuple[str, str, str, dict[str, Any]]:
    """(name, sha256, format, metadata) of a run."""
    row = conn.execute(
        "SELECT name, sha256, format, metadata FROM runs WHERE id = ?", (run_id,)
    ).fetchone()
    if row is None:
        raise InputError("RUN", f"no run with id {run_id}")
    try:
        meta = json.loads(row[3] or "{}")
    except ValueError:
        meta = {}
    return str(row[0]), str(row[1]), str(row[2]), meta if isinstance(meta, dict) else {}


def case_keys(conn: sqlite3.Connection, case_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(suite, case key) of each case id."""
    ids = sorted(set(case_ids))
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        for cid, suite, key in conn.execute(
            f"SELECT id, suite, case_key FROM cases WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            out[int(cid)] = (str(suite), str(key))
    return out


def case_by_key(conn: sqlite3.Connection, suite: str | None, key: str) -> int | None:
    """A case id from its key (and suite, when given); None when there is none or the key
    alone is in several suites."""
    if suite is not None:
        row = conn.execute(
            "SELECT id FROM cases WHERE suite = ? AND case_key = ?", (suite, key)
        ).fetchone()
        return None if row is None else int(row[0])
    rows = conn.execute("SELECT id FROM cases WHERE case_key = ? LIMIT 2", (key,)).fetchall()
    return int(rows[0][0]) if len(rows) == 1 else None


def refs_of(conn: sqlite3.Connection, result_ids: Sequence[int]) -> dict[int, ResultRef]:
    """Each result id's (run, case, epoch)."""
    out: dict[int, ResultRef] = {}
    for i in range(0, len(result_ids), 400):
        chunk = list(result_ids[i : i + 400])
        for rid, run_id, case_id, epoch in conn.execute(
            "SELECT id, run_id, case_id, epoch FROM results "
            f"WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            out[int(rid)] = ResultRef(int(run_id), int(case_id), int(epoch))
    return out
