"""Named SQL statements of the store's mechanics and settings (the run tables' are in
store/runs.py, the event log's in store/events.py, the decisions' in store/decisions.py)."""

HAS_MIGRATIONS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
APPLIED_MIGRATIONS = "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid"

# A setting's value (at most the first ? characters) and its full length.
SETTING_GET = "SELECT substr(value, 1, ?), length(value) FROM settings WHERE key = ?"
