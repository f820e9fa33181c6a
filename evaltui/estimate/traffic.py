"""Traffic weights files (#28): how often real users land in each segment, in CSV or JSON
people write, read with provenance (source, period, the SHA-256 of the bytes read).

A row is one segment, or one cell of several attributes (topic x risk), with a request
`count` or a `share`. Counts are kept as counts (the estimate then carries their
uncertainty); shares that do not sum to 1 are normalised and the result says so. Every
refusal is one InputError naming the file, the line and the field. docs/production.md
describes the format with examples.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from evaltui.errors import InputError
from evaltui.estimate.weighted import Weights
from evaltui.files import env_limit, read_capped

MAX_TRAFFIC_BYTES = 4 << 20  # EVALTUI_MAX_TRAFFIC_BYTES
MAX_TRAFFIC_CELLS = 10_000  # EVALTUI_MAX_TRAFFIC_CELLS
MAX_COUNT = 2**53  # a count beyond this is not held exactly as a float share
MAX_SOURCE = 500
WEIGHT_COLUMNS = ("count", "share")
META_KEYS = ("period", "source")
# what a segment attribute may be called: the same rule as compare/rows.py (a JSON path)
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.\- ]+$")
_META = re.compile(r"^#\s*([A-Za-z_]+)\s*:\s*(.*)$")
_PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*/\s*(\d{4}-\d{2}-\d{2})$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass(frozen=True)
class TrafficCell:
    values: tuple[str, ...]  # one per attribute, as written (data: shown, never acted on)
    amount: float  # as written: a whole request count, or a share
    share: float  # normalised: the cells' shares sum to 1
    line: int


@dataclass(frozen=True)
class UnknownName:
    """A name in the weights that the runs do not have, with the close ones they do."""

    line: int
    attribute: str
    value: str | None  # None: the attribute itself is unknown
    suggestions: tuple[str, ...]

    def message(self) -> str:
        what = (
            f"attribute {self.attribute!r} is not a segment attribute of these runs"
            if self.value is None
            else f"{self.attribute}={self.value!r}: no eval case has this value"
        )
        hint = " or ".join(repr(s) for s in self.suggestions)
        return what + (f"; did you mean {hint}?" if hint else "")


@dataclass(frozen=True)
class KnownValues:
    """One segment attribute of the runs and the values its cases have."""

    attribute: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class NameCheck:
    unknown: tuple[UnknownName, ...]  # named by the weights, absent from the runs
    unweighted: tuple[tuple[str, str], ...]  # (attribute, value) in the runs, in no cell


@dataclass(frozen=True)
class TrafficWeights:
    path: str
    sha256: str  # of the bytes read
    size: int
    format: Literal["csv", "json"]
    source: str
    period: Period
    kind: Literal["count", "share"]  # counts allow the weights' own uncertainty; shares do not
    attributes: tuple[str, ...]
    header_line: int  # where the attributes are named (CSV header; JSON first segment)
    cells: tuple[TrafficCell, ...]
    total: float  # the counts' or the shares' sum as written
    normalised: bool  # shares that did not sum to 1 were divided by their sum

    @property
    def note(self) -> str | None:
        if not self.normalised:
            return None
        return f"the shares sum to {self.total:g}, not 1: each was divided by {self.total:g}"

    def weights(self, attributes: Sequence[str] | None = None) -> Weights:
        """The weights over `attributes` (all of the file's by default), summing the cells
        over the attributes left out (a topic x risk file gives weights by topic)."""
        attrs = tuple(attributes) if attributes is not None else self.attributes
        missing = [a for a in attrs if a not in self.attributes]
        if missing or not attrs or len(set(attrs)) != len(attrs):
            raise InputError(
                self.path,
                f"the comparison's segments are {', '.join(map(repr, attrs)) or 'none'}; "
                f"this file weights by {', '.join(map(repr, self.attributes))}",
            )
        at = [self.attributes.index(a) for a in attrs]
        sums: dict[tuple[str, ...], float] = {}
        for c in self.cells:
            key = tuple(c.values[i] for i in at)
            sums[key] = sums.get(key, 0) + (c.amount if self.kind == "count" else c.share)
        if self.kind == "count":
            return Weights.of_counts(attrs, [(k, int(v)) for k, v in sums.items()])
        return Weights.of_shares(attrs, list(sums.items()))

    def check_names(self, known: Sequence[KnownValues]) -> NameCheck:
        """Did-you-mean for every attribute and value the runs do not have (a value no
        eval case has is uncovered traffic, maybe a typo), and the runs' values that no
        cell names (eval cases that production, by these weights, never sends)."""
        have = {k.attribute: k.values for k in known}
        unknown: list[UnknownName] = []
        for i, attr in enumerate(self.attributes):
            if attr not in have:
                close = _close(attr, list(have))
                unknown.append(UnknownName(self.header_line, attr, None, close))
                continue
            seen: set[str] = set()
            for c in self.cells:
                v = c.values[i]
                if v not in have[attr] and v not in seen:
                    seen.add(v)
                    unknown.append(UnknownName(c.line, attr, v, _close(v, list(have[attr]))))
        named = {(a, c.values[i]) for i, a in enumerate(self.attributes) for c in self.cells}
        unweighted = tuple(
            (k.attribute, v)
            for k in known
            if k.attribute in self.attributes
            for v in k.values
            if (k.attribute, v) not in named
        )
        return NameCheck(tuple(unknown), unweighted)


def _close(wanted: str, known: list[str]) -> tuple[str, ...]:
    """The names close to `wanted`: same letters in another case first, else difflib's
    (as the policy's did-you-mean, gate/policy.py)."""
    folded = [k for k in known if k.casefold() == wanted.casefold()]
    return tuple(folded or difflib.get_close_matches(wanted, known, n=3, cutoff=0.6))


# -- reading --------------------------------------------------------------------------------


class _Rows:
    """What both formats hand over: the header facts and the rows, checked here."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.meta: dict[str, tuple[str, int]] = {}
        self.cells: list[TrafficCell] = []
        self.seen: dict[tuple[str, ...], int] = {}

    def error(self, line: int | None, field: str | None, why: str) -> InputError:
        return InputError(self.path, why, location=f"line {line}" if line else None, field=field)

    def set_meta(self, key: str, value: str, line: int) -> None:
        if key in self.meta:
            raise self.error(line, key, f"given twice (first on line {self.meta[key][1]})")
        self.meta[key] = (value, line)

    def columns(self, names: Sequence[str], line: int) -> tuple[tuple[str, ...], str]:
        weight = [n for n in names if n.lower() in WEIGHT_COLUMNS]
        attrs = tuple(n for n in names if n.lower() not in WEIGHT_COLUMNS)
        if len(weight) != 1:
            why = "both 'count' and 'share'" if weight else "neither 'count' nor 'share'"
            raise self.error(line, None, f"{why}: give one weight column, count or share")
        if not attrs:
            raise self.error(line, None, "no segment attribute: name at least one")
        for a in attrs:
            if not ATTRIBUTE_NAME.match(a):
                raise self.error(line, a, "not a usable attribute name (letters, digits, _.- )")
        dup = sorted({a for a in names if list(names).count(a) > 1})
        if dup:
            raise self.error(line, dup[0], "this column is given twice")
        return attrs, weight[0].lower()

    def add(
        self, values: tuple[str, ...], attrs: tuple[str, ...], amount: float, line: int
    ) -> None:
        for a, v in zip(attrs, values, strict=True):
            if v == "":
                raise self.error(line, a, "empty: every row names its segment")
        if values in self.seen:
            raise self.error(line, attrs[0], f"the same segment as line {self.seen[values]}")
        if len(self.cells) >= env_limit("EVALTUI_MAX_TRAFFIC_CELLS", MAX_TRAFFIC_CELLS):
            raise self.error(line, None, "more segments than the limit (EVALTUI_MAX_TRAFFIC_CELLS)")
        self.seen[values] = line
        self.cells.append(TrafficCell(values, amount, 0.0, line))

    def amount(self, kind: str, value: Any, line: int) -> float:
        """A count (a whole number) or a share (a finite number), at least 0."""
        if isinstance(value, str):
            text = value.strip()
            if kind == "count" and re.fullmatch(r"[+-]?\d+", text):
                value = int(text)
            elif kind == "share" and _DECIMAL.match(text):
                value = float(text)
            else:
                hint = "a whole number of requests" if kind == "count" else "a number like 0.25"
                raise self.error(line, kind, f"{value!r} is not {hint}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(line, kind, f"{value!r} is not a number")
        if kind == "count" and not isinstance(value, int):
            raise self.error(line, kind, f"{value!r}: a count is a whole number (or give shares)")
        if not math.isfinite(value):
            raise self.error(line, kind, f"{value!r} is not a finite number")
        if value < 0:
            raise self.error(line, kind, f"{value!r} is negative")
        if kind == "count" and value > MAX_COUNT:
            raise self.error(line, kind, f"{value!r} is larger than {MAX_COUNT:,}")
        return value

    def finish(
        self,
        raw: bytes,
        fmt: Literal["csv", "json"],
        attrs: tuple[str, ...],
        kind: str,
        header: int,
    ) -> TrafficWeights:
        if not self.cells:
            raise self.error(None, None, "no segment rows")
        period = self._period()
        source, src_line = self.meta.get("source", ("", 0))
        if not source.strip():
            raise self.error(src_line or None, "source", "say where the counts come from")
        if len(source) > MAX_SOURCE:
            raise self.error(src_line, "source", f"longer than {MAX_SOURCE} characters")
        total = (
            sum(int(c.amount) for c in self.cells)
            if kind == "count"
            else math.fsum(c.amount for c in self.cells)
        )
        if total <= 0:
            raise self.error(
                self.cells[0].line, kind, f"every {kind} is 0: no traffic to weight by"
            )
        cells = tuple(TrafficCell(c.values, c.amount, c.amount / total, c.line) for c in self.cells)
        return TrafficWeights(
            path=self.path,
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            format=fmt,
            source=source.strip(),
            period=period,
            kind="count" if kind == "count" else "share",
            attributes=attrs,
            header_line=header,
            cells=cells,
            total=total,
            normalised=kind == "share" and abs(total - 1) > 1e-9,
        )

    def _period(self) -> Period:
        if "period" not in self.meta:
            raise self.error(None, "period", "say which dates the weights cover: START/END")
        text, line = self.meta["period"]
        m = _PERIOD.match(text.strip())
        try:
            start, end = (date.fromisoformat(m[1]), date.fromisoformat(m[2])) if m else (None, None)
        except ValueError:
            start = end = None
        if start is None or end is None:
            raise self.error(
                line, "period", f"{text!r} is not START/END dates (2026-11-01/2026-11-30)"
            )
        if end < start:
            raise self.error(line, "period", f"{text!r} ends before it starts")
        return Period(start, end)


def read_traffic(path: Path) -> TrafficWeights:
    """A traffic weights file, CSV or JSON (told apart by the first character: `{`)."""
    limit = env_limit("EVALTUI_MAX_TRAFFIC_BYTES", MAX_TRAFFIC_BYTES)
    return parse_traffic(read_capped(path, "traffic weights file", limit), str(path))


def parse_traffic(raw: bytes, path: str) -> TrafficWeights:
    """Weights from a file's bytes (`path` names it in errors and provenance): what
    `read_traffic` read, or the bytes the store kept (evaltui/store/traffic.py)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, "not UTF-8 text", location=f"line {line}") from None
    if "\x00" in text:
        raise InputError(path, "a binary file, not text (it holds NUL bytes)")
    if not text.strip():
        raise InputError(path, "the file is empty")
    rows = _Rows(path)
    if text.lstrip().startswith("{"):
        attrs, kind, header = _read_json(text, rows)
        return rows.finish(raw, "json", attrs, kind, header)
    attrs, kind, header = _read_csv(text, rows)
    return rows.finish(raw, "csv", attrs, kind, header)


def _read_csv(text: str, rows: _Rows) -> tuple[tuple[str, ...], str, int]:
    # lines end at "\n" only: str.splitlines would also cut at U+2028, \x1e... inside a
    # value, and every line number after it would be wrong
    lines = [line for line in re.split(r"(?<=\n)", text) if line]
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        m = _META.match(lines[i].strip())
        if m and m[1].lower() in META_KEYS:
            rows.set_meta(m[1].lower(), m[2], i + 1)
        i += 1
    if i == len(lines):
        raise rows.error(None, None, "no header row (the attributes, then count or share)")
    reader = csv.reader(lines[i:], strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        attrs, kind = rows.columns(header, i + 1)
        at = [header.index(a) for a in attrs]
        w_at = [h.lower() for h in header].index(kind)
        while True:
            start = i + reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise rows.error(start, None, f"{len(row)} fields; the header has {len(header)}")
            amount = rows.amount(kind, row[w_at], start)
            rows.add(tuple(row[j] for j in at), attrs, amount, start)
    except csv.Error as exc:
        raise rows.error(i + reader.line_num, None, f"not valid CSV: {exc}") from None
    return attrs, kind, i + 1


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} is given twice in one object")
        out[k] = v
    return out


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
_SPACE = re.compile(r"[ \t\n\r]*")


def _read_json(text: str, rows: _Rows) -> tuple[tuple[str, ...], str, int]:
    """{"period": "START/END", "source": "...", "segments": [{attr: value, ..., "count": n}]}
    Scanned value by value (raw_decode) so each segment knows its line."""

    def line_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def skip(pos: int) -> int:
        m = _SPACE.match(text, pos)
        return m.end() if m else pos

    def value(pos: int) -> tuple[Any, int]:
        try:
            return _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise rows.error(exc.lineno, None, f"not valid JSON: {exc.msg}") from None
        except ValueError as exc:
            raise rows.error(line_at(pos), None, str(exc)) from None
        except RecursionError:
            raise rows.error(line_at(pos), None, "nested too deeply") from None

    def expect(pos: int, chars: str) -> int:
        pos = skip(pos)
        if pos >= len(text) or text[pos] not in chars:
            raise rows.error(line_at(pos), None, f"not valid JSON: expected {' or '.join(chars)}")
        return pos + 1

    items: list[tuple[Any, int]] = []
    keys: set[str] = set()
    pos = expect(0, "{")
    if not text.startswith("}", skip(pos)):
        while True:
            pos = skip(pos)
            if not text.startswith('"', pos):
                raise rows.error(line_at(pos), None, "not valid JSON: expected a key")
            key, pos = value(pos)
            key_line = line_at(pos)
            if key in keys:
                raise rows.error(key_line, key, "given twice")
            keys.add(key)
            pos = skip(expect(pos, ":"))
            if key == "segments" and text.startswith("[", pos):
                pos = skip(pos + 1)
                if text.startswith("]", pos):
                    pos += 1
                else:
                    while True:
                        start = skip(pos)
                        item, pos = value(start)
                        items.append((item, line_at(start)))
                        pos = skip(pos)
                        if text.startswith("]", pos):
                            pos += 1
                            break
                        pos = expect(pos, ",")
            elif key in META_KEYS:
                v, pos = value(pos)
                if not isinstance(v, str):
                    raise rows.error(key_line, key, "a string")
                rows.set_meta(key, v, key_line)
            else:
                known = ", ".join(repr(k) for k in (*META_KEYS, "segments"))
                close = _close(key, [*META_KEYS, "segments"])
                hint = f"did you mean {close[0]!r}?" if close else f"known: {known}"
                raise rows.error(key_line, key, f"not a key of a traffic file; {hint}")
            if text.startswith("}", skip(pos)):
                pos = skip(pos) + 1
                break
            pos = expect(pos, ",")
    else:
        pos = skip(pos) + 1
    if skip(pos) != len(text):
        raise rows.error(line_at(skip(pos)), None, "not valid JSON: text after the object")
    if "segments" not in keys:
        raise rows.error(None, "segments", "no segments: a list of {attribute: value, count}")
    if not items:
        raise rows.error(None, "segments", "the list is empty")
    return _json_cells(items, rows)


def _json_cells(items: list[tuple[Any, int]], rows: _Rows) -> tuple[tuple[str, ...], str, int]:
    first, line = items[0]
    if not isinstance(first, dict):
        raise rows.error(line, "segments", "each segment is an object {attribute: value, ...}")
    attrs, kind = rows.columns(list(first), line)
    for item, line in items:
        if not isinstance(item, dict):
            raise rows.error(line, "segments", "each segment is an object {attribute: value, ...}")
        names = set(item)
        extra = sorted(names - {*attrs, kind})
        if extra:
            raise rows.error(line, extra[0], f"not in the first segment's keys {[*attrs, kind]}")
        for missing in [*attrs, kind]:
            if missing not in names:
                raise rows.error(line, missing, "missing (every segment names the same keys)")
        amount = rows.amount(kind, item[kind], line)
        rows.add(tuple(_text(rows, item[a], a, line) for a in attrs), attrs, amount, line)
    return attrs, kind, items[0][1]


def _text(rows: _Rows, value: Any, attr: str, line: int) -> str:
    """An attribute value as segment text, as the comparison writes it (compare/rows.py
    segment_value): strings as written, numbers as Python writes them, booleans lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    raise rows.error(line, attr, f"{value!r} is not a segment value (a string or a number)")
