"""The app's link to its team: a process of its own that keeps the store in step (no UI).

While the app runs on a store that joined a team, `Live` starts the link process
(`python -m evaltui.team.live STORE`: a fresh interpreter, as the import's reader
process). It holds one connection that LISTENs on the project's channel and syncs
(team/sync.py) when it starts, when a notification says another member wrote, when the
app pokes it (a triage action was saved here: push it now) and every half minute. After
each step it writes its state (`LinkState`: connected or offline, the outbox's size,
what the last sync brought) as a JSON line; a thread of the app reads them and hands
each to a callback the app turns into a message. A lost connection or a stopped server
is a state, never an error: the link tries again after 1, 2, 4 ... up to 30 seconds, or
at once when poked.

A process, not a thread, and a nice one (niceness 10): a sync's fold is Python work, and
in the app's process it would take the interpreter from the keys (a step to the next
case took 3 times as long while a thread folded 100,000 events; `make bench`, section
team). And a polite one: the app tells it when keys come (at most every KEY_EVERY_S), and
a long sync (one that has run for LONG_S: a page of 1,000 events folds in about a
quarter of a second) waits before each local transaction, between two pages, while keys
came in the last QUIET_S, at most PAUSE_S each time, so that the sync still moves
while a key is held down. A team's usual traffic (a page or less) never waits. The link
ends when the app closes its stdin, or dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from evaltui.errors import EvaltuiError
from evaltui.store.store import Store
from evaltui.team import db, hashes, ledger
from evaltui.team.schema import channel
from evaltui.team.sync import sync
from evaltui.textsafe import one_line

WAIT_S = 0.25  # how long one wait for a notification lasts before the pokes are looked at
EVERY_S = 30.0  # a sync at least this often, notified or not
BACKOFF_MAX_S = 30.0
KEY_EVERY_S = 0.1  # the app says "key" at most this often
LONG_S = 0.5  # a sync running this long yields to the keys between its transactions
QUIET_S = 0.3  # ... waiting until no key has come for this long
PAUSE_S = 1.0  # ... but at most this long each time


@dataclass(frozen=True)
class LinkState:
    """What the app's team line says."""

    project: str
    state: str  # "connecting", "connected", "offline"
    pending: int  # local findings not yet shared
    error: str | None = None  # why offline
    changed: int = 0  # cases whose state the last sync changed (the screen reads again)
    latest: str | None = None  # the last other member's word the last sync brought
    mismatch: str | None = None  # "taxonomy differs from the team's" (team.hashes)

    def text(self) -> str:
        parts = [f"team {self.project}", self.state, f"pending {self.pending}"]
        if self.state == "offline" and self.error:
            parts.append(one_line(self.error, 80))
        elif self.latest:
            parts.append(self.latest)
        if self.mismatch:
            parts.append(self.mismatch)
        return " · ".join(parts)


