"""Before a store is opened and after a write failed: where a store may be made, made
exclusively (so a process knows whether the file is its own), and SQLite's failures in
words (a full disk is a full disk, never "not an evaltui store")."""

from __future__ import annotations

import errno
import os
import resource
import sqlite3
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
