"""Streaming JSON for the formats that are one big document (promptfoo `-o x.json`,
Inspect `.json` logs): nothing but one record is ever in memory, whatever the file size.

ijson (yajl2_c backend) does the parsing; it was chosen over a hand-written tokenizer
because its C parser is twice as fast as `json.load` and holds one value at a time.

Reading is two passes over the file:
- `scan` walks every parse event in Python, enforcing the limits exactly (one string or
  number at most EVALTUI_MAX_FIELD_BYTES, nesting at most EVALTUI_MAX_DEPTH, one record at
  most EVALTUI_MAX_LINE_BYTES and EVALTUI_MAX_RECORD_VALUES), counts the records under a
  prefix and builds everything else (the small header around them);
- `items` then builds the records one at a time with ijson's C builder.
Another array of records (promptfoo's `traces`) can be handed out during the first pass, one
item at a time under the same limits (`collect`), and is left out of the head.
A file that changes between the two passes is refused: before the second pass starts, the
file opened must be the one scanned (device, inode, size, mtime and ctime: a file renamed
over it, or rewritten in place with its mtime put back, differs), and the second pass is
bounded on its own (a record that runs past the record or values limit is refused), so a
file changed while it is read costs no more memory than a good one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson

from evaltui.errors import InputError
from evaltui.importers.base import (
    MAX_DEPTH,
    MAX_FIELD_BYTES,
    MAX_RECORD_VALUES,
    env_limit,
    max_line_bytes,
)

CHUNK = 1 << 16  # scan: the field limit is checked per chunk
ITEM_CHUNK = 1 << 20
_OPEN = frozenset(("start_map", "start_array"))
_CLOSE = frozenset(("end_map", "end_array"))


@dataclass(frozen=True)
class Limits:
    field: int
    depth: int
    record: int
    values: int

    @classmethod
    def current(cls) -> Limits:
        return cls(
            field=env_limit("EVALTUI_MAX_FIELD_BYTES", MAX_FIELD_BYTES),
            depth=env_limit("EVALTUI_MAX_DEPTH", MAX_DEPTH),
            record=max_line_bytes(),
            values=env_limit("EVALTUI_MAX_RECORD_VALUES", MAX_RECORD_VALUES),
        )


@dataclass
class Scan:
    """What the first pass found: the document without the records, and their number."""

    head: dict[str, Any] = field(default_factory=dict)
    count: int = 0
    gap_bytes: int = 0  # the most bytes, and JSON containers, read between two records (or
    gap_values: int = 0  # before the first): what the second pass may skip without a record
    size: int = 0
    mtime_ns: int = 0
    identity: tuple[int, ...] = ()  # (device, inode, size, mtime_ns, ctime_ns) of the file read


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Reader:
    """The file as ijson reads it, counting bytes: a read that would take one value past
    the field limit, or one record past the record limit, is refused before it is parsed."""

    def __init__(self, fh: IO[bytes], path: Path, limits: Limits, where: Any) -> None:
        self.fh, self.path, self.limits, self.where = fh, path, limits, where
        self.offset = self.mark = 0
        self.record_start = -1
        self.containers = 0  # `{` and `[` bytes read, as the second pass counts them

    def read(self, n: int = -1) -> bytes:
        if self.offset - self.mark > self.limits.field:
            raise InputError(
                str(self.path),
                f"one value is longer than {self.limits.field:,} bytes (EVALTUI_MAX_FIELD_BYTES)",
                location=self.where(),
            )
        if self.record_start >= 0 and self.offset - self.record_start > self.limits.record:
            raise InputError(
                str(self.path),
                f"the record is longer than {self.limits.record:,} bytes (EVALTUI_MAX_LINE_BYTES)",
                location=self.where(),
            )
        chunk = self.fh.read(CHUNK if n < 0 else min(n, CHUNK))
        self.offset += len(chunk)
        self.containers += chunk.count(b"{") + chunk.count(b"[")
        return chunk


def _too_deep(path: Path, limits: Limits, where: str, keys: list[str]) -> InputError:
    field = ".".join(k for k in keys[:12] if k) + ("…" if len(keys) > 12 else "")
    return InputError(
        str(path),
        f"nested more than {limits.depth} levels deep (EVALTUI_MAX_DEPTH)",
        location=where,
        field=field or None,
    )


def _malformed(path: Path, exc: Exception, where: str | None) -> InputError:
    # yajl's messages run on over lines, pointing into the text: keep the first line
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    if "premature eof" in detail.lower() or "incomplete" in detail.lower():
        detail = "the file ends in the middle of the document (truncated?)"
    return InputError(str(path), f"malformed JSON ({detail[:200]})", location=where)


def _item_location(records: str, index: int) -> str:
    return f"{records}[{index}]"


# A format's own reading of the bytes before the parser (Inspect's NaN, inspect_nan.py).
Wrap = Callable[[Any], Any]  # a readable (the file, or the bounded second pass) to a readable


Collect = Callable[[Any, int], None]  # an item of a collected array, and its index


def scan(
    path: Path,
    records: str,
    label: str | None = None,
    wrap: Wrap | None = None,
    collect: dict[str, Collect] | None = None,
) -> Scan:
    """First pass. `records` is the ijson prefix of the record array ("samples"); the
    records are counted and checked, everything else at top level is built into `head`.
    `label` names the array in messages (default: the prefix). Each array named in
    `collect` (a prefix: its callback) is read the same way, each item checked against the
    record limits, built and handed to the callback, and left out of `head` (empty)."""
    limits = Limits.current()
    label = label or records
    arrays = {records: None, **(collect or {})}
    split = {p: (p.split(".") if p else []) for p in arrays}
    out = Scan()
    counts = dict.fromkeys(arrays, 0)
    builder = ijson.ObjectBuilder()  # the document, with the record array left empty
    item: Any = None  # the ObjectBuilder of a collected array's current item
    keys: list[str] = []  # per open container: its current key ("item" in an array)
    active: str | None = None  # the array being read
    array_depth = 0  # containers open inside it (document = 1)
    in_record = False
    record_start = values = 0
    gap_from = gap_containers = 0
    where = "top level"

    with path.open("rb") as fh:
        stat = os.fstat(fh.fileno())  # the file read, not whatever the name points at later
        out.size, out.mtime_ns, out.identity = stat.st_size, stat.st_mtime_ns, _identity(stat)
        reader = _Reader(wrap(fh) if wrap else fh, path, limits, lambda: where)
        # basic_parse: events without ijson's prefixes, which cost O(depth) each and so
        # O(depth^2) memory on a file nested 100,000 deep; the path is kept here instead
        try:
            for event, value in ijson.basic_parse(reader, buf_size=CHUNK, use_float=True):
                reader.mark = reader.offset  # an event: no value runs on past the field limit
                if event == "map_key":
                    keys[-1] = value
                    if len(keys) == 1 and not in_record:
                        where = str(value)
                    if item is not None:
                        item.event(event, value)
                    elif active is None:
                        builder.event(event, value)
                    continue
                opening = event in _OPEN
                if active is not None and (
                    len(keys) > array_depth or (len(keys) == array_depth and event != "end_array")
                ):
                    if not in_record:
                        in_record, record_start, values = True, reader.offset, 0
                        where = _item_location(
                            label if active == records else active, counts[active]
                        )
                        reader.record_start = record_start
                        if active == records:
                            out.gap_bytes = max(out.gap_bytes, record_start - gap_from)
                            out.gap_values = max(out.gap_values, reader.containers - gap_containers)
                        else:
                            item = ijson.ObjectBuilder()
                    values += 1
                    if values > limits.values:
                        raise InputError(
                            str(path),
                            f"the record holds more than {limits.values:,} JSON values "
                            "(EVALTUI_MAX_RECORD_VALUES)",
                            location=where,
                        )
                    if item is not None:
                        item.event(event, value)
                    if opening:
                        keys.append("item" if event == "start_array" else "")
                        if len(keys) > limits.depth:
                            raise _too_deep(path, limits, where, keys)
                    elif event in _CLOSE:
                        keys.pop()
                    if len(keys) == array_depth:  # back in the array: the record is whole
                        in_record = False
                        reader.record_start = -1
                        if item is not None:
                            done, item = item, None
                            arrays[active](done.value, counts[active])  # type: ignore[misc]
                        else:
                            gap_from, gap_containers = reader.offset, reader.containers
                        counts[active] += 1
                    continue
                if opening:
                    if event == "start_array" and active is None:
                        active = next(
                            (p for p, ps in split.items() if len(keys) == len(ps) and keys == ps),
                            None,
                        )
                        array_depth = len(keys) + 1
                    keys.append("item" if event == "start_array" else "")
                    if len(keys) > limits.depth:
                        raise _too_deep(path, limits, where, keys)
                elif event in _CLOSE:
                    if active is not None and len(keys) == array_depth:
                        active = None
                    keys.pop()
                builder.event(event, value)
        except ijson.JSONError as exc:
            raise _malformed(path, exc, where) from None
        except UnicodeDecodeError as exc:
            raise InputError(str(path), f"not valid UTF-8 ({exc.reason})", location=where) from None
    head = getattr(builder, "value", None)
    if not isinstance(head, dict):
        raise InputError(str(path), "the file is not a JSON object")
    out.head = head
    out.count = counts[records]
    return out


class _Bounded:
    """The second pass's reads, bounded on their own: the bytes and the JSON containers
    (`{` and `[`, the costly values; a record's count is at most its values) read since the
    last record was handed out, with a chunk of slack for ijson's read-ahead."""

    def __init__(self, fh: IO[bytes], path: Path, limits: Limits, scan: Scan) -> None:
        self.fh, self.path = fh, path
        # a record, after the most the first pass read between two records (other JSON,
        # skipped and never built: promptfoo's traces before its results), and slack
        self.max_bytes = limits.record + scan.gap_bytes + 2 * ITEM_CHUNK + 2 * CHUNK
        self.max_values = limits.values + scan.gap_values + ITEM_CHUNK // 4 + 2 * CHUNK
        self.bytes = self.values = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.fh.read(ITEM_CHUNK if n < 0 else min(n, ITEM_CHUNK))
        self.bytes += len(chunk)
        self.values += chunk.count(b"{") + chunk.count(b"[")
        if self.bytes > self.max_bytes or self.values > self.max_values:
            raise _changed(self.path)
        return chunk


def _changed(path: Path) -> InputError:
    return InputError(
        str(path),
        "the file changed while it was being read (it is not the file the first pass checked)",
    )


def items(
    path: Path, records: str, expected: Scan, label: str | None = None, wrap: Wrap | None = None
) -> Iterator[Any]:
    """Second pass: each record under `records`, built by ijson's C parser, in file order.
    The first pass has checked every limit; a file changed since is refused before a
    record is built, and a change during this pass cannot make a record bigger than the
    limits."""
    label = label or records
    index = 0
    with path.open("rb") as fh:
        if expected.identity and _identity(os.fstat(fh.fileno())) != expected.identity:
            raise _changed(path)
        reader = _Bounded(fh, path, Limits.current(), expected)
        source = wrap(reader) if wrap else reader
        parsed = ijson.items(source, records + ".item", buf_size=ITEM_CHUNK, use_float=True)
        while True:
            try:
                item = next(parsed)
            except StopIteration:
                break
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                raise _malformed(path, exc, _item_location(label, index)) from None
            reader.bytes = reader.values = 0
            yield item
            index += 1
            if index == expected.count:  # the rest was checked by the first pass: not parsed
                break
        if index != expected.count or _identity(os.fstat(fh.fileno())) != expected.identity:
            raise _changed(path)
