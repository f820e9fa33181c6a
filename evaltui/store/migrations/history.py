"""The store's migrations m001 to m013: runs, cases, results, findings, decisions, the
event log's chain, trajectories. Never edit a landed migration: add one."""

from __future__ import annotations

import json
import zlib

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from evaltui.store.events import chain_hash
from evaltui.store.schema import MIGRATION_SET

migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            system TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'none'
                CHECK (role IN ('production', 'candidate', 'fallback', 'none')),
            format TEXT NOT NULL,
            source_path TEXT NOT NULL DEFAULT '',
            source_part TEXT NOT NULL DEFAULT '',
            sha256 TEXT NOT NULL DEFAULT '',
            created_at TEXT,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL DEFAULT '',
            metadata TEXT NOT NULL DEFAULT '{}',
            suites TEXT NOT NULL DEFAULT '[]',
            n_cases INTEGER NOT NULL DEFAULT 0,
            n_results INTEGER NOT NULL DEFAULT 0,
            n_passed INTEGER NOT NULL DEFAULT 0,
            n_failed INTEGER NOT NULL DEFAULT 0,
            n_errored INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_sha256 ON runs(sha256, source_part);

        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            suite TEXT NOT NULL,
            case_key TEXT NOT NULL,
            input TEXT NOT NULL DEFAULT '',
            expected TEXT,
            attributes TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'quarantined', 'retired')),
            status_reason TEXT,
            status_note TEXT,
            status_by TEXT,
            status_at TEXT,
            first_seen_run INTEGER,
            UNIQUE (suite, case_key)
        );

        -- Results are wide (outputs); the comparison only needs
        -- (run, case, epoch, verdict, score), so that is a covering index and
        -- the baseline-vs-candidate join never touches the wide rows.
        CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            case_id INTEGER NOT NULL REFERENCES cases(id),
            epoch INTEGER NOT NULL DEFAULT 0,
            verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'error')),
            score REAL,
            output TEXT NOT NULL DEFAULT '',
            criteria TEXT NOT NULL DEFAULT '{}',
            latency_ms REAL,
            cost REAL,
            explanation TEXT,
            error TEXT,
            source_line TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX results_compare ON results(run_id, case_id, epoch, verdict, score);

        CREATE TABLE run_criteria (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            name TEXT NOT NULL,
            passed INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            errored INTEGER NOT NULL DEFAULT 0,
            scored INTEGER NOT NULL DEFAULT 0,
            score_sum REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, name)
        ) WITHOUT ROWID;

        -- Every human action, append-only: who, when, what, before/after.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            before TEXT,
            after TEXT,
            context TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_entity ON events(entity, entity_id);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


