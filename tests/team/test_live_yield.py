"""The app's link yields to the keys (#30): the app says "key" at most every KEY_EVERY_S;
a long sync waits before each local transaction while keys come, at most PAUSE_S; a
short one, or the app gone, never waits. On a clock of the test's own (no time passes)."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import pytest

from evaltui.store import Store
from evaltui.team import live


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Stopped:
    """Link.stopped: each wait moves the clock on by its timeout and calls `during`."""

    def __init__(self, clock: Clock, during=lambda: None) -> None:
        self.clock, self.during, self.waits, self.flag = clock, during, [], False

    def is_set(self) -> bool:
        return self.flag

    def set(self) -> None:
        self.flag = True

    def wait(self, timeout: float) -> bool:
        self.waits.append(round(timeout, 6))
        self.clock.now += timeout
        self.during()
        return self.flag


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(live, "time", c)
    return c


def link_at(clock: Clock, *, sync_for: float | None, key_ago: float | None) -> live.Link:
    link = live.Link(Path("unused.db"), io.StringIO())
    link.sync_started = None if sync_for is None else clock.now - sync_for
    if key_ago is not None:
        link.last_key = clock.now - key_ago
    return link


def test_a_long_sync_waits_until_the_keys_have_stopped_for_quiet_s(clock):
    link = link_at(clock, sync_for=5.0, key_ago=0.1)
    link.stopped = Stopped(clock)
    link.yield_to_keys()
    assert link.stopped.waits == [round(live.QUIET_S - 0.1, 6)]  # then no key came: on


def test_keys_held_down_hold_a_long_sync_at_most_pause_s(clock):
    link = link_at(clock, sync_for=5.0, key_ago=0.0)
    link.stopped = Stopped(clock, during=lambda: setattr(link, "last_key", clock.now))
    start = clock.now
    link.yield_to_keys()
    assert clock.now - start == pytest.approx(live.PAUSE_S)


@pytest.mark.parametrize(
    "sync_for, key_ago",
    [(None, 0.0), (live.LONG_S / 2, 0.0), (5.0, live.QUIET_S), (5.0, None)],
    ids=["no sync", "a short sync", "no key for QUIET_S", "no key yet"],
)
def test_no_wait(clock, sync_for, key_ago):
    link = link_at(clock, sync_for=sync_for, key_ago=key_ago)
    link.stopped = Stopped(clock)
    link.yield_to_keys()
    assert link.stopped.waits == []


def test_the_app_gone_ends_the_wait(clock):
    link = link_at(clock, sync_for=5.0, key_ago=0.0)
    link.stopped = Stopped(clock, during=lambda: link.stopped.set())
    link.yield_to_keys()
    assert len(link.stopped.waits) == 1


def test_key_lines_mark_the_last_key_and_other_lines_poke(clock):
    link = live.Link(Path("unused.db"), io.StringIO())
    seen = []

    def lines():
        yield "key\n"
        seen.append((link.last_key, link.wake.is_set()))
        clock.now += 1
        yield "poke\n"
        seen.append((link.last_key, link.wake.is_set()))

    link.listen_to_app(lines())
    assert seen == [(1000.0, False), (1000.0, True)]
    assert link.stopped.is_set()  # end of input: the app is gone


def test_the_app_says_key_at_most_every_key_every_s(clock, monkeypatch):
    said: list[str] = []
    app_side = live.Live(Path("unused.db"), lambda state: None)
    monkeypatch.setattr(app_side, "_write", said.append)
    for _ in range(5):  # a burst: one line
        app_side.key()
        clock.now += live.KEY_EVERY_S / 10
    clock.now += live.KEY_EVERY_S
    app_side.key()
    assert said == ["key", "key"]


def test_the_links_store_asks_before_each_write_transaction(tmp_path):
    asked: list[bool] = []
    Store(tmp_path / "s.db").close()
    with live._PoliteStore(tmp_path / "s.db", lambda: asked.append(True)) as store:
        with store.transaction() as conn:
            assert isinstance(conn, sqlite3.Connection) and asked == [True]
        store.conn.execute("SELECT 1")  # reads do not ask
        with store.transaction():
            pass
    assert asked == [True, True]


def test_a_link_that_stopped_reading_never_blocks_the_app(clock, monkeypatch):
    """The pipe to the link fills (a stuck link reads nothing): key() and poke() return."""
    real = live.subprocess.Popen

    def stuck(cmd, **kwargs):  # a process that never reads its stdin
        return real([sys.executable, "-c", "import time; time.sleep(120)"], **kwargs)

    monkeypatch.setattr(live.subprocess, "Popen", stuck)
    app_side = live.Live(Path("unused.db"), lambda state: None)
    app_side.start()
    try:
        for _ in range(40_000):  # 160 KB of "key" lines, more than a pipe holds
            clock.now += live.KEY_EVERY_S
            app_side.key()
        app_side.poke()
    finally:
        app_side.stop()
        assert app_side.join(0) is not None  # (killed: it was asleep)
