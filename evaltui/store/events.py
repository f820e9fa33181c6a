"""The owner of the `events` table: the store's append-only, hash-chained event log
(every import and human action), and who and when. No other module names the table in
SQL; the others log through `EventLog.log_event` and read through `events`, `logged`."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from evaltui.store import decisions

EVENT_INSERT = """
INSERT INTO events (id, at, actor, action, entity, entity_id, before, after, context, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_COLUMNS = "id, at, actor, action, entity, entity_id, before, after, context, hash"


def now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


REVIEWER_ENV = "EVALTUI_REVIEWER"


def os_user() -> str:
    """The operating system's name for the user running evaltui."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def current_user() -> str:
    """Who is acting when nobody said: EVALTUI_REVIEWER, else the OS user. Read once where
    a store is opened (`Store.actor`); the CLI reads its --reviewer instead (cli/app.py)."""
    return os.environ.get(REVIEWER_ENV) or os_user()


@dataclass(frozen=True, slots=True)
class Event:
    """One event of the log as stored: `before`, `after` and `context` are the JSON
    values it recorded; `hash` its link in the chain."""

    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any
    context: Any
    hash: str | None

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON data (`evaltui log --json`), in the table's column order."""
        return asdict(self)


def chain_hash(prev: str, row: tuple[Any, ...]) -> str:
    """An event's link in the chain: sha256 of the previous link and the event's stored
    columns (id, at, actor, action, entity, entity_id, before, after, context)."""
    body = json.dumps([prev, *row], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class EventLog:
    """The event-log half of the Store (mixed in): append inside the change's transaction, read."""

    conn: sqlite3.Connection
    tampered: list[str]
    actor: str  # who acts through this connection, unless an event names another (Store)

    def log_event(
        self,
        action: str,
        entity: str,
        entity_id: str | int,
        *,
        before: Any = None,
        after: Any = None,
        context: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        """Append one event, chained to the one before, by `actor` (default: the store's).
        Call inside the (write) transaction of the change it records: that serialises
        the chain."""
        last = self.conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        row = (
            (last[0] + 1) if last else 1,
            now_iso(),
            actor or self.actor,
            action,
            entity,
            str(entity_id),
            None if before is None else _dumps(before),
            None if after is None else _dumps(after),
            _dumps(context or {}),
        )
        self.conn.execute(EVENT_INSERT, (*row, chain_hash(last[1] or "" if last else "", row)))

    def event_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def chain_head(self) -> str | None:
        """The hash of the latest event (None in an empty log)."""
        row = self.conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else row[0]

    def verify_chain(self, upto: str | None = None) -> list[str]:
        """Walk the event log and recompute every link; the breaks, in words (empty: intact).

        Every kept decision recorded the log's head when it was made: each head must
        still be in the chain, so an event edited under a recomputed chain (whose links
        agree again) is found and named, as narrowly as the heads allow. With `upto`,
        the chain must also reach that hash (a decision record's head). Append-only
        triggers found dropped when the store was opened (`tampered`) are reported too."""
        problems = [
            f"the append-only trigger {name} was dropped outside evaltui (rows it guarded "
            "can be edited or deleted)"
            for name in self.tampered
        ]
        heads = self._decision_heads()
        if upto is not None and upto not in heads:
            heads[upto] = (None, None)
        found: dict[str, int] = {}  # head -> the event that has it
        prev, expected_id = "", 1
        for row in self.conn.execute(f"SELECT {_COLUMNS} FROM events ORDER BY id"):
            if row[0] != expected_id:
                problems.append(f"events {expected_id} to {row[0] - 1} are missing (deleted)")
            link = chain_hash(prev, tuple(row[:9]))
            if row[9] != link:
                problems.append(
                    f"event {row[0]} ({row[3]}, {row[1][:19]}) was edited, or one before it deleted"
                )
                link = row[9] or ""  # go on from what is stored, to report each break once
            if link in heads:
                found.setdefault(link, row[0])
            prev, expected_id = link, row[0] + 1
        gone = sorted(
            ((did, eid, head) for head, (did, eid) in heads.items() if head not in found),
            key=lambda g: (g[1] is None, g[1] or 0),
        )
        if gone:
            problems.append(_head_gone(*gone[0], found, self._describe))
        if len(gone) > 1:
            problems.append(
                f"the heads {len(gone) - 1} other kept decision(s) recorded are gone as well"
            )
        return problems

    def _describe(self, event_id: int) -> str:
        row = self.conn.execute(
            "SELECT action, at FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return f"({row[0]}, {str(row[1])[:19]})" if row else ""

    def _decision_heads(self) -> dict[str, tuple[int | None, int | None]]:
        """Each kept decision's recorded head -> (decision id, the event that logged it)."""
        kept = decisions.heads(self.conn)
        if not kept:
            return {}
        logged = dict(
            self.conn.execute(
                "SELECT entity_id, MIN(id) FROM events WHERE entity = 'decision' "
                "AND action = 'decision' GROUP BY entity_id"
            ).fetchall()
        )
        heads: dict[str, tuple[int | None, int | None]] = {}
        for did, head in kept:
            if isinstance(head, str) and head not in heads:
                heads[head] = (did, logged.get(str(did)))
        return heads

    def events(self, limit: int | None = None) -> list[Event]:
        """The event log, oldest first."""
        query = f"SELECT {_COLUMNS} FROM events ORDER BY id"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [_event(row) for row in self.conn.execute(query)]

    def events_by_action(
        self, actions: tuple[str, ...], after: int = 0, limit: int = 500
    ) -> list[Event]:
        """A page of the log's events with one of these actions, oldest first, after the
        event id `after` (the team's outbox of case status changes reads it)."""
        marks = ", ".join("?" * len(actions))
        query = (
            f"SELECT {_COLUMNS} FROM events WHERE action IN ({marks}) AND id > ? "
            "ORDER BY id LIMIT ?"
        )
        return [_event(row) for row in self.conn.execute(query, (*actions, after, int(limit)))]

    def logged(self, action: str, entity: str, entity_id: str | int) -> bool:
        """Whether the log holds an event `action` on `entity` `entity_id` (e.g. that kept
        decision 3 was exported signed: `decision.sign`, `decision`, 3)."""
        row = self.conn.execute(
            "SELECT 1 FROM events WHERE entity = ? AND entity_id = ? AND action = ? LIMIT 1",
            (entity, str(entity_id), action),
        ).fetchone()
        return row is not None


def _event(row: tuple[Any, ...]) -> Event:
    """An event from its stored columns (_COLUMNS), its JSON values parsed."""
    ident, at, actor, action, entity, entity_id, before, after, context, link = row
    return Event(
        ident,
        at,
        actor,
        action,
        entity,
        entity_id,
        _loads(before),
        _loads(after),
        _loads(context),
        link,
    )


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _head_gone(
    decision: int | None,
    event: int | None,
    head: str,
    found: dict[str, int],
    describe: Callable[[int], str],
) -> str:
    """What a head no longer in the chain means, naming the event(s) it can only be."""
    if decision is None or event is None:
        return (
            f"the event log no longer reaches {head[:16]}, the head the decision recorded: "
            "events up to it were deleted, or one was edited and the chain recomputed over it"
        )
    # Heads still found before the decision's own event bound the edit from below.
    low = max((e for e in found.values() if e < event), default=0) + 1
    high = event - 1
    if low > high:
        return (
            f"the log's head decision {decision} recorded ({head[:16]}) is gone though the "
            f"heads before it are intact: the log was rewritten before event {event}"
        )
    if low == high:
        return (
            f"event {low} {describe(low)} was edited after decision {decision} was "
            f"made, and the chain recomputed over it to hide the edit (the log's head that "
            f"decision recorded, {head[:16]}, is gone)"
        )
    return (
        f"one of events {low} to {high} was edited after decision {decision} was made, and "
        f"the chain recomputed over it to hide the edit (the log's head that decision "
        f"recorded, {head[:16]}, is gone; decision {decision} is event {event})"
    )
