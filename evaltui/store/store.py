"""The SQLite store: migrate on open, one transaction per multi-row write."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

from evaltui.errors import StoreError
from evaltui.store.events import EventLog, _dumps, current_user, now_iso
from evaltui.store.guard import create_exclusive, failure
from evaltui.store.schema import APPLICATION_ID, KNOWN, MIGRATION_SET, check_not_newer, recognise

__all__ = ["MIGRATION_SET", "Store", "now_iso", "open_store"]

PAGE_SIZE = 65_536
WAL_CHECKPOINT_BYTES = 16 << 20
BUSY_TIMEOUT_MS = 30_000  # a triage write waits for an import in another session to commit


_AUDITED: Counter[str] = Counter()  # stores open here to examine for tampering (audit=True)


_HAS_MIGRATIONS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
_APPLIED_MIGRATIONS = "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid"
# A setting's value (at most the first ? characters) and its full length.
_SETTING_GET = "SELECT substr(value, 1, ?), length(value) FROM settings WHERE key = ?"


class Store(EventLog):
    """One connection to an evaltui store. Open one per thread.

    Args:
        path: the SQLite file; created if missing (its directory must exist).
        create: create the file when it does not exist; when False a missing
            store raises StoreError.
        on_wait: called once if the store is held by another evaltui's import
            (Store.alone) and opening it has to wait: the CLI says so.
        audit: open a store whose append-only triggers were dropped, to examine it
            (`tampered` lists them; `verify_chain` reports them); otherwise refused.
        file: where the SQLite file is, when not at `path`: a new store being built in
            a private file (service.NewStore); `path`, where it will be, names it in
            every message. Nothing in the store records either name.
        actor: who acts through this connection: the actor of the events it logs, the
            reviewer of its findings, unless a call names another. Default:
            EVALTUI_REVIEWER, else the OS user (the CLI passes its --reviewer).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        on_wait: Callable[[], None] | None = None,
        audit: bool = False,
        file: str | Path | None = None,
        actor: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.actor = actor or current_user()
        self.file = Path(file) if file else self.path
        self.created = False  # whether this process made the file (O_EXCL)
        self.tampered: list[str] = []  # append-only triggers found dropped (audit only)
        # While an audit connection is open, the comparison a `verify` rebuilds may open
        # the store again in this process (the allowance ends when it closes).
        self._audit_key = str(self.path.resolve()) if audit else None
        audit = audit or _AUDITED[str(self.path.resolve())] > 0
        if not self.file.exists():
            if not create:
                raise StoreError(
                    f"No store at {self.path}. Import a run first: evaltui import FILE"
                )
            self.created = create_exclusive(self.file)
        new = self.file.stat().st_size == 0
        try:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE).
            self.conn = sqlite3.connect(
                self.file,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            # Schema text from the file (triggers, views) may not call functions with
            # side effects: a crafted store's schema is data, not code we run.
            self.conn.execute("PRAGMA trusted_schema = OFF")
            if not new:  # reads only: a file that is not ours is left untouched
                self._waiting_first(
                    lambda: setattr(self, "tampered", recognise(self.conn, self.path, audit=audit)),
                    on_wait,
                )
            if new:
                # Set before the first table: results are ~1 KB rows, and 64 KiB pages
                # cut a large import's page writes (and syscalls) 16-fold against the
                # 4 KiB default (docs/performance.md). Older stores keep their size.
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # WAL mode (waiting, and saying so, while another import holds the store)
            self._waiting_first(lambda: self.conn.execute("PRAGMA journal_mode = WAL"), on_wait)
            # WAL + NORMAL: a committed transaction survives a process crash or
            # kill -9 (the WAL is in the OS cache); only power loss can drop the last ones.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA cache_size = -16000")
            # Checkpoint the WAL at ~16 MB whatever the page size (SQLite counts pages).
            page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
            self.conn.execute(
                f"PRAGMA wal_autocheckpoint = {max(WAL_CHECKPOINT_BYTES // page_size, 16)}"
            )
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):  # another connection holds the lock: waited
                raise failure(self.path, exc, opening=True) from exc
            raise StoreError(
                f"The store {self.path} is busy: another evaltui holds it (a large import "
                f"has the store to itself until it commits; waited {BUSY_TIMEOUT_MS // 1000} s). "
                "Try again when it has finished."
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise failure(self.path, exc, opening=True) from exc
        self._migrate()
        if self._audit_key:
            _AUDITED[self._audit_key] += 1

    def _waiting_first(
        self, step: Callable[[], object], on_wait: Callable[[], None] | None
    ) -> None:
        """Run the first statement that may wait while another import holds the store:
        with `on_wait`, probe for 200 ms, say so, then wait the full timeout."""
        if on_wait is not None:
            try:
                with self._busy_timeout(200):
                    step()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                on_wait()
        step()

    @contextmanager
    def _busy_timeout(self, ms: int) -> Iterator[None]:
        """Wait at most `ms` for another connection's lock inside; BUSY_TIMEOUT_MS after."""
        self.conn.execute(f"PRAGMA busy_timeout = {ms}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    # -- lifecycle -------------------------------------------------------------

    def _migrate(self) -> None:
        try:
            applied = self.applied_migrations()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not an evaltui store: {exc}") from exc
        check_not_newer(applied, self.path)  # again: another evaltui may have migrated it since
        if len(applied) < len(KNOWN):
            from evaltui.store.migrations import Database, migrations  # load time: only to apply

            # Under a write lock, so two processes opening a new store at once
            # cannot both apply the same migration.
            try:
                with self.transaction():
                    migrations.apply(Database(self.conn))
                    self.conn.execute(f"PRAGMA user_version = {len(KNOWN)}")
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            except sqlite3.DatabaseError as exc:
                raise failure(self.path, exc) from exc
        elif self.conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            with self.transaction():  # a store made before evaltui marked its files
                self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    @classmethod
    def reader(
        cls,
        path: str | Path,
        *,
        migrate: bool = True,
        check_same_thread: bool = True,
        busy_timeout_ms: int = 5_000,
    ) -> sqlite3.Connection:
        """The one door for reading a store: a read-only connection (TEMP tables allowed)
        to a file recognised as an evaltui store, with `trusted_schema = OFF`.

        With `migrate`, an older store is first brought up to date (and a newer one
        refused) by opening it as a Store; without, nothing is written, not even the
        journal mode (`demo --fresh`'s check of a file it may delete). A missing file
        raises StoreError and makes no file."""
        path = Path(path)
        if migrate:
            cls(path, create=False).close()
        elif not path.exists():
            raise StoreError(f"No store at {path}. Import a run first: evaltui import FILE")
        try:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=check_same_thread,
            )
        except sqlite3.Error as exc:
            raise failure(path, exc, opening=True) from exc
        try:
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            recognise(conn, path, audit=_AUDITED[str(path.resolve())] > 0)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise failure(path, exc, opening=True) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded in this store, in order."""
        if not self.conn.execute(_HAS_MIGRATIONS).fetchone():
            return []
        return [r[0] for r in self.conn.execute(_APPLIED_MIGRATIONS, (MIGRATION_SET,))]

    def copy_to(self, path: Path) -> None:
        """This store as it stands, into a new file at `path` (SQLite's online backup):
        a scratch copy a command may write to (`gate --what-if`) while this one is not."""
        with closing(sqlite3.connect(path)) as dst:
            self.conn.backup(dst)

    def close(self) -> None:
        if self._audit_key and _AUDITED[self._audit_key] > 0:
            _AUDITED[self._audit_key] -= 1
            self._audit_key = None
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"The store {self.path} is busy (another evaltui is writing): {exc}"
            ) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")  # may fail too (a full disk): rolled back below
        except BaseException:
            if self.conn.in_transaction:
                with suppress(sqlite3.Error):  # the first error is the one to report
                    self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def alone(self) -> Iterator[bool]:
        """For one large write: the store written once, through a rollback journal
        (docs/architecture.md, "The store"). In WAL mode every page is written twice (the
        WAL, then the checkpoint); SQLite's advice past ~100 MB is a rollback journal.

        Only when nobody else has the store open (otherwise this yields False at once and
        the write goes through the WAL); while it runs, a store opened elsewhere waits for
        the commit (BUSY_TIMEOUT_MS). A kill leaves a hot journal, rolled back on the next
        open. Yields whether the rollback journal is on.
        """
        conn = self.conn
        try:
            with self._busy_timeout(0):  # someone else has it open: no waiting
                mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except sqlite3.OperationalError:  # locked: another connection is open
            mode = "wal"
        if mode != "delete":
            yield False
            return
        # FULL: the journal is synced before the file is changed (NORMAL is only
        # safe with WAL).
        conn.execute("PRAGMA synchronous = FULL")
        try:
            yield True
        finally:
            conn.execute("PRAGMA synchronous = NORMAL")
            # With a store opened meanwhile (waiting for this commit), that opener
            # switches it back to WAL itself.
            with suppress(sqlite3.OperationalError), self._busy_timeout(1000):
                conn.execute("PRAGMA journal_mode = WAL")

    # -- settings --------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None, *, limit: int = 1 << 30) -> Any:
        """A setting's value. One longer than `limit` characters, not JSON or nested too
        deeply (a store edited by hand) is a StoreError naming it: read, never crashed on."""
        row = self.conn.execute(_SETTING_GET, (limit + 1, key)).fetchone()
        if row is None:
            return default
        try:
            if row[1] > limit:
                raise ValueError(f"{row[1]:,} characters long, more than {limit:,}")
            return json.loads(row[0])
        except (ValueError, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
            raise StoreError(f"the setting {key} in {self.path} is unreadable: {why}") from None

    def set_setting(self, key: str, value: Any, *, log: bool = True) -> None:
        """Set one setting and record the change, in one transaction."""
        with self.transaction():
            try:
                before = self.get_setting(key) if log else None
            except StoreError:  # replacing an unreadable value
                before = "(unreadable)"
            self.put_setting(key, value)
            if log:
                self.log_event("set", "setting", key, before=before, after=value)

    def put_setting(self, key: str, value: Any) -> None:
        """Write one setting inside the caller's transaction, with no event (a store's own
        bookkeeping: the fold version triage applied)."""
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, _dumps(value)),
        )

    # -- inspection (tests, diagnostics) -----------------------------------------

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every user table's rows, sorted: a content snapshot to compare stores."""
        tables = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            t: sorted(self.conn.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr)
            for t in tables
        }

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


def open_store(path: str | Path, *, create: bool = True) -> Store:
    """Open (and migrate) the store at `path`."""
    return Store(path, create=create)
