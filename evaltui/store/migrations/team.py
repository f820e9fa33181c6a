"""m015: the team store's local ledger (docs/team.md)."""

from __future__ import annotations

from sqlite_utils import Database

from evaltui.store.migrations.history import migrations


@migrations()
def m015_team_events(db: Database) -> None:
    """The live team store's local ledger (evaltui/team/ledger.py alone reads and writes
    it): every team event this store pushed or pulled, by hash, with what became of it
    (folded into a finding, waiting for a run, kept, rejected, refused by the chain
    check). The outbox is the local findings that no row here names."""
    db.executescript(
        """
        CREATE TABLE team_events (
            hash TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            author TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            prev TEXT,
            payload TEXT NOT NULL,
            client_at TEXT NOT NULL,
            signature TEXT,
            server_seq INTEGER,
            finding_uid TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('folded', 'waiting', 'kept', 'rejected', 'refused')),
            reason TEXT
        );
        CREATE INDEX team_events_finding ON team_events(finding_uid);
        CREATE INDEX team_events_link ON team_events(project, author, subject, prev);
        CREATE INDEX team_events_status ON team_events(status, server_seq);
        """
    )
