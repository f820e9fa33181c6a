"""The app's link to its team: a background thread that keeps the store in step (no UI).

While the app runs on a store that joined a team, `Live` holds one connection that
LISTENs on the project's channel. It syncs (team/sync.py) when the app opens, when a
notification says another member wrote, when the app pokes it (a triage action was
saved here: push it now), and every half minute. It reports its state after each step
(`LinkState`: connected or offline, the outbox's size, what the last sync brought) to a
callback the app turns into a message. A lost connection or a stopped server is a state,
never an error: it tries again, waiting 1, 2, 4 ... up to 30 seconds, or at once when
poked. The sync itself runs in this thread, never on the app's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaltui.errors import EvaltuiError
from evaltui.store.store import Store
from evaltui.team import ledger
from evaltui.team.schema import channel
from evaltui.team.sync import sync
from evaltui.textsafe import one_line

WAIT_S = 0.25  # how long one wait for a notification lasts before the pokes are looked at
EVERY_S = 30.0  # a sync at least this often, notified or not
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class LinkState:
    """What the app's header says about the team."""

    project: str
    state: str  # "connecting", "connected", "offline"
    pending: int  # local findings not yet shared
    error: str | None = None  # why offline
    changed: int = 0  # cases whose state the last sync changed (the screen reads again)
    latest: str | None = None  # the last other member's word the last sync brought

    def text(self) -> str:
        parts = [f"team {self.project}", self.state, f"pending {self.pending}"]
        if self.state == "offline" and self.error:
            parts.append(one_line(self.error, 80))
        elif self.latest:
            parts.append(self.latest)
        return " · ".join(parts)


class Live:
    """Keeps one store in step with its team while the app runs (a daemon thread)."""

    def __init__(self, db_path: Path, report: Callable[[LinkState], object]) -> None:
        self.db_path = db_path
        self.report = report
        self._stop = threading.Event()
        self._wake = threading.Event()  # a local action, or stop
        self._dirty = threading.Event()  # a notification came
        self._thread = threading.Thread(target=self._run, name="evaltui-team", daemon=True)
        self.syncs = 0  # completed syncs (tests wait on it)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def poke(self) -> None:
        """Something was saved here: push it now (or, offline, count it and try again)."""
        self._wake.set()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 1.0
        with Store(self.db_path) as store:
            link = ledger.link(store)
            if link is None:
                return
            while not self._stop.is_set():
                try:
                    self._connected(store, link)
                    backoff = 1.0
                except EvaltuiError as exc:
                    self._say(store, link, "offline", exc.message)
                except Exception as exc:  # psycopg's own (a dropped socket mid-read)
                    self._say(store, link, "offline", f"{type(exc).__name__}: {exc}")
                if self._stop.is_set():
                    return
                woken = self._wake.wait(backoff)
                self._wake.clear()
                if not woken:
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                self._say(store, link, "connecting", None)

    def _connected(self, store: Store, link: ledger.Link) -> None:
        from evaltui.team import db

        with db.translated(), db.connect(link.url, autocommit=True) as conn:
            conn.execute(f'LISTEN "{channel(link.schema, link.project)}"')
            self._sync(store, conn, link)
            last = time.monotonic()
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=WAIT_S, stop_after=1):
                    self._dirty.set()  # (also one received during the last sync's queries)
                due = time.monotonic() - last >= EVERY_S
                if self._dirty.is_set() or self._wake.is_set() or due:
                    self._dirty.clear()
                    self._wake.clear()
                    self._sync(store, conn, link)
                    last = time.monotonic()

    def _sync(self, store: Store, conn: Any, link: ledger.Link) -> None:
        result = sync(store, conn)
        self.syncs += 1
        self.report(
            LinkState(link.project, "connected", result.outbox, None,
                      result.outcome.changed, result.outcome.latest)
        )  # fmt: skip

    def _say(self, store: Store, link: ledger.Link, state: str, error: str | None) -> None:
        try:
            pending, _ = ledger.outbox_size(store, link.reviewer)
        except EvaltuiError:
            pending = -1
        self.report(LinkState(link.project, state, pending, error))
