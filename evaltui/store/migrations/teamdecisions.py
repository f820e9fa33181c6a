"""m019: release decisions kept as another's, from the team store (#30, docs/team.md)."""

from __future__ import annotations

from sqlite_utils import Database

from evaltui.store.migrations import gold  # noqa: F401  (m014-m018 first)
from evaltui.store.migrations.history import migrations


@migrations()
def m019_team_decisions(db: Database) -> None:
    """Release decisions another member's gate made, pulled from the team store and kept
    whole (evaltui/store/team_decisions.py alone reads and writes it): who wrote it, in
    which project, by which event, the record as its canonical JSON and content hash,
    its signature and whether it verified here. Never in `decisions` (this store's own
    gate's) nor in the event log's chain. Append-only."""
    db.executescript(
        """
        CREATE TABLE team_decisions (
            id INTEGER PRIMARY KEY,
            event_hash TEXT NOT NULL UNIQUE,
            project TEXT NOT NULL,
            author TEXT NOT NULL,
            received_at TEXT NOT NULL,
            baseline_run INTEGER NOT NULL REFERENCES runs(id),
            candidate_run INTEGER NOT NULL REFERENCES runs(id),
            decided_at TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            decision TEXT NOT NULL,
            policy_sha256 TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL,
            signature TEXT,
            signature_state TEXT NOT NULL
                CHECK (signature_state IN ('verified', 'unsigned', 'unchecked')),
            signer TEXT
        );
        CREATE INDEX team_decisions_runs ON team_decisions(baseline_run, candidate_run, id);
        CREATE INDEX team_decisions_hash ON team_decisions(content_hash);
        CREATE TRIGGER team_decisions_no_update BEFORE UPDATE ON team_decisions
            BEGIN SELECT RAISE(ABORT, 'team decisions are append-only'); END;
        CREATE TRIGGER team_decisions_no_delete BEFORE DELETE ON team_decisions
            BEGIN SELECT RAISE(ABORT, 'team decisions are append-only'); END;
        """
    )
