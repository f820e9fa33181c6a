"""What an evaltui store looks like, checked before a byte of a file is written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from evaltui.errors import StoreError, StoreTamperedError, StoreTooNewError

MIGRATION_SET = "evaltui"
# The migrations this evaltui knows, in order (migrations.py checks it against its own
# functions on import): read here without loading sqlite-utils, which only applying needs.
KNOWN = [
    "m001_initial",
    "m002_compare_fingerprints",
    "m003_findings",
    "m004_cases_are_never_deleted",
    "m005_decisions",
    "m006_run_cases_and_attribute_sets",
    "m007_finding_signers_and_case_classes",
    "m008_event_hash_chain",
    "m009_cases_by_key",
    "m010_limit_and_unscored_outcomes",
    "m011_trajectories",
    "m012_finding_steps",
    "m013_limit_flags",
    "m014_judgments",
    "m015_team_events",
    "m016_traffic_weights",
    "m017_taxonomy_versions_and_rulings",
    "m018_gold_sources",
    "m019_team_decisions",
]

APPLICATION_ID = 0x65766C74  # "evlt" in the file header: this SQLite file is an evaltui store
# Every trigger and view an evaltui store holds, as its migrations write them (whitespace
# folded). Any other, or an altered one, would run on evaltui's own writes: refused.
SCHEMA_OBJECTS = {
    "cases_no_delete": "CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases BEGIN SELECT RAISE(ABORT, 'cases are never deleted: retire them'); END",
    "decisions_no_delete": "CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
    "decisions_no_update": "CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
    "events_no_delete": "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "events_no_update": "CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "findings_no_delete": "CREATE TRIGGER findings_no_delete BEFORE DELETE ON findings BEGIN SELECT RAISE(ABORT, 'findings are append-only'); END",
    "findings_no_update": "CREATE TRIGGER findings_no_update BEFORE UPDATE ON findings BEGIN SELECT RAISE(ABORT, 'findings are append-only'); END",
    "judgments_no_delete": "CREATE TRIGGER judgments_no_delete BEFORE DELETE ON judgments BEGIN SELECT RAISE(ABORT, 'judgments are append-only'); END",
    "judgments_no_update": "CREATE TRIGGER judgments_no_update BEFORE UPDATE ON judgments BEGIN SELECT RAISE(ABORT, 'judgments are append-only'); END",
    "gold_no_delete": "CREATE TRIGGER gold_no_delete BEFORE DELETE ON gold BEGIN SELECT RAISE(ABORT, 'gold answers are append-only'); END",
    "gold_no_update": "CREATE TRIGGER gold_no_update BEFORE UPDATE ON gold BEGIN SELECT RAISE(ABORT, 'gold answers are append-only'); END",
    "calibration_samples_no_delete": "CREATE TRIGGER calibration_samples_no_delete BEFORE DELETE ON calibration_samples BEGIN SELECT RAISE(ABORT, 'calibration samples are append-only'); END",
    "calibration_samples_no_update": "CREATE TRIGGER calibration_samples_no_update BEFORE UPDATE ON calibration_samples BEGIN SELECT RAISE(ABORT, 'calibration samples are append-only'); END",
    "traffic_weights_no_delete": "CREATE TRIGGER traffic_weights_no_delete BEFORE DELETE ON traffic_weights BEGIN SELECT RAISE(ABORT, 'traffic weights are append-only'); END",
    "traffic_weights_no_update": "CREATE TRIGGER traffic_weights_no_update BEFORE UPDATE ON traffic_weights BEGIN SELECT RAISE(ABORT, 'traffic weights are append-only'); END",
    "taxonomy_versions_no_delete": "CREATE TRIGGER taxonomy_versions_no_delete BEFORE DELETE ON taxonomy_versions BEGIN SELECT RAISE(ABORT, 'taxonomy versions are append-only'); END",
    "taxonomy_versions_no_update": "CREATE TRIGGER taxonomy_versions_no_update BEFORE UPDATE ON taxonomy_versions BEGIN SELECT RAISE(ABORT, 'taxonomy versions are append-only'); END",
    "codebook_rulings_no_delete": "CREATE TRIGGER codebook_rulings_no_delete BEFORE DELETE ON codebook_rulings BEGIN SELECT RAISE(ABORT, 'codebook rulings are append-only'); END",
    "codebook_rulings_no_update": "CREATE TRIGGER codebook_rulings_no_update BEFORE UPDATE ON codebook_rulings BEGIN SELECT RAISE(ABORT, 'codebook rulings are append-only'); END",
    "team_decisions_no_delete": "CREATE TRIGGER team_decisions_no_delete BEFORE DELETE ON team_decisions BEGIN SELECT RAISE(ABORT, 'team decisions are append-only'); END",
    "team_decisions_no_update": "CREATE TRIGGER team_decisions_no_update BEFORE UPDATE ON team_decisions BEGIN SELECT RAISE(ABORT, 'team decisions are append-only'); END",
}  # fmt: skip

# The append-only triggers each migration makes: a store that recorded the migration
# and lacks one had it dropped by someone holding the file.
TRIGGERS_BY_MIGRATION = {
    "m001_initial": ("events_no_update", "events_no_delete"),
    "m003_findings": ("findings_no_update", "findings_no_delete"),
    "m004_cases_are_never_deleted": ("cases_no_delete",),
    "m005_decisions": ("decisions_no_update", "decisions_no_delete"),
    "m014_judgments": (
        "judgments_no_update",
        "judgments_no_delete",
        "gold_no_update",
        "gold_no_delete",
        "calibration_samples_no_update",
        "calibration_samples_no_delete",
    ),
    "m016_traffic_weights": ("traffic_weights_no_update", "traffic_weights_no_delete"),
    "m017_taxonomy_versions_and_rulings": (
        "taxonomy_versions_no_update",
        "taxonomy_versions_no_delete",
        "codebook_rulings_no_update",
        "codebook_rulings_no_delete",
    ),
    "m019_team_decisions": ("team_decisions_no_update", "team_decisions_no_delete"),
}


def recognise(conn: sqlite3.Connection, path: Path, *, audit: bool = False) -> list[str]:
    """Refuse, before writing a byte (not even the journal mode), a file that is not
    an evaltui store, one written by a newer evaltui, or one whose triggers or views
    are not evaltui's, or lack one of its append-only triggers (dropped: tampered). An
    evaltui store made before the application id is known by its migration table.

    With `audit` (the commands that look for tampering: `log --verify`, `verify`), a
    store whose append-only triggers were dropped is opened to be examined, and the
    dropped triggers are returned (otherwise: [])."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    objects = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    if not objects:
        return []  # an empty SQLite file: made into a store like a new one
    names = {name for _, name, _ in objects}
    ours = app_id == APPLICATION_ID or (
        app_id == 0
        and "_sqlite_migrations" in names
        and conn.execute(
            "SELECT 1 FROM _sqlite_migrations WHERE migration_set = ? LIMIT 1", (MIGRATION_SET,)
        ).fetchone()
        is not None
    )
    if not ours:
        tables = sorted(n for t, n, _ in objects if t == "table")[:6]
        raise StoreError(
            f"{path} is not an evaltui store (application id {app_id:#x}; tables "
            f"{', '.join(tables) or 'none'}); it was not changed. Give evaltui a store of its own."
        )
    applied = (
        [
            r[0]
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id",
                (MIGRATION_SET,),
            )
        ]
        if "_sqlite_migrations" in names
        else []
    )
    check_not_newer(applied, path)
    for kind, name, text in objects:
        if kind in ("trigger", "view") and SCHEMA_OBJECTS.get(name) != " ".join(
            (text or "").split()
        ):
            raise StoreError(
                f"{path} holds a {kind} evaltui did not make ({name}): it would run on "
                "evaltui's own writes, so the store is refused; it was not changed."
            )
    dropped = [t for m in applied for t in TRIGGERS_BY_MIGRATION.get(m, ()) if t not in names]
    if dropped and not audit:
        raise StoreTamperedError(
            f"{path} was changed outside evaltui: its append-only trigger"
            f"{'s' if len(dropped) > 1 else ''} {', '.join(dropped)} "
            f"{'were' if len(dropped) > 1 else 'was'} dropped, so its event log, findings or "
            "decisions may have been edited or deleted. The store is refused (it was not "
            "changed); `evaltui log --verify` and `evaltui verify` still examine it, and "
            "docs/security.md says how to restore the triggers if you accept it as it is."
        )
    return dropped


def check_not_newer(applied: list[str], path: Path) -> None:
    """Refuse a store with a migration this evaltui does not know (a newer one wrote it)."""
    unknown = [name for name in applied if name not in KNOWN]
    if unknown:
        raise StoreTooNewError(
            f"{path} was written by a newer evaltui (it has migration "
            f"{', '.join(unknown)}, which this version does not know). "
            "Upgrade evaltui to open it; the store was not changed."
        )
