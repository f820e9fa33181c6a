"""Import, listing and resolvers of the run tables: a run's rows written in one
transaction, the runs listed, a run or case found by sha256, name, identity or key."""

from __future__ import annotations

import bisect
import difflib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any, NamedTuple

from evaltui.errors import InputError, NotFoundError
from evaltui.store.events import now_iso
from evaltui.store.store import Store

if TYPE_CHECKING:  # loaded where used: opening a store for the app needs neither
    from evaltui.models import Record, Run, RunSummary
    from evaltui.store.rows import RowBatch, RowSource


def _json(value: Any) -> str:
    """JSON as the store writes it (the event log's form): sorted keys, compact."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- import and listing (Store.import_run, runs, resolvers) --------------------------

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
# RUNS_LIST's columns, as RunSummary names them
_RUN_COLUMNS = ("id", "name", "role", "system", "format", "source_path", "sha256", "created_at",
                "imported_at", "suites", "cases", "results", "passed", "failed", "errored",
                "limit", "unscored", "otlp")  # fmt: skip

RUN_CRITERIA_ALL = (
    "SELECT run_id, name, passed, failed, errored, unscored FROM run_criteria ORDER BY run_id, name"
)

# The first run from a file (any part of it, or one part): the runs_sha256 index.
RUN_BY_SHA = "SELECT id, name FROM runs WHERE sha256 = ? ORDER BY id LIMIT 1"
RUN_BY_SHA_PART = (
    "SELECT id, name FROM runs WHERE sha256 = ? AND source_part = ? ORDER BY id LIMIT 1"
)
# The runs the tool itself identifies so (few runs: no index needed), oldest first.
RUN_BY_IDENTITY = (
    "SELECT id, name, json_extract(metadata, '$.scores_digest') FROM runs "
    "WHERE json_extract(metadata, '$.identity') = ? ORDER BY id"
)
RUN_ID_BY_NAME = "SELECT id FROM runs WHERE name = ? ORDER BY id DESC"  # the newest of a name
CASE_BY_KEY = "SELECT id FROM cases WHERE suite = ? AND case_key = ?"


class AlreadyImported(Exception):
    """The same file's run is already in the store (found inside the import's transaction)."""

    def __init__(self, run_id: int, name: str) -> None:
        super().__init__(f"already imported as run {run_id} ({name})")
        self.run_id, self.name = run_id, name


class RunRef(NamedTuple):
    id: int
    name: str


class IdentifiedRun(NamedTuple):
    """A run the tool identifies by its own id, with the digest of its scores."""

    id: int
    name: str
    scores_digest: str | None


def import_run(
    store: Store,
    run: Run,
    records: Iterable[Record],
    *,
    rows: RowSource | None = None,
    on_batch: Callable[[int], None] | None = None,
    actor: str | None = None,
    unique: bool = False,
) -> int:
    """Write one run and its results in one transaction; return the run id.

    `unique`: refuse (AlreadyImported, nothing written) when a run from the same
    file (sha256 and part) is already in the store. The check is made inside the
    write transaction, so concurrent imports of one file make one run.

    Any exception raised while reading `records` (a bad line, say) rolls
    the whole run back: the store is left exactly as it was.

    `rows`, when given, builds the row batches instead of `records`: called
    with the new run id and the Tally to fill (the import reader process,
    evaltui/service/import_process.py, does the reading and row building there).
    """
    from evaltui.store.rows import Tally, build_rows  # load time: only to import

    actor = actor or store.actor
    conn = store.conn
    with store.transaction():
        if unique and run.sha256:
            existing = run_by_sha256(store, run.sha256, run.source_part)
            if existing is not None:
                raise AlreadyImported(*existing)
        cur = conn.execute(
            RUN_INSERT,
            (
                run.name,
                run.system,
                run.role,
                run.format,
                run.source_path,
                run.source_part,
                run.sha256,
                run.created_at.isoformat() if run.created_at else None,
                now_iso(),
                actor,
                _json(run.metadata),
            ),
        )
        run_id = int(cur.lastrowid or 0)
        tally = Tally()
        attr_ids: dict[str, int] = {}  # attributes JSON -> its attr_sets id, for this import
        source = rows(run_id, tally) if rows else build_rows(records, run_id, tally)
        # closing: a failure here stops the source at once (a reader process, say)
        with closing(source):
            _write_rows(conn, source, attr_ids, on_batch)
        counts, criteria, suites = tally.counts, tally.criteria, tally.suites
        n_results = sum(counts.values())
        if n_results == 0:
            raise InputError(run.source_path or run.name, "no results in this run (empty file?)")
        n_cases, n_samples = conn.execute(RUN_CASES_AND_SAMPLES, (run_id,)).fetchone()
        if n_samples != n_results:
            dup = conn.execute(RUN_DUPLICATE_SAMPLE, (run_id,)).fetchone()
            lines = conn.execute(DUPLICATE_LINES, (run_id, dup[0], dup[1])).fetchall()
            raise InputError(
                run.source_path or run.name,
                f"duplicate result for case '{lines[0][1]}/{lines[0][2]}' epoch {dup[1]} "
                f"(also at {lines[0][0]}); each (case, epoch) may appear once per run",
                location=lines[1][0] or None,
                field="case_key",
            )
        conn.execute(RUN_CASES_FILL, (run_id,))
        conn.execute(
            RUN_TOTALS,
            (
                _json(sorted(suites)),
                n_cases,
                n_results,
                counts["pass"],
                counts["fail"],
                counts["error"],
                tally.limit_hits,  # every sample that hit a limit, whatever its verdict
                counts["unscored"],
                _json(tally.attribute_summary()),
                run_id,
            ),
        )
        conn.executemany(
            CRITERION_INSERT,
            [(run_id, name, *t[:6]) for name, t in sorted(criteria.items())],
        )
        store.log_event(
            "import",
            "run",
            run_id,
            after={"name": run.name, "role": run.role, "sha256": run.sha256, "results": n_results},
            context={"source_path": run.source_path, "format": run.format},
            actor=actor,
        )
    return run_id


def _write_rows(
    conn: sqlite3.Connection,
    source: Iterator[RowBatch],
    attr_ids: dict[str, int],
    on_batch: Callable[[int], None] | None,
) -> None:
    from evaltui.store.rows import ATTR_ID_CACHE  # load time: only to import, as above

    for case_rows, result_rows, traj_rows in source:
        if len(attr_ids) > ATTR_ID_CACHE:  # high-cardinality attributes: stay bounded
            attr_ids.clear()
        new = {row[4] for row in case_rows} - attr_ids.keys()
        if new:
            conn.executemany(ATTR_SET_INSERT, [(a,) for a in new])
            for a in new:
                attr_ids[a] = conn.execute(ATTR_SET_ID, (a,)).fetchone()[0]
        conn.executemany(CASE_UPSERT, [(*row, attr_ids[row[4]]) for row in case_rows])
        conn.executemany(RESULT_INSERT, result_rows)
        if traj_rows:
            conn.executemany(TRAJECTORY_INSERT, traj_rows)
        if on_batch:
            on_batch(len(result_rows))


def run_by_sha256(store: Store, sha256: str, part: str | None = None) -> RunRef | None:
    """The first run imported from a file with this sha256 (and this part of it, when
    given: one of the runs a multi-run file holds), if any."""
    q, params = (RUN_BY_SHA, (sha256,)) if part is None else (RUN_BY_SHA_PART, (sha256, part))
    row = store.conn.execute(q, params).fetchone()
    return None if row is None else RunRef(int(row[0]), str(row[1]))


def run_digests(store: Store, run_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """The (sha256, source part) of each run's file, as a team names the run, by run id
    (a run not in the store is absent): a few hundred ids a statement."""
    ids = sorted(set(run_ids))
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        for rid, sha, part in store.conn.execute(
            f"SELECT id, sha256, source_part FROM runs WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            out[int(rid)] = (str(sha or ""), str(part or ""))
    return out


def runs_by_identity(store: Store, identity: str) -> list[IdentifiedRun]:
    """The runs the tool itself identifies as `identity` (its eval or run id), oldest first."""
    return [
        IdentifiedRun(int(rid), str(name), digest)
        for rid, name, digest in store.conn.execute(RUN_BY_IDENTITY, (identity,))
    ]


def run_by_name(store: Store, name: str) -> int | None:
    """The newest run of this name, if any."""
    row = store.conn.execute(RUN_ID_BY_NAME, (name,)).fetchone()
    return None if row is None else int(row[0])


def resolve_run(store: Store, ref: str | int) -> int:
    """A run id from an id or a name (the newest run of that name)."""
    text = str(ref)
    if text.isdigit():
        row = store.conn.execute("SELECT id FROM runs WHERE id = ?", (int(text),)).fetchone()
        if row:
            return int(row[0])
    found = run_by_name(store, text)
    if found is None:
        raise NotFoundError(f"No run '{text}'. `evaltui runs` lists the runs in the store.")
    return found


def unique_run_name(store: Store, name: str) -> str:
    """`name`, or `name #2`, `#3`... when a run has it (a name resolves to one run)."""
    out, n = name, 1
    while store.conn.execute("SELECT 1 FROM runs WHERE name = ?", (out,)).fetchone():
        n += 1
        out = f"{name} #{n}"
    return out


def result_count(store: Store, run_id: int) -> int:
    """How many results the run holds."""
    return int(
        store.conn.execute("SELECT n_results FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    )


def run_names(store: Store) -> dict[int, str]:
    """Every run's name by its id."""
    return {int(rid): str(name) for rid, name in store.conn.execute("SELECT id, name FROM runs")}


