"""Traffic weights kept in the store (#28): the one module that names `traffic_weights` in
SQL; everything else calls the functions here, which take and return typed records
(compare/production.py's `from_store` makes the estimate's input of the weights kept).

`evaltui traffic import FILE` reads and checks the file (estimate/traffic.py) before a byte
is written, then keeps its bytes whole with their SHA-256 and provenance, in one
transaction with its event. Rows are append-only: the weights a decision used are found
again by their hash, whatever was imported since. The weights *in force* (what `compare`
and the app estimate with, and a policy's default) are the latest import, or the ones
`traffic use` chose, or none after `traffic use none`: a setting, changed with an event.
docs/production.md.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaltui.errors import InputError, NotFoundError, StoreError
from evaltui.estimate.traffic import MAX_TRAFFIC_BYTES, TrafficWeights, parse_traffic
from evaltui.files import env_limit, read_capped
from evaltui.paths import demo_data_dir
from evaltui.store.store import Store, now_iso

SETTING = "traffic.in_force"  # the id of the weights in force; null: none
MAX_NAME = 80
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_COLS = (
    "id, name, source_path, sha256, format, kind, source, period, attributes, cells, "
    "imported_at, imported_by"
)


@dataclass(frozen=True)
class KeptTraffic:
    """One import as the store keeps it (the listing: the file itself is not parsed)."""

    id: int
    name: str
    source_path: str
    sha256: str
    format: str
    kind: str  # count | share
    source: str
    period: str  # START/END
    attributes: tuple[str, ...]
    cells: int
    imported_at: str
    imported_by: str

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> KeptTraffic:
        tid, name, path, sha, fmt, kind, source, period, attrs, cells, at, by = r
        return cls(
            tid, name, path, sha, fmt, kind, source, period, tuple(json.loads(attrs)), cells, at, by
        )

    @property
    def label(self) -> str:
        return f"{self.name} #{self.id}"

    def provenance(self) -> dict[str, Any]:
        """What a decision record and `compare --json` say about the weights they used."""
        return {
            "id": self.id,
            "name": self.name,
            "sha256": self.sha256,
            "source_path": self.source_path,
            "source": self.source,
            "period": self.period,
            "kind": self.kind,
            "attributes": list(self.attributes),
            "imported_at": self.imported_at,
            "imported_by": self.imported_by,
        }


def check_name(name: str) -> str:
    if len(name) > MAX_NAME or not _NAME.match(name) or name.lower() == "none":
        raise InputError(
            "--name",
            f"{name[:100]!r} is not a usable name for traffic weights: letters, digits and "
            f"_.- (starting with a letter or digit), at most {MAX_NAME} characters, not 'none'",
        )
    return name


def default_name(path: Path) -> str:
    """The file's stem, with what a name may not hold turned into '-'."""
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", path.stem).strip("-._")[:MAX_NAME]
    return stem or "traffic"


@dataclass(frozen=True)
class ReadTraffic:
    """A weights file read and checked, not yet kept: its bytes and what they say."""

    path: Path
    raw: bytes
    weights: TrafficWeights


def read_file(path: Path) -> ReadTraffic:
    """Read and check a weights file (InputError naming file, line and field): done before
    the store is opened, so a bad file changes nothing, not even by making a store."""
    limit = env_limit("EVALTUI_MAX_TRAFFIC_BYTES", MAX_TRAFFIC_BYTES)
    raw = read_capped(path, "traffic weights file", limit)  # read once: kept as checked
    return ReadTraffic(path, raw, parse_traffic(raw, str(path)))


def keep(store: Store, read: ReadTraffic, name: str | None = None) -> tuple[KeptTraffic, bool]:
    """Keep checked weights and put them in force, in one transaction with their events;
    (the kept row, whether it is new). The same bytes under the same name are not kept
    twice (they are put in force again)."""
    name = check_name(name) if name is not None else default_name(read.path)
    with store.transaction():
        found = store.conn.execute(
            f"SELECT {_COLS} FROM traffic_weights WHERE name = ? AND sha256 = ? "
            "ORDER BY id DESC LIMIT 1",
            (name, read.weights.sha256),
        ).fetchone()
        if found is not None:
            kept, new = KeptTraffic.from_row(tuple(found)), False
        else:
            kept, new = _insert(store, read, name), True
        _put_in_force(store, kept.id, "import")
    return kept, new


