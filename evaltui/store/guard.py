"""Before a store is opened and after a write failed: where a store may be made, made
exclusively (so a process knows whether the file is its own), a new store built in a
private file and published whole, and SQLite's failures in words (a full disk is a full
disk, never "not an evaltui store")."""

from __future__ import annotations

import errno
import os
import resource
import secrets
import sqlite3
from contextlib import suppress
from pathlib import Path

from evaltui.errors import InputError, StoreError


class StorePathError(InputError):
    """The store path cannot hold a store (its directory is missing or is a file)."""

    title = "Cannot use the store path"


class StoreFullError(StoreError):
    """A write to the store failed for want of space (disk, quota or file size limit)."""

    title = "The disk is full"


def check_store_path(path: Path) -> None:
    """Refuse a path whose directory is missing or is not a directory (`--db
    /etc/passwd/x.db`), naming both. evaltui never creates a directory for a store a user
    named: only the default store's (paths.data_dir)."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        if parent.is_dir():
            return
    except OSError:
        pass
    ancestor = parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise StorePathError(str(path), f"cannot be a store: {ancestor} is a file, not a directory")
    raise StorePathError(
        str(path),
        f"cannot be a store: the directory {parent} does not exist (evaltui does not create "
        "it: check the path, or create the directory first)",
    )


def create_exclusive(path: Path) -> bool:
    """Make the empty store file with O_EXCL: True when this process made it, False when
    it was already there (another evaltui made it first). Only the maker may say it
    created the store; nobody deletes it (docs/security.md, "A new store")."""
    check_store_path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise failure(path, exc) from None
    os.close(fd)
    return True


# A new store is built in a private file beside it (named by this process alone, made with
# O_EXCL) and published with os.link, which fails when the store appeared meanwhile: a
# failed import leaves nothing, and no process ever removes a file another one may use.
PRIVATE_MARK = ".new-"
SIBLINGS = ("-wal", "-shm", "-journal")


def private_name(path: Path) -> str:
    """The prefix of every private file a new store at `path` is built in."""
    return f".{path.name}{PRIVATE_MARK}"


def make_private(path: Path) -> Path | None:
    """A new empty private file beside `path` (`.NAME.new-PID-RANDOM`), made with O_EXCL,
    in which this process alone builds the store; None where the file system has no hard
    links to publish it with (then the store is made at `path` itself, create_exclusive)."""
    check_store_path(path)
    while True:
        private = path.with_name(f"{private_name(path)}{os.getpid()}-{secrets.token_hex(8)}")
        try:
            fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:  # another name: 64 random bits make this all but never
            continue
        except OSError as exc:
            raise failure(path, exc) from None
        os.close(fd)
        break
    probe = Path(f"{private}.link")  # a hard link made and removed here: links work here
    try:
        os.link(private, probe)
    except OSError:
        discard_private(private)
        return None
    probe.unlink()
    return private


def seal(conn: sqlite3.Connection, path: Path) -> None:
    """Before a private store is published: what a store made in place has on disk (WAL
    mode recorded in the file), with every page in the main file (the WAL checkpointed,
    so closing the last connection leaves no -wal or -shm beside it)."""
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.Error as exc:
        raise failure(path, exc) from None
    if busy:  # nobody else knows the file: this would be a bug, never published
        raise StoreError(f"The new store {path} could not be checkpointed; nothing was created.")


def publish(private: Path, path: Path) -> bool:
    """Make the closed private store the store at `path` in one step: True when it now is,
    False when a store appeared there meanwhile (another evaltui's: left as it is)."""
    for suffix in SIBLINGS:  # a page outside the main file would be lost by the link
        if os.path.lexists(f"{private}{suffix}"):
            raise StoreError(f"The new store {path} was not closed cleanly; nothing was created.")
    try:
        os.link(private, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise failure(path, exc) from None
    with suppress(OSError):  # the new name survives a crash of the machine
        fd = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return True


def discard_private(private: Path) -> None:
    """Remove this process's private file and SQLite's files beside it: names nobody else
    knows (after a publish the store keeps its own name, `path`)."""
    for suffix in ("", *SIBLINGS, ".link"):
        with suppress(FileNotFoundError):
            os.unlink(f"{private}{suffix}")


def leftovers(path: Path) -> list[Path]:
    """Private files beside `path` left by an import that was killed (the process named in
    the file is gone): never read as a store, and safe to delete. Files of a process still
    running (an import under way) are not listed."""
    out = []
    try:
        found = list(path.parent.glob(f"{private_name(path)}*"))
    except OSError:
        return []
    for file in sorted(found):
        pid = file.name[len(private_name(path)) :].split("-", 1)[0]
        if not pid.isdigit() or file.name.endswith((*SIBLINGS, ".link")):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            out.append(file)
        except (PermissionError, OverflowError, ValueError):  # alive (another user's)
            pass
    return out


_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# SQLite reports ENOSPC as SQLITE_FULL, but EFBIG (a file size limit) and a failed
# growth of the shared-memory file as I/O errors: those are checked against the limits.
_WRITE_IOERRS = {"SQLITE_IOERR_WRITE", "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_TRUNCATE",
                 "SQLITE_IOERR_FSYNC"}  # fmt: skip
LOW_SPACE_BYTES = 4 << 20


def _space_reason(path: Path) -> str | None:
    """Why a write to `path` may have failed for want of space, if it looks so."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return f"the file size limit ({soft:,} bytes, `ulimit -f`) was reached"
    try:
        info = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return None
    if info.f_bavail * info.f_frsize < LOW_SPACE_BYTES:
        return "the disk is full"
    return None


def failure(path: Path, exc: BaseException, *, opening: bool = False) -> StoreError:
    """The error to show for `exc`, raised while opening (`opening`: reading what the file
    is) or using the store at `path`."""
    if isinstance(exc, OSError):
        if exc.errno in _SPACE_ERRNOS:
            why = (
                "the file size limit was reached"
                if exc.errno == errno.EFBIG
                else "the disk is full"
            )
            return StoreFullError(
                f"The store {path} could not be written: {why}; nothing was changed. "
                "Free some space and try again."
            )
        return StoreError(f"The store {path} could not be used: {exc.strerror or exc}")
    name = getattr(exc, "sqlite_errorname", "") or ""
    space = "the disk is full" if name == "SQLITE_FULL" else None
    if name in _WRITE_IOERRS:
        space = _space_reason(path)
    if space:
        again = "Raise the limit" if "limit" in space else "Free some space"
        return StoreFullError(
            f"The store {path} could not be written: {space} ({name}); nothing was changed. "
            f"{again} and try again."
        )
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreError(
            f"The store {path} is busy: another evaltui holds it. Try again when it has finished."
        )
    if name.startswith("SQLITE_IOERR") or name in (
        "SQLITE_CANTOPEN",
        "SQLITE_READONLY",
        "SQLITE_PERM",
    ):
        return StoreError(
            f"The store {path} could not be used: {exc} ({name}); nothing was changed."
        )
    if opening:
        return StoreError(f"{path} is not an evaltui store: {exc}")
    return StoreError(f"The store {path} could not be used: {exc}")
