"""m014: measuring the judges (docs/calibration.md): blind judgments, gold answers,
calibration samples, all append-only."""

from __future__ import annotations

from sqlite_utils import Database

from evaltui.store.migrations.history import migrations


def _append_only(table: str, what: str) -> str:
    """The two triggers that keep a table append-only (their text: schema.SCHEMA_OBJECTS)."""
    return "".join(
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{what} are append-only'); END;\n"
        for op in ("UPDATE", "DELETE")
    )


@migrations()
def m014_judgments(db: Database) -> None:
    """Measuring the judges (docs/calibration.md): blind judgments (one row per action), gold
    answers, calibration samples; append-only, owned by evaltui/review/calibration/ (each module
    says what its rows mean)."""
    db.executescript(
        """
        CREATE TABLE judgments (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            case_id INTEGER NOT NULL REFERENCES cases(id),
            epoch INTEGER NOT NULL,
            criterion TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('judgment', 'undo')),
            verdict TEXT CHECK (verdict IS NULL OR verdict IN ('pass', 'fail', 'unsure')),
            note TEXT,
            reviewer TEXT NOT NULL,
            at TEXT NOT NULL,
            undoes TEXT,
            sample TEXT,
            purpose TEXT NOT NULL CHECK (purpose IN ('calibration', 'gold')),
            seconds REAL,
            source TEXT NOT NULL DEFAULT 'local'
        );
        CREATE INDEX judgments_result ON judgments(run_id, criterion, case_id, epoch, id);

        CREATE TABLE gold (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            case_id INTEGER NOT NULL REFERENCES cases(id),
            epoch INTEGER NOT NULL,
            criterion TEXT NOT NULL,
            answer TEXT CHECK (answer IS NULL OR answer IN ('pass', 'fail')),
            note TEXT,
            set_by TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX gold_result ON gold(criterion, run_id, case_id, epoch, id);

        CREATE TABLE calibration_samples (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            criterion TEXT NOT NULL,
            seed INTEGER NOT NULL,
            requested INTEGER NOT NULL,
            allocation TEXT NOT NULL,
            dimension TEXT,
            frame TEXT NOT NULL,
            items TEXT NOT NULL,
            gold_rate REAL NOT NULL DEFAULT 0,
            made_by TEXT NOT NULL,
            at TEXT NOT NULL
        );
        """
        + _append_only("judgments", "judgments")
        + _append_only("gold", "gold answers")
        + _append_only("calibration_samples", "calibration samples")
    )