def run_files(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Every run's (name, sha256 of its file), oldest first."""
    return [(str(n), str(s)) for n, s in conn.execute("SELECT name, sha256 FROM runs ORDER BY id")]


def list_runs(store: Store) -> list[RunSummary]:
    """Every run with its figures, oldest first."""
    from evaltui.models import RunSummary  # load time: pydantic when runs are listed, not at start

    crit: dict[int, dict[str, dict[str, int]]] = {}
    for run_id, name, passed, failed, errored, unscored in store.conn.execute(RUN_CRITERIA_ALL):
        crit.setdefault(run_id, {})[name] = {
            "passed": passed,
            "failed": failed,
            "errored": errored,
            "unscored": unscored,
        }
    out = []
    for row in store.conn.execute(RUNS_LIST):
        item = dict(zip(_RUN_COLUMNS, row, strict=True))
        results, unscored = item["results"], item["unscored"]
        item.update(
            suites=json.loads(item["suites"]),
            otlp=json.loads(item["otlp"]) if item["otlp"] else None,
            pass_rate=(item["passed"] / (results - unscored)) if results > unscored else None,
            criteria=crit.get(item["id"], {}),
        )
        out.append(RunSummary(**item))
    return out


def case_by_key(store: Store, suite: str, case_key: str) -> int | None:
    """The id of the case `suite`/`case_key`, if the store has it."""
    row = store.conn.execute(CASE_BY_KEY, (suite, case_key)).fetchone()
    return None if row is None else int(row[0])


def resolve_case(store: Store, ref: str) -> int:
    """A case id from `suite/key`, a unique key, or `#id`."""
    if ref.startswith("#") and ref[1:].isdigit():
        row = store.conn.execute("SELECT id FROM cases WHERE id = ?", (int(ref[1:]),)).fetchone()
        if row:
            return int(row[0])
    rows = store.conn.execute("SELECT id, suite FROM cases WHERE case_key = ?", (ref,)).fetchall()
    if len(rows) == 1:
        return int(rows[0][0])
    if len(rows) > 1:
        raise InputError(
            "CASE",
            f"{ref!r} is in several suites ({', '.join(r[1] for r in rows)}); write SUITE/KEY",
        )
    if "/" in ref and (found := case_by_key(store, *ref.split("/", 1))) is not None:
        return found
    close = close_cases(store.conn, ref)
    hint = (
        "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        if close
        else ". `evaltui compare BASE CAND --keys` lists changed cases."
    )
    raise NotFoundError(f"No case {ref!r}{hint}")


def close_cases(conn: sqlite3.Connection, ref: str, n: int = 3) -> list[str]:
    """The store's cases whose key (or `suite/key`) is close to `ref`, best first, as
    `suite/key` (difflib's ratio, cutoff 0.6, as the policy's did-you-mean); read
    streaming, holding `n` at a time."""
    best: list[tuple[float, str]] = []  # (-ratio, suite/key): best first, ties by name
    matcher = difflib.SequenceMatcher(b=ref.casefold(), autojunk=False)
    whole = "/" in ref
    for suite, key in conn.execute("SELECT suite, case_key FROM cases"):
        name = f"{suite}/{key}"
        matcher.set_seq1((name if whole else key).casefold())
        if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
            continue
        ratio = matcher.ratio()
        if ratio >= 0.6:
            bisect.insort(best, (-ratio, name))
            del best[n:]
    return [name for _, name in best]


def run_exists(store: Store, run_id: int) -> bool:
    return store.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None


def case_key_of(store: Store, case_id: int) -> str | None:
    """The key of the case with this id, if the store has it."""
    row = store.conn.execute("SELECT case_key FROM cases WHERE id = ?", (case_id,)).fetchone()
    return None if row is None else str(row[0])


def source_line(store: Store, run_id: int, case_id: int) -> str | None:
    """Where the run's first sample of the case came from (`results.source_line`)."""
    row = store.conn.execute(
        "SELECT source_line FROM results WHERE run_id = ? AND case_id = ? ORDER BY epoch LIMIT 1",
        (run_id, case_id),
    ).fetchone()
    return None if row is None else row[0]


def case_names(store: Store, case_ids: Iterable[int]) -> dict[int, str]:
    """`suite/key` of each of these cases the store has, by id (read 500 at a time)."""
    wanted, out = sorted(set(case_ids)), {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        q = f"SELECT id, suite, case_key FROM cases WHERE id IN ({','.join('?' * len(chunk))})"
        for cid, suite, key in store.conn.execute(q, chunk):
            out[int(cid)] = f"{suite}/{key}"
    return out


def join_names(runs: dict[str, str], case: tuple[str, str] | None = None) -> str:
    """JOIN clauses naming runs and a case for another owner's query, which then reads
    `ALIAS.name`, `ALIAS.sha256` (a run) and `ALIAS.suite`, `ALIAS.case_key` (the case):
    `runs` maps an alias to the column holding the run id, `case` is (alias, column).
    The run tables are named here only; aliases and columns are the caller's code."""
    parts = [f"JOIN runs {alias} ON {alias}.id = {column}" for alias, column in runs.items()]
    if case is not None:
        parts.append(f"JOIN cases {case[0]} ON {case[0]}.id = {case[1]}")
    return " ".join(parts)


def run_sources(store: Store) -> set[tuple[str, str]]:
    """Every run's (sha256 of its file, part of the file it was), the team store's name
    for a run."""
    return {(str(s), str(p)) for s, p in store.conn.execute("SELECT sha256, source_part FROM runs")}
