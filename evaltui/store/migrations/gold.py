"""m018: gold answers shared through the team store (#30): where each came from."""

from __future__ import annotations

from sqlite_utils import Database

from evaltui.store.migrations import codebook  # noqa: F401  (m014-m017 first)
from evaltui.store.migrations.history import migrations


@migrations()
def m018_gold_sources(db: Database) -> None:
    """Where each gold answer came from (docs/team.md): `local` (set or imported in this
    store, the rows before this migration included) or `team:PROJECT` (an adjudicator's
    answer folded from the team store). The outbox is the local ones; the rows stay
    append-only (the triggers of m014 stand: adding a column rewrites no row)."""
    db.execute("ALTER TABLE gold ADD COLUMN source TEXT NOT NULL DEFAULT 'local'")
