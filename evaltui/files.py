"""Reading the TOML files people write (policy, taxonomy, markers) and writing exports."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from evaltui.errors import InputError

MAX_SMALL_FILE = 4 << 20  # policies, taxonomies, markers, decision records: 4 MiB at most


def read_capped(path: Path, what: str, limit: int = MAX_SMALL_FILE) -> bytes:
    """A small file people write, read whole: a regular file of at most `limit` bytes.
    A FIFO, a device (/dev/zero) or a directory is refused before it is opened."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the {what} ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(str(path), f"the {what} is not a regular file (a pipe, device or folder)")
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(str(path), f"cannot read the {what} ({exc.strerror})") from None
    if len(raw) > limit:
        raise InputError(str(path), f"the {what} is larger than {limit:,} bytes")
    return raw


def read_toml(path: Path, what: str) -> tuple[dict[str, Any], str, bytes]:
    """The file's data, text and bytes; unreadable, non-UTF-8 or invalid TOML is an
    InputError naming the file (and, for TOML syntax, the line)."""
    raw = read_capped(path, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"
        m = re.search(r"\(at line (\d+)", str(exc))
        raise InputError(
            str(path), f"not valid TOML: {exc}", location=f"line {m[1]}" if m else None
        ) from None
    return data, text, raw


def table_lines(text: str, name: str) -> list[int]:
    """Line numbers (1-based) where each `[[name]]` table starts, in order."""
    return [
        n
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip().startswith(f"[[{name}]]")
    ]


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write `path` so that a reader never sees half a file and nothing planted beside it
    is followed: a new temp file is created exclusively in the target's folder (never a
    symlink's target), synced, then renamed over `path`. Disk full, a read-only or
    missing folder are InputErrors naming the file, and leave no temp file behind."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_error(path: Path, exc: OSError) -> InputError:
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOENT: f"the directory {path.parent} does not exist",
        errno.EISDIR: "it is a directory",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return InputError(str(path), f"cannot write: {reason}")


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (see `atomic_writer`)."""
    with atomic_writer(path) as fh:
        fh.write(text)


def check_writable(path: Path) -> None:
    """Refuse, before anything is done, an output path that cannot be written:
    a missing or read-only directory, or a directory in the file's place."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(str(path), "is a directory; give a file name")
    if not parent.is_dir():
        raise InputError(str(path), f"cannot write here: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(str(path), f"cannot write here: the directory {parent} is not writable")