class Live:
    """The app's side: starts the link process, pokes it, reads its states."""

    def __init__(self, db_path: Path, report: Callable[[LinkState], object]) -> None:
        self.db_path = db_path
        self.report = report
        self._proc: subprocess.Popen[str] | None = None
        self._reader = threading.Thread(target=self._read, name="evaltui-team", daemon=True)
        self._key_said = 0.0

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "evaltui.team.live", str(self.db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        assert self._proc.stdin is not None
        with contextlib.suppress(OSError, AttributeError):  # (POSIX pipes)
            # a link that stopped reading (stuck) never blocks the app's UI thread: a
            # line that does not fit in the pipe waits in the buffer, or is dropped
            os.set_blocking(self._proc.stdin.fileno(), False)
        self._reader.start()

    def poke(self) -> None:
        """Something was saved here: push it now (or, offline, count it and try again)."""
        self._write("poke")

    def key(self) -> None:
        """A key came (the app's own, on the UI thread): a long sync waits a moment."""
        now = time.monotonic()
        if now - self._key_said >= KEY_EVERY_S:
            self._key_said = now
            self._write("key")

    def stop(self) -> None:
        """Close the link's stdin: it ends after its current step."""
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()

    def join(self, timeout: float | None = None) -> int | None:
        """Wait for the link process to end; its exit code."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait()

    def _write(self, line: str) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()
            except (OSError, ValueError):  # the link ended (it says why in its last state)
                pass

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        last: LinkState | None = None
        for line in self._proc.stdout:
            try:
                last = LinkState(**json.loads(line))
            except (ValueError, TypeError):
                continue
            self.report(last)
        code = self._proc.wait()
        if last is not None and code != 0:  # not closed by the app: said in the team line
            self.report(replace(last, state="offline", error=f"the team link ended ({code})"))


# -- the link process -----------------------------------------------------------------------


class Link:
    """The link process's loop over one store."""

    def __init__(self, db_path: Path, out: IO[str]) -> None:
        self.db_path = db_path
        self.out = out
        self.stopped = threading.Event()
        self.wake = threading.Event()  # a poke, or the app gone
        self.dirty = threading.Event()  # a notification came
        self.last_key = -QUIET_S  # monotonic time of the app's last key
        self.sync_started: float | None = None  # while a sync runs

    def listen_to_app(self, commands: IO[str]) -> None:
        """A thread: "key" from the app, a key came; any other line is a poke; end of
        input, the app is gone."""
        for line in commands:
            if line.strip() == "key":
                self.last_key = time.monotonic()
            else:
                self.wake.set()
        self.stopped.set()
        self.wake.set()

    def yield_to_keys(self) -> None:
        """Before each local transaction of a sync: once the sync is long, wait while the
        app's keys come (at most PAUSE_S), so that its fold and its writes do not compete
        with the keys (docs/performance.md, the team store's sync)."""
        started = self.sync_started
        if started is None or time.monotonic() - started < LONG_S:
            return
        until = time.monotonic() + PAUSE_S
        while not self.stopped.is_set():
            now = time.monotonic()
            quiet_at = self.last_key + QUIET_S
            if quiet_at <= now or now >= until:
                return
            self.stopped.wait(min(quiet_at, until) - now)  # ends at once when the app goes

    def run(self) -> None:
        backoff = 1.0
        with _PoliteStore(self.db_path, self.yield_to_keys) as store:
            link = ledger.link(store)
            if link is None:
                return
            while not self.stopped.is_set():
                try:
                    self._connected(store, link)
                    backoff = 1.0
                except EvaltuiError as exc:
                    self._say(store, link, "offline", exc.message)
                except Exception as exc:  # psycopg's own (a socket dropped mid-read)
                    self._say(store, link, "offline", f"{type(exc).__name__}: {exc}")
                if self.stopped.is_set():
                    return
                woken = self.wake.wait(backoff)
                self.wake.clear()
                if not woken:
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                self._say(store, link, "connecting", None)

    def _connected(self, store: Store, link: ledger.Link) -> None:

        with db.translated(), db.connect(link.url, autocommit=True) as conn:
            conn.execute(f'LISTEN "{channel(link.schema, link.project)}"')
            self._sync(store, conn, link)
            last = time.monotonic()
            while not self.stopped.is_set():
                # notifications that came during a sync's queries are yielded first
                for _ in conn.notifies(timeout=WAIT_S, stop_after=1):
                    self.dirty.set()
                due = time.monotonic() - last >= EVERY_S
                if self.dirty.is_set() or self.wake.is_set() or due:
                    self.dirty.clear()
                    self.wake.clear()
                    if not self.stopped.is_set():
                        self._sync(store, conn, link)
                    last = time.monotonic()

    def _sync(self, store: Store, conn: Any, link: ledger.Link) -> None:
        self.sync_started = time.monotonic()
        try:
            result = sync(store, conn)
        finally:
            self.sync_started = None
        self._emit(
            LinkState(
                link.project,
                "connected",
                result.outbox,
                None,
                result.outcome.changed,
                result.outcome.latest,
                hashes.short(result.mismatch),
            )
        )

    def _say(self, store: Store, link: ledger.Link, state: str, error: str | None) -> None:
        try:
            pending, _ = ledger.outbox_size(store, link.reviewer)
        except EvaltuiError:
            pending = -1
        self._emit(LinkState(link.project, state, pending, error))

    def _emit(self, state: LinkState) -> None:
        try:
            self.out.write(json.dumps(asdict(state)) + "\n")
            self.out.flush()
        except (OSError, ValueError):  # the app is gone
            self.stopped.set()


class _PoliteStore(Store):
    """The link's store: each write transaction first asks `before` (Link.yield_to_keys),
    which is where a sync's pages meet (team/sync.py: one transaction a page)."""

    def __init__(self, path: Path, before: Callable[[], None]) -> None:
        super().__init__(path)
        self._before = before

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._before()
        with super().transaction() as conn:
            yield conn


def main() -> None:
    if hasattr(os, "nice"):  # background work: the app's keys come first for the CPU
        os.nice(10)
    link = Link(Path(sys.argv[1]), sys.stdout)
    threading.Thread(target=link.listen_to_app, args=(sys.stdin,), daemon=True).start()
    try:
        link.run()
    except EvaltuiError as exc:  # the store itself cannot be used: said, then the link ends
        link._emit(LinkState("?", "offline", -1, exc.message))


if __name__ == "__main__":
    main()
