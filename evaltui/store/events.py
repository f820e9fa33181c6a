"""The store's append-only event log (every import and human action), and who and when."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from typing import Any

from evaltui.store import sql


def now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def current_user() -> str:
    """Who is acting: EVALTUI_REVIEWER, else the OS user."""
    env = os.environ.get("EVALTUI_REVIEWER")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


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
        """Append one event, chained to the one before. Call inside the (write)
        transaction of the change it records: that serialises the chain."""
        last = self.conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        row = (
            (last[0] + 1) if last else 1,
            now_iso(),
            actor or current_user(),
            action,
            entity,
            str(entity_id),
            None if before is None else _dumps(before),
            None if after is None else _dumps(after),
            _dumps(context or {}),
        )
        self.conn.execute(sql.EVENT_INSERT, (*row, chain_hash(last[1] or "" if last else "", row)))

    def event_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def chain_head(self) -> str | None:
        """The hash of the latest event (None in an empty log)."""
        row = self.conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else row[0]

    def verify_chain(self, upto: str | None = None) -> list[str]:
        """Walk the event log and recompute every link; the breaks, in words (empty: intact).
        With `upto`, the chain must also reach that hash (a decision's head)."""
        problems: list[str] = []
        prev, expected_id, found = "", 1, upto is None
        for row in self.conn.execute(
            "SELECT id, at, actor, action, entity, entity_id, before, after, context, hash "
            "FROM events ORDER BY id"
        ):
            if row[0] != expected_id:
                problems.append(f"events {expected_id} to {row[0] - 1} are missing (deleted)")
            link = chain_hash(prev, tuple(row[:9]))
            if row[9] != link:
                problems.append(
                    f"event {row[0]} ({row[3]}, {row[1][:19]}) was edited, or one before it deleted"
                )
                link = row[9] or ""  # go on from what is stored, to report each break once
            prev, expected_id = link, row[0] + 1
            found = found or link == upto
        if not found:
            problems.append(
                f"the event log no longer reaches {str(upto)[:16]} (events were deleted)"
            )
        return problems

    def events(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The event log, oldest first."""
        query = "SELECT * FROM events ORDER BY id"
        if limit:
            query += f" LIMIT {int(limit)}"
        rows = self.conn.execute(query)
        cols = [d[0] for d in rows.description]
        out = []
        for row in rows:
            item = dict(zip(cols, row, strict=True))
            for key in ("before", "after", "context"):
                if item[key] is not None:
                    item[key] = json.loads(item[key])
            out.append(item)
        return out
