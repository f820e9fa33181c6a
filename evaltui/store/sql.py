"""Named SQL statements used by the store."""

CASE_UPSERT = """
INSERT INTO cases (suite, case_key, input, expected, attributes, first_seen_run, attr_set)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (suite, case_key) DO NOTHING
"""

ATTR_SET_INSERT = "INSERT OR IGNORE INTO attr_sets (attributes) VALUES (?)"
ATTR_SET_ID = "SELECT id FROM attr_sets WHERE attributes = ?"

# Each run's outcome per case, read by comparisons (one primary-key join): samples
# passed, samples with a verdict (unscored ones are not counted: a case with none has
# no verdict, n = 0), samples that errored or stopped at a limit with no verdict, and
# (nl) samples that hit a limit, whatever their verdict (LIMIT_HIT).
RUN_CASES_FILL = """
INSERT INTO run_cases
SELECT run_id, case_id, SUM(verdict = 'pass'), SUM(verdict <> 'unscored'),
       SUM(verdict IN ('error', 'limit')), TOTAL(score), TOTAL(output_crc * (epoch + 1)),
       TOTAL(tool_crc * (epoch + 1)), SUM(limit_hit IS NOT NULL)
FROM results WHERE run_id = ? GROUP BY case_id
"""
# The one rule for "this result hit a limit" (docs/formats.md): the runs' `limit` count,
# the comparison's `limit_hit` change and the gate's `limit_hits` all read it.
LIMIT_HIT = "limit_hit IS NOT NULL"

# The case id is looked up by SQLite itself through the (suite, case_key)
# unique index, so the importer never holds a key-to-id map in memory.
RESULT_INSERT = """
INSERT INTO results (
    run_id, case_id, epoch, verdict, score, output, criteria,
    latency_ms, cost, explanation, error, source_line, output_crc, tool_crc, limit_hit
) VALUES (
    ?, (SELECT id FROM cases WHERE suite = ? AND case_key = ?),
    ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
)
"""

TRAJECTORY_INSERT = """
INSERT INTO trajectories (run_id, case_id, epoch, data, tools, sources)
VALUES (?, (SELECT id FROM cases WHERE suite = ? AND case_key = ?), ?, ?, ?, ?)
"""

RUN_INSERT = """
INSERT INTO runs (
    name, system, role, format, source_path, source_part, sha256,
    created_at, imported_at, imported_by, metadata
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

RUN_TOTALS = """
UPDATE runs SET suites = ?, n_cases = ?, n_results = ?, n_passed = ?,
    n_failed = ?, n_errored = ?, n_limit = ?, n_unscored = ?, attribute_values = ?
WHERE id = ?
"""

# One streaming scan of results_compare: distinct cases, and distinct
# (case, epoch) pairs, which differ from the result count only when a sample repeats.
RUN_CASES_AND_SAMPLES = """
SELECT COUNT(DISTINCT case_id), COUNT(*) FROM (
    SELECT case_id FROM results WHERE run_id = ? GROUP BY case_id, epoch
)
"""

# Uses results_compare, whose order is (run_id, case_id, epoch): a streaming scan.
RUN_DUPLICATE_SAMPLE = """
SELECT case_id, epoch FROM results WHERE run_id = ?
GROUP BY case_id, epoch HAVING COUNT(*) > 1 LIMIT 1
"""

DUPLICATE_LINES = """
SELECT r.source_line, c.suite, c.case_key FROM results r JOIN cases c ON c.id = r.case_id
WHERE r.run_id = ? AND r.case_id = ? AND r.epoch = ? ORDER BY r.id
"""

CRITERION_INSERT = """
INSERT INTO run_criteria (run_id, name, passed, failed, errored, scored, score_sum, unscored)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""

RUNS_LIST = """
SELECT id, name, role, system, format, source_path, sha256, created_at,
       imported_at, suites, n_cases, n_results, n_passed, n_failed, n_errored,
       n_limit, n_unscored, json_extract(metadata, '$.otlp')
FROM runs ORDER BY id
"""

RUN_CRITERIA_ALL = (
    "SELECT run_id, name, passed, failed, errored, unscored FROM run_criteria ORDER BY run_id, name"
)

RUN_BY_SHA = "SELECT id, name FROM runs WHERE sha256 = ? AND source_part = ?"

RUN_ID_BY_SHA = "SELECT id FROM runs WHERE sha256 = ? ORDER BY id LIMIT 1"

HAS_MIGRATIONS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
APPLIED_MIGRATIONS = "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid"

# A setting's value (at most the first ? characters) and its full length.
SETTING_GET = "SELECT substr(value, 1, ?), length(value) FROM settings WHERE key = ?"

# The run the tool itself identifies so (few runs: no index needed); the newest of a name.
RUN_BY_IDENTITY = (
    "SELECT id, name FROM runs WHERE json_extract(metadata, '$.identity') = ? ORDER BY id LIMIT 1"
)
RUN_ID_BY_NAME = "SELECT id FROM runs WHERE name = ? ORDER BY id DESC"
