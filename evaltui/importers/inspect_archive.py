"""Reading an Inspect `.eval` archive (a zip, members deflate or Zstandard), bounded:
one member at a time, each member and the whole archive limited (docs/security.md), and
an unfinished log (Inspect stopped before it wrote `header.json`) named as such."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import ijson

from evaltui.errors import InputError
from evaltui.importers.base import MAX_RECORD_VALUES, env_limit
from evaltui.importers.inspect_nan import ConstantReader

ZSTD_METHOD = 93
MAX_MEMBER_BYTES = 64 << 20  # one member of an .eval, decompressed (EVALTUI_MAX_MEMBER_BYTES)
MAX_RATIO = 1_000  # decompressed / compressed size of a member over 1 MiB (EVALTUI_MAX_RATIO)
MAX_MEMBERS = 2_000_000  # samples in one .eval archive (EVALTUI_MAX_MEMBERS)
# what all its samples may declare, and then expand to, decompressed (EVALTUI_MAX_ARCHIVE_BYTES)
MAX_ARCHIVE_BYTES = 64 << 30
# what the samples declare over the archive's size on disk, for archives whose samples
# declare more than ARCHIVE_RATIO_FROM bytes (EVALTUI_MAX_ARCHIVE_RATIO); real logs: 3-7
MAX_ARCHIVE_RATIO = 100
ARCHIVE_RATIO_FROM = 256 << 20
JOURNAL_START = "_journal/start.json"


def _compressed(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> io.BytesIO:
    """A member's compressed bytes, read past its local header (zipfile cannot inflate
    method 93 itself): bounded by the file's own size."""
    fp = zf.fp
    assert fp is not None
    fp.seek(info.header_offset)
    local = fp.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise InputError(str(path), "corrupt zip member header", location=info.filename)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    raw = io.BytesIO(fp.read(info.compress_size))  # compressed: bounded by the file itself
    return raw


def _check_declared(path: Path, info: zipfile.ZipInfo) -> None:
    """Refuse a member from what its zip header declares, before a byte is inflated:
    over the per-member limit, or expanding past the ratio (a decompression bomb)."""
    limit = env_limit("EVALTUI_MAX_MEMBER_BYTES", MAX_MEMBER_BYTES)
    if info.file_size > limit:
        raise InputError(
            str(path),
            f"member declares {info.file_size:,} bytes, over the limit of {limit:,} "
            "(EVALTUI_MAX_MEMBER_BYTES)",
            location=info.filename,
        )
    ratio = env_limit("EVALTUI_MAX_RATIO", MAX_RATIO)
    if info.file_size > 1 << 20 and info.file_size > ratio * max(info.compress_size, 1):
        raise InputError(
            str(path),
            f"member expands {info.file_size // max(info.compress_size, 1):,}-fold, over the "
            f"limit of {ratio:,} (EVALTUI_MAX_RATIO): a decompression bomb?",
            location=info.filename,
        )


def bounded(path: Path, info: zipfile.ZipInfo, stream: Any) -> bytearray:
    """Decompress a member in 1 MiB steps, stopping as soon as it passes the per-member
    limit or the size its zip header declares: a bomb never reaches memory."""
    _check_declared(path, info)
    data = bytearray()  # grown in place: no second copy when the last chunk arrives
    while chunk := stream.read(1 << 20):
        data += chunk
        if len(data) > info.file_size:
            raise InputError(
                str(path),
                f"member expands past the {info.file_size:,} bytes its zip header "
                "declares (a decompression bomb?)",
                location=info.filename,
            )
    return data


def read_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """A member's bytes, bounded: stdlib for deflate/stored, Zstandard (method 93) by hand."""
    if info.compress_type != ZSTD_METHOD:
        with zf.open(info) as stream:
            return bounded(path, info, stream)
    import zstandard  # load time: only .eval files written by recent Inspect need it

    raw = _compressed(path, zf, info)
    try:
        data = bounded(path, info, zstandard.ZstdDecompressor().stream_reader(raw))
    except zstandard.ZstdError as exc:
        raise InputError(
            str(path), f"corrupt Zstandard data ({exc})", location=info.filename
        ) from None
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise InputError(
            str(path),
            "member is truncated or corrupt (size or CRC mismatch)",
            location=info.filename,
        )
    return data


class _Member:
    """A member's decompressed bytes as a stream, bounded as `bounded` bounds them (the
    per-member limit, the size the zip header declares), its JSON values counted as they
    pass (EVALTUI_MAX_RECORD_VALUES) and, for Zstandard, its CRC checked at the end: the
    parser reads from here, so a member is never in memory as text beside its values."""

    def __init__(self, path: Path, info: zipfile.ZipInfo, stream: Any, crc: bool) -> None:
        self.path, self.info, self.stream, self.crc = path, info, stream, 0 if crc else None
        self.size = self.values = 0
        self.count = info.file_size >= 1 << 20
        self.max_values = env_limit("EVALTUI_MAX_RECORD_VALUES", MAX_RECORD_VALUES)

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(1 << 16 if n < 0 else min(n, 1 << 20))
        self.size += len(chunk)
        info = self.info
        if self.size > info.file_size:
            raise InputError(
                str(self.path),
                f"member expands past the {info.file_size:,} bytes its zip header "
                "declares (a decompression bomb?)",
                location=info.filename,
            )
        if self.count:
            self.values += chunk.count(b",") + chunk.count(b"{") + chunk.count(b"[")
            if self.values > self.max_values:
                raise InputError(
                    str(self.path),
                    f"the record holds up to {self.values:,} JSON values, over the "
                    f"limit of {self.max_values:,} (EVALTUI_MAX_RECORD_VALUES)",
                    location=info.filename,
                )
        if self.crc is not None:
            self.crc = zlib.crc32(chunk, self.crc)
            if not chunk and (self.size != info.file_size or self.crc != info.CRC):
                raise InputError(
                    str(self.path),
                    "member is truncated or corrupt (size or CRC mismatch)",
                    location=info.filename,
                )
        return chunk


