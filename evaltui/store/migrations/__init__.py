"""Schema migrations, applied on open, in order: `history` (m001 to m013), `judges`
(m014), `team` (m015), `traffic` (m016), `codebook` (m017), `gold` (m018), `teamdecisions`
(m019; each module imports the ones it follows, so the order holds whatever the import sort
does). Never edit a landed migration: add one, in a module of its own area, imported below
in its place."""

from __future__ import annotations

from evaltui.store.migrations import (  # noqa: F401  (each registers its own)
    codebook,
    gold,
    judges,
    team,
    teamdecisions,
    traffic,
)
from evaltui.store.migrations.history import Database, migrations
from evaltui.store.schema import KNOWN as _KNOWN

__all__ = ["KNOWN", "Database", "migrations"]

KNOWN = [m.name for m in migrations._migrations]
if KNOWN != _KNOWN:  # a migration added must be named in schema.KNOWN too
    raise RuntimeError(f"schema.KNOWN is out of date: {KNOWN}")