def output_crc(text: str | None) -> int:
    """The output fingerprint stored with each result (CRC-32 of its UTF-8)."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) if text else 0


@migrations()
def m002_compare_fingerprints(db: Database) -> None:
    """Outputs get a fingerprint in the compare index (so "output changed" never
    reads the wide rows), and runs a summary of their attribute values (so the
    comparison picks segment dimensions without scanning cases)."""
    db.conn.create_function("evaltui_crc", 1, output_crc, deterministic=True)
    db.executescript(
        """
        ALTER TABLE results ADD COLUMN output_crc INTEGER NOT NULL DEFAULT 0;
        UPDATE results SET output_crc = evaltui_crc(output);
        DROP INDEX results_compare;
        CREATE INDEX results_compare
            ON results(run_id, case_id, epoch, verdict, score, output_crc);
        ALTER TABLE runs ADD COLUMN attribute_values TEXT NOT NULL DEFAULT '{}';
        """
    )
    # attribute_values: {key: {value: cases}} from the cases each run brought.
    for (run_id,) in db.execute("SELECT id FROM runs").fetchall():
        summary: dict[str, dict[str, int]] = {}
        rows = db.execute(
            "SELECT j.key, j.value FROM cases c, json_each(c.attributes) j "
            "WHERE c.id IN (SELECT DISTINCT case_id FROM results WHERE run_id = ?) "
            "AND j.type IN ('text', 'integer', 'real', 'true', 'false')",
            (run_id,),
        ).fetchall()
        for key, value in rows:
            values = summary.setdefault(key, {})
            values[str(value)] = values.get(str(value), 0) + 1
        db.execute(
            "UPDATE runs SET attribute_values = ? WHERE id = ?",
            (json.dumps(summary, sort_keys=True), run_id),
        )


@migrations()
def m003_findings(db: Database) -> None:
    """Triage: every finding ever made (append-only), and each case's current state."""
    db.executescript(
        """
        -- One row per triage action: a label, an undo (restores the reviewer's
        -- previous state) or an adjudication. Never updated, never deleted.
        CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            baseline_run INTEGER NOT NULL REFERENCES runs(id),
            candidate_run INTEGER NOT NULL REFERENCES runs(id),
            case_id INTEGER NOT NULL REFERENCES cases(id),
            kind TEXT NOT NULL CHECK (kind IN ('label', 'undo', 'adjudication')),
            class TEXT,
            class_name TEXT,
            owner TEXT,
            verdict TEXT CHECK (verdict IS NULL OR verdict IN
                ('real_regression', 'accepted', 'grader_wrong', 'flaky', 'bad_case')),
            note TEXT,
            reviewer TEXT NOT NULL,
            at TEXT NOT NULL,
            undoes TEXT,
            source TEXT NOT NULL DEFAULT 'local'
        );
        CREATE INDEX findings_case ON findings(baseline_run, candidate_run, case_id, id);
        CREATE TRIGGER findings_no_update BEFORE UPDATE ON findings
            BEGIN SELECT RAISE(ABORT, 'findings are append-only'); END;
        CREATE TRIGGER findings_no_delete BEFORE DELETE ON findings
            BEGIN SELECT RAISE(ABORT, 'findings are append-only'); END;

        -- The effective state of each triaged case, rewritten with every finding
        -- (same transaction): what lists, filters and the gate read.
        CREATE TABLE case_triage (
            baseline_run INTEGER NOT NULL,
            candidate_run INTEGER NOT NULL,
            case_id INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('triaged', 'disagreement', 'adjudicated')),
            class TEXT,
            owner TEXT,
            verdict TEXT,
            reviewers TEXT NOT NULL DEFAULT '[]',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (baseline_run, candidate_run, case_id)
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m004_cases_are_never_deleted(db: Database) -> None:
    """Retiring keeps a case (with its reason); nothing deletes one."""
    db.executescript(
        """
        CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
            BEGIN SELECT RAISE(ABORT, 'cases are never deleted: retire them'); END;
        CREATE INDEX cases_status ON cases(status) WHERE status <> 'active';
        """
    )


@migrations()
def m005_decisions(db: Database) -> None:
    """Gate decisions, kept with their full record."""
    db.executescript(
        """
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            decided_at TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            baseline_run INTEGER NOT NULL REFERENCES runs(id),
            candidate_run INTEGER NOT NULL REFERENCES runs(id),
            fallback_run INTEGER REFERENCES runs(id),
            decision TEXT NOT NULL,
            policy_sha256 TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX decisions_runs ON decisions(baseline_run, candidate_run, id);
        CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        """
    )


@migrations()
def m006_run_cases_and_attribute_sets(db: Database) -> None:
    """What comparisons read, computed once at import.

    `run_cases`: each run's outcome per case (samples passed, samples, errors,
    score sum, output fingerprint), so a comparison is a primary-key join.
    `attr_sets`: each distinct attributes object once; a case points to its
    set, so segment values are parsed once per set, not once per case.
    """
    db.executescript(
        """
        CREATE TABLE run_cases (
            run_id INTEGER NOT NULL,
            case_id INTEGER NOT NULL,
            np INTEGER NOT NULL,
            n INTEGER NOT NULL,
            ne INTEGER NOT NULL,
            ss REAL NOT NULL,
            fp REAL NOT NULL,
            PRIMARY KEY (run_id, case_id)
        ) WITHOUT ROWID;
        INSERT INTO run_cases
            SELECT run_id, case_id, SUM(verdict = 'pass'), COUNT(*), SUM(verdict = 'error'),
                   TOTAL(score), TOTAL(output_crc * (epoch + 1))
            FROM results GROUP BY run_id, case_id;

        CREATE TABLE attr_sets (
            id INTEGER PRIMARY KEY,
            attributes TEXT NOT NULL UNIQUE
        );
        INSERT OR IGNORE INTO attr_sets (attributes) SELECT DISTINCT attributes FROM cases;
        ALTER TABLE cases ADD COLUMN attr_set INTEGER REFERENCES attr_sets(id);
        UPDATE cases SET attr_set = (SELECT id FROM attr_sets a WHERE a.attributes = cases.attributes);
        """
    )


@migrations()
def m007_finding_signers_and_case_classes(db: Database) -> None:
    """Who signed an imported finding (verified against an allowed-signers file), and
    every failure class a case's current opinions hold (a disagreement keeps them all,
    so a gate rule on a class never misses one)."""
    db.executescript(
        """
        ALTER TABLE findings ADD COLUMN signer TEXT;
        ALTER TABLE case_triage ADD COLUMN classes TEXT NOT NULL DEFAULT '[]';
        UPDATE case_triage SET classes = CASE WHEN class IS NULL THEN '[]' ELSE json_array(class) END;
        """
    )


@migrations()
def m008_event_hash_chain(db: Database) -> None:
    """Each event carries the hash of the one before it (a chain), so deleting or
    editing an event before a decision is detected (`evaltui log --verify`)."""
    db.execute("ALTER TABLE events ADD COLUMN hash TEXT")
    db.execute("DROP TRIGGER events_no_update")
    prev = ""
    rows = db.execute(
        "SELECT id, at, actor, action, entity, entity_id, before, after, context FROM events ORDER BY id"
    ).fetchall()
    for row in rows:
        prev = chain_hash(prev, row)
        db.execute("UPDATE events SET hash = ? WHERE id = ?", (prev, row[0]))
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations()
def m009_cases_by_key(db: Database) -> None:
    """Cases found by key alone (retire/restore/label take KEY): one indexed lookup each,
    not a scan (retiring 50,000 keys took minutes)."""
    db.execute("CREATE INDEX IF NOT EXISTS cases_key ON cases(case_key)")


@migrations()
def m010_limit_and_unscored_outcomes(db: Database) -> None:
    """A result may be `limit` (the tool stopped the sample at a message, token or time
    limit) or `unscored` (the tool gave it no verdict: predict-only, metrics-only runs),
    counted apart from fail and error. SQLite cannot change a CHECK in place, so the
    results table is copied once into one that allows them."""
    db.executescript(
        """
        CREATE TABLE results_new (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            case_id INTEGER NOT NULL REFERENCES cases(id),
            epoch INTEGER NOT NULL DEFAULT 0,
            verdict TEXT NOT NULL
                CHECK (verdict IN ('pass', 'fail', 'error', 'limit', 'unscored')),
            score REAL,
            output TEXT NOT NULL DEFAULT '',
            criteria TEXT NOT NULL DEFAULT '{}',
            latency_ms REAL,
            cost REAL,
            explanation TEXT,
            error TEXT,
            source_line TEXT NOT NULL DEFAULT '',
            output_crc INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO results_new SELECT id, run_id, case_id, epoch, verdict, score, output,
            criteria, latency_ms, cost, explanation, error, source_line, output_crc FROM results;
        DROP TABLE results;
        ALTER TABLE results_new RENAME TO results;
        CREATE INDEX results_compare
            ON results(run_id, case_id, epoch, verdict, score, output_crc);
        ALTER TABLE runs ADD COLUMN n_limit INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN n_unscored INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE run_criteria ADD COLUMN unscored INTEGER NOT NULL DEFAULT 0;
        """
    )


@migrations()
def m011_trajectories(db: Database) -> None:
    """An agent result's trajectory (messages, tool calls, tool results, sources), stored
    compressed beside it and read per case, with the tools it called and the sources it
    retrieved or cited as JSON lists (for the `tool:` and `source:` filters); a fingerprint
    of its tool path on the result and per case, so a comparison sees a path change
    without reading trajectories."""
    db.executescript(
        """
        CREATE TABLE trajectories (
            run_id INTEGER NOT NULL,
            case_id INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            data BLOB NOT NULL,
            tools TEXT NOT NULL DEFAULT '[]',
            sources TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (run_id, case_id, epoch)
        ) WITHOUT ROWID;
        ALTER TABLE results ADD COLUMN tool_crc INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE run_cases ADD COLUMN tp REAL NOT NULL DEFAULT 0;
        DROP INDEX results_compare;
        CREATE INDEX results_compare
            ON results(run_id, case_id, epoch, verdict, score, output_crc, tool_crc);
        """
    )


@migrations()
def m012_finding_steps(db: Database) -> None:
    """A finding may point at a step of the agent's path (the tool call where the failure
    is: run, aligned index, tool, call id, turn); a case's current opinions keep their
    (class, tool) pairs, so a gate rule can count a class on calls of a named tool."""
    db.executescript(
        """
        ALTER TABLE findings ADD COLUMN step TEXT;
        ALTER TABLE case_triage ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';
        """
    )


@migrations()
def m013_limit_flags(db: Database) -> None:
    """A limit the sample hit is a flag beside its verdict (`results.limit_hit`, e.g.
    "message limit (4)"), counted per case (`run_cases.nl`): a sample the tool still scored
    keeps the tool's verdict. Results stored as `limit` before (no verdict kept) get the
    flag from their error text; the comparison index covers the flag."""
    db.executescript(
        """
        ALTER TABLE results ADD COLUMN limit_hit TEXT;
        ALTER TABLE run_cases ADD COLUMN nl INTEGER NOT NULL DEFAULT 0;
        UPDATE results SET limit_hit = COALESCE(error, 'limit') WHERE verdict = 'limit';
        UPDATE run_cases SET nl = (
            SELECT COUNT(*) FROM results r WHERE r.run_id = run_cases.run_id
                AND r.case_id = run_cases.case_id AND r.verdict = 'limit')
        WHERE run_id IN (SELECT id FROM runs WHERE n_limit > 0);
        DROP INDEX results_compare;
        CREATE INDEX results_compare
            ON results(run_id, case_id, epoch, verdict, score, output_crc, tool_crc, limit_hit);
        """
    )