def _stream(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    _check_declared(path, info)
    if info.compress_type != ZSTD_METHOD:
        return _Member(path, info, zf.open(info), crc=False)  # zipfile checks the CRC itself
    import zstandard  # load time: as in read_member

    raw = _compressed(path, zf, info)
    return _Member(path, info, zstandard.ZstdDecompressor().stream_reader(raw), crc=True)


def member_json(path: Path, zf: zipfile.ZipFile, name: str) -> Any:
    """A member parsed as it is decompressed (Inspect's NaN read as inspect_nan says)."""
    import zstandard  # load time: only an .eval archive is read with it

    try:
        info = zf.getinfo(name)
    except KeyError:
        raise InputError(
            str(path), f"member '{name}' is missing from the .eval archive", location=name
        ) from None
    try:
        stream = _stream(path, zf, info)
        values = ijson.items(ConstantReader(stream), "", use_float=True, buf_size=1 << 16)
        value = next(values, None)
        if stream.read(1 << 16) or next(values, None) is not None:  # the rest: checked too
            raise InputError(str(path), "malformed JSON (more after the value)", location=name)
        return value
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
        raise InputError(str(path), f"malformed JSON ({detail[:200]})", location=name) from None
    except zstandard.ZstdError as exc:
        raise InputError(str(path), f"corrupt Zstandard data ({exc})", location=name) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise InputError(str(path), f"cannot read member ({exc})", location=name) from None


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            str(path), f"not a readable .eval archive (truncated or corrupt zip: {exc})"
        ) from None


def sample_members(path: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's sample members in name order, refused (nothing read) when there are
    none, too many, or they declare more bytes than the archive limit or, for an archive
    declaring over 256 MiB, more than EVALTUI_MAX_ARCHIVE_RATIO times its size on disk."""
    members = sorted(
        (
            i
            for i in zf.infolist()
            if i.filename.startswith("samples/") and i.filename.endswith(".json")
        ),
        key=lambda i: i.filename,
    )
    if not members:
        raise InputError(str(path), "the log holds no samples (samples/ is empty)")
    max_members = env_limit("EVALTUI_MAX_MEMBERS", MAX_MEMBERS)
    declared = sum(i.file_size for i in members)
    max_total = env_limit("EVALTUI_MAX_ARCHIVE_BYTES", MAX_ARCHIVE_BYTES)
    if len(members) > max_members or declared > max_total:
        raise InputError(
            str(path),
            f"the archive holds {len(members):,} samples declaring {declared:,} bytes; the "
            f"limits are {max_members:,} (EVALTUI_MAX_MEMBERS) and {max_total:,} bytes "
            "(EVALTUI_MAX_ARCHIVE_BYTES)",
        )
    size = max(path.stat().st_size, 1)
    ratio = env_limit("EVALTUI_MAX_ARCHIVE_RATIO", MAX_ARCHIVE_RATIO)
    if declared > ARCHIVE_RATIO_FROM and declared > ratio * size:
        raise InputError(
            str(path),
            f"the archive's {len(members):,} samples declare {declared:,} bytes, "
            f"{declared // size:,} times its {size:,} bytes on disk, over the limit of {ratio:,} "
            "(EVALTUI_MAX_ARCHIVE_RATIO; Inspect's own logs expand 3 to 7 times): a decompression bomb?",
        )
    return members


def unfinished(path: Path, zf: zipfile.ZipFile) -> InputError:
    """The refusal of an archive with no header.json: an unfinished Inspect log (Inspect
    writes the header when the eval ends; a crash or a kill leaves only its journal and the
    samples flushed so far), saying what it holds and what to do."""
    names = zf.namelist()
    if JOURNAL_START not in names:
        return InputError(
            str(path),
            "a zip archive without header.json: not an Inspect log (nor an unfinished "
            "one: no _journal/start.json either)",
            location="header.json",
        )
    flushed = sum(1 for n in names if n.startswith("samples/") and n.endswith(".json"))
    expected = ""
    try:
        spec = member_json(path, zf, JOURNAL_START).get("eval") or {}
        samples = (spec.get("dataset") or {}).get("samples")
        epochs = (spec.get("config") or {}).get("epochs") or 1
        if isinstance(samples, int) and isinstance(epochs, int):
            expected = f" of {samples * epochs:,}"
        what = f"task {json.dumps(spec.get('task'))}, eval_id {json.dumps(spec.get('eval_id'))}; "
    except (InputError, AttributeError):
        what = ""
    return InputError(
        str(path),
        f"an unfinished Inspect log ({what}status 'started': the eval never finished): "
        f"it has its journal ({JOURNAL_START}) and {flushed:,}{expected} samples, but no "
        "header.json, which Inspect writes when the eval ends, so its results and scorers are "
        "missing. Recover it with `inspect log recover FILE` (Inspect 0.3.285 has it; run it "
        "where the eval ran, which keeps the sample buffer) or run the eval again, then import "
        "the finished log",
        location="header.json",
    )