def _insert(store: Store, read: ReadTraffic, name: str) -> KeptTraffic:
    w, at, by = read.weights, now_iso(), store.actor
    cur = store.conn.execute(
        "INSERT INTO traffic_weights (name, source_path, sha256, data, format, kind, source, "
        "period, attributes, cells, imported_at, imported_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            str(read.path.resolve()),
            w.sha256,
            read.raw,
            w.format,
            w.kind,
            w.source,
            str(w.period),
            json.dumps(list(w.attributes)),
            len(w.cells),
            at,
            by,
        ),
    )
    kept = get(store, int(cur.lastrowid or 0))
    store.log_event(
        "traffic.import",
        "traffic",
        kept.id,
        after={
            **kept.provenance(),
            "cells": kept.cells,
            "total": w.total,
            "normalised": w.normalised,
        },
    )
    return kept


def _put_in_force(store: Store, traffic_id: int | None, why: str) -> None:
    """Inside the caller's transaction: the setting and its event."""
    before = in_force_id(store)
    if before == traffic_id:
        return
    store.put_setting(SETTING, traffic_id)
    store.log_event(
        "traffic.use",
        "traffic",
        traffic_id if traffic_id is not None else "none",
        before={"in_force": before},
        after={"in_force": traffic_id},
        context={"by": why},
    )


def use(store: Store, ref: str) -> KeptTraffic | None:
    """Put the weights `ref` names in force (`none`: no weights); recorded."""
    kept = None if ref.strip().lower() == "none" else resolve(store, ref)
    with store.transaction():
        _put_in_force(store, kept.id if kept else None, "use")
    return kept


def in_force_id(store: Store) -> int | None:
    value = store.get_setting(SETTING, limit=100)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(f"the setting {SETTING} in {store.path} is not a traffic id: {value!r}")
    return value


def in_force(store: Store) -> KeptTraffic | None:
    """The weights in force, or None."""
    tid = in_force_id(store)
    return None if tid is None else get(store, tid)


def listing(store: Store) -> list[KeptTraffic]:
    """Every import, oldest first."""
    rows = store.conn.execute(f"SELECT {_COLS} FROM traffic_weights ORDER BY id").fetchall()
    return [KeptTraffic.from_row(tuple(r)) for r in rows]


def get(store: Store, traffic_id: int) -> KeptTraffic:
    row = store.conn.execute(
        f"SELECT {_COLS} FROM traffic_weights WHERE id = ?", (traffic_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no traffic weights #{traffic_id} in this store (`evaltui traffic`)")
    return KeptTraffic.from_row(tuple(row))


def resolve(store: Store, ref: str) -> KeptTraffic:
    """`#ID` or `ID`: that import; a name: its latest import."""
    text = ref.strip()
    if text.lstrip("#").isdigit():
        return get(store, int(text.lstrip("#")))
    row = store.conn.execute(
        f"SELECT {_COLS} FROM traffic_weights WHERE name = ? ORDER BY id DESC LIMIT 1", (text,)
    ).fetchone()
    if row is None:
        names = sorted({k.name for k in listing(store)})
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
        hint = (
            "; did you mean " + " or ".join(map(repr, close)) + "?"
            if close
            else f"; kept: {', '.join(names[:12])}"
            if names
            else "; `evaltui traffic import FILE` keeps some"
        )
        raise NotFoundError(f"no traffic weights named {text[:100]!r} in this store{hint}")
    return KeptTraffic.from_row(tuple(row))


def by_sha256(store: Store, sha256: str) -> KeptTraffic | None:
    """The latest import of the bytes with this hash (what a decision record names)."""
    row = store.conn.execute(
        f"SELECT {_COLS} FROM traffic_weights WHERE sha256 = ? ORDER BY id DESC LIMIT 1",
        (sha256,),
    ).fetchone()
    return None if row is None else KeptTraffic.from_row(tuple(row))


def weights(store: Store, kept: KeptTraffic) -> TrafficWeights:
    """The kept file parsed again from its bytes (checked against its hash)."""
    (data,) = store.conn.execute(
        "SELECT data FROM traffic_weights WHERE id = ?", (kept.id,)
    ).fetchone()
    raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
    if hashlib.sha256(raw).hexdigest() != kept.sha256:
        raise StoreError(
            f"traffic weights {kept.label} in {store.path} do not match their SHA-256 "
            "(the store was edited outside evaltui)"
        )
    return parse_traffic(raw, kept.source_path)


DEMO_FILE, DEMO_NAME = "traffic.csv", "demo-traffic"


def keep_demo(store: Store) -> KeptTraffic | None:
    """The demo's traffic weights (fixtures/demo/traffic.csv) kept and put in force the
    first time only: a store that keeps any weights is left as its user set it."""
    if store.conn.execute("SELECT 1 FROM traffic_weights LIMIT 1").fetchone() is not None:
        return None
    return keep(store, read_file(demo_data_dir() / DEMO_FILE), DEMO_NAME)[0]
