"""m017: the label guide's history (#29): taxonomy versions and codebook rulings."""

from __future__ import annotations

from sqlite_utils import Database

from evaltui.store.migrations import judges, team, traffic  # noqa: F401  (m014-m016 first)
from evaltui.store.migrations.history import migrations


@migrations()
def m017_taxonomy_versions_and_rulings(db: Database) -> None:
    """The label guide's history (#29): every version of the failure-class taxonomy (who,
    when, why, the classes in full and their sha256), and every ruling on a proposed class
    (accepted as a class, merged into one, or rejected) with the notes it covered. Both
    append-only. A store's taxonomy is its latest version (taxonomy.py owns the table);
    the rulings are evaltui/review/labelguide/rulings.py's."""
    db.executescript(
        """
        CREATE TABLE taxonomy_versions (
            version INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            classes TEXT NOT NULL,
            sha256 TEXT NOT NULL
        );
        CREATE TRIGGER taxonomy_versions_no_update BEFORE UPDATE ON taxonomy_versions
            BEGIN SELECT RAISE(ABORT, 'taxonomy versions are append-only'); END;
        CREATE TRIGGER taxonomy_versions_no_delete BEFORE DELETE ON taxonomy_versions
            BEGIN SELECT RAISE(ABORT, 'taxonomy versions are append-only'); END;

        CREATE TABLE codebook_rulings (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('accept', 'merge', 'reject')),
            proposal TEXT NOT NULL,
            proposal_key TEXT NOT NULL,
            class TEXT,
            taxonomy_version INTEGER,
            notes TEXT NOT NULL DEFAULT '[]',
            terms TEXT NOT NULL DEFAULT '[]',
            why TEXT NOT NULL DEFAULT ''
        );
        CREATE TRIGGER codebook_rulings_no_update BEFORE UPDATE ON codebook_rulings
            BEGIN SELECT RAISE(ABORT, 'codebook rulings are append-only'); END;
        CREATE TRIGGER codebook_rulings_no_delete BEFORE DELETE ON codebook_rulings
            BEGIN SELECT RAISE(ABORT, 'codebook rulings are append-only'); END;
        """
    )
