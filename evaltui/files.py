"""Files people name: read bounded from regular files only (one helper, `read_regular`
/ `open_regular`, for every user-given path), the TOML files people write (policy,
taxonomy, markers), and atomic writes of exports."""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from evaltui.errors import InputError

MAX_SMALL_FILE = 4 << 20  # policies, taxonomies, markers, decision records: 4 MiB at most
SMALL_FILE_ENV = "EVALTUI_MAX_SMALL_FILE_BYTES"
_CHUNK = 1 << 16


def env_limit(name: str, default: int) -> int:
    """A reading limit, overridable by an environment variable (docs/security.md): a
    positive whole number, else the default."""
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def small_file_limit() -> int:
    """The limit for the small files people write (EVALTUI_MAX_SMALL_FILE_BYTES)."""
    return env_limit(SMALL_FILE_ENV, MAX_SMALL_FILE)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"  # a door (Solaris), an unknown kind


def _refusal(path: Path | str, what: str, exc: OSError, field: str | None = None) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(str(path), f"no such {what}", field=field)
    return InputError(str(path), f"cannot read the {what} ({exc.strerror or exc})", field=field)


def open_regular(
    path: Path | str, what: str, *, follow: bool = True, field: str | None = None
) -> IO[bytes]:
    """A user-named file, opened for reading once it is known to be a regular file.

    Opened with O_NONBLOCK (a FIFO with no writer does not block the open; a device is
    not read) and O_NOCTTY (and O_NOFOLLOW when not `follow`), then checked on the SAME
    descriptor with fstat, so a file swapped in after a check is never the one read.
    A FIFO, a device, a folder or a socket is an InputError naming the file. The
    caller reads from the returned binary file (streaming readers keep their own
    limits); `read_regular` reads a small file whole, bounded."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:
            raise InputError(
                str(path), f"the {what} is a symbolic link; give the file itself", field=field
            ) from None
        raise _refusal(path, what, exc, field) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(
                str(path), f"the {what} is not a regular file: it is {_kind(mode)}", field=field
            )
        os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: Path | str,
    what: str,
    limit: int | None = None,
    *,
    stdin: bool = False,
    field: str | None = None,
) -> bytes:
    """The bytes of a file a user named, read ONCE, to be checked and parsed as the same
    bytes (never verify one read and import another).

    A regular file only (`open_regular`; with `stdin`, `-` reads standard input), at
    most `limit` bytes (default: the small-file limit, EVALTUI_MAX_SMALL_FILE_BYTES):
    refused from its size before a byte is read, and again if more than `limit` bytes
    come (a file growing while read). At most limit + 1 bytes are ever held."""
    limit = small_file_limit() if limit is None else limit
    if stdin and str(path) == "-":
        return _bounded(sys.stdin.buffer, "-", what, limit, field)
    with open_regular(path, what, field=field) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise InputError(
                str(path), f"the {what} is larger than {limit:,} bytes ({size:,})", field=field
            )
        return _bounded(fh, str(path), what, limit, field)


def _bounded(fh: IO[bytes], name: str, what: str, limit: int, field: str | None = None) -> bytes:
    chunks: list[bytes] = []
    held = 0
    try:
        while held <= limit:
            chunk = fh.read(min(_CHUNK, limit + 1 - held))
            if not chunk:
                break
            chunks.append(chunk)
            held += len(chunk)
    except OSError as exc:
        raise _refusal(name, what, exc, field) from None
    if held > limit:
        raise InputError(name, f"the {what} is larger than {limit:,} bytes", field=field)
    return b"".join(chunks)


def check_regular(
    path: Path | str, what: str, *, folder: bool = True, field: str | None = None
) -> None:
    """Refuse, without reading a byte or blocking, a user-named path that is not a
    regular file (a FIFO, a device, a socket): for readers that open the file by path
    themselves (the importers), and for the CLI's input files when the command line is
    read. A folder is allowed unless `folder` is False (a results folder is one)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _refusal(path, what, exc, field) from None
    if not (stat.S_ISREG(mode) or (folder and stat.S_ISDIR(mode))):
        raise InputError(
            str(path), f"the {what} is not a regular file: it is {_kind(mode)}", field=field
        )


def read_capped(path: Path, what: str, limit: int | None = None) -> bytes:
    """A small file people write, read whole (`read_regular`): kept for its callers."""
    return read_regular(path, what, limit)


def read_toml(path: Path, what: str) -> tuple[dict[str, Any], str, bytes]:
    """The file's data, text and bytes; unreadable, non-UTF-8 or invalid TOML is an
    InputError naming the file (and, for TOML syntax, the line)."""
    raw = read_regular(path, what)
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


def create_new(path: Path, text: str) -> None:
    """Create `path` holding `text`, exclusively (FileExistsError when it exists): written
    whole to a temp file beside it, then linked to its name, which fails if the name
    exists (atomic, and never over an existing file)."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never over an existing name
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: create exclusively instead
            with path.open("x", encoding="utf-8") as out:
                out.write(text)
    except FileExistsError:
        raise
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_new_file(stem: Path, suffix: str, text: str, tries: int = 10_000) -> Path:
    """Write `text` to a new file, never over an existing one: `stem` + `suffix` or, when
    that name is taken, `stem-2`, `stem-3`... + `suffix`. Returns the path written."""
    for n in range(1, tries + 1):
        path = stem.with_name(f"{stem.name}{'' if n == 1 else f'-{n}'}{suffix}")
        if os.path.lexists(path):
            continue
        try:
            create_new(path, text)
        except FileExistsError:  # taken in the meantime: the next name
            continue
        return path
    raise InputError(str(stem), f"cannot write: {tries} names from {stem.name} on are taken")


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
