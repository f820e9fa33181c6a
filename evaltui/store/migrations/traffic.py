"""m016: the production estimate's traffic weights (docs/production.md)."""

from __future__ import annotations

from sqlite_utils import Database

from evaltui.store.migrations.history import migrations


@migrations()
def m016_traffic_weights(db: Database) -> None:
    """Traffic weights files (docs/production.md), kept whole with their provenance: the
    bytes read (at most 4 MiB), their SHA-256, the file's source and period, who imported
    them and when. Append-only, so the weights a decision used can always be found again
    by their hash; owned by evaltui/store/traffic.py."""
    db.executescript(
        """
        CREATE TABLE traffic_weights (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            source_path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            data BLOB NOT NULL,
            format TEXT NOT NULL CHECK (format IN ('csv', 'json')),
            kind TEXT NOT NULL CHECK (kind IN ('count', 'share')),
            source TEXT NOT NULL,
            period TEXT NOT NULL,
            attributes TEXT NOT NULL,
            cells INTEGER NOT NULL,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL
        );
        CREATE INDEX traffic_weights_name ON traffic_weights(name, id);
        CREATE TRIGGER traffic_weights_no_update BEFORE UPDATE ON traffic_weights
            BEGIN SELECT RAISE(ABORT, 'traffic weights are append-only'); END;
        CREATE TRIGGER traffic_weights_no_delete BEFORE DELETE ON traffic_weights
            BEGIN SELECT RAISE(ABORT, 'traffic weights are append-only'); END;
        """
    )
