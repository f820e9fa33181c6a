"""The comparison's reads of the run tables (compare/engine, rows, measures, paths):
named statements and fragment builders the engine composes with its temp tables."""

from __future__ import annotations

# The engine composes these with the names of its temporary tables (it alone names them):
# `t` the classification (one row per case), `g` its segment values per attributes set.
# Aliases: b, c, f the baseline's, candidate's and fallback's `run_cases`; k `cases`;
# r `results`; j `trajectories`.

# A run as a comparison refers to it (compare.rows.RunRef)
COMPARED_RUN = (
    "SELECT id, name, role, system, sha256, source_path, attribute_values, suites, "
    "json_extract(metadata, '$.epochs_reducer'), json_extract(metadata, '$.epochs'), "
    "EXISTS (SELECT 1 FROM trajectories WHERE run_id = runs.id) FROM runs WHERE id = ?"
)
ATTRIBUTE_SETS = "SELECT id, attributes FROM attr_sets"
RUN_CASE_COUNT = "SELECT COUNT(*) FROM run_cases WHERE run_id = ?"


def _fallback_join(fallback: int | None, on: str) -> str:
    if fallback is None:
        return ""
    return f"LEFT JOIN run_cases f ON f.run_id = {int(fallback)} AND f.case_id = {on}.case_id"


def paired_cases(sets: str, fallback: int | None) -> str:
    """FROM and WHERE over each baseline case (b: params candidate id, then baseline id),
    with the candidate's (c, absent: NULL), its case (k), segment values (g) and fallback (f)."""
    return (
        "FROM run_cases b "
        "LEFT JOIN run_cases c ON c.run_id = ? AND c.case_id = b.case_id "
        "JOIN cases k ON k.id = b.case_id "
        f"LEFT JOIN {sets} g ON g.attr_set = k.attr_set "
        f"{_fallback_join(fallback, 'b')} "
        "WHERE b.run_id = ?"
    )


def candidate_only_cases(sets: str, fallback: int | None) -> str:
    """FROM and WHERE over the candidate's cases the baseline lacks (params: candidate
    id, then baseline id)."""
    return (
        "FROM run_cases c JOIN cases k ON k.id = c.case_id "
        f"LEFT JOIN {sets} g ON g.attr_set = k.attr_set "
        f"{_fallback_join(fallback, 'c')} "
        "WHERE c.run_id = ? AND NOT EXISTS ("
        "SELECT 1 FROM run_cases b WHERE b.run_id = ? AND b.case_id = c.case_id)"
    )


def statuses_again(table: str) -> str:
    """Every case's lifecycle status copied into `table` (after a retire or restore)."""
    return f"UPDATE {table} SET status = k.status FROM cases k WHERE k.id = {table}.case_id"


def status_again(table: str) -> str:
    """One case's status copied into `table` (params: the case id, twice)."""
    return f"UPDATE {table} SET status = (SELECT status FROM cases WHERE id = ?) WHERE case_id = ?"


# Per case and criterion of one run (param: the run): samples passing the criterion (np)
# and samples with a verdict on it (n)
CRITERIA_PER_CASE = (
    "SELECT r.case_id, j.key AS name, "
    "SUM(json_extract(j.value, '$.verdict') = 'pass') AS np, "
    "COUNT(json_extract(j.value, '$.verdict')) AS n "
    "FROM results r, json_each(r.criteria) j WHERE r.run_id = ? "
    "GROUP BY r.case_id, j.key"
)
# Either run's output of the case matches a LIKE pattern (params: the two runs, the pattern)
OUTPUT_LIKE = (
    "EXISTS (SELECT 1 FROM results r WHERE r.case_id = t.case_id AND r.run_id IN (?, ?) "
    "AND r.output LIKE ? ESCAPE '\\')"
)


def with_cases(rows: str, sets: str) -> str:
    """The classification rows (`rows`: a table or a subquery) as `t`, joined to their
    case (k) and segment values (g)."""
    return (
        f"{rows} t JOIN cases k ON k.id = t.case_id LEFT JOIN {sets} g ON g.attr_set = t.attr_set"
    )


def results_in(table: str, sets: str) -> str:
    """One run's results (r) on the classified cases (t), with segment values (g)."""
    return (
        f"results r JOIN {table} t ON t.case_id = r.case_id "
        f"LEFT JOIN {sets} g ON g.attr_set = t.attr_set"
    )


def case_key_sql(alias: str) -> str:
    """The case key of the row `alias` points at (by its case_id), as a scalar subquery."""
    return f"(SELECT case_key FROM cases WHERE id = {alias}.case_id)"


CASE_SHOWN = (
    "SELECT suite, case_key, input, expected, attributes, status, status_reason, "
    "status_note, status_by, status_at FROM cases WHERE id = ?"
)
# A run's samples of one case (params: characters of output read, run, case)
SAMPLES_SHOWN = (
    "SELECT epoch, verdict, score, substr(output, 1, ?), criteria, latency_ms, "
    "cost, explanation, error, length(output), limit_hit FROM results "
    "WHERE run_id = ? AND case_id = ? ORDER BY epoch"
)
SAMPLE_TRAJECTORY = "SELECT data FROM trajectories WHERE run_id = ? AND case_id = ? AND epoch = ?"
FIRST_TRAJECTORY_EPOCH = "SELECT MIN(epoch) FROM trajectories WHERE run_id = ? AND case_id = ?"
TOOLS_CALLED = (
    "SELECT DISTINCT e.value FROM trajectories j, json_each(j.tools) e "
    "WHERE j.run_id IN (?, ?) ORDER BY 1"
)


def path_filter(column: str) -> str:
    """Either run's trajectory of the case `t.case_id` lists a value in `column` (tools or
    sources; params: the two runs, the value)."""
    return (
        f"EXISTS (SELECT 1 FROM trajectories j, json_each(j.{column}) e WHERE "
        "j.run_id IN (?, ?) AND j.case_id = t.case_id AND e.value = ?)"
    )
