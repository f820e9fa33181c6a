"""The store's append-only event log (every import and human action), and who and when."""

from __future__ import annotations

import getpass
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
        """Append one event. Call inside the transaction of the change it records."""
        self.conn.execute(
            sql.EVENT_INSERT,
            (
                now_iso(),
                actor or current_user(),
                action,
                entity,
                str(entity_id),
                None if before is None else _dumps(before),
                None if after is None else _dumps(after),
                _dumps(context or {}),
            ),
        )

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
