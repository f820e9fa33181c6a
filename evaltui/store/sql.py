"""Named SQL statements of the store's mechanics, settings and event log (the run
tables' statements are in store/runs.py)."""

EVENT_INSERT = """
INSERT INTO events (id, at, actor, action, entity, entity_id, before, after, context, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

HAS_MIGRATIONS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
APPLIED_MIGRATIONS = "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid"

# Each kept decision, the log's head it recorded, and the event that logged it.
DECISION_HEADS = """
SELECT d.id,
       CASE WHEN json_valid(d.record) THEN json_extract(d.record, '$.provenance.event_log_head') END,
       (SELECT e.id FROM events e WHERE e.entity = 'decision' AND e.entity_id = CAST(d.id AS TEXT)
        AND e.action = 'decision' ORDER BY e.id LIMIT 1)
FROM decisions d ORDER BY d.id
"""

# A setting's value (at most the first ? characters) and its full length.
SETTING_GET = "SELECT substr(value, 1, ?), length(value) FROM settings WHERE key = ?"
