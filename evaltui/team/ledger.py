"""The local side of a team store: which team this store shares with (its link), the
ledger of team events, the outbox, and the chain check backed by the ledger.

The ledger is the table `team_events` (made by the store's migration m014; this module
alone names it in SQL): every team event this store pushed or pulled, by hash, with what
became of it: `folded` into a finding (a case's status, a release decision kept as
another's: team/statuses.py, team/decisions.py), `waiting` (for a run or a case this store does not
hold yet, a class its taxonomy lacks, or a time still ahead of this clock: tried again
at every sync), `kept` (held, not folded: a second copy of a finding, a gold answer
or a release decision), `rejected` (sound chain, content this store will not take) or
`refused` (the chain check refused it: events.ChainCheck).

The **outbox** is every finding made in this store (`source = 'local'`) that no ledger
row names. It is read from the findings, not queued by a hook: the findings are already
append-only, so nothing that writes one can forget to queue it, and a crash between a
push and its record here loses nothing (the next sync pulls the event back and adopts it).

Needs no psycopg: `team status` reads it offline.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from evaltui.errors import StoreError
from evaltui.review.triage import Finding
from evaltui.review.triage import outbox as triage_outbox
from evaltui.store.store import Store
from evaltui.team.events import ChainCheck, Refusal, TeamEvent, canonical_json

LINK_SETTING = "team.link"  # the team this store shares with (no secret: see Link)
CURSOR_SETTING = "team.cursor"  # the last server sequence number pulled
LAST_SYNC_SETTING = "team.last_sync"  # when, and what the last sync did

STATUSES = ("folded", "waiting", "kept", "rejected", "refused")
_EVENT_COLS = (
    "hash, project, author, kind, subject, prev, payload, client_at, signature, server_seq"
)


@dataclass(frozen=True)
class Link:
    """The team a store shares with: where (a connection string without a password,
    or "" for libpq's environment), which project and schema, and who this store's
    reviewer is there (the login's reviewer name and role when it joined)."""

    url: str
    project: str
    schema: str
    reviewer: str
    role: str
    joined_at: str

    @classmethod
    def from_setting(cls, value: Any, path: Any) -> Link:
        fields = ("url", "project", "schema", "reviewer", "role", "joined_at")
        if (
            not isinstance(value, dict)
            or set(value) != set(fields)
            or not all(isinstance(value[f], str) for f in fields)
        ):
            raise StoreError(
                f"the setting {LINK_SETTING} in {path} is not what `evaltui team join` writes; "
                "join again to replace it"
            )
        return cls(**{f: value[f] for f in fields})

    def to_setting(self) -> dict[str, str]:
        return asdict(self)


def link(store: Store) -> Link | None:
    """The team this store shares with, or None when it has not joined one."""
    value = store.get_setting(LINK_SETTING, limit=20_000)
    return None if value is None else Link.from_setting(value, store.path)


def cursor(store: Store) -> int:
    value = store.get_setting(CURSOR_SETTING, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StoreError(f"the setting {CURSOR_SETTING} in {store.path} is not a sequence number")
    return value


def put_setting(store: Store, key: str, value: Any) -> None:
    """Write a setting inside the caller's transaction (the fold's: the cursor moves with
    the events it passed, or not at all)."""
    store.put_setting(key, value)


# -- the ledger ---------------------------------------------------------------------------


def _event(row: tuple[Any, ...]) -> TeamEvent:
    return TeamEvent(
        hash=row[0],
        project=row[1],
        author=row[2],
        kind=row[3],
        subject=row[4],
        prev=row[5],
        payload=json.loads(row[6]),
        client_at=row[7],
        signature=row[8],
        server_seq=row[9],
    )


def record(
    store: Store,
    event: TeamEvent,
    status: str,
    reason: str | None = None,
    finding_uid: str | None = None,
) -> None:
    """Write (or update) one event's row, inside the caller's transaction."""
    if status not in STATUSES:
        raise ValueError(f"unknown ledger status {status!r}")
    store.conn.execute(
        f"INSERT INTO team_events ({_EVENT_COLS}, finding_uid, status, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET "
        "status = excluded.status, reason = excluded.reason, "
        "finding_uid = coalesce(excluded.finding_uid, finding_uid), "
        "server_seq = coalesce(excluded.server_seq, server_seq)",
        (
            event.hash,
            event.project,
            event.author,
            event.kind,
            event.subject,
            event.prev,
            canonical_json(event.payload),
            event.client_at,
            event.signature,
            event.server_seq,
            finding_uid,
            status,
            reason,
        ),
    )


def waiting(store: Store, project: str) -> list[TeamEvent]:
    """The events waiting to be folded, in server order (a page at most of 10,000)."""
    return [
        _event(r)
        for r in store.conn.execute(
            f"SELECT {_EVENT_COLS} FROM team_events WHERE status = 'waiting' AND project = ? "
            "ORDER BY server_seq LIMIT 10000",
            (project,),
        )
    ]


def head(store: Store, project: str, author: str, subject: str) -> str | None:
    """The last event of a stream this store holds (None: the stream is empty here)."""
    rows = store.conn.execute(
        "SELECT hash, prev FROM team_events WHERE project = ? AND author = ? AND subject = ? "
        "AND status <> 'refused'",
        (project, author, subject),
    ).fetchall()
    links = {prev for _, prev in rows}
    tips = [h for h, _ in rows if h not in links]
    return tips[0] if tips else None


def finding_events(store: Store, uid: str) -> list[tuple[str, str]]:
    """(hash, status) of every ledger row that names this finding."""
    return [
        (r[0], r[1])
        for r in store.conn.execute(
            "SELECT hash, status FROM team_events WHERE finding_uid = ? ORDER BY hash", (uid,)
        )
    ]


def counts(store: Store, kind: str | None = None) -> dict[str, int]:
    """Ledger rows by status (of one kind of event, when given)."""
    out = dict.fromkeys(STATUSES, 0)
    where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
    for status, n in store.conn.execute(
        f"SELECT status, count(*) FROM team_events {where} GROUP BY 1", params
    ):
        out[status] = n
    return out


def reasons(store: Store, status: str, limit: int = 10) -> list[tuple[str, int]]:
    """The commonest reasons events have this status, with how many."""
    return [
        (r[0] or "", r[1])
        for r in store.conn.execute(
            "SELECT reason, count(*) FROM team_events WHERE status = ? GROUP BY reason "
            "ORDER BY 2 DESC, 1 LIMIT ?",
            (status, limit),
        )
    ]


def events_named(store: Store, status: str, limit: int = 10) -> list[str]:
    """Each of the first events with this status, named, with its reason."""
    return [
        f"{_event(r[:10]).named()}: {r[10]}"
        for r in store.conn.execute(
            f"SELECT {_EVENT_COLS}, reason FROM team_events WHERE status = ? "
            "ORDER BY server_seq, hash LIMIT ?",
            (status, limit),
        )
    ]


# -- the outbox ---------------------------------------------------------------------------


@dataclass
class Outgoing:
    """A local finding not yet shared, with what its team subject is made of."""

    finding: Finding
    baseline: tuple[str, str]  # (sha256, source part)
    candidate: tuple[str, str]
    suite: str
    case_key: str


# the uids this store has shared (the ledger's own query, which triage's outbox reads skip)
_SHARED = "SELECT finding_uid FROM team_events WHERE finding_uid IS NOT NULL"


def outbox(store: Store, reviewer: str, after: int = 0, limit: int = 500) -> list[Outgoing]:
    """A page of the reviewer's local findings not yet shared, oldest first: those after
    the finding id `after`."""
    return [
        Outgoing(*row) for row in triage_outbox.unshared(store, reviewer, _SHARED, after, limit)
    ]


def outbox_size(store: Store, reviewer: str) -> tuple[int, dict[str, int]]:
    """How many local findings wait to be shared, and the local findings by other names
    (never shared: the team store takes from a login only its own reviewer's words)."""
    counts = triage_outbox.unshared_counts(store, _SHARED)
    mine = counts.pop(reviewer, 0)
    return mine, counts


def local_names(store: Store) -> set[str]:
    """Every reviewer name this store's own findings were written under."""
    return triage_outbox.local_reviewers(store)


# -- the chain check, backed by the ledger ------------------------------------------------


class LedgerCheck(ChainCheck):
    """ChainCheck over what the ledger holds, plus what this sync checked and has not
    written yet (`flush` after the write commits, or after it failed): memory holds one
    page of events, not every event ever held."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.conn: sqlite3.Connection = store.conn

    def stream(self, hash_: str) -> tuple[str, str, str] | None:
        found = self.streams.get(hash_)
        if found is not None:
            return found
        row = self.conn.execute(
            "SELECT project, author, subject FROM team_events WHERE hash = ? "
            "AND status <> 'refused'",
            (hash_,),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def follower(self, link: tuple[str, str, str, str]) -> TeamEvent | None:
        found = self.successor.get(link)
        if found is not None:
            return found
        row = self.conn.execute(
            f"SELECT {_EVENT_COLS} FROM team_events WHERE project = ? AND author = ? "
            "AND subject = ? AND prev IS ? AND status <> 'refused' LIMIT 1",
            (link[0], link[1], link[2], link[3] or None),
        ).fetchone()
        return None if row is None else _event(row)

    def refusal(self, hash_: str) -> Refusal | None:
        found = self.refused.get(hash_)
        if found is not None:
            return found
        row = self.conn.execute(
            f"SELECT {_EVENT_COLS}, reason FROM team_events WHERE hash = ? AND status = 'refused'",
            (hash_,),
        ).fetchone()
        return None if row is None else Refusal(_event(row[:10]), row[10] or "")

    def flush(self) -> None:
        self.streams.clear()
        self.successor.clear()
        self.refused.clear()
